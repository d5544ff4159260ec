// Pointer mode and write mode, in real headless Chromium against the real server:
// every write-mode action changes the customer's page as a real user's would (also on a page
// whose inputs a UI framework controls); in pointer mode nothing the agent sends does anything,
// at the server (dropped and counted) and, with the server bypassed, in the customer's script;
// the agent can never submit; consent is asked, answered, timed out and revoked mid-typing,
// and both sides show the right mode each time.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  agentClick,
  agentMode,
  collectNotes,
  droppedInputs,
  idOf,
  noticeHas,
  rawAgent,
  toolbar,
  toolbarHas,
  viewPoint,
  writeMode,
} from './control-helpers.mjs';
import { requirements, setup, waitFor } from './harness.mjs';

const skip = requirements();
let h;
before(async () => {
  if (!skip) h = await setup({ env: { COBROWSE_TIMEOUTS__CONTROL_ANSWER: '2s' } });
});
after(async () => {
  if (h) await h.close();
});

const val = (c, sel) => c.evaluate((s) => document.querySelector(s).value, sel);
const text = (c, sel) => c.evaluate((s) => document.querySelector(s).textContent, sel);
const until = (page, fn, arg, ms = 10000) => waitFor(page, fn, arg, ms);

test('write mode: clicks, typing, keys, select, checkbox, radio, contenteditable, scrolling and navigation replay as a real user', {
  skip,
}, async () => {
  const c = await h.customer('control.html');
  const id = await h.start(c);
  const a = await h.agent(id);
  a.customer = c;
  await collectNotes(a);
  // Pointer mode on both sides first.
  await until(
    c,
    () => window.Cobrowse.session.mode === 'pointer' && window.Cobrowse.session.state === 'active',
  );
  await toolbarHas(c, /Agent can point/);
  assert.equal(await agentMode(a), 'pointer');
  await writeMode(c, a);
  await toolbarHas(c, /Agent can click and type/);
  assert.match(await a.locator('#mode').textContent(), /write/i);

  // A click: the full event sequence, on the button and on a child of it.
  await agentClick(a, '#btn');
  await until(c, () => document.getElementById('clicks').textContent === '1');
  assert.deepEqual(await c.evaluate(() => window.log), [
    'pointerdown',
    'mousedown',
    'focus',
    'pointerup',
    'mouseup',
    'click',
  ]);
  await agentClick(a, '#btn-child');
  await until(c, () => document.getElementById('clicks').textContent === '2');
  // Double click.
  const d = await viewPoint(a, '#dbl');
  await a.mouse.dblclick(d.x, d.y);
  await until(c, () => document.getElementById('dbls').textContent === '1');

  // Typing with Backspace, then Tab to the next field (change fires on leaving, as after real
  // typing).
  await agentClick(a, '#name');
  await a.keyboard.type('Ada Lovelacx');
  await a.keyboard.press('Backspace');
  await a.keyboard.type('e');
  await until(c, () => document.getElementById('name').value === 'Ada Lovelace');
  await a.keyboard.press('Tab');
  await until(c, () => document.activeElement.id === 'email' && window.changes === 1);
  await a.keyboard.type('ada@example.com');
  await until(c, () => document.getElementById('email').value === 'ada@example.com');
  // Caret keys and Delete.
  await agentClick(a, '#keys');
  for (const k of ['Home', 'ArrowRight', 'Delete', 'End', 'ArrowLeft', 'Backspace'])
    await a.keyboard.press(k);
  await until(c, () => document.getElementById('keys').value === 'ad');
  // Textarea with Enter.
  await agentClick(a, '#notes');
  await a.keyboard.type('line one');
  await a.keyboard.press('Enter');
  await a.keyboard.type('line two');
  await until(c, () => document.getElementById('notes').value === 'line one\nline two');
  // Select through the console's picker; checkbox; radio.
  await agentClick(a, '#size');
  await a.locator('.cbc-picker button', { hasText: /^L$/ }).click();
  await until(c, () => document.getElementById('size').value === 'L');
  await agentClick(a, '#agree');
  await until(c, () => document.getElementById('agree').checked);
  await agentClick(a, '#r2');
  await until(
    c,
    () => document.getElementById('r2').checked && !document.getElementById('r1').checked,
  );
  // Contenteditable.
  await agentClick(a, '#ce');
  await a.keyboard.type(' more');
  await until(c, () => document.getElementById('ce').textContent.includes('more'));
  // Enter outside a form reaches the page's own key handler.
  await agentClick(a, '#enter-out');
  await a.keyboard.type('x');
  await a.keyboard.press('Enter');
  await until(c, () => document.getElementById('entered').textContent === 'entered:x');

  // Scrolling: an inner element, then the window.
  const b = await viewPoint(a, '#box');
  await a.mouse.move(b.x, b.y);
  await a.mouse.wheel(0, 120);
  await until(c, () => document.getElementById('box').scrollTop > 0);
  const t = await viewPoint(a, 'h1');
  await a.mouse.move(t.x, t.y);
  await a.mouse.wheel(0, 300);
  await until(c, () => window.scrollY > 0);
  await c.evaluate(() => window.scrollTo(0, 0));
  await until(a, () => window.cobrowseAgent.mirror.frame.contentWindow.scrollY === 0);

  // What the agent may not do: masked fields, disabled control (attribute and rule set), links off
  // the site.
  await agentClick(a, '#secret');
  await a.keyboard.type('zz');
  await agentClick(a, '#mcb');
  await agentClick(a, '#nc');
  await c.evaluate(() =>
    window.Cobrowse._.emit('msg:session', { rules: { disable: ['.rule-off'] } }),
  );
  await agentClick(a, '#ruled');
  await agentClick(a, '#off');
  await agentClick(a, '#js');
  await until(a, () => window.notes.filter((n) => n === 'origin').length === 2);
  // (typing may come as one message or several: consecutive refusals of one kind are counted once)
  assert.deepEqual(
    await a.evaluate(() => window.notes.filter((n, i, l) => n !== l[i - 1] || n !== 'masked')),
    ['masked', 'disabled', 'disabled', 'origin', 'origin'],
  );
  assert.equal(await val(c, '#secret'), '');
  assert.equal(await c.evaluate(() => document.getElementById('mcb').checked), false);
  assert.equal(await text(c, '#ncs'), '0');
  assert.equal(
    await c.evaluate(() => [location.pathname, document.title].join()),
    '/control.html,Control',
  );
  assert.match(
    await a.locator('.cbc-toasts').textContent(),
    /leaves the site: only the customer can follow it/,
  );

  // A link of the site: the customer's page goes there, the agent's view follows, write mode stays.
  await agentClick(a, '#same');
  await c.waitForURL(/control2\.html$/);
  await until(
    a,
    () => /control2\.html$/.test(document.getElementById('url').textContent),
    null,
    10000,
  );
  await until(
    c,
    () => window.Cobrowse && window.Cobrowse.session && window.Cobrowse.session.mode === 'write',
    null,
    10000,
  );
  await until(
    a,
    () => window.cobrowseAgent.mirror.frame.contentDocument.getElementById('two'),
    null,
    10000,
  );
  // Back, forward, reload.
  await a.evaluate(() => window.cobrowseAgent.control.navigate('back'));
  await c.waitForURL(/control\.html$/);
  await until(
    c,
    () => window.Cobrowse && window.Cobrowse.session && window.Cobrowse.session.state === 'active',
    null,
    10000,
  );
  await until(
    a,
    () => window.cobrowseAgent.mirror.frame.contentDocument.getElementById('btn'),
    null,
    10000,
  );
  await a.evaluate(() => window.cobrowseAgent.control.navigate('forward'));
  await c.waitForURL(/control2\.html$/);
  await until(
    c,
    () => window.Cobrowse && window.Cobrowse.session && window.Cobrowse.session.state === 'active',
    null,
    10000,
  );
  await c.evaluate(() => {
    window.marker = 1;
  });
  await until(
    a,
    () => window.cobrowseAgent.mirror.frame.contentDocument.getElementById('two'),
    null,
    10000,
  );
  await a.evaluate(() => window.cobrowseAgent.control.navigate('reload'));
  await until(
    c,
    () =>
      !window.marker &&
      window.Cobrowse &&
      window.Cobrowse.session &&
      window.Cobrowse.session.state === 'active',
    null,
    10000,
  );
  // Nothing of the other site was ever requested by the customer's page.
  assert.ok(
    !h.fixtureHits.some((x) => x.host.startsWith('localhost') && x.path === '/control2.html'),
  );
  await c.evaluate(() => window.Cobrowse.stop());
  await c.context().close();
  await a.context().close();
});

