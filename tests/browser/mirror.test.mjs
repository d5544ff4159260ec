// Each hard case of the mirroring, in real Chromium against the real server: after load and
// after a scripted series of changes, the agent's rebuilt DOM equals the customer's (after
// masking, canonical form) and the agent's frame looks like the customer's viewport. Every
// fixture also gets masked fields in each of its places (document, shadow root, frames;
// secrets.mjs), and no masked value is in any frame its page sends (CDP), from the first to
// a fresh snapshot at the end.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  CUSTOMER_BROWSER,
  converge,
  diff,
  keepShots,
  requirements,
  screensMatch,
  setup,
  tap,
  waitFor,
} from './harness.mjs';
import { CLIPBOARD, exercise, noSecrets, plant, typeWhileIdle } from './secrets.mjs';

const skip = requirements();
let h;
before(async () => {
  if (!skip) h = await setup();
});
after(async () => {
  if (h) await h.close();
});

/**
 * fixture → options: pixel threshold (share of pixels), per-channel tolerance; `ownWidgets`:
 * the browser draws most of the page (form controls), so its pictures compare only within
 * one engine (Firefox's fields, range, date and list boxes have other sizes than Chromium's).
 */
const CASES = {
  'base.html': {},
  'cssinjs.html': {},
  'adopted.html': {},
  'shadow.html': {},
  'iframes.html': {},
  'svg.html': {},
  'canvas.html': { threshold: 0.01, tol: 60 },
  'forms.html': { ownWidgets: true },
  'dialog.html': {},
  'scroll.html': {},
};

async function check(c, a, name, phase, opts) {
  const r = await converge(c, a);
  assert.ok(r.equal, `${name} (${phase}): DOM differs\n` + diff(r.customer, r.agent));
  await c.evaluate(
    () => document.activeElement && document.activeElement.blur && document.activeElement.blur(),
  );
  if (opts.ownWidgets && CUSTOMER_BROWSER !== 'chromium') return;
  const s = await screensMatch(c, a, opts);
  if (s.ratio > (opts.threshold ?? 0.005)) keepShots(`${name}-${phase}`, s);
  assert.ok(
    s.ratio <= (opts.threshold ?? 0.005),
    `${name} (${phase}): screens differ on ${(s.ratio * 100).toFixed(2)}% of pixels ${s.why || ''} (see /tmp/cobrowse-shots)`,
  );
}

for (const [name, opts] of Object.entries(CASES)) {
  test(`mirror: ${name}`, { skip }, async () => {
    let wire;
    const c = await h.customer(name, {
      ...CLIPBOARD,
      onPage: async (p) => {
        wire = await tap(p);
      },
    });
    assert.ok((await c.evaluate(plant)) >= 1);
    await typeWhileIdle(c);
    const id = await h.start(c);
    const a = await h.agent(id);
    try {
      await check(c, a, name, 'load', opts);
      assert.equal(
        await a.evaluate(
          () =>
            window.cobrowseAgent.mirror.frame.contentDocument.querySelectorAll('[data-cobrowse-ui]')
              .length,
        ),
        0,
        'the co-browse UI is never mirrored',
      );
      await exercise(c);
      await c.evaluate(() => window.fixtureChanges && window.fixtureChanges());
      await check(c, a, name, 'changed', opts);
      // A fresh snapshot carries the current state, masked too.
      const n = await a.evaluate(() => window.cobrowseAgent.snapshots);
      await a.evaluate(() => window.cobrowseAgent.requestResync());
      await waitFor(a, (n) => window.cobrowseAgent.snapshots > n, n, 10000);
      const r = await converge(c, a);
      assert.ok(r.equal, `${name} (resync): DOM differs\n` + diff(r.customer, r.agent));
      noSecrets(wire.texts(), r.agent, name);
    } finally {
      await c.evaluate(() => window.Cobrowse.stop()).catch(() => {});
      await c.context().close();
      await a.context().close();
    }
  });
}
