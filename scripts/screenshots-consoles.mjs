#!/usr/bin/env node
// Screenshots of the real consoles for the README: the agent console during a session on the
// demo shop's checkout (write mode, the customer's pointer, masked card fields), the visual
// restrictions editor's overlay on the same page, and two views of the admin console.
//
//   cargo build && node scripts/screenshots-consoles.mjs [output directory]
//
// Starts the debug server binary (as the browser tests do) and Debian's /usr/bin/chromium;
// writes PNGs to docs/screenshots/ by default.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { requirements, waitFor } from '../tests/browser/harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.resolve(process.argv[2] || path.join(ROOT, 'docs/screenshots'));
const BIN = path.join(ROOT, 'target/debug/cobrowse');
const PASSWORD = 'screenshots only';
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

const missing = requirements();
if (missing) { console.error('cannot take screenshots: ' + missing); process.exit(1); }
mkdirSync(OUT, { recursive: true });

/** The server on a port chosen here, so that its own demo shop's images may pass its resource proxy. */
async function start() {
  const port = await new Promise((r) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
  const server = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'cobrowse-shots-'));
  const env = { ...process.env, COBROWSE_LOG: 'warn', COBROWSE_PROXY_ORIGINS: JSON.stringify([server]) };
  const proc = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the server did not start:\n' + log)), 20000);
    const on = (d) => { log += d; if (log.includes('listening on')) clearTimeout(t), resolve(); };
    proc.stdout.on('data', on); proc.stderr.on('data', on);
    proc.on('exit', (c) => reject(new Error('the server exited with ' + c + ':\n' + log)));
  });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--headless', '--no-first-run', '--disable-gpu', '--font-render-hinting=none'] });
  const cli = (args, input) => execFileSync(BIN, [...args, '--data-dir', dataDir], { input, env: { ...env, COBROWSE_LOG: 'error' } }).toString().trim();
  return {
    server, browser, cli,
    token: (name) => cli(['token', 'agent', name]),
    async close() { await browser.close().catch(() => {}); proc.kill('SIGTERM'); rmSync(dataDir, { recursive: true, force: true }); },
  };
}