test('write mode on a page whose inputs a UI framework (Preact) controls: its state follows the agent', {
  skip,
}, async () => {
  const c = await h.customer('control-preact.html');
  await waitFor(c, () => document.getElementById('out'));
  const id = await h.start(c);
  const a = await h.agent(id);
  a.customer = c;
  await writeMode(c, a);
  await agentClick(a, '#fname');
  await a.keyboard.type('Grace Hopper');
  await agentClick(a, '#fcode');
  await a.keyboard.type('ab-12x');
  // Typing reaches the page in batches: the Backspace only after the whole word is in.
  await until(c, () =>
    document.getElementById('out').textContent.startsWith('Grace Hopper|AB12X|'),
  );
  await a.keyboard.press('Backspace');
  await until(c, () => document.getElementById('out').textContent.startsWith('Grace Hopper|AB12|'));
  assert.equal(
    await val(c, '#fcode'),
    'AB12',
    'the framework rewrote the value (controlled input)',
  );
  await agentClick(a, '#fsize');
  await a.locator('.cbc-picker button', { hasText: /^L$/ }).click();
  await agentClick(a, '#fok');
  await agentClick(a, '#fbio');
  await a.keyboard.type('two');
  await a.keyboard.press('Enter');
  await a.keyboard.type('lines');
  await until(
    c,
    () => document.getElementById('out').textContent === 'Grace Hopper|AB12|L|true|two\nlines',
  );
  // Keyboard-driven component: Enter adds the item, Backspace on the empty field removes it.
  await agentClick(a, '#ftodo');
  await a.keyboard.type('milk');
  await a.keyboard.press('Enter');
  await a.keyboard.type('eggs');
  await a.keyboard.press('Enter');
  await until(
    c,
    () =>
      [...document.querySelectorAll('#todos li')].map((l) => l.textContent).join() ===
        'milk,eggs' && document.getElementById('ftodo').value === '',
  );
  await a.keyboard.press('Backspace');
  await until(
    c,
    () => [...document.querySelectorAll('#todos li')].map((l) => l.textContent).join() === 'milk',
  );
  // The agent's view shows what the framework rendered.
  await until(
    a,
    () =>
      window.cobrowseAgent.mirror.frame.contentDocument.getElementById('out').textContent ===
      'Grace Hopper|AB12|L|true|two\nlines',
  );
  await c.evaluate(() => window.Cobrowse.stop());
  await c.context().close();
  await a.context().close();
});

