// The customer's built-in UI and JS API, in real headless Chromium against the real
// server: the notices of a session (agent joined, write mode given and taken back), a site
// whose CSS does its worst against the UI, Spanish and German (page lang, the script tag's
// data-cobrowse-lang, the lang option), `Cobrowse.session` before and after a session, and
// the README's "Your own UI" example run exactly as the README shows it.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { noticeHas, toolbarHas, writeMode } from './control-helpers.mjs';
import { requirements, setup, waitFor } from './harness.mjs';

const skip = requirements();
let h;
before(async () => {
  if (!skip) h = await setup();
});
after(async () => {
  if (h) await h.close();
});

const ui = (page, sel) => page.locator('[data-cobrowse-ui]').locator(sel);
const close = async (...pages) => {
  for (const p of pages)
    if (p)
      await p
        .context()
        .close()
        .catch(() => {});
};

test('notices: an agent joined, write mode given ("can now click and type"), write mode taken back', {
  skip,
}, async () => {
  const c = await h.customer('control.html');
  const id = await h.start(c);
  const a = await h.agent(id);
  await noticeHas(
    c,
    /^An agent has joined\. They see this page, but not your passwords or card details\.$/,
  );
  await writeMode(c, a);
  await noticeHas(
    c,
    /^The agent can now click and type on this page\. Press “Stop control” to take it back\.$/,
  );
  await toolbarHas(c, /Agent can click and type/);
  await ui(c, '[data-part=toolbar] button.rv').click();
  await noticeHas(c, /^The agent can no longer control this page\.$/);
  await toolbarHas(c, /Agent can point/);
  await c.evaluate(() => window.Cobrowse.stop());
  await close(c, a);
});

/**
 * What the customer sees of an element of the UI: its box, whether it is the topmost thing at its
 * centre, some computed style.
 */
const seen = (c, sel) =>
  c.evaluate((s) => {
    const host = document.querySelector('[data-cobrowse-ui]'),
      el = host.shadowRoot.querySelector(s);
    const r = el.getBoundingClientRect(),
      cs = getComputedStyle(el);
    const top = host.shadowRoot.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return {
      box: [r.left, r.top, r.width, r.height].map(Math.round),
      onTop: !!top && (top === el || el.contains(top)),
      font: cs.fontSize,
      color: cs.color,
      mode: cs.writingMode,
      opacity: getComputedStyle(host).opacity,
      zoom: cs.zoom,
      hostTransform: getComputedStyle(host).transform,
      hostDisplay: getComputedStyle(host).display,
    };
  }, sel);

test("the site's CSS cannot break the UI: host element hidden, moved, shrunk, faded, clipped, zoomed, turned vertical, global resets; the toolbar and the ID dialog still show and work", {
  skip,
}, async () => {
  const c = await h.customer('customer-hostile-css.html');
  assert.equal(await c.locator('#title').isVisible(), true, 'the page itself still shows');
  await c.click('#start-link');
  const big = ui(c, '[data-part=id-dialog] .big');
  await big.filter({ hasText: /^\d{3} \d{3} \d{3}$/ }).waitFor();
  const d = await seen(c, '[data-part=id-dialog]');
  assert.ok(
    d.box[2] > 250 && d.box[3] > 150 && d.box[2] < 800,
    'the ID dialog has its size: ' + JSON.stringify(d),
  );
  assert.ok(d.onTop, 'the ID dialog is on top');
  const b = await seen(c, '[data-part=id-dialog] .big');
  assert.deepEqual(
    [b.font, b.mode, b.opacity, b.zoom, b.hostTransform, b.hostDisplay],
    ['34px', 'horizontal-tb', '1', '1', 'none', 'block'],
  );
  assert.notEqual(b.color, 'rgba(0, 0, 0, 0)');
  // The dialog's buttons work (Playwright clicks only what is visible, stable and on top).
  await ui(c, '[data-part=id-dialog] button.p').click();
  await waitFor(
    c,
    () =>
      !document
        .querySelector('[data-cobrowse-ui]')
        .shadowRoot.querySelector('[data-part=id-dialog]').open,
  );
  // The toolbar: where it belongs (bottom centre), its own size and fonts, on top, its exit works.
  await toolbarHas(c, /\d{3} \d{3} \d{3}.*Waiting for an agent/);
  const t = await seen(c, '[data-part=toolbar]');
  const [x, y, w, ht] = t.box;
  assert.ok(t.onTop, 'the toolbar is on top: ' + JSON.stringify(t));
  assert.ok(
    x > 100 && x + w < 700 && y > 450 && y + ht <= 600 && ht < 60,
    'the toolbar sits at the bottom, one line: ' + JSON.stringify(t),
  );
  assert.deepEqual([t.font, t.mode], ['14px', 'horizontal-tb']);
  const st = await seen(c, '[data-part=toolbar] .st');
  assert.equal(st.color, 'rgb(23, 32, 43)', "the UI's own text colour");
  await ui(c, '[data-part=toolbar] button.x').click();
  await waitFor(c, () => window.Cobrowse.session === null);
  await noticeHas(c, /You ended co-browsing/);
  await close(c);
});

