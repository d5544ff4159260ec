// The agent console (/agent/): sign-in with an account and with an agent-desktop token, join by a
// typed ID, every refusal in plain words, write-mode requests through allowed / revoked /
// denied / timed out, exit, embedding in an allowed agent desktop, keyboard-only use, and the
// connection states (the customer away between pages, the console's own connection lost and back).

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { requirements, setup, waitFor } from './harness.mjs';

const skip = requirements();
const PASSWORD = 'correct horse battery';

/** An agent desktop on an origin of its own (same site as the server: 127.0.0.1, another port). */
let desk, deskOrigin, otherDeskOrigin;
let h;
before(async () => {
  if (skip) return;
  desk = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(
      `<!DOCTYPE html><title>Agent desktop</title><h1>Desk</h1><iframe id="cb" style="width:1000px;height:700px" src="${u.searchParams.get('src')}"></iframe>`,
    );
  });
  await new Promise((r) => desk.listen(0, '127.0.0.1', r));
  deskOrigin = `http://127.0.0.1:${desk.address().port}`;
  otherDeskOrigin = `http://localhost:${desk.address().port}`;
  process.env.COBROWSE_AGENT_ORIGINS = JSON.stringify([deskOrigin]);
  process.env.COBROWSE_TIMEOUTS__CONTROL_ANSWER = '2s';
  // Every test here joins from 127.0.0.1: the per-IP join limit would be reached before the
  // per-agent one.
  process.env.COBROWSE_LIMITS__JOIN_ATTEMPTS_PER_MINUTE_PER_IP = '1000';
  h = await setup();
});
after(async () => {
  if (h) await h.close();
  if (desk) desk.close();
});

const account = (name) => h.cli(['agent', 'add', name], PASSWORD + '\n');
const spaced = (id) => id.replace(/(\d{3})(?=\d)/g, '$1 ');
const state = (p) => p.evaluate(() => document.getElementById('state').dataset.state);
const notice = (p) =>
  p.evaluate(() => ({
    h: document.getElementById('notice-h').textContent,
    p: document.getElementById('notice-p').textContent,
    shown: !document.getElementById('notice').hidden,
  }));
const visible = (p, id) =>
  p.evaluate((i) => {
    const e = document.getElementById(i);
    return !!e && !e.hidden && e.offsetParent !== null;
  }, id);
const focused = (p) => p.evaluate(() => document.activeElement && document.activeElement.id);

async function consolePage(url = '/agent/') {
  const ctx = await h.browser.newContext({ viewport: { width: 1100, height: 800 } });
  const p = await ctx.newPage();
  p.on('pageerror', (e) => console.log('[console pageerror]', e.message));
  await p.goto(h.server + url);
  return p;
}
async function signIn(p, name, password = PASSWORD) {
  await waitFor(p, () => !document.getElementById('signin').hidden, null, 5000);
  await p.fill('#signin-name', name);
  await p.fill('#signin-password', password);
  await p.click('#signin-submit');
}
async function join(p, text) {
  await waitFor(p, () => !document.getElementById('join').hidden, null, 5000);
  await p.fill('#join-id', text);
  await p.press('#join-id', 'Enter');
}
const live = (p) =>
  waitFor(p, () => document.getElementById('state').dataset.state === 'live', null, 15000);
const refusedWith = async (p, heading) => {
  await waitFor(
    p,
    (hd) =>
      document.getElementById('state').dataset.state === 'error' &&
      document.getElementById('notice-h').textContent === hd,
    heading,
    10000,
  );
  assert.ok(await visible(p, 'join'), 'back at the ID field');
  return notice(p);
};
const close = (...pages) => Promise.all(pages.map((p) => p.context().close()));

