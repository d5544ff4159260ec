// The customer's experience, in real headless Chromium against the real server: the
// newcomer's whole path on the demo shop, the chat box, the help launcher, the built-in UI
// (toolbar, dialogs, notices, masked fields, keyboard, ARIA, phone size, languages, strings),
// a site's own UI through the JS API (disableBuiltInUI), several tabs, reloads, and the size
// of the script as served.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { agentClick, agentMode, noticeHas, toolbarHas } from './control-helpers.mjs';
import { notInFirefox, requirements, setup, waitFor } from './harness.mjs';

const skip = requirements();
let h;
before(async () => {
  if (!skip) h = await setup({ env: { COBROWSE_TIMEOUTS__CUSTOMER_GRACE: '3s' } });
});
after(async () => {
  if (h) await h.close();
});

const until = (page, fn, arg, ms = 5000) => waitFor(page, fn, arg, ms);
const PASSWORD = 'long enough passphrase';
/** A built-in agent account (`cobrowse agent add`, the password on stdin). */
const account = (name) => h.cli(['agent', 'add', name], PASSWORD + '\n');
/** The agent console as a newcomer uses it: signed in with the form, then on the ID field. */
async function consoleSignIn(name) {
  account(name);
  const ctx = await h.browser.newContext({
    viewport: { width: 1000, height: 800 },
    deviceScaleFactor: 1,
  });
  const a = await ctx.newPage();
  a.on('pageerror', (e) => console.log('[agent pageerror]', e.message));
  await a.goto(h.server + '/agent/');
  await until(a, () => !document.getElementById('signin').hidden);
  await a.fill('#signin-name', name);
  await a.fill('#signin-password', PASSWORD);
  await a.click('#signin-submit');
  await until(a, () => !document.getElementById('join').hidden);
  return a;
}
/** The agent types the ID as the customer reads it out (with its spaces) and joins. */
async function joinTyped(a, spaced) {
  await a.fill('#join-id', spaced);
  await a.click('#join-submit');
  await until(a, () => document.getElementById('state').dataset.state === 'live', null, 15000);
}
const ui = (page, sel) => page.locator('[data-cobrowse-ui]').locator(sel);
const agentNotice = (a) =>
  a.evaluate(() =>
    [
      document.getElementById('state').dataset.state,
      document.getElementById('notice-h').textContent,
      document.getElementById('notice-p').textContent,
    ].join(' | '),
  );
const demo = (pathname = '/demo/', viewport = { width: 1000, height: 760 }) =>
  h.customer(h.server + pathname, { viewport });