test('Spanish from <html lang="es-ES">: toolbar, mode, notices and the consent dialog', {
  skip,
}, async () => {
  const c = await h.customer('customer-es.html');
  const id = await h.start(c);
  await toolbarHas(c, /Esperando a un agente/);
  assert.equal(await ui(c, '[role=region]').getAttribute('aria-label'), 'Navegación compartida');
  assert.equal(
    await ui(c, '[data-part=toolbar] button.x').getAttribute('aria-label'),
    'Terminar la navegación compartida',
  );
  const a = await h.agent(id);
  await toolbarHas(c, /Agente conectado.*El agente puede señalar/);
  await noticeHas(c, /Se ha conectado un agente/);
  await a.evaluate(() => window.cobrowseAgent.requestControl());
  await ui(c, '[data-part=consent]')
    .filter({ hasText: '¿Permitir que el agente controle esta página?' })
    .waitFor();
  await ui(c, '[data-part=consent] button')
    .filter({ hasText: /^Permitir$/ })
    .click();
  await toolbarHas(c, /El agente puede hacer clic y escribir.*Recuperar el control/);
  await noticeHas(c, /El agente ya puede hacer clic y escribir en esta página/);
  await ui(c, '[data-part=toolbar] button.x').click();
  await noticeHas(c, /Ha terminado la navegación compartida/);
  await close(c, a);
});

test('German from the script tag (data-cobrowse-lang="de" on an English page): the ID dialog and the toolbar', {
  skip,
}, async () => {
  const c = await h.customer('customer-de-attr.html');
  await c.click('#start-link');
  const dlg = ui(c, '[data-part=id-dialog]');
  await dlg
    .locator('.big')
    .filter({ hasText: /^\d{3} \d{3} \d{3}$/ })
    .waitFor();
  assert.match(
    await dlg.textContent(),
    /Gemeinsam surfen.*Lesen Sie diese Nummer der Person vor, die Ihnen hilft:.*Warte, bis sie sich verbindet/,
  );
  assert.deepEqual(await dlg.locator('button').allTextContents(), [
    'Co-Browsing beenden',
    'Schließen',
  ]);
  await dlg.locator('button', { hasText: 'Schließen' }).click();
  await toolbarHas(c, /Warte auf einen Berater/);
  assert.equal(await ui(c, '[role=region]').getAttribute('aria-label'), 'Co-Browsing');
  await c.evaluate(() => window.Cobrowse.stop());
  await noticeHas(c, /Sie haben das Co-Browsing beendet/);
  await close(c);
});

test('the lang option: German on an English page (start), Spanish over a German script tag (configure)', {
  skip,
}, async () => {
  const c = await h.customer('control.html');
  await c.evaluate(() => window.Cobrowse.start({ lang: 'de' }));
  await toolbarHas(c, /Warte auf einen Berater/);
  await c.evaluate(() => window.Cobrowse.stop());
  const d = await h.customer('customer-de-attr.html');
  await d.evaluate(() => {
    window.Cobrowse.configure({ lang: 'es' });
    return window.Cobrowse.start();
  });
  await toolbarHas(d, /Esperando a un agente/);
  await d.evaluate(() => window.Cobrowse.stop());
  await close(c, d);
});