test('console: sign in with an account, join by a typed ID with spaces, see the page, exit', {
  skip,
}, async () => {
  account('alice');
  const c = await h.customer('forms.html');
  const id = await h.start(c);
  const p = await consolePage();
  // The console asks the server who is signed in before it shows the form: that may end after
  // `load`.
  await waitFor(
    p,
    () => document.getElementById('state').dataset.state !== 'connecting',
    null,
    5000,
  );
  assert.equal(await state(p), 'signin');
  await waitFor(p, () => document.activeElement && document.activeElement.id, null, 2000).catch(
    () => {},
  ); // focused at the next task
  assert.equal(await focused(p), 'signin-name', 'the name field has the focus');
  await signIn(p, 'alice', 'wrong password');
  await waitFor(p, () => !document.getElementById('signin-error').hidden);
  assert.match(await p.locator('#signin-error').textContent(), /wrong name or password/i);
  await signIn(p, 'alice');
  await waitFor(p, () => !document.getElementById('join').hidden);
  assert.equal(await state(p), 'idle');
  assert.equal(await p.locator('#who-name').textContent(), 'alice');
  assert.equal(await focused(p), 'join-id', 'the ID field has the focus');
  // As the customer reads it out: with spaces.
  await join(p, ' ' + spaced(id) + ' ');
  await live(p);
  assert.equal(await p.locator('#sid').textContent(), spaced(id));
  assert.equal(await p.locator('#title').textContent(), 'Forms');
  assert.match(await p.locator('#url').textContent(), /\/forms\.html$/);
  assert.equal(await p.locator('#vp').textContent(), '800 × 600');
  assert.equal(await p.locator('#presence').textContent(), 'connected');
  assert.equal(await p.locator('#mode').textContent(), 'Pointer mode');
  assert.ok((await visible(p, 'request')) && (await visible(p, 'exit')));
  assert.ok(new URL(p.url()).search === '?session=' + id, 'the address joins again after a reload');
  // The view fills the space, scaled to fit, never above 100 %.
  const box = await p.locator('#wrap').boundingBox(),
    main = await p.locator('#main').boundingBox();
  assert.ok(
    box.width <= main.width &&
      box.height <= main.height &&
      box.width > 0.6 * Math.min(main.width, 800),
    JSON.stringify({ box, main }),
  );
  // The customer's pointer.
  await c.mouse.move(120, 80);
  await waitFor(p, () => !document.getElementById('cursor').hidden, null, 5000);
  // The customer's page changes title: the console follows.
  await c.evaluate(() => {
    document.title = 'Forms, step 2';
  });
  await waitFor(
    p,
    () => document.getElementById('title').textContent === 'Forms, step 2',
    null,
    5000,
  );
  // Exit: the customer is told, the console is back at the ID field.
  const ended = c.evaluate(() => new Promise((r) => window.Cobrowse.on('sessionEnded', r)));
  await p.click('#exit');
  assert.equal((await ended).reason, 'agent_exit');
  await waitFor(
    p,
    () =>
      document.getElementById('state').dataset.state === 'ended' &&
      !document.getElementById('join').hidden,
  );
  assert.equal((await notice(p)).h, 'You left the session');
  assert.equal(new URL(p.url()).search, '', 'the ended session is gone from the address');
  assert.equal(await focused(p), 'join-id');
  assert.ok(!(await visible(p, 'wrap')), 'the view is gone');
  await close(c, p);
});

test('console: an agent-desktop token in the fragment signs in, never lingers, and ?session= joins at once', {
  skip,
}, async () => {
  const c = await h.customer('base.html');
  const id = await h.start(c);
  const p = await consolePage(`/agent/?session=${id}#token=${h.token('desk-agent')}`);
  await live(p);
  assert.ok(!p.url().includes('token'), 'the token is gone from the address bar: ' + p.url());
  const me = await p.evaluate(() => fetch('/auth/me').then((r) => r.json()));
  assert.deepEqual(
    me,
    { name: 'desk-agent', role: 'agent' },
    'the token was traded for the sign-in cookie',
  );
  await c.evaluate(() => window.Cobrowse.stop());
  await waitFor(p, () => document.getElementById('state').dataset.state === 'ended');
  // A bad token: the sign-in form, with why.
  const q = await consolePage(`/agent/?session=${id}#token=not.a.token`);
  await waitFor(
    q,
    () =>
      !document.getElementById('signin').hidden &&
      document.getElementById('state').dataset.state === 'error',
    null,
    5000,
  );
  assert.match((await notice(q)).p, /token .* was refused/i);
  assert.ok(!q.url().includes('token'));
  // Not signed in, with a session in the address: asked to sign in for it; then it joins.
  account('erin');
  const c2 = await h.customer('base.html');
  const id2 = await h.start(c2);
  const r = await consolePage(`/agent/?session=${id2}`);
  await waitFor(r, () => !document.getElementById('signin').hidden, null, 5000);
  assert.deepEqual(await notice(r), {
    h: 'Not signed in',
    p: `Sign in to join session ${spaced(id2)}.`,
    shown: true,
  });
  await signIn(r, 'erin');
  await live(r);
  await c2.evaluate(() => window.Cobrowse.stop());
  await close(c, p, q, r, c2);
});

