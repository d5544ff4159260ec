// The demo shop as served by the server, in real headless Chromium: its pages load
// cleanly with their content, and its privacy defaults hold on the demo itself: the password,
// card number and CVC, and what the account page marks data-cobrowse-mask, never leave the
// customer's browser (every frame it sends is searched), and the agent cannot use the button
// the account page marks data-cobrowse-no-control.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { agentClick, collectNotes, writeMode } from './control-helpers.mjs';
import { requirements, setup, tap, waitFor } from './harness.mjs';

const skip = requirements();
let h;
before(async () => {
  if (!skip) h = await setup();
});
after(async () => {
  if (h) await h.close();
});

/** A customer's page on the demo, with everything that went wrong on it collected in `errors`. */
async function demoPage(ctx) {
  const c = await ctx.newPage();
  c.errors = [];
  c.on('pageerror', (e) => c.errors.push(e.message));
  // Failed loads are counted by URL below (the browser's own favicon request is not the demo's).
  c.on(
    'console',
    (m) =>
      m.type() === 'error' && !/^Failed to load resource/.test(m.text()) && c.errors.push(m.text()),
  );
  c.on(
    'response',
    (r) =>
      r.status() >= 400 &&
      !r.url().endsWith('/favicon.ico') &&
      c.errors.push(r.status() + ' ' + r.url()),
  );
  return c;
}
/** Opens a demo page and waits for the co-browse script. */
async function open(c, pathname) {
  await c.goto(h.server + '/demo/' + pathname);
  await waitFor(c, () => window.Cobrowse && window.Cobrowse.v === 1);
}
const text = (c, sel) => c.locator(sel).textContent();

test('demo: the product page and the account page load without errors, with their content', {
  skip,
}, async () => {
  const ctx = await h.browser.newContext({ viewport: { width: 1000, height: 800 } });
  const c = await demoPage(ctx);
  await open(c, 'product.html?id=ridge-pack');
  assert.equal(await text(c, '#product-name'), 'Ridge 40 Backpack');
  assert.equal(await c.title(), 'Ridge 40 Backpack — Northwind Outfitters');
  assert.equal(await c.locator('#product').isVisible(), true);
  assert.equal(await c.locator('#not-found').isVisible(), false);
  assert.match(await text(c, '#product-price'), /^\$149\.00$/);
  assert.ok((await c.locator('#product-features li').count()) > 0, 'features listed');
  await c.click('#add-to-cart');
  assert.match(await text(c, '#cart-status'), /^Added 1 × Ridge 40 Backpack to your cart\./);
  assert.equal(await text(c, '#cart-count'), '1');
  assert.equal(
    await c.locator('[data-cobrowse-ui] [data-part=launcher] > button').textContent(),
    'Need help?',
  );
  await open(c, 'product.html?id=no-such-thing');
  assert.equal(await c.locator('#not-found').isVisible(), true, 'an unknown product says so');

  await open(c, 'account.html');
  assert.equal(await text(c, 'h1'), 'Hello, Alex');
  assert.equal(await c.inputValue('#full-name'), 'Alex Morgan');
  assert.equal(await c.inputValue('#dob'), '1988-04-12');
  assert.equal(await text(c, '#saved-card'), 'Visa ending 4242, expires 08/27');
  assert.equal(await c.locator('#orders tbody tr').count(), 4);
  assert.equal(await c.locator('#delete-account').isVisible(), true);
  assert.equal(await c.locator('#delete-account').getAttribute('data-cobrowse-no-control'), '');
  assert.deepEqual(c.errors, []);
  await ctx.close();
});

// Numbers are searched for as JSON strings ("9731"): as bare digits they could be part of any
// coordinate or time in the frames.
const SECRETS = [
  'PwSECRET-4417',
  '4111 1111 1111 1111',
  '4111111111111111',
  '"9731"',
  '1988-04-12',
  'Visa ending 4242',
  '08/27',
];

test("demo privacy: password, card number, CVC and the account page's data-cobrowse-mask never leave the browser; the agent cannot use #delete-account (data-cobrowse-no-control)", {
  skip,
}, async () => {
  const ctx = await h.browser.newContext({ viewport: { width: 1000, height: 800 } });
  const c = await demoPage(ctx);
  const wire = await tap(c);
  await open(c, 'signin.html');
  const id = await h.start(c);
  const a = await h.agent(id);
  a.customer = c;
  const agentWire = await tap(a);
  const agentHas = (sel) =>
    waitFor(
      a,
      (s) => window.cobrowseAgent.mirror.frame.contentDocument.querySelector(s),
      sel,
      10000,
    );
  // Sign-in: the password, typed, then shown in clear by the page's own toggle.
  await c.fill('#email', 'alex.morgan@example.com');
  await c.type('#password', 'PwSECRET-4417');
  await c.click('#toggle-password');
  assert.equal(await c.getAttribute('#password', 'type'), 'text');
  await c.type('#password', '!');
  // Checkout: card number and CVC.
  await open(c, 'checkout.html');
  await agentHas('#card-cvc');
  await c.type('#card-number', '4111 1111 1111 1111');
  await c.type('#card-cvc', '9731');
  await c.type('#card-expiry', '08/29');
  // Account: the date of birth and the saved card are marked data-cobrowse-mask.
  await open(c, 'account.html');
  await agentHas('#delete-account');
  await waitFor(a, () => /account\.html$/.test(document.getElementById('url').textContent));
  await new Promise((r) => setTimeout(r, 500)); // the last frames out
  // CDP can miss what a page sends in its last moments (the next page has the target by then):
  // what the agent received covers those frames.
  const texts = [...wire.texts(), ...agentWire.received];
  for (const seen of ['alex.morgan@example.com', '08/29', 'Alex Morgan'])
    assert.ok(
      texts.some((t) => t.includes(seen)),
      seen + ' (not masked) is sent: the tap sees every page',
    );
  for (const s of SECRETS) assert.ok(!texts.some((t) => t.includes(s)), s + ' left the browser');
  const view = await a.evaluate(() => {
    const d = window.cobrowseAgent.mirror.frame.contentDocument;
    return [d.getElementById('dob').value, d.getElementById('saved-card').textContent];
  });
  assert.notEqual(view[0], '1988-04-12');
  assert.doesNotMatch(view[1], /4242|Visa/, 'the agent sees the saved card masked');

  // Write mode: the agent's click on "Close my account" does nothing, and the agent is told why.
  await collectNotes(a);
  await writeMode(c, a);
  await agentClick(a, '#delete-account');
  await waitFor(a, () => window.notes.includes('disabled'), null, 5000);
  assert.equal(await text(c, '#delete-status'), '', "nothing happened on the customer's page");
  await agentClick(a, '#full-name'); // the rest of the page is the agent's to use
  await a.keyboard.press('End');
  await a.keyboard.type(' Jr');
  await waitFor(c, () => document.getElementById('full-name').value === 'Alex Morgan Jr');
  // The customer can use the button.
  await c.click('#delete-account');
  assert.match(await text(c, '#delete-status'), /emailed you a link/);
  assert.deepEqual(c.errors, []);
  await c.evaluate(() => window.Cobrowse.stop());
  await ctx.close();
  await a.context().close();
});