test('Cobrowse.session: null before any session (also while the script loads), the session while it lasts, null after stop()', {
  skip,
}, async () => {
  const ctx = await h.browser.newContext();
  const c = await ctx.newPage();
  await c.route(/\/customer\/main\.js/, async (r) => {
    await new Promise((ok) => setTimeout(ok, 300));
    await r.continue();
  });
  await c.goto(h.origin + '/control.html', { waitUntil: 'commit' });
  await waitFor(c, () => !!window.Cobrowse);
  assert.equal(await c.evaluate(() => window.Cobrowse.session), null, "the loader's stub");
  await waitFor(c, () => window.Cobrowse.v === 1);
  assert.equal(await c.evaluate(() => window.Cobrowse.session), null, 'loaded, no session yet');
  const s = await c.evaluate(() => window.Cobrowse.start());
  assert.deepEqual(await c.evaluate(() => window.Cobrowse.session), {
    id: s.id,
    spaced: s.spaced,
    state: 'idle',
    mode: 'pointer',
    agent: null,
    agentConnected: false,
    controlPending: false,
    shown: true,
  });
  const ended = c.evaluate(
    () =>
      new Promise((r) =>
        window.Cobrowse.on('sessionEnded', (e) => r([e.reason, window.Cobrowse.session.state])),
      ),
  );
  await c.evaluate(() => window.Cobrowse.stop());
  assert.deepEqual(
    await ended,
    ['customer_exit', 'ended'],
    'sessionEnded handlers still see the session that ended',
  );
  assert.equal(await c.evaluate(() => window.Cobrowse.session), null, 'after stop()');
  await c.reload();
  await waitFor(c, () => window.Cobrowse && window.Cobrowse.v === 1);
  assert.equal(await c.evaluate(() => window.Cobrowse.session), null, 'and on the next page');
  await ctx.close();
});

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The README's "Your own UI" example: the first ```html block after that heading, as it is. */
function readmeExample() {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const m = /```html\n([\s\S]*?)```/.exec(
    readme.slice(readme.indexOf('### Your own UI: a complete example')),
  );
  assert.ok(m, 'README.md has the example');
  return m[1];
}

test('the README\'s "Your own UI" example runs as written: share, the ID posted to the chat, the agent joins, asks, is allowed, is stopped; ending the chat ends the session', {
  skip,
}, async () => {
  // The fixture is the README's block, the server's address aside: the two cannot drift apart.
  const example = readmeExample();
  assert.ok(example.includes('src="https://cobrowse.example.com/cobrowse.js"'));
  assert.equal(
    readFileSync(path.join(ROOT, 'tests/browser/fixtures/customer-readme.html'), 'utf8'),
    example.replace('https://cobrowse.example.com', '{{SERVER}}'),
    'tests/browser/fixtures/customer-readme.html is the README example (copy it over after editing the README)',
  );
  const ctx = await h.browser.newContext({ viewport: { width: 800, height: 600 } });
  const c = await ctx.newPage();
  const errors = [],
    alerts = [];
  c.on('pageerror', (e) => errors.push(e.message));
  // Failed loads by URL (the browser's own favicon.ico request is no error of the example's).
  c.on(
    'console',
    (m) =>
      m.type() === 'error' && !/^Failed to load resource/.test(m.text()) && errors.push(m.text()),
  );
  c.on(
    'response',
    (r) =>
      r.status() >= 400 &&
      !r.url().endsWith('/favicon.ico') &&
      errors.push(r.status() + ' ' + r.url()),
  );
  c.on('dialog', (d) => {
    alerts.push(d.message());
    d.dismiss();
  });
  await c.goto(h.origin + '/customer-readme.html');
  await waitFor(c, () => window.Cobrowse && window.Cobrowse.v === 1);
  const text = (sel) => c.locator(sel).textContent();
  assert.equal(await c.locator('#cb').isVisible(), false);
  await c.click('#share');
  await waitFor(c, () =>
    /^My co-browse ID is \d{3} \d{3} \d{3}$/.test(document.getElementById('chat-log').textContent),
  );
  const { id, spaced } = await c.evaluate(() => window.Cobrowse.session);
  assert.equal(await text('#chat-log'), 'My co-browse ID is ' + spaced);
  assert.equal(await text('#cb-id'), spaced);
  assert.equal(await text('#cb-state'), 'waiting for an agent');
  const a = await h.agent(id);
  await waitFor(c, () => document.getElementById('cb-state').textContent === 'agent connected');
  assert.equal(await text('#cb-mode'), 'the agent can point');
  await a.evaluate(() => window.cobrowseAgent.requestControl());
  await c.locator('#cb-ask').waitFor();
  await c.click('#cb-allow');
  await waitFor(a, () => window.cobrowseAgent.control.mode === 'write');
  await waitFor(
    c,
    () => document.getElementById('cb-mode').textContent === 'the agent can click and type',
  );
  await c.click('#cb-revoke');
  await waitFor(a, () => window.cobrowseAgent.control.mode === 'pointer');
  await waitFor(
    c,
    () =>
      document.getElementById('cb-mode').textContent === 'the agent can point' &&
      document.getElementById('cb-revoke').hidden,
  );
  await c.click('#chat-end');
  await waitFor(a, () => document.getElementById('state').dataset.state === 'ended');
  await waitFor(c, () => document.getElementById('cb').hidden);
  assert.deepEqual(alerts, [
    'Co-browsing ended: The chat or call this session belonged to has ended.',
  ]);
  assert.equal(
    await c.evaluate(() => document.querySelectorAll('[data-cobrowse-ui]').length),
    0,
    'nothing built-in',
  );
  assert.deepEqual(errors, []);
  await close(c, a);
});