test('console: every refusal in plain words (ID format, no such session, has an agent, in another session, too many attempts, signed out)', {
  skip,
}, async () => {
  const p = await consolePage(`/agent/#token=${h.token('fran')}`);
  // Typed wrong: told before anything is sent.
  await join(p, '123 456 78');
  await waitFor(p, () => !document.getElementById('join-error').hidden);
  assert.match(await p.locator('#join-error').textContent(), /nine digits; this has 8/);
  assert.equal(await p.getAttribute('#join-id', 'aria-invalid'), 'true');
  await join(p, 'abc');
  assert.match(await p.locator('#join-error').textContent(), /digits only/);
  // No such session (never was, or ended).
  await join(p, '987 654 321');
  let n = await refusedWith(p, 'No such session');
  assert.match(n.p, /no live session 987 654 321/);
  // The session already has an agent.
  const c = await h.customer('base.html');
  const id = await h.start(c);
  const other = await h.agent(id);
  await join(p, id);
  n = await refusedWith(p, 'Another agent is in this session');
  assert.match(n.p, /one agent per session/);
  // In another session: the same agent, in a second window, tries a second session.
  const c2 = await h.customer('base.html');
  const id2 = await h.start(c2);
  const fran = await h.agent(id2, { token: h.token('fran') });
  const c3 = await h.customer('base.html');
  const id3 = await h.start(c3);
  await join(p, id3);
  n = await refusedWith(p, 'You are in another session');
  assert.match(n.p, /exit that one first/i);
  await fran.click('#exit');
  await waitFor(fran, () => document.getElementById('state').dataset.state === 'ended');
  await join(p, id3);
  await live(p);
  await p.click('#exit');
  await waitFor(p, () => document.getElementById('state').dataset.state === 'ended');
  // Too many attempts (10 per minute per agent).
  const g = await consolePage(`/agent/#token=${h.token('gus')}`);
  let heading = '';
  for (let i = 0; i < 12 && heading !== 'Too many attempts'; i++) {
    await join(g, String(111111111 + i));
    await waitFor(g, () => document.getElementById('state').dataset.state === 'error', null, 5000);
    heading = (await notice(g)).h;
  }
  assert.equal(heading, 'Too many attempts');
  assert.match((await notice(g)).p, /wait a minute/i);
  // Signed out meanwhile (account disabled): back to the sign-in form, with why.
  account('hank');
  const k = await consolePage();
  await signIn(k, 'hank');
  await waitFor(k, () => !document.getElementById('join').hidden);
  h.cli(['agent', 'disable', 'hank']);
  await join(k, id3);
  await waitFor(k, () => !document.getElementById('signin').hidden, null, 5000);
  n = await notice(k);
  assert.equal(n.h, 'Not signed in');
  assert.match(n.p, /disabled/i);
  await Promise.all([c, c2, c3].map((x) => x.evaluate(() => window.Cobrowse.stop())));
  await close(p, c, other, c2, fran, c3, g, k);
});

test('console: request control through allowed, revoked, denied and no answer', {
  skip,
}, async () => {
  const c = await h.customer('forms.html');
  const id = await h.start(c);
  const a = await h.agent(id);
  const note = () => a.locator('#control-note').textContent();
  const asked = () =>
    waitFor(c, () => window.Cobrowse.session && window.Cobrowse.session.controlPending, null, 5000);
  // Allowed.
  await a.click('#request');
  await asked();
  await waitFor(
    a,
    () =>
      /Waiting for the customer/.test(document.getElementById('request').textContent) &&
      document.getElementById('request').disabled,
  );
  assert.match(await note(), /customer is asked/);
  await c.evaluate(() => window.Cobrowse.answerControl(true));
  await waitFor(a, () => document.getElementById('mode').dataset.mode === 'write');
  assert.equal(await a.locator('#mode').textContent(), 'Write mode');
  assert.match(await note(), /gave you control/);
  assert.equal(await a.locator('#request').textContent(), 'You have control');
  assert.ok(await a.locator('#request').isDisabled());
  // Revoked by the customer.
  await c.evaluate(() => window.Cobrowse.revokeControl());
  await waitFor(a, () => document.getElementById('mode').dataset.mode === 'pointer');
  assert.match(await note(), /took control back/);
  assert.ok(!(await a.locator('#request').isDisabled()));
  // Denied.
  await a.click('#request');
  await asked();
  await c.evaluate(() => window.Cobrowse.answerControl(false));
  await waitFor(a, () => /declined/.test(document.getElementById('control-note').textContent));
  assert.equal(await a.locator('#mode').textContent(), 'Pointer mode');
  assert.equal(await a.locator('#request').textContent(), 'Request control');
  // No answer (2 s here): a deny.
  await a.click('#request');
  await asked();
  await waitFor(
    a,
    () => /did not answer in time/.test(document.getElementById('control-note').textContent),
    null,
    8000,
  );
  assert.ok(!(await a.locator('#request').isDisabled()));
  await c.evaluate(() => window.Cobrowse.stop());
  await close(c, a);
});