/** One message of each input kind, aimed at real elements of control.html. */
async function inputs(c) {
  const [btn, name, size, agree, box, same] = await Promise.all(
    ['#btn', '#name', '#size', '#agree', '#box', '#same'].map((s) => idOf(c, s)),
  );
  return [
    { t: 'click', i: btn },
    { t: 'dblclick', i: btn },
    { t: 'key', i: name, key: 'Backspace' },
    { t: 'type', i: name, text: 'intruder' },
    { t: 'select', i: size, x: [0] },
    { t: 'check', i: agree, c: 1 },
    { t: 'scroll', i: box, dx: 0, dy: 200 },
    { t: 'navigate', url: 'control2.html' },
    { t: 'click', i: same },
    { t: 'down', i: btn },
    { t: 'up', i: btn },
    { t: 'set', i: name, val: 'intruder' },
  ];
}
/** What the agent's inputs would have changed on control.html. */
const untouched = (c) =>
  c.evaluate(() =>
    [
      document.getElementById('clicks').textContent,
      document.getElementById('name').value,
      document.getElementById('size').value,
      document.getElementById('agree').checked,
      document.getElementById('box').scrollTop,
      location.pathname,
    ].join('|'),
  );
const PRISTINE = '0||M|false|0|/control.html';

test('pointer mode: a raw agent sends every input kind; the server drops and counts them; with the server bypassed the script still refuses', {
  skip,
}, async () => {
  const c = await h.customer('control.html');
  const id = await h.start(c);
  const raw = rawAgent(h.server, id, h.token());
  await raw.open;
  await raw.next((m) => m.t === 'snapshot', 10000);
  await until(c, () => window.Cobrowse.session.state === 'active');
  const before = await droppedInputs(h.server);
  const msgs = await inputs(c);
  for (const m of msgs) raw.send(m.t, m);
  await new Promise((r) => setTimeout(r, 200));
  raw.send('ping');
  await raw.next((m) => m.t === 'pong');
  const errors = raw.messages.filter((m) => m.t === 'error' && m.code === 'not_allowed');
  assert.equal(errors.length, msgs.length, 'each input answered not_allowed');
  assert.equal(await droppedInputs(h.server), before + msgs.length, 'each drop counted');
  assert.equal(await untouched(c), PRISTINE);
  // Pointer and mark do relay: the customer sees the agent's pointer, and a red circle.
  const [h1] = await Promise.all([idOf(c, 'h1')]);
  raw.send('pointer', { i: h1, ox: 10, oy: 5, w: 100, h: 30, x: 0, y: 0 });
  raw.send('mark', { i: h1, ox: 10, oy: 5, w: 100, h: 30, x: 0, y: 0 });
  await until(c, () => {
    const r = document.querySelector('[data-cobrowse-ui]').shadowRoot;
    return r.querySelector('[data-part=mark]') && !r.querySelector('.ptr').hidden;
  });
  const want = await c.evaluate(() => {
    const r = document.querySelector('h1').getBoundingClientRect();
    return [Math.round(r.left + (10 * r.width) / 100), Math.round(r.top + (5 * r.height) / 30)];
  });
  const got = await c.evaluate(() => {
    const m = document
      .querySelector('[data-cobrowse-ui]')
      .shadowRoot.querySelector('[data-part=mark]');
    return [Math.round(parseFloat(m.style.left)), Math.round(parseFloat(m.style.top))];
  });
  assert.deepEqual(got, want, 'the mark lands on the element and offset the agent pointed at');
  assert.equal(await untouched(c), PRISTINE, 'a mark does nothing else');

  // Second lock: straight into the customer's script, bypassing the server.
  const n0 = raw.messages.filter((m) => m.t === 'notice').length;
  await c.evaluate((l) => {
    for (const m of l) window.Cobrowse._.emit('msg:' + m.t, m);
  }, msgs);
  // Even if the server (wrongly) said write mode, this customer never granted it.
  await c.evaluate((l) => {
    window.Cobrowse._.emit('msg:mode', { mode: 'write', cause: 'allowed' });
    for (const m of l) window.Cobrowse._.emit('msg:' + m.t, m);
  }, msgs);
  await raw.next(() => raw.messages.filter((m) => m.t === 'notice').length >= n0 + 2 * msgs.length);
  assert.ok(
    raw.messages
      .filter((m) => m.t === 'notice')
      .slice(n0)
      .every((m) => m.code === 'not_allowed' && !('text' in m)),
  );
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await untouched(c), PRISTINE);
  raw.close();
  await c.evaluate(() => window.Cobrowse.stop());
  await c.context().close();
});