test('newcomer path on the demo: "browse with you", the ID read out, the agent signs in with the console\'s form, types the ID, joins, asks for control with the button, fills a field, follows to the next page; the customer ends, and the reverse', {
  skip,
}, async () => {
  const c = await demo();
  // Nothing of co-browse shows but the site's own start points and the launcher it asked for.
  await toolbarHas(c, /^$/);
  await c.click('#browse-with-you');
  const big = ui(c, '[data-part=id-dialog] .big');
  await big.filter({ hasText: /^\d{3} \d{3} \d{3}$/ }).waitFor();
  const spaced = await big.textContent();
  const id = spaced.replace(/ /g, '');
  assert.equal(id, await c.evaluate(() => window.Cobrowse.session.id));
  await toolbarHas(c, new RegExp(spaced + '.*Waiting for an agent'));
  // The agent signs in with the console's form and types the ID the customer reads out.
  const a = await consoleSignIn('newcomer-agent');
  await joinTyped(a, spaced);
  a.customer = c;
  await until(
    c,
    () =>
      !document
        .querySelector('[data-cobrowse-ui]')
        .shadowRoot.querySelector('[data-part=id-dialog]').open,
  );
  await until(c, () =>
    /Agent connected/.test(
      document.querySelector('[data-cobrowse-ui]').shadowRoot.querySelector('[data-part=toolbar]')
        .textContent,
    ),
  );
  await noticeHas(c, /An agent has joined/);
  assert.ok(
    await a.evaluate(() =>
      window.cobrowseAgent.mirror.frame.contentDocument.getElementById('hero-title'),
    ),
    'the agent sees the page',
  );
  // Control: asked with the console's button, allowed by the customer.
  await a.click('#request');
  await ui(c, '[data-part=consent] button')
    .filter({ hasText: /^Allow$/ })
    .click();
  await until(a, () => window.cobrowseAgent.control.mode === 'write');
  await toolbarHas(c, /Agent can click and type/);
  await agentClick(a, '#newsletter-email');
  await a.keyboard.type('ada@example.com');
  await until(c, () => document.getElementById('newsletter-email').value === 'ada@example.com');
  // The customer goes to another page; the agent's view follows.
  await c.click('.nav a[href="products.html"]');
  await c.waitForURL(/products\.html$/);
  await until(
    a,
    () =>
      /products\.html$/.test(document.getElementById('url').textContent) &&
      window.cobrowseAgent.mirror.frame.contentDocument.getElementById('product-grid'),
    null,
    10000,
  );
  await until(
    c,
    () => window.Cobrowse.session && window.Cobrowse.session.mode === 'write',
    null,
    10000,
  );
  // The customer ends it from the exit icon next to the ID; the agent is told.
  await ui(c, '[data-part=toolbar] button[aria-label="End co-browsing"]').click();
  await until(a, () => document.getElementById('state').dataset.state === 'ended');
  assert.match(await agentNotice(a), /customer ended/i);
  await noticeHas(c, /You ended co-browsing/);
  await toolbarHas(c, /^$/);

  // The reverse: started again from the launcher; the agent leaves; the customer is told.
  await ui(c, '[data-part=launcher] > button').click();
  await ui(c, '[role=menuitem]', { hasText: 'Browse with an expert' })
    .filter({ hasText: 'Browse with an expert' })
    .click();
  await big.filter({ hasText: /^\d{3} \d{3} \d{3}$/ }).waitFor();
  const spaced2 = await big.textContent();
  assert.notEqual(spaced2, spaced);
  // The same agent, still signed in, is back at the ID field: types the new one.
  const a2 = a;
  await joinTyped(a2, spaced2);
  await until(c, () => window.Cobrowse.session.state === 'active');
  await a2.click('#exit');
  await until(c, () => window.Cobrowse.session.state === 'ended');
  await until(c, () =>
    [...document.querySelector('[data-cobrowse-ui]').shadowRoot.querySelectorAll('.n span')].some(
      (n) => /The agent left the session/.test(n.textContent),
    ),
  );
  await toolbarHas(c, /^$/);
  await c.context().close();
  await a2.context().close();
});

test('demo chat box: sharing posts the session ID into the conversation; "End chat" ends the interaction and the session', {
  skip,
}, async () => {
  const c = await demo('/demo/products.html');
  await c.click('#chat-toggle');
  await c.click('#chat-share');
  await until(
    c,
    () =>
      window.Cobrowse.session &&
      /My co-browse ID is \d{3} \d{3} \d{3}/.test(document.getElementById('chat-log').textContent),
  );
  const { id, spaced } = await c.evaluate(() => window.Cobrowse.session);
  assert.match(
    await c.locator('#chat-log').textContent(),
    new RegExp('My co-browse ID is ' + spaced),
  );
  const a = await h.agent(id);
  const ended = c.evaluate(() => new Promise((r) => window.Cobrowse.on('sessionEnded', r)));
  await c.click('#chat-end');
  assert.equal((await ended).reason, 'interaction_ended');
  await until(a, () => document.getElementById('state').dataset.state === 'ended');
  assert.match(await agentNotice(a), /chat or call/i);
  await noticeHas(c, /Your chat or call ended/);
  await c.context().close();
  await a.context().close();
});

