#!/usr/bin/env node
// Screenshots of the customer's built-in co-browse UI on the demo shop, taken from the real
// pages: starts the server (target/debug/cobrowse, `cargo build` first) and headless Chromium
// (/usr/bin/chromium), and saves PNGs to docs/screenshots/.
//
//   node scripts/screenshots-customer.mjs
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setup, waitFor } from '../tests/browser/harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'docs/screenshots');
mkdirSync(OUT, { recursive: true });

const h = await setup();
const shot = async (page, name, opts = {}) => {
  const file = path.join(OUT, name + '.png');
  await page.screenshot({ path: file, animations: 'disabled', caret: 'hide', ...opts });
  console.log('saved', path.relative(ROOT, file));
};
const ui = (page, sel) => page.locator('[data-cobrowse-ui]').locator(sel);
try {
  const ctx = await h.browser.newContext({ viewport: { width: 1100, height: 720 }, deviceScaleFactor: 1 });
  const c = await ctx.newPage();
  await c.goto(h.server + '/demo/');
  await waitFor(c, () => window.Cobrowse && window.Cobrowse.v === 1);
  // The help launcher, opened.
  await ui(c, '[data-part=launcher] > button').click();
  await shot(c, 'customer-launcher', { clip: { x: 0, y: 420, width: 420, height: 300 } });
  await c.keyboard.press('Escape');
  // "Browse with you": the ID to read out.
  await c.click('#browse-with-you');
  await waitFor(c, () => window.Cobrowse.session && window.Cobrowse.session.id);
  await ui(c, '[data-part=id-dialog] .big').filter({ hasText: /\d{3} \d{3} \d{3}/ }).waitFor();
  await shot(c, 'customer-id-dialog');
  await ui(c, '[data-part=id-dialog] button.p').click();
  const id = await c.evaluate(() => window.Cobrowse.session.id);
  // An agent joins: the toolbar and the "agent joined" notice.
  const a = await h.agent(id);
  await waitFor(c, () => window.Cobrowse.session.state === 'active');
  await new Promise((r) => setTimeout(r, 400));
  await shot(c, 'customer-toolbar-notice', { clip: { x: 200, y: 540, width: 700, height: 180 } });
  // The agent points and clicks (pointer mode): the labelled pointer and the red circle.
  await c.evaluate(() => window.scrollTo(0, 0));
  await waitFor(a, () => window.cobrowseAgent.mirror.frame.contentWindow.scrollY === 0);
  const f = await a.evaluate(() => { const fr = window.cobrowseAgent.mirror.frame, r = fr.contentDocument.querySelector('#hero-title').getBoundingClientRect(), b = fr.getBoundingClientRect(), k = b.width / fr.offsetWidth; return { x: b.left + (r.left + 120) * k, y: b.top + (r.top + 20) * k }; });
  await a.mouse.move(f.x, f.y);
  await a.mouse.click(f.x, f.y);
  await new Promise((r) => setTimeout(r, 250));
  await shot(c, 'customer-agent-pointer', { animations: 'allow', clip: { x: 0, y: 60, width: 760, height: 300 } });
  // The write-mode consent dialog.
  await a.evaluate(() => window.cobrowseAgent.requestControl());
  await ui(c, '[data-part=consent]').waitFor();
  await shot(c, 'customer-consent-dialog');
  await ui(c, '[data-part=consent] button.p').click();
  await waitFor(c, () => window.Cobrowse.session.mode === 'write');
  await new Promise((r) => setTimeout(r, 300));
  await shot(c, 'customer-toolbar-write', { clip: { x: 200, y: 540, width: 700, height: 180 } });
  // Masked fields on the checkout: outlined, with the tooltip and the focus notice.
  await c.goto(h.server + '/demo/checkout.html');
  await waitFor(c, () => window.Cobrowse.session && window.Cobrowse.session.state === 'active', null, 10000);
  await c.locator('#card-number').scrollIntoViewIfNeeded();
  await c.focus('#card-number');
  await c.hover('#card-number');
  await new Promise((r) => setTimeout(r, 900));
  await shot(c, 'customer-masked-field');
  // Phone-sized.
  const p = await (await h.browser.newContext({ viewport: { width: 375, height: 667 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true })).newPage();
  await p.goto(h.server + '/demo/products.html');
  await waitFor(p, () => window.Cobrowse && window.Cobrowse.v === 1);
  await p.evaluate(() => window.Cobrowse.start());
  await waitFor(p, () => window.Cobrowse.session && window.Cobrowse.session.state === 'idle');
  await new Promise((r) => setTimeout(r, 300));
  await shot(p, 'customer-phone-toolbar');
  await p.evaluate(() => window.Cobrowse.stop());
  await new Promise((r) => setTimeout(r, 300));
  await shot(p, 'customer-phone-ended-notice');
  await c.evaluate(() => window.Cobrowse.stop());
} finally {
  await h.close();
}
