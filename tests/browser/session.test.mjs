// The session around the mirror: resume across a reload and a new page of the site (a fresh
// snapshot each time), a lost message (gap → resync instead of a wrong page), and the agent
// page's plain words for each refusal and end.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { converge, diff, requirements, setup, waitFor } from './harness.mjs';

const skip = requirements();
let h;
before(async () => {
  if (!skip) h = await setup();
});
after(async () => {
  if (h) await h.close();
});

const notice = (a) =>
  a.evaluate(() => [
    document.getElementById('state').dataset.state,
    document.getElementById('notice-h').textContent,
    document.getElementById('notice-p').textContent,
  ]);

test('session: a reload and the next page resume the session with a fresh snapshot', {
  skip,
}, async () => {
  const c = await h.customer('base.html');
  const id = await h.start(c);
  const a = await h.agent(id);
  assert.equal(await a.evaluate(() => window.cobrowseAgent.snapshots), 1);
  await c.reload();
  await waitFor(c, () => window.Cobrowse && window.Cobrowse.session, null, 10000);
  assert.equal(
    await c.evaluate(() => window.Cobrowse.session.id),
    id,
    'same session after a reload',
  );
  await waitFor(a, () => window.cobrowseAgent.snapshots >= 2, null, 10000);
  let r = await converge(c, a);
  assert.ok(r.equal, diff(r.customer, r.agent));
  await new Promise((res) => setTimeout(res, 500));
  assert.equal(
    await a.evaluate(() => window.cobrowseAgent.snapshots),
    2,
    'one snapshot for the reloaded page, not one per way of learning the agent is there',
  );
  await c.goto(h.origin + '/forms.html');
  await waitFor(c, () => window.Cobrowse && window.Cobrowse.session, null, 10000);
  assert.equal(
    await c.evaluate(() => window.Cobrowse.session.id),
    id,
    'same session on the next page',
  );
  await waitFor(a, () => window.cobrowseAgent.snapshots >= 3, null, 10000);
  r = await converge(c, a);
  assert.ok(r.equal, diff(r.customer, r.agent));
  assert.match(await a.locator('#url').textContent(), /forms\.html$/);
  // The customer ends it: the agent is told, with the reason.
  await c.evaluate(() => window.Cobrowse.stop());
  await waitFor(a, () => document.getElementById('state').dataset.state === 'ended');
  assert.match((await notice(a))[2], /customer/i);
  assert.equal(
    await c.evaluate(() => localStorage.getItem('cobrowse:session')),
    null,
    'an ended session is forgotten',
  );
  await c.context().close();
  await a.context().close();
});

// What a field says goes on a timer, and a page being left may never run it (seen in the demo:
// the last character of a card's expiry date, typed just before the next page, never sent).
// Here the timers of the page never run at all, and the page is left for real.
test('session: what the customer typed just before leaving the page reaches the agent', {
  skip,
}, async () => {
  const c = await h.customer('forms.html');
  const id = await h.start(c);
  const a = await h.agent(id);
  await c.evaluate(() => {
    window.setTimeout = () => 0;
    const e = document.getElementById('e');
    e.value = 'typed as I left';
    e.dispatchEvent(new Event('input', { bubbles: true }));
    location.href = 'about:blank';
  });
  await c.waitForURL('about:blank');
  await waitFor(
    a,
    () =>
      window.cobrowseAgent.mirror.frame.contentDocument.getElementById('e').value ===
      'typed as I left',
    null,
    3000,
  ).catch(() => assert.fail('the agent never saw the last typing'));
  await c.goto(h.origin + '/forms.html');
  await waitFor(c, () => window.Cobrowse && window.Cobrowse.session, null, 10000);
  await c.evaluate(() => window.Cobrowse.stop());
  await c.context().close();
  await a.context().close();
});

test('session: a lost message makes the agent ask for a fresh snapshot', { skip }, async () => {
  const c = await h.customer('base.html');
  const id = await h.start(c);
  // Between the server and the console, the test loses the customer's next text message.
  let lose = 0;
  const a = await h.agent(id, {
    onContext: (ctx) =>
      ctx.routeWebSocket(/\/ws\/agent/, (ws) => {
        const server = ws.connectToServer();
        server.onMessage((m) => {
          if (lose > 0 && typeof m === 'string' && /"s":/.test(m)) return void lose--;
          ws.send(m);
        });
      }),
  });
  lose = 1;
  await c.evaluate(() => {
    document.querySelector('h1').textContent = 'lost change';
  });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(lose, 0, 'a message was lost');
  await c.evaluate(() => {
    document.querySelector('li').textContent = 'next change';
  });
  await waitFor(a, () => window.cobrowseAgent.snapshots >= 2, null, 10000);
  assert.ok((await a.evaluate(() => window.cobrowseAgent.trace.join('\n'))).length > 0);
  const r = await converge(c, a);
  assert.ok(r.equal, diff(r.customer, r.agent));
  await c.evaluate(() => window.Cobrowse.stop());
  await c.context().close();
  await a.context().close();
});

test('agent page: clear words without a session, without sign-in, with a bad token, for an unknown session', {
  skip,
}, async () => {
  const ctx = await h.browser.newContext();
  const p = await ctx.newPage();
  await p.goto(h.server + '/agent/');
  await waitFor(p, () => !document.getElementById('signin').hidden);
  assert.equal((await notice(p))[0], 'signin');
  await p.goto(h.server + '/agent/?session=123456789');
  await waitFor(p, () => document.getElementById('state').dataset.state === 'error', null, 10000);
  assert.match((await notice(p)).join(' '), /sign/i);
  await p.goto('about:blank');
  await p.goto(h.server + '/agent/?session=123456789#token=not-a-token');
  await waitFor(p, () => document.getElementById('state').dataset.state === 'error', null, 10000);
  assert.match((await notice(p)).join(' '), /sign-in|refused|invalid/i);
  assert.ok(!p.url().includes('token='), 'the token does not linger in the address bar');
  await p.goto('about:blank');
  await p.goto(h.server + '/agent/?session=123456789#token=' + h.token());
  await waitFor(p, () => document.getElementById('state').dataset.state === 'error', null, 10000);
  assert.match((await notice(p)).join(' '), /no such session|no live session/i);
  await ctx.close();
});

test('agent page: the agent ends the session; the customer script forgets it', {
  skip,
}, async () => {
  const c = await h.customer('base.html');
  const id = await h.start(c);
  const a = await h.agent(id);
  const ended = c.evaluate(() => new Promise((r) => window.Cobrowse.on('sessionEnded', r)));
  await a.click('#exit');
  const e = await ended;
  assert.equal(e.reason, 'agent_exit');
  await waitFor(a, () => document.getElementById('state').dataset.state === 'ended');
  assert.equal(await c.evaluate(() => window.Cobrowse.session && window.Cobrowse.session.id), id);
  assert.equal(await c.evaluate(() => localStorage.getItem('cobrowse:session')), null);
  const id2 = await h.start(c);
  assert.notEqual(id2, id, 'starting again gives a new session');
  await c.evaluate(() => window.Cobrowse.stop());
  await c.context().close();
  await a.context().close();
});