test('start points: the script tag alone shows nothing; the launcher (chat, call, browse with you) and a start link do; Cobrowse.start({interaction}) gives the ID to a chat', {
  skip,
}, async () => {
  const c = await h.customer('control2.html');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(
    await c.evaluate(() => document.querySelectorAll('[data-cobrowse-ui]').length),
    0,
    'nothing visible unless asked',
  );
  const started = c.evaluate(() => new Promise((r) => window.Cobrowse.on('sessionStarted', r)));
  const s = await c.evaluate(() =>
    window.Cobrowse.start({ interaction: { id: 'chat-42', channel: 'chat' } }),
  );
  assert.match(s.id, /^\d{9}$/);
  assert.equal((await started).id, s.id, 'sessionStarted carries the ID for the chat to post');
  await c.evaluate(() => window.Cobrowse.stop());
  await c.context().close();

  const l = await h.customer('customer-launcher.html');
  const btn = ui(l, '[data-part=launcher] > button');
  assert.equal(await btn.getAttribute('aria-expanded'), 'false');
  await btn.focus();
  await l.keyboard.press('Enter');
  assert.equal(await btn.getAttribute('aria-expanded'), 'true');
  assert.deepEqual(await ui(l, '[role=menuitem]').allTextContents(), [
    'Chat with us',
    'Call us +1 555 0100',
    'Browse with an expert',
  ]);
  assert.equal(await ui(l, 'a[role=menuitem]').getAttribute('href'), 'tel:+15550100');
  await l.keyboard.press('Enter'); // the first item has the focus: the site's chat opens
  assert.equal(await l.locator('#open-chat').textContent(), 'chat opened');
  await btn.click();
  await l.keyboard.press('Escape');
  assert.equal(await btn.getAttribute('aria-expanded'), 'false');
  await l.click('#start-link');
  await ui(l, '[data-part=id-dialog] .big')
    .filter({ hasText: /^\d{3} \d{3} \d{3}$/ })
    .waitFor();
  assert.equal(
    await ui(l, '[data-part=launcher]').isVisible(),
    false,
    'the launcher steps aside during a session',
  );
  await l.evaluate(() => window.Cobrowse.stop());
  await l.context().close();
});

