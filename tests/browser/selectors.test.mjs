// The rule sets' selector checker against Chromium's own parser, on the corpus of
// tests/fixtures/selectors.json. The server's unit tests (src/rules/selector.rs) prove it judges
// each selector as the corpus lists it; this proves Chromium does: what the server accepts,
// `document.querySelector` takes (else a field would stay unmasked on the customer's page); what
// both refuse, Chromium refuses; and what the server refuses on purpose, Chromium would take.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { requirements } from './harness.mjs';

const skip = requirements();
const corpus = JSON.parse(
  readFileSync(new URL('../fixtures/selectors.json', import.meta.url), 'utf8'),
);

/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').Page} */
let page;
before(async () => {
  if (skip) return;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless', '--disable-background-networking', '--no-first-run'],
  });
  page = await browser.newPage();
});
after(async () => {
  if (browser) await browser.close();
});

/**
 * Which of `selectors` Chromium's `querySelector` refuses (throws on).
 * @param {string[]} selectors
 * @returns {Promise<string[]>}
 */
const refusedByChromium = (selectors) =>
  page.evaluate(
    (list) =>
      list.filter((s) => {
        try {
          document.querySelector(s);
          return false;
        } catch {
          return true;
        }
      }),
    selectors,
  );

/** @param {[string, string][]} cases */
const selectorsOf = (cases) => cases.map(([s]) => s);

test('selectors: every selector the server accepts, Chromium accepts', { skip }, async () => {
  assert.ok(corpus.accepted.length >= 60, 'the corpus is there');
  assert.deepEqual(await refusedByChromium(corpus.accepted), []);
});

test('selectors: what the server refuses like a browser, Chromium refuses', { skip }, async () => {
  const refused = selectorsOf(corpus.refused);
  assert.deepEqual(await refusedByChromium(refused), refused);
});

test('selectors: what the server refuses on purpose, Chromium would take', { skip }, async () => {
  assert.deepEqual(await refusedByChromium(selectorsOf(corpus.refused_on_purpose)), []);
});