const submissions = async () =>
  (await (await fetch(h.server + '/demo/api/submissions')).json()).filter(
    (s) => s.form === 'fixture' || s.form === 'checkout' || s.form === 'signin',
  );

test('submit: the agent can never submit (button, its child, its label, typeless button, input submit/image, Enter); the customer can', {
  skip,
}, async () => {
  const c = await h.customer('control-submit.html');
  const id = await h.start(c);
  const a = await h.agent(id);
  a.customer = c;
  await collectNotes(a);
  await writeMode(c, a);
  const n0 = (await submissions()).length;
  /** Does one agent action and waits for its refusal, so that each is told (and named if not). */
  const refused = async (what, act) => {
    const before = await a.evaluate(() => window.notes.filter((n) => n === 'submit').length);
    await act();
    await until(a, (n) => window.notes.filter((x) => x === 'submit').length > n, before).catch(() =>
      assert.fail(`no submit refusal told for ${what}: ${before} before`),
    );
  };
  await agentClick(a, '#name');
  await a.keyboard.type('Mallory');
  await refused('Enter in a field', () => a.keyboard.press('Enter'));
  for (const s of [
    '#submit',
    '#submit-child',
    '#submit-label',
    '#typed',
    '#isubmit',
    '#iimage',
    '#outside',
  ]) {
    await refused(s, () => agentClick(a, s));
  }
  // Keyboard activation of a focused submit button.
  await c.evaluate(() => document.getElementById('typed').focus());
  await until(c, () => document.activeElement.id === 'typed');
  await a.locator('#overlay').focus();
  await refused('Enter on a submit button', () => a.keyboard.press('Enter'));
  await refused('Space on a submit button', () => a.keyboard.press(' '));
  await agentClick(a, '#plain');
  await until(c, () => document.getElementById('plains').textContent === '1', null, 5000);
  await until(a, () => window.notes.filter((n) => n === 'submit').length >= 10);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await val(c, '#name'), 'Mallory', 'typing works, Enter does not submit');
  assert.equal((await submissions()).length, n0, 'the form endpoint received nothing');
  assert.match(c.url(), /control-submit\.html$/);
  assert.match(await a.locator('.cbc-toasts').textContent(), /Only the customer can submit forms/);
  // The customer can.
  await c.click('#submit');
  await c.waitForURL(/thanks\.html\?form=fixture/);
  const l = await submissions();
  assert.equal(l.length, n0 + 1);
  assert.deepEqual(l[l.length - 1].fields, ['name']);
  await c.evaluate(() => window.Cobrowse && window.Cobrowse.stop());
  await c.context().close();
  await a.context().close();
});