test('built-in UI: toolbar and dialogs by keyboard and ARIA, masked fields outlined with a tooltip and a focus notice, readable at 375 px, French from <html lang>, strings replaceable', {
  skip,
}, async () => {
  const c = await h.customer('customer-fr.html', { viewport: { width: 375, height: 667 } });
  await c.evaluate(() =>
    window.Cobrowse.configure({ strings: { waiting: 'Un instant, un conseiller arrive' } }),
  );
  const id = await h.start(c);
  await until(c, () => document.querySelector('[data-cobrowse-ui]'));
  const bar = ui(c, '[data-part=toolbar]');
  await bar.filter({ hasText: 'Un instant, un conseiller arrive' }).waitFor();
  assert.match(await bar.textContent(), new RegExp(id.replace(/(\d{3})(?=\d)/g, '$1 ')));
  // 375 px: the toolbar fits, nothing cut off.
  const box = await bar.boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 375, JSON.stringify(box));
  assert.ok(
    await c.evaluate(() =>
      [
        ...document
          .querySelector('[data-cobrowse-ui]')
          .shadowRoot.querySelectorAll('[data-part=toolbar] > :not(.vh)'),
      ].every((e) => e.scrollWidth <= e.clientWidth + 1),
    ),
  );
  // ARIA: a labelled region, a labelled exit button next to the ID, live status and notices.
  assert.equal(await ui(c, '[role=region]').getAttribute('aria-label'), 'Co-navigation');
  const exit = ui(c, '[data-part=toolbar] button.x');
  assert.equal(await exit.getAttribute('aria-label'), 'Arrêter la co-navigation');
  assert.equal(
    await c.evaluate(
      () =>
        document.querySelector('[data-cobrowse-ui]').shadowRoot.querySelector('.id')
          .nextElementSibling.className,
    ),
    'x',
    'exit sits next to the ID',
  );
  assert.equal((await ui(c, '[role=status]').count()) >= 1, true);
  // The agent joins; the masked password is outlined, with a tooltip, and focusing it says the
  // agent can't see it.
  const a = await h.agent(id);
  await until(c, () => window.Cobrowse.session.state === 'active');
  await until(c, () =>
    [...document.querySelector('[data-cobrowse-ui]').shadowRoot.querySelectorAll('.ol')].some(
      (o) => !o.hidden,
    ),
  );
  const [ol, field] = await c.evaluate(() => {
    const o = [...document.querySelector('[data-cobrowse-ui]').shadowRoot.querySelectorAll('.ol')]
        .find((x) => !x.hidden)
        .getBoundingClientRect(),
      f = document.getElementById('mdp').getBoundingClientRect();
    return [
      [o.left, o.top, o.width, o.height],
      [f.left, f.top, f.width, f.height],
    ];
  });
  assert.ok(
    ol[0] < field[0] && ol[1] < field[1] && ol[2] > field[2] && ol[3] > field[3],
    'the outline surrounds the masked field',
  );
  await c.hover('#mdp');
  await ui(c, '[role=tooltip]').filter({ hasText: 'Masqué au conseiller' }).waitFor();
  await c.click('#mdp');
  await until(c, () =>
    [...document.querySelector('[data-cobrowse-ui]').shadowRoot.querySelectorAll('.n span')].some(
      (n) => /ne voit pas ce que vous saisissez/.test(n.textContent),
    ),
  );
  // The consent dialog, answered by keyboard: focus starts inside, Tab moves, Enter presses.
  await a.evaluate(() => window.cobrowseAgent.requestControl());
  const dlg = ui(c, '[data-part=consent]');
  await dlg.waitFor();
  assert.equal(await dlg.getAttribute('role'), 'alertdialog');
  assert.equal(await dlg.getAttribute('aria-labelledby'), 'cb-ask-h');
  const dBox = await dlg.boundingBox();
  assert.ok(dBox.x >= 0 && dBox.x + dBox.width <= 375, 'the dialog fits the phone');
  assert.match(await dlg.textContent(), /Laisser le conseiller agir sur cette page/);
  const focused = () =>
    c.evaluate(
      () => document.querySelector('[data-cobrowse-ui]').shadowRoot.activeElement?.textContent,
    );
  assert.equal(await focused(), 'Refuser');
  await c.keyboard.press('Tab');
  assert.equal(await focused(), 'Autoriser');
  await c.keyboard.press('Enter');
  await until(a, () => window.cobrowseAgent.control.mode === 'write');
  await bar.filter({ hasText: 'Le conseiller peut cliquer et saisir' }).waitFor();
  // Revoke and exit by keyboard too.
  await ui(c, '[data-part=toolbar] button.rv').focus();
  await c.keyboard.press('Enter');
  await until(a, () => window.cobrowseAgent.control.mode === 'pointer');
  await exit.focus();
  await c.keyboard.press('Space');
  await until(c, () => window.Cobrowse.session === null);
  await noticeHas(c, /Vous avez arrêté la co-navigation/);
  await c.context().close();
  await a.context().close();
});

