// Real pages, pixel for pixel: content-rich pages built from widely used CSS packages
// (Bootstrap and Bootstrap Icons, Pico, Font Awesome, Inter from @fontsource, served from
// node_modules) and a shop of our own (cascade layers, container queries, nesting, a registered
// property, mask-image and ::before icons, web fonts relative to its sheet). The agent's view
// must look like the customer's page, at the top and scrolled down (under 0.5 % of pixels
// differing), with the same web font faces loaded. Prints the measured differences as a table.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { faces } from './fonts.mjs';
import {
  converge,
  diff,
  keepShots,
  requirements,
  screensMatch,
  setup,
  waitFor,
} from './harness.mjs';

const skip = requirements();
let h;
before(async () => {
  if (!skip) h = await setup();
});
after(async () => {
  if (h) await h.close();
  if (rows.length)
    console.log('\npixels differing (> tolerance), agent view vs customer page:\n' + table(rows));
});

/** Share of pixels that may differ: a view that looks the same to a person, not a pixel copy. */
const THRESHOLD = 0.005;
/** page → what it is built with (for the table). */
const PAGES = {
  'pages/bank.html': 'Bootstrap 5, Bootstrap Icons, Inter',
  'pages/insurer.html': 'Pico 2, Font Awesome 7, Inter',
  'pages/shop.html': 'own CSS (layers, container, nesting), Font Awesome 7',
  'pages/constructs.html': 'one probe per CSS construct',
};
/** @type {string[][]} */
const rows = [];
const table = (r) => {
  const all = [['page', 'built with', 'top', 'scrolled'], ...r];
  const w = all[0].map((_, i) => Math.max(...all.map((x) => x[i].length)));
  return all.map((x) => x.map((v, i) => v.padEnd(w[i])).join(' | ')).join('\n');
};
const pct = (s) => (s.ratio * 100).toFixed(3) + ' %';

/** Compares the two screens; keeps the pictures of a failure. */
async function shot(c, a, name) {
  const s = await screensMatch(c, a, { threshold: THRESHOLD, timeout: 10000 });
  if (s.ratio > THRESHOLD) keepShots(name, s);
  return s;
}

for (const [page, what] of Object.entries(PAGES)) {
  test(`pages: ${page} looks the same in the agent view`, { skip }, async () => {
    const c = await h.customer(page);
    const id = await h.start(c);
    const a = await h.agent(id);
    try {
      const r = await converge(c, a);
      assert.ok(r.equal, `${page}: DOM differs\n` + diff(r.customer, r.agent));
      const f = await faces(c, a);
      assert.ok(f.customer.length > 0, `${page} loads web fonts`);
      assert.deepEqual(
        f.agent,
        f.customer,
        `${page}: the agent view loaded other font faces than the customer page`,
      );
      const name = page.replace(/^pages\/|\.html$/g, '');
      const top = await shot(c, a, name + '-top');
      const y = await c.evaluate(() => {
        const top = Math.min(1400, document.documentElement.scrollHeight - innerHeight);
        window.scrollTo({ top, behavior: 'instant' }); // Bootstrap makes scrolling smooth
        return scrollY;
      });
      assert.ok(y > 300, `${page} is long enough to scroll (${y} px)`);
      await waitFor(
        a,
        (y) => window.cobrowseAgent.mirror.frame.contentWindow.scrollY === y,
        y,
        5000,
      );
      const down = await shot(c, a, name + '-scrolled');
      rows.push([name, what, pct(top), pct(down)]);
      assert.ok(
        top.ratio <= THRESHOLD,
        `${page} (top): ${pct(top)} of pixels differ ${top.why || ''} (see /tmp/cobrowse-shots)`,
      );
      assert.ok(
        down.ratio <= THRESHOLD,
        `${page} (scrolled): ${pct(down)} of pixels differ ${down.why || ''} (see /tmp/cobrowse-shots)`,
      );
    } finally {
      await c.evaluate(() => window.Cobrowse.stop()).catch(() => {});
      await c.context().close();
      await a.context().close();
    }
  });
}