test("submit on the demo shop: place order (checkout) and the typeless sign-in button are the customer's only", {
  skip,
}, async () => {
  const c = await h.customer(h.server + '/demo/signin.html', {
    viewport: { width: 1000, height: 800 },
  });
  const id = await h.start(c);
  const a = await h.agent(id);
  a.customer = c;
  await collectNotes(a);
  await writeMode(c, a);
  const n0 = (await submissions()).length;
  await agentClick(a, '#email');
  await a.keyboard.type('ada@example.com');
  await a.keyboard.press('Enter');
  await agentClick(a, '#sign-in');
  await agentClick(a, '#sign-in span');
  await until(a, () => window.notes.filter((n) => n === 'submit').length >= 3);
  await c.goto(h.server + '/demo/checkout.html');
  await until(
    a,
    () =>
      /checkout\.html$/.test(document.getElementById('url').textContent) &&
      window.cobrowseAgent.mirror.frame.contentDocument.getElementById('place-order'),
    null,
    10000,
  );
  await until(
    c,
    () => window.Cobrowse.session && window.Cobrowse.session.mode === 'write',
    null,
    10000,
  );
  await agentClick(a, '#name');
  await a.keyboard.type('Ada');
  // Typing reveals the caret (the page scrolls back to the field): let it land before scrolling on.
  await waitFor(c, () => document.getElementById('name').value === 'Ada');
  await agentClick(a, '#place-order');
  await agentClick(a, '#place-order span');
  await agentClick(a, '#card-number');
  await a.keyboard.type('4111');
  await until(
    a,
    () => window.notes.filter((n) => n === 'submit').length >= 5 && window.notes.includes('masked'),
    null,
    15000,
  );
  assert.equal(await val(c, '#name'), 'Ada');
  assert.equal(await val(c, '#card-number'), '', "card fields are the customer's to fill");
  assert.equal((await submissions()).length, n0);
  await c.click('#place-order');
  await c.waitForURL(/thanks\.html\?form=checkout/);
  assert.equal((await submissions()).length, n0 + 1);
  await c.evaluate(() => window.Cobrowse.stop());
  await c.context().close();
  await a.context().close();
});