const h = await start();
const shot = async (page, name, opts = {}) => {
  const file = path.join(OUT, name);
  await page.screenshot({ path: file, animations: 'disabled', caret: 'hide', ...opts });
  console.log('wrote', path.relative(process.cwd(), file));
};
try {
  h.cli(['agent', 'add', 'ana.admin', '--admin'], PASSWORD + '\n');
  const shop = h.server + '/demo/';

  // ---- the customer, at checkout with two items in the cart ----
  const cctx = await h.browser.newContext({ viewport: { width: 1200, height: 760 }, deviceScaleFactor: 1 });
  const c = await cctx.newPage();
  await c.goto(shop + 'index.html');
  await c.evaluate(() => localStorage.setItem('nw-cart', JSON.stringify([{ id: 'ridge-pack', size: 'One size', qty: 1 }, { id: 'storm-jacket', size: 'M', qty: 1 }])));
  await c.goto(shop + 'checkout.html');
  await waitFor(c, () => window.Cobrowse && window.Cobrowse.v === 1, null, 10000);
  await c.fill('#name', 'Jordan Avery');
  await c.fill('#address', '18 Harbour Street');
  await c.fill('#city', 'Portland');
  await c.fill('#postcode', '04101');
  await c.fill('#email', 'jordan.avery@example.com');
  await c.fill('#card-number', '4111 1111 1111 1111');
  const id = await c.evaluate(() => window.Cobrowse.start().then((s) => s.id));

  // ---- the agent console, in write mode ----
  const actx = await h.browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
  const a = await actx.newPage();
  await a.goto(`${h.server}/agent/?session=${id}#token=${h.token('maria.lopez')}`);
  await waitFor(a, () => document.getElementById('state').dataset.state === 'live', null, 15000);
  await a.click('#request');
  await waitFor(c, () => window.Cobrowse.session && window.Cobrowse.session.controlPending, null, 5000);
  await c.evaluate(() => window.Cobrowse.answerControl(true));
  await waitFor(a, () => document.getElementById('mode').dataset.mode === 'write');
  await c.evaluate(() => document.getElementById('card-number').scrollIntoView({ block: 'center' }));
  await pause(300);
  const card = await c.locator('#card-number').boundingBox();
  await c.mouse.move(card.x + 180, card.y + card.height / 2 + 4, { steps: 4 });
  await pause(1200);
  await a.mouse.move(10, 10);
  await shot(a, 'agent-console.png');

  // ---- the admin console: live sessions ----
  const dctx = await h.browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
  const d = await dctx.newPage();
  await d.goto(h.server + '/admin/#live');
  await waitFor(d, () => !document.getElementById('signin').hidden, null, 5000);
  await d.fill('#signin-name', 'ana.admin');
  await d.fill('#signin-password', PASSWORD);
  await d.press('#signin-password', 'Enter');
  await waitFor(d, () => document.querySelector('#live-table tbody tr'), null, 5000);
  // A second customer, still waiting for an agent.
  const c2 = await (await h.browser.newContext({ viewport: { width: 1100, height: 700 } })).newPage();
  await c2.goto(shop + 'products.html');
  await waitFor(c2, () => window.Cobrowse && window.Cobrowse.v === 1, null, 10000);
  await c2.evaluate(() => window.Cobrowse.start());
  await d.click('#live-refresh');
  await waitFor(d, () => document.querySelectorAll('#live-table tbody tr').length === 2, null, 5000);
  await shot(d, 'admin-live-sessions.png', { clip: { x: 0, y: 0, width: 1440, height: 360 } });

  // ---- the admin console: a rule set with its versions ----
  const rules = { name: 'Checkout', url_pattern: shop + 'checkout.html*', rules: { mask: ['#address', '#postcode', 'input[name="email"]'], disable: ['#place-order'], block: [] } };
  await d.evaluate((b) => fetch('/api/v1/admin/rule-sets', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) }), rules);
  await d.goto(h.server + '/admin/#restrictions');
  await d.locator('#rs-table tr[data-rule-set="Checkout"] button').click();
  await d.fill('#rs-mask', '#address\n#postcode\ninput[name="email"]\n#name');
  await d.click('#rs-save');
  await waitFor(d, () => document.querySelectorAll('#rs-version-list > li').length === 2, null, 5000);
  await d.fill('#rs-block', 'form > .field >');
  await d.click('#rs-save');
  await waitFor(d, () => !document.getElementById('rs-error').hidden, null, 5000);
  await d.fill('#ed-url', shop + 'checkout.html');
  await d.selectOption('#ed-set', 'Checkout');
  await d.evaluate(() => { document.getElementById('toast').hidden = true; document.activeElement.blur(); });
  await shot(d, 'admin-restrictions.png');

  // ---- the visual editor's overlay on the checkout page ----
  const [site] = await Promise.all([dctx.waitForEvent('page'), d.click('#ed-open')]);
  await site.setViewportSize({ width: 1440, height: 900 });
  await waitFor(site, () => { const r = document.querySelector('[data-cobrowse-editor]'); return r && r.shadowRoot.getElementById('cbe-pick'); }, null, 10000);
  await site.evaluate(() => { localStorage.setItem('nw-cart', JSON.stringify([{ id: 'ridge-pack', size: 'One size', qty: 1 }])); });
  await site.reload();
  await waitFor(site, () => { const r = document.querySelector('[data-cobrowse-editor]'); return r && r.shadowRoot.getElementById('cbe-pick'); }, null, 10000);
  const city = await site.locator('#city').boundingBox();
  await site.mouse.move(city.x + 30, city.y + city.height / 2);
  await site.mouse.click(city.x + 30, city.y + city.height / 2);
  await site.locator('#cbe-selection').waitFor({ state: 'visible' });
  await pause(200);
  const email = await site.locator('#email').boundingBox();
  await site.mouse.move(email.x + 40, email.y + email.height / 2, { steps: 3 });
  await pause(400);
  await shot(site, 'visual-editor.png');

  await c.evaluate(() => window.Cobrowse.stop()).catch(() => {});
  await c2.evaluate(() => window.Cobrowse.stop()).catch(() => {});
} finally {
  await h.close();
}
