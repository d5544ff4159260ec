// Each hard case of the mirroring, in real Chromium against the real server: after load and
// after a scripted series of changes, the agent's rebuilt DOM equals the customer's (after
// masking, canonical form) and the agent's frame looks like the customer's viewport.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync } from 'node:fs';
import { setup, requirements, converge, diff, screensMatch } from './harness.mjs';

const skip = requirements();
let h;
before(async () => { if (!skip) h = await setup(); });
after(async () => { if (h) await h.close(); });

/** fixture → options: pixel threshold (share of pixels), per-channel tolerance. */
const CASES = {
  'base.html': {},
  'cssinjs.html': {},
  'adopted.html': {},
  'shadow.html': {},
  'iframes.html': {},
  'svg.html': {},
  'canvas.html': { threshold: 0.01, tol: 60 },
  'forms.html': {},
  'dialog.html': {},
  'scroll.html': {},
};

async function check(c, a, name, phase, opts) {
  const r = await converge(c, a);
  assert.ok(r.equal, `${name} (${phase}): DOM differs\n` + diff(r.customer, r.agent));
  await c.evaluate(() => document.activeElement && document.activeElement.blur && document.activeElement.blur());
  const s = await screensMatch(c, a, opts);
  if (s.ratio > (opts.threshold ?? 0.005)) {
    mkdirSync('/tmp/cobrowse-shots', { recursive: true });
    writeFileSync(`/tmp/cobrowse-shots/${name}-${phase}-customer.png`, s.customerPng);
    writeFileSync(`/tmp/cobrowse-shots/${name}-${phase}-agent.png`, s.agentPng);
  }
  assert.ok(s.ratio <= (opts.threshold ?? 0.005), `${name} (${phase}): screens differ on ${(s.ratio * 100).toFixed(2)}% of pixels ${s.why || ''} (see /tmp/cobrowse-shots)`);
}

for (const [name, opts] of Object.entries(CASES)) {
  test(`mirror: ${name}`, { skip }, async () => {
    const c = await h.customer(name);
    const id = await h.start(c);
    const a = await h.agent(id);
    try {
      await check(c, a, name, 'load', opts);
      assert.equal(await a.evaluate(() => window.cobrowseAgent.mirror.frame.contentDocument.querySelectorAll('[data-cobrowse-ui]').length), 0, 'the co-browse UI is never mirrored');
      await c.evaluate(() => window.fixtureChanges && window.fixtureChanges());
      await check(c, a, name, 'changed', opts);
    } finally {
      await c.evaluate(() => window.Cobrowse.stop()).catch(() => {});
      await c.context().close();
      await a.context().close();
    }
  });
}