test("disableBuiltInUI: a site's own UI drives the JS API (start, events, consent by answerControl, revoke, stop); nothing built-in appears", {
  skip,
}, async () => {
  const c = await h.customer('customer-api.html');
  const builtIn = () => c.evaluate(() => document.querySelectorAll('[data-cobrowse-ui]').length);
  await c.click('#my-start');
  await until(c, () => /^\d{3} \d{3} \d{3}$/.test(document.getElementById('my-id').textContent));
  const id = await c.evaluate(() => window.Cobrowse.session.id);
  const a = await h.agent(id);
  a.customer = c;
  await a.evaluate(() => window.cobrowseAgent.requestControl());
  await c.locator('#my-ask').waitFor();
  await c.click('#my-allow');
  await until(a, () => window.cobrowseAgent.control.mode === 'write');
  await until(c, () => document.getElementById('my-mode').textContent === 'write');
  await agentClick(a, '#field');
  await a.keyboard.type('typed by the agent');
  await until(c, () => document.getElementById('field').value === 'typed by the agent');
  await c.click('#my-revoke');
  await until(a, () => window.cobrowseAgent.control.mode === 'pointer');
  await a.evaluate(() => window.cobrowseAgent.requestControl());
  await c.locator('#my-ask').waitFor();
  await c.click('#my-deny');
  await until(c, () =>
    /controlAnswered denied/.test(document.getElementById('my-log').textContent),
  );
  // The choice holds on the next page of the site (the session resumes without built-in UI).
  await c.reload();
  await until(
    c,
    () => /sessionResumed/.test(document.getElementById('my-log').textContent),
    null,
    10000,
  );
  // The server tells the resumed page that the agent is there; a stop before it would race it.
  await until(c, () => /agentJoined/.test(document.getElementById('my-log').textContent));
  await c.click('#my-stop');
  await until(c, () =>
    /sessionEnded customer_exit/.test(document.getElementById('my-log').textContent),
  );
  const logged = (await c.locator('#my-log li').allTextContents())
    .map((l) => l.split(' ')[0])
    .filter((l) => l !== 'maskedElement');
  assert.deepEqual(logged, ['sessionResumed', 'agentJoined', 'sessionEnded']);
  assert.equal(await builtIn(), 0, 'no built-in UI at any time');
  assert.equal(await agentMode(a), 'pointer');
  await c.context().close();
  await a.context().close();
});

test('disableBuiltInUI: the event sequence of a whole session', { skip }, async () => {
  const c = await h.customer('customer-api.html');
  await c.click('#my-start');
  await until(c, () => window.Cobrowse.session && window.Cobrowse.session.id);
  const id = await c.evaluate(() => window.Cobrowse.session.id);
  const a = await h.agent(id);
  await a.evaluate(() => window.cobrowseAgent.requestControl());
  await c.locator('#my-ask').waitFor();
  await c.click('#my-allow');
  await until(c, () => /modeChanged write/.test(document.getElementById('my-log').textContent));
  await c.click('#my-stop');
  await until(c, () => /sessionEnded/.test(document.getElementById('my-log').textContent));
  const logged = (await c.locator('#my-log li').allTextContents()).map((l) =>
    l.replace(/^(sessionStarted) \d+/, '$1 ID'),
  );
  assert.deepEqual(logged, [
    'sessionStarted ID',
    'agentJoined',
    'maskedElement card',
    'controlRequested 30000',
    'modeChanged write',
    'sessionEnded customer_exit',
  ]);
  assert.equal(await c.evaluate(() => document.querySelectorAll('[data-cobrowse-ui]').length), 0);
  await c.context().close();
  await a.context().close();
});

