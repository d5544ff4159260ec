// Accessibility, checked by axe-core against WCAG 2.1 A and AA: every screen of the agent console
// (sign-in, the ID field, a refusal, a live session mirrored, the customer away, after leaving),
// every section of the admin console (sign-in, no access, each tab), every page of the demo shop
// (its launcher menu and chat box open too), and the customer's built-in UI in its shadow root
// (toolbar, notices, the ID dialog, the consent dialog, write mode, the end notice). A serious or
// critical violation fails, listed by rule, element and summary.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { accessible } from './axe.mjs';
import { noticeHas, toolbarHas } from './control-helpers.mjs';
import { requirements, setup, waitFor } from './harness.mjs';

const PASSWORD = 'correct horse battery';

const skip = requirements();
let h;
before(async () => {
  if (skip) return;
  h = await setup();
  h.cli(['agent', 'add', 'root', '--admin'], PASSWORD + '\n');
  h.cli(['agent', 'add', 'alice'], PASSWORD + '\n');
});
after(async () => {
  if (h) await h.close();
});

const close = (...pages) => Promise.all(pages.map((p) => p.context().close()));
const newPage = async (viewport = { width: 1100, height: 800 }) =>
  (await h.browser.newContext({ viewport })).newPage();
const shown = (p, id) => waitFor(p, (i) => !document.getElementById(i).hidden, id, 10000);

async function signIn(p, name) {
  await shown(p, 'signin');
  await p.fill('#signin-name', name);
  await p.fill('#signin-password', PASSWORD);
  await p.press('#signin-password', 'Enter');
}

test('agent console: sign-in, the ID field, a refused ID, a live session, the customer away, after leaving', {
  skip,
}, async () => {
  const c = await h.customer('forms.html');
  const id = await h.start(c);
  const p = await newPage();
  await p.goto(h.server + '/agent/');
  await shown(p, 'signin');
  await accessible(p, 'sign-in');
  await signIn(p, 'alice');
  await shown(p, 'join');
  await accessible(p, 'the ID field');
  await p.fill('#join-id', '000000000');
  await p.press('#join-id', 'Enter');
  await waitFor(p, () => document.getElementById('state').dataset.state === 'error', null, 10000);
  await accessible(p, 'a refused ID');
  await p.fill('#join-id', id);
  await p.press('#join-id', 'Enter');
  await waitFor(p, () => document.getElementById('state').dataset.state === 'live', null, 15000);
  await accessible(p, 'a live session');
  await c.close();
  await waitFor(p, () => document.getElementById('state').dataset.state === 'waiting', null, 10000);
  await accessible(p, 'the customer away');
  await p.click('#exit');
  await waitFor(p, () => document.getElementById('state').dataset.state !== 'waiting', null, 10000);
  await accessible(p, 'after leaving');
  await close(c, p);
});

test('admin console: sign-in, no access, every section', { skip }, async () => {
  // A live session, so that the live list and the history have rows.
  const c = await h.customer('base.html');
  const id = await h.start(c);
  const a = await h.agent(id);
  const p = await newPage();
  await p.goto(h.server + '/admin/');
  await shown(p, 'signin');
  await accessible(p, 'sign-in');
  await signIn(p, 'alice');
  await shown(p, 'forbidden');
  await accessible(p, 'an agent: no access');
  await p.context().clearCookies();
  await p.goto(h.server + '/admin/');
  await signIn(p, 'root');
  for (const tab of ['live', 'history', 'restrictions', 'accounts', 'keys', 'webhooks']) {
    await p.goto(h.server + '/admin/#' + tab);
    await shown(p, 'tab-' + tab);
    await p.waitForLoadState('networkidle');
    await accessible(p, 'the ' + tab + ' section');
  }
  await close(c, a, p);
});

test('demo shop: every page, the launcher menu, the chat box', { skip }, async () => {
  const p = await newPage();
  for (const page of [
    'index.html',
    'products.html',
    'product.html?id=ridge-pack',
    'checkout.html',
    'signin.html',
    'account.html',
    'thanks.html',
  ]) {
    await p.goto(h.server + '/demo/' + page);
    await waitFor(p, () => window.Cobrowse && window.Cobrowse.v === 1);
    await p.waitForLoadState('networkidle');
    await accessible(p, page);
  }
  // The launcher's menu (the customer's UI, in its shadow root), open.
  await p.locator('cobrowse-ui').locator('[data-part=launcher] button[aria-haspopup]').click();
  await p.locator('cobrowse-ui').locator('#cb-menu').waitFor();
  await accessible(p, "the launcher's menu");
  // The chat box, open.
  await p.click('#chat-toggle');
  await accessible(p, 'the chat box');
  await close(p);
});

test("the customer's built-in UI: toolbar, ID dialog, notices, consent, write mode, the end", {
  skip,
}, async () => {
  const c = await h.customer('forms.html');
  const ui = 'cobrowse-ui';
  await c.evaluate(() => window.Cobrowse.showId());
  await c.locator(ui).locator('dialog[open]').waitFor();
  const passed = await accessible(c, 'the ID dialog', ui);
  // axe looked inside the shadow root: a target there is a path [host, element].
  assert.ok(
    passed.some((t) => Array.isArray(t[0])),
    'axe checked the elements in the shadow root: ' + JSON.stringify(passed),
  );
  const id = await c.evaluate(() => window.Cobrowse.session.id);
  await toolbarHas(c, /./);
  await accessible(c, 'the toolbar, waiting', ui);
  const a = await h.agent(id);
  await noticeHas(c, /./);
  await accessible(c, 'an agent joined', ui);
  await a.evaluate(() => window.cobrowseAgent.requestControl());
  await c.locator(ui).locator('[data-part=consent]').waitFor();
  await accessible(c, 'the consent dialog', ui);
  await c
    .locator(ui)
    .locator('[data-part=consent] button', { hasText: /^Allow$/ })
    .click();
  await waitFor(c, () => window.Cobrowse.session.mode === 'write', null, 5000);
  await accessible(c, 'write mode', ui);
  await a.click('#exit');
  await waitFor(c, () => window.Cobrowse.session?.state === 'ended', null, 10000);
  await accessible(c, 'the end notice', ui);
  await close(c, a);
});