test("consent: deny, no answer (timed out), allow, then revoke in the middle of the agent's typing; both sides show the mode", {
  skip,
}, async () => {
  const c = await h.customer('control.html');
  const id = await h.start(c);
  const a = await h.agent(id);
  a.customer = c;
  await a.evaluate(() => {
    window.ctl = [];
    window.cobrowseAgent.control.on('control', (m) => window.ctl.push(m.state));
  });
  // Deny.
  await a.evaluate(() => window.cobrowseAgent.requestControl());
  const dialog = c.locator('[data-part=consent]');
  await dialog.waitFor();
  assert.match(await dialog.textContent(), /Let the agent control this page\?/);
  await c.locator('[data-part=consent] button', { hasText: /^Deny$/ }).click();
  await until(a, () => window.ctl.includes('denied'));
  await until(
    c,
    () =>
      !document.querySelector('[data-cobrowse-ui]').shadowRoot.querySelector('[data-part=consent]'),
  );
  assert.equal(await agentMode(a), 'pointer');
  assert.match(await a.locator('#mode').textContent(), /pointer/i);
  await toolbarHas(c, /Agent can point/);
  await noticeHas(c, /You said no/);
  // No answer: the server times out (2 s here) and the dialog closes.
  await a.evaluate(() => window.cobrowseAgent.requestControl());
  await dialog.waitFor();
  await until(a, () => window.ctl.includes('timed_out'), null, 6000);
  // Both sides show pointer mode, and the console says the request got no answer.
  await until(a, () => /did not answer/.test(document.getElementById('control-note').textContent));
  assert.ok(await a.locator('#control-note').isVisible());
  assert.equal(await a.locator('#mode').getAttribute('data-mode'), 'pointer');
  assert.match(await a.locator('#mode').textContent(), /pointer/i);
  await until(
    c,
    () =>
      !document.querySelector('[data-cobrowse-ui]').shadowRoot.querySelector('[data-part=consent]'),
  );
  await noticeHas(c, /No answer/);
  await toolbarHas(c, /Agent can point/);
  assert.doesNotMatch(await toolbar(c), /click and type/);
  assert.equal(await agentMode(a), 'pointer');
  assert.equal(await c.evaluate(() => window.Cobrowse.session.mode), 'pointer');
  // Allow, then revoke while the agent types.
  await writeMode(c, a);
  await toolbarHas(c, /Agent can click and type/);
  await agentClick(a, '#notes');
  const long = 'the agent keeps typing this long sentence while the customer takes control back';
  const typing = a.keyboard.type(long, { delay: 25 });
  await until(c, () => document.getElementById('notes').value.length >= 10);
  await c.locator('[data-part=toolbar] button', { hasText: /^Stop control$/ }).click();
  const at = await val(c, '#notes');
  await typing;
  await until(a, () => window.cobrowseAgent.control.mode === 'pointer');
  await new Promise((r) => setTimeout(r, 300));
  const final = await val(c, '#notes');
  assert.ok(
    final.length < long.length && long.startsWith(final),
    `typing stopped: ${JSON.stringify(final)}`,
  );
  assert.ok(
    final.length - at.length <= 2,
    'nothing replayed after the revoke (at most what was already being handled)',
  );
  await toolbarHas(c, /Agent can point/);
  assert.match(await a.locator('#mode').textContent(), /pointer/i);
  await noticeHas(c, /no longer control/);
  await c.evaluate(() => window.Cobrowse.stop());
  await c.context().close();
  await a.context().close();
});