test('tabs: the tab the customer uses is the one shown; the others stay connected and quiet', {
  skip,
}, async () => {
  const c = await h.customer('control.html');
  const id = await h.start(c);
  const a = await h.agent(id);
  const b = await c.context().newPage();
  await b.goto(h.origin + '/control2.html');
  await until(
    b,
    () => window.Cobrowse && window.Cobrowse.session && window.Cobrowse.session.id,
    null,
    10000,
  );
  assert.equal(
    await b.evaluate(() => window.Cobrowse.session.id),
    id,
    'the second tab joins the same session',
  );
  await until(
    a,
    () => window.cobrowseAgent.mirror.frame.contentDocument.getElementById('two'),
    null,
    10000,
  );
  await until(
    c,
    () => window.Cobrowse.session.shown === false && !window.Cobrowse._.state.capturing,
  );
  // The quiet tab changes: nothing reaches the agent.
  await c.evaluate(() => {
    document.querySelector('h1').textContent = 'changed in the hidden tab';
  });
  await new Promise((r) => setTimeout(r, 400));
  assert.ok(
    await a.evaluate(() => window.cobrowseAgent.mirror.frame.contentDocument.getElementById('two')),
  );
  // The customer comes back to the first tab: it is shown again, with its change.
  await c.bringToFront();
  await c.evaluate(() => window.dispatchEvent(new Event('focus')));
  await until(
    a,
    () =>
      window.cobrowseAgent.mirror.frame.contentDocument.querySelector('h1')?.textContent ===
      'changed in the hidden tab',
    null,
    10000,
  );
  await until(b, () => window.Cobrowse.session.shown === false);
  assert.equal(await c.evaluate(() => window.Cobrowse.session.shown), true);
  // Closing the shown tab: the other one takes over.
  await c.close();
  await until(
    a,
    () => window.cobrowseAgent.mirror.frame.contentDocument.getElementById('two'),
    null,
    10000,
  );
  assert.equal(await b.evaluate(() => window.Cobrowse.session.state), 'active');
  await b.evaluate(() => window.Cobrowse.stop());
  await b.context().close();
  await a.context().close();
});

test('tabs: closing one of two tabs keeps the session; closing the last ends it after the grace period (customer_gone), and the customer back on the site is told they were away too long', {
  skip,
}, async () => {
  const c = await h.customer('control.html');
  const id = await h.start(c);
  const a = await h.agent(id);
  const site = c.context(),
    b = await site.newPage();
  await b.goto(h.origin + '/control2.html');
  await until(
    b,
    () => window.Cobrowse && window.Cobrowse.session && window.Cobrowse.session.state === 'active',
    null,
    10000,
  );
  // The first tab closes: past the grace period (3 s here) the session goes on in the other.
  await c.close();
  await new Promise((r) => setTimeout(r, 4500));
  assert.equal(await a.evaluate(() => document.getElementById('state').dataset.state), 'live');
  assert.equal(await b.evaluate(() => window.Cobrowse.session.state), 'active');
  // The last tab closes: not ended at once (a reload or the next page would resume it)…
  const closed = Date.now();
  await b.close();
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(
    await a.evaluate(() => document.getElementById('state').dataset.state),
    'waiting',
    'the agent waits for the customer: within the grace period',
  );
  // …but once the grace period is over, with the reason.
  await until(a, () => document.getElementById('state').dataset.state === 'ended', null, 10000);
  assert.ok(Date.now() - closed >= 3000, 'ended after the grace period, not before');
  assert.match(await agentNotice(a), /customer left/i);
  // The customer comes back to the site: told in plain words, and nothing is kept.
  const back = await site.newPage();
  await back.goto(h.origin + '/control.html');
  await until(
    back,
    () => window.Cobrowse && window.Cobrowse.session && window.Cobrowse.session.state === 'ended',
    null,
    10000,
  );
  await noticeHas(back, /^You were away from this site too long, so co-browsing stopped\.$/);
  assert.equal(await back.evaluate(() => localStorage.getItem('cobrowse:session')), null);
  assert.equal(
    await back.evaluate(
      () =>
        document.querySelector('[data-cobrowse-ui]').shadowRoot.querySelector('.n[data-reason]')
          .dataset.reason,
    ),
    'customer_gone',
  );
  await back.context().close();
  await a.context().close();
});

