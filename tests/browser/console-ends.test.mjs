// Every way a session can end, as the agent console shows it: a clear message for each reason,
// then back to the ID field. Timeouts are short here (inactivity 3 s, grace periods 1 s) so
// that the timed ends happen during the test; a second server is shut down for server_shutdown.
// (join_timeout ends a session no agent ever joined: no console can be there to see it.)

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { cli, requirements, setup, startServer, waitFor } from './harness.mjs';

const skip = requirements();
let h;
before(async () => {
  if (skip) return;
  process.env.COBROWSE_TIMEOUTS__INACTIVITY = '3s';
  process.env.COBROWSE_TIMEOUTS__CUSTOMER_GRACE = '1s';
  process.env.COBROWSE_TIMEOUTS__AGENT_GRACE = '1s';
  process.env.COBROWSE_LIMITS__JOIN_ATTEMPTS_PER_MINUTE_PER_IP = '1000';
  h = await setup();
});
after(async () => {
  if (h) await h.close();
});

const shown = (a) =>
  a.evaluate(() => ({
    state: document.getElementById('state').dataset.state,
    h: document.getElementById('notice-h').textContent,
    p: document.getElementById('notice-p').textContent,
    join: !document.getElementById('join').hidden,
  }));
/** Waits for the console to show the end, and checks it is back at the ID field. */
async function endShown(a, heading, words) {
  await waitFor(a, (hd) => document.getElementById('notice-h').textContent === hd, heading, 10000);
  const s = await shown(a);
  assert.equal(s.state, 'ended');
  assert.ok(s.join, 'back at the ID field');
  assert.match(s.p, words);
  assert.equal(new URL(a.url()).search, '');
  return s;
}
async function live(fixture = 'base.html', opts) {
  const c = await h.customer(fixture);
  const id = await h.start(c, opts);
  const a = await h.agent(id);
  return { c, a, id };
}
const close = (...pages) =>
  Promise.all(
    pages.map((p) =>
      p
        .context()
        .close()
        .catch(() => {}),
    ),
  );

test('ends: the customer exits', { skip }, async () => {
  const { c, a } = await live();
  await c.evaluate(() => window.Cobrowse.stop());
  await endShown(a, 'The customer ended the session', /customer ended the session/i);
  await close(c, a);
});

test('ends: the agent exits', { skip }, async () => {
  const { c, a } = await live();
  await a.click('#exit');
  await endShown(a, 'You left the session', /customer has been told/i);
  await close(c, a);
});

test('ends: the chat or call ends (page API)', { skip }, async () => {
  const { c, a } = await live('base.html', { interaction: { id: 'chat-7', channel: 'chat' } });
  await c.evaluate(() => window.Cobrowse.endInteraction());
  await endShown(a, 'The chat or call ended', /chat or call this session belonged to has ended/i);
  await close(c, a);
});

test('ends: the contact center ends it (REST API)', { skip }, async () => {
  const { c, a, id } = await live();
  const key = h.cli(['apikey', 'create', 'ends-test']);
  const r = await fetch(`${h.server}/api/v1/sessions/${id}/end`, {
    method: 'POST',
    headers: { authorization: 'Bearer ' + key },
  });
  assert.equal(r.status, 200);
  await endShown(a, 'Ended by the contact center', /ended by the contact center/i);
  await close(c, a);
});

test('ends: inactivity', { skip }, async () => {
  const { c, a } = await live();
  await endShown(a, 'The session timed out', /Nothing happened for 3 seconds\./);
  await close(c, a);
});

test('ends: the customer leaves (page closed past the grace period)', { skip }, async () => {
  const { c, a } = await live();
  await c.close();
  await endShown(a, 'The customer left', /page was closed and did not come back/i);
  await close(c, a);
});

test('ends: the agent is gone past the grace period; the console says so when it comes back', {
  skip,
}, async () => {
  const { c, a } = await live();
  const ended = c.evaluate(() => new Promise((r) => window.Cobrowse.on('sessionEnded', r)));
  await a.goto('about:blank');
  assert.equal((await ended).reason, 'agent_gone');
  await a.goBack();
  await endShown(a, 'The session has ended', /disconnected or closed/i);
  await close(c, a);
});

test('ends: the server shuts down', { skip }, async () => {
  // A server of its own, to stop: the customer is its demo shop (its own origin is allowed).
  const env = { ...process.env, COBROWSE_LOG: 'warn' };
  const { url: server, proc, dataDir } = await startServer(env);
  try {
    const cctx = await h.browser.newContext({ viewport: { width: 900, height: 700 } });
    const c = await cctx.newPage();
    await c.goto(server + '/demo/');
    await waitFor(c, () => window.Cobrowse && window.Cobrowse.v === 1, null, 10000);
    const id = await c.evaluate(() => window.Cobrowse.start().then((s) => s.id));
    const token = cli(dataDir, env, ['token', 'agent', 'night-shift']);
    const actx = await h.browser.newContext({ viewport: { width: 1000, height: 800 } });
    const a = await actx.newPage();
    await a.goto(`${server}/agent/?session=${id}#token=${token}`);
    await waitFor(a, () => document.getElementById('state').dataset.state === 'live', null, 15000);
    proc.kill('SIGTERM');
    await endShown(a, 'The co-browse server shut down', /server shut down/i);
    await close(c, a);
  } finally {
    proc.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});