test('console: embedded in an allowed agent desktop it works; another origin cannot frame it', {
  skip,
}, async () => {
  const c = await h.customer('base.html');
  const id = await h.start(c);
  const csp = await (await fetch(h.server + '/agent/')).headers.get('content-security-policy');
  assert.match(csp, new RegExp(`frame-ancestors 'self' ${deskOrigin.replace(/[.]/g, '\\.')}`));
  const ctx = await h.browser.newContext({ viewport: { width: 1200, height: 900 } });
  const d = await ctx.newPage();
  const src = `${h.server}/agent/?session=${id}#token=${h.token('embedded')}`;
  await d.goto(`${deskOrigin}/desk.html?src=${encodeURIComponent(src)}`);
  let frame;
  await waitFor(d, () => true);
  for (let i = 0; i < 50 && !frame; i++) {
    frame = d.frames().find((f) => f.url().startsWith(h.server + '/agent/'));
    if (!frame) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(frame, "the console loaded in the desktop's frame");
  await waitFor(
    frame,
    () =>
      document.getElementById('state') && document.getElementById('state').dataset.state === 'live',
    null,
    15000,
  );
  await frame.click('#exit');
  await waitFor(frame, () => document.getElementById('state').dataset.state === 'ended');
  // The same desktop page on an origin that is not in agent_origins: the browser refuses the frame.
  const e = await ctx.newPage();
  await e.goto(`${otherDeskOrigin}/desk.html?src=${encodeURIComponent(h.server + '/agent/')}`);
  await new Promise((r) => setTimeout(r, 1000));
  const blocked = e.frames().find((f) => f !== e.mainFrame());
  const loaded = blocked
    ? await blocked.evaluate(() => !!document.getElementById('state')).catch(() => false)
    : false;
  assert.equal(
    loaded,
    false,
    'frame-ancestors kept the console out of a desktop that is not allowed',
  );
  await close(c, d);
});

test('console: keyboard only: sign in, join, request control, exit', { skip }, async () => {
  account('ivy');
  const c = await h.customer('base.html');
  const id = await h.start(c);
  const p = await consolePage();
  await waitFor(p, () => document.activeElement && document.activeElement.id === 'signin-name');
  await p.keyboard.type('ivy');
  await p.keyboard.press('Tab');
  await p.keyboard.type(PASSWORD);
  await p.keyboard.press('Enter');
  await waitFor(
    p,
    () => document.activeElement && document.activeElement.id === 'join-id',
    null,
    5000,
  );
  await p.keyboard.type(spaced(id));
  await p.keyboard.press('Enter');
  await live(p);
  /** Tabs until the element with this id has the focus. */
  const tabTo = async (target) => {
    for (let i = 0; i < 25; i++) {
      if ((await focused(p)) === target) return;
      await p.keyboard.press('Tab');
    }
    assert.fail(`${target} cannot be reached with the Tab key`);
  };
  await tabTo('request');
  assert.ok(
    await p.evaluate(() => getComputedStyle(document.activeElement).outlineStyle !== 'none'),
    'the focus is visible',
  );
  await p.keyboard.press('Enter');
  await waitFor(
    c,
    () => window.Cobrowse.session && window.Cobrowse.session.controlPending,
    null,
    5000,
  );
  await c.evaluate(() => window.Cobrowse.answerControl(false));
  await tabTo('exit');
  const ended = c.evaluate(() => new Promise((r) => window.Cobrowse.on('sessionEnded', r)));
  await p.keyboard.press('Enter');
  assert.equal((await ended).reason, 'agent_exit');
  await waitFor(
    p,
    () => document.activeElement && document.activeElement.id === 'join-id',
    null,
    5000,
  );
  await close(c, p);
});

/**
 * The console on `url`, its WebSockets to the server passing through the test: `drop(code)` closes
 * the live one as the network or the server would, and while `hold()` is on, the next one waits
 * before it reaches the server (until `release()`).
 */
async function routedConsole(url) {
  const ctx = await h.browser.newContext({ viewport: { width: 1100, height: 800 } });
  const routes = [];
  let gate = null;
  await ctx.routeWebSocket(/\/ws\/agent/, async (ws) => {
    const route = { ws, server: null };
    routes.push(route);
    if (gate) await gate.promise;
    route.server = ws.connectToServer();
  });
  const p = await ctx.newPage();
  p.on('pageerror', (e) => console.log('[console pageerror]', e.message));
  await p.goto(h.server + url);
  return Object.assign(p, {
    /** Both ends close: the server sees the agent go, the console sees `code`. */
    async drop(code) {
      const { ws, server } = routes[routes.length - 1];
      await server.close();
      await ws.close({ code, reason: 'dropped by the test' });
    },
    hold() {
      let open;
      gate = { promise: new Promise((r) => (open = r)), open };
    },
    release() {
      gate.open();
      gate = null;
    },
    sockets: () => routes.length,
  });
}
/** What the console says of the connection: state, its words, the presence line, a stale view. */
const connection = (p) =>
  p.evaluate(() => ({
    state: document.getElementById('state').dataset.state,
    text: document.getElementById('state').textContent,
    presence: document.getElementById('presence').textContent,
    stale: document.getElementById('wrap').classList.contains('stale'),
  }));

test("console: connection states: the customer away while changing page, the agent's own connection lost and back", {
  skip,
}, async () => {
  const c = await h.customer('forms.html');
  const id = await h.start(c);
  const p = await routedConsole(`/agent/?session=${id}#token=${h.token('connie')}`);
  await live(p);
  assert.deepEqual(await connection(p), {
    state: 'live',
    text: 'Live',
    presence: 'connected',
    stale: false,
  });
  // The customer's page goes (a reload or the next page): "away", the view kept but stale.
  await c.goto('about:blank');
  await waitFor(
    p,
    () => document.getElementById('presence').textContent.startsWith('away'),
    null,
    5000,
  );
  assert.deepEqual(await connection(p), {
    state: 'waiting',
    text: 'Customer away',
    presence: 'away (reloading or changing page)',
    stale: true,
  });
  assert.ok(await p.locator('#cursor').isHidden(), 'no customer pointer while away');
  await c.goto(h.origin + '/forms.html');
  await waitFor(
    p,
    () =>
      document.getElementById('presence').textContent === 'connected' &&
      document.getElementById('state').dataset.state === 'live',
    null,
    10000,
  );
  assert.equal((await connection(p)).stale, false);
  // The agent's own connection drops: "connection lost", reconnecting; the customer is told the
  // agent is away.
  p.hold();
  await p.drop(1011);
  await waitFor(
    p,
    () => document.getElementById('presence').textContent === 'connection lost',
    null,
    5000,
  );
  assert.deepEqual(await connection(p), {
    state: 'connecting',
    text: 'Reconnecting…',
    presence: 'connection lost',
    stale: true,
  });
  await waitFor(
    c,
    () => window.Cobrowse.session && window.Cobrowse.session.agentConnected === false,
    null,
    5000,
  );
  // It comes back by itself, into the same session, with a fresh view.
  p.release();
  await live(p);
  assert.deepEqual(await connection(p), {
    state: 'live',
    text: 'Live',
    presence: 'connected',
    stale: false,
  });
  assert.equal(await p.locator('#sid').textContent(), spaced(id));
  await waitFor(c, () => window.Cobrowse.session.agentConnected === true, null, 5000);
  // The server going away (1001) reads as a restart, and is reconnected from too.
  p.hold();
  await p.drop(1001);
  await waitFor(
    p,
    () => document.getElementById('state').textContent === 'Server restarting…',
    null,
    5000,
  );
  assert.equal((await connection(p)).presence, 'connection lost');
  p.release();
  await live(p);
  assert.ok(p.sockets() >= 3);
  await c.evaluate(() => window.Cobrowse.stop());
  await close(c, p);
});