test('reloads: within the grace period the session resumes; past it, it has ended (customer_gone) and the customer is told they were away too long', {
  skip,
}, async () => {
  const c = await h.customer('control.html');
  const id = await h.start(c);
  const a = await h.agent(id);
  await c.reload();
  await until(
    c,
    () => window.Cobrowse && window.Cobrowse.session && window.Cobrowse.session.state === 'active',
    null,
    10000,
  );
  assert.equal(await c.evaluate(() => window.Cobrowse.session.id), id);
  await toolbarHas(c, /Agent connected/);
  await c.goto('about:blank');
  await until(a, () => document.getElementById('state').dataset.state === 'ended', null, 10000);
  assert.match(await agentNotice(a), /customer left/i);
  await c.goto(h.origin + '/control.html');
  await until(
    c,
    () => window.Cobrowse && window.Cobrowse.session && window.Cobrowse.session.state === 'ended',
    null,
    10000,
  );
  await noticeHas(c, /^You were away from this site too long, so co-browsing stopped\.$/);
  assert.equal(await c.evaluate(() => localStorage.getItem('cobrowse:session')), null);
  await c.context().close();
  await a.context().close();
});

test('size: the customer script as served (gzip), per page load, per session, in full', {
  skip: skip || notInFirefox('the bytes served are the same for every browser'),
}, async () => {
  // Raw bytes on the wire (fetch() would hand back the inflated body).
  const size = (p) =>
    new Promise((res, rej) =>
      http
        .get(h.server + p, { headers: { 'accept-encoding': 'gzip' } }, (r) => {
          let n = 0;
          r.on('data', (d) => {
            n += d.length;
          });
          r.on('end', () =>
            r.statusCode === 200 && r.headers['content-encoding'] === 'gzip'
              ? res(n)
              : rej(new Error(p + ': ' + r.statusCode + ' ' + r.headers['content-encoding'])),
          );
        })
        .on('error', rej),
    );
  // Each stage: the modules it loads first and everything they import statically, not counted
  // before.
  const entries = {
    load: ['/cobrowse.js', '/customer/main.js'],
    session: ['/customer/mutations.js', '/customer/ui.js'],
    write: ['/customer/replay.js'],
  };
  const seen = new Set(),
    files = {};
  for (const k in entries) {
    const todo = [...entries[k]];
    files[k] = [];
    while (todo.length) {
      const p = todo.pop();
      if (seen.has(p)) continue;
      seen.add(p);
      files[k].push(p);
      const src = await (await fetch(h.server + p)).text();
      for (const m of src.matchAll(/(?:from|import)\s*["'](\.\/[\w-]+\.js)["']/g))
        todo.push(new URL(m[1], h.server + p).pathname);
    }
  }
  const kb = {};
  for (const k in files)
    kb[k] = (await Promise.all(files[k].map(size))).reduce((x, y) => x + y, 0) / 1024;
  console.log('modules per stage', JSON.stringify(files));
  // What one file per stage would weigh (the minified modules joined, gzipped at level 9).
  const joined = {};
  for (const k in files) {
    const texts = await Promise.all(files[k].map(async (p) => (await fetch(h.server + p)).text()));
    joined[k] = (gzipSync(texts.join('\n'), { level: 9 }).length / 1024).toFixed(1);
  }
  console.log(
    `joined per stage, gzip -9: page load ${joined.load} KB; session ${joined.session} KB; write mode ${joined.write} KB`,
  );
  console.log(
    `customer script, gzip as served: page load ${kb.load.toFixed(1)} KB; + session with built-in UI ${kb.session.toFixed(1)} KB; + write mode ${kb.write.toFixed(1)} KB; total ${(kb.load + kb.session + kb.write).toFixed(1)} KB`,
  );
  assert.ok(kb.load <= 25, 'what every page loads stays within 25 KB');
  // The budget is for all of it: capture, masking, control and the built-in UI. Complete input
  // replay and stylesheets sent as written took it from 25 KB to 26 KB, with a real minifier and
  // zopfli; one file per stage instead of one per module would bring it to about 24 KB (printed
  // below).
  assert.ok(
    kb.load + kb.session + kb.write <= 26,
    `the whole customer script stays within 26 KB: ${(kb.load + kb.session + kb.write).toFixed(2)} KB`,
  );
});
