// What the customer's browser applies is what the agent's applies, construct by construct:
// shorthands holding var(), @font-face relative to its sheet (unicode-range, font-display),
// @layer (statement and blocks, in order), @container, nesting, @property, @supports, @media,
// @import with layer() and supports(), ::marker, <details> markers, mask-image, image-set(),
// ::before content and icon fonts. Each probe of fixtures/pages/constructs.html has the same
// computed style on both sides (URLs compared once the proxy is undone), and the agent's view
// has loaded the same web font faces as the customer's page.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { faces } from './fonts.mjs';
import { converge, diff, requirements, setup, waitFor } from './harness.mjs';

const skip = requirements();
let h;
before(async () => {
  if (!skip) h = await setup();
});
after(async () => {
  if (h) await h.close();
});

const FONT = ['font-family', 'font-weight', 'font-style', 'font-size', 'line-height'];
/** Probe → [pseudo-element or '', computed properties that must be equal]. */
const PROBES = {
  'font-var': ['', FONT],
  'font-whole': ['', FONT],
  'inline-var': ['', FONT],
  override: ['', FONT],
  'style-override': ['', FONT],
  border: ['', ['border-top-width', 'border-left-width', 'border-left-style', 'border-left-color']],
  bg: ['', ['background-image', 'background-size', 'background-repeat']],
  margin: ['', ['margin-top', 'margin-bottom', 'margin-left']],
  js: ['', FONT],
  adopted: [
    '',
    ['border-top-width', 'border-top-style', 'border-top-color', 'border-bottom-width'],
  ],
  fontface: ['', FONT],
  layer: ['', ['color']],
  container: ['', ['color']],
  'nest-inner': ['', ['color']],
  'nest-b': ['', ['text-decoration-line']],
  property: ['', ['rotate', '--probe-angle']],
  supports: ['', ['display', 'grid-template-columns']],
  media: ['', ['padding-left']],
  import: ['', ['color', 'border-left-color', 'border-left-width']],
  'import-no': ['', ['color']],
  marker: ['::marker', ['color', 'content']],
  'summary-closed': ['::marker', ['color', 'content', 'display']],
  'summary-open': ['::marker', ['color', 'content']],
  mask: ['', ['mask-image', 'mask-size', 'mask-position', 'mask-repeat']],
  mask2: ['', ['mask-image', 'mask-size']],
  imageset: ['', ['background-image', 'background-size']],
  before: ['::before', ['content', 'color']],
  hover: ['', ['color']],
  fa: ['::before', ['content', ...FONT]],
  'fa-brand': ['::before', ['content', ...FONT]],
  icon: ['::before', ['content', ...FONT]],
};

/** Computed styles of the probes in a document (the agent's: its view), proxy URLs undone. */
function styles({ probes, agent }) {
  const doc = agent ? window.cobrowseAgent.mirror.frame.contentDocument : document;
  const unproxy = (v) =>
    v.replace(/https?:\/\/[^/"]+\/proxy\?url=([^&"]*)[^"]*/g, (_m, u) => decodeURIComponent(u));
  const out = {};
  for (const [id, [pseudo, props]] of Object.entries(probes)) {
    const el = doc.getElementById(id);
    if (!el) {
      out[id] = 'missing';
      continue;
    }
    const cs = doc.defaultView.getComputedStyle(el, pseudo || null);
    out[id] = Object.fromEntries(props.map((p) => [p, unproxy(cs.getPropertyValue(p))]));
  }
  return out;
}

/** Asserts that every probe computes the same on both sides (in 5 s), naming those that do not. */
async function same(c, a, phase) {
  const end = Date.now() + 5000;
  for (;;) {
    const want = await c.evaluate(styles, { probes: PROBES, agent: false });
    const got = await a.evaluate(styles, { probes: PROBES, agent: true });
    const bad = Object.keys(PROBES).filter(
      (k) => JSON.stringify(want[k]) !== JSON.stringify(got[k]),
    );
    if (!bad.length) return;
    const show = (k) =>
      `${k}:\n  customer ${JSON.stringify(want[k])}\n  agent    ${JSON.stringify(got[k])}`;
    if (Date.now() > end)
      assert.fail(`computed styles differ (${phase}):\n` + bad.map(show).join('\n'));
    await new Promise((r) => setTimeout(r, 150));
  }
}

test('css: every construct of constructs.html computes the same in the agent view', {
  skip,
}, async () => {
  const c = await h.customer('pages/constructs.html');
  const id = await h.start(c);
  const a = await h.agent(id);
  try {
    const r = await converge(c, a);
    assert.ok(r.equal, 'DOM differs\n' + diff(r.customer, r.agent));
    const f = await faces(c, a);
    assert.ok(
      f.customer.some((x) => x.startsWith('Probe Inter 700')),
      'the customer page loads its web font: ' + f.customer,
    );
    assert.deepEqual(
      f.agent,
      f.customer,
      'the agent view loaded other font faces than the customer page',
    );
    await same(c, a, 'load');
    // The agent's :hover emulation holds in a sheet that had a lossy rule.
    await c.hover('#hover');
    await waitFor(
      a,
      () =>
        window.cobrowseAgent.mirror.frame.contentDocument.querySelector('#hover[data-cb-hover]'),
      null,
      5000,
    );
    await same(c, a, 'hovered');
    await c.mouse.move(1, 1);
    // CSS-in-JS and a constructed sheet, written while the session is live.
    await c.evaluate(() => window.fixtureChanges());
    await same(c, a, 'changed');
  } finally {
    await c.evaluate(() => window.Cobrowse.stop()).catch(() => {});
    await c.context().close();
    await a.context().close();
  }
});
