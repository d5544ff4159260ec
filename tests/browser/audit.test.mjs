// The audit trail in the admin console: an agent in write mode clicks and types, the customer
// takes control back and ends the session; the session's detail shows the trail with the
// consent moments highlighted and the "verified" mark, and nothing typed is in it.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { agentClick, writeMode } from './control-helpers.mjs';
import { requirements, setup, waitFor } from './harness.mjs';

const skip = requirements();
const PASSWORD = 'correct horse battery';
const TYPED = 'TYPED-4111-SECRET';
let h;
before(async () => {
  if (skip) return;
  h = await setup();
  h.cli(['agent', 'add', 'root', '--admin'], PASSWORD + '\n');
});
after(async () => {
  if (h) await h.close();
});

test('audit: the session timeline shows consent highlighted, verified, and no typed value', {
  skip,
}, async () => {
  const c = await h.customer('control.html');
  const id = await h.start(c);
  const a = await h.agent(id);
  await writeMode(c, a);
  await agentClick(a, '#btn');
  await waitFor(c, () => document.getElementById('clicks').textContent === '1', null, 5000);
  await agentClick(a, '#name');
  await a.keyboard.type(TYPED);
  await waitFor(c, (t) => document.getElementById('name').value === t, TYPED, 5000);
  await c.evaluate(() => window.Cobrowse.revokeControl());
  await waitFor(a, () => window.cobrowseAgent.control.mode === 'pointer', null, 5000);
  await c.evaluate(() => window.Cobrowse.stop());

  const ctx = await h.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const p = await ctx.newPage();
  await p.goto(h.server + '/admin/#history');
  await waitFor(p, () => !document.getElementById('signin').hidden, null, 5000);
  await p.fill('#signin-name', 'root');
  await p.fill('#signin-password', PASSWORD);
  await p.press('#signin-password', 'Enter');
  const spaced = id.replace(/(\d{3})(?=\d)/g, '$1 ');
  const row = p.locator('#history-table tbody tr', { hasText: spaced });
  await row.waitFor({ timeout: 5000 });
  // The trail is signed at the session's end: the mark says so once it is.
  await waitFor(
    p,
    async (sid) => {
      const r = await fetch('/api/v1/audit?session=' + sid);
      const t = await r.json();
      return t.records.some((e) => e.kind === 'session.ended') && t.verification.unattested === 0;
    },
    id,
    5000,
  );
  await row.locator('button').click();
  await waitFor(p, () => document.getElementById('audit-verified'), null, 5000);
  assert.match(await p.locator('#audit-verified').textContent(), /verified/);
  assert.doesNotMatch(await p.locator('#audit-verified').textContent(), /not/);
  const consent = await p.locator('#detail-audit li.consent').allTextContents();
  assert.ok(
    consent.some((t) => /asked for control/.test(t)) &&
      consent.some((t) => /allowed control/.test(t)) &&
      consent.some((t) => /took control back/.test(t)),
    consent.join(' | '),
  );
  const kinds = await p
    .locator('#detail-audit li')
    .evaluateAll((l) => l.map((e) => e.dataset.kind));
  assert.ok(kinds.includes('session.created') && kinds.includes('session.ended'), kinds.join());
  const trail = await p.evaluate(
    (sid) => fetch('/api/v1/audit?session=' + sid).then((r) => r.text()),
    id,
  );
  assert.ok(!trail.includes(TYPED), 'nothing typed is in the trail');
  const records = JSON.parse(trail).records;
  assert.ok(
    records.some((e) => e.kind === 'page.rules'),
    'the rules applied to the page',
  );
  const acts = records.filter((e) => e.kind === 'agent.action').map((e) => e.detail.action);
  assert.ok(acts.includes('click') && acts.includes('type'), acts.join());
  const reached = records
    .filter((e) => e.kind === 'agent.action_applied')
    .map((e) => `${e.detail.action} ${e.detail.tag}#${e.detail.id}`);
  assert.ok(
    reached.includes('click button#btn') && reached.includes('type input#name'),
    reached.join(),
  );
  await Promise.all([ctx.close(), c.context().close(), a.context().close()]);
});
