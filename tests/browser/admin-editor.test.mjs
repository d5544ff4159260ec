// The visual restrictions editor: started from the admin console, the site opens in a new tab
// with the overlay (the one-time token leaves the address at once); hover highlights, a click
// selects, the generated selectors are the stable ones (id, name, data attribute, class, then
// positions), editable, with their match count; saved into a rule set that masks, blocks and
// disables those elements in the next session (asserted on the frames the customer's page sends).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import { CUSTOMER_VIEWPORT, requirements, setup, waitFor } from './harness.mjs';

const skip = requirements();
const PASSWORD = 'correct horse battery';
let h;
before(async () => {
  if (skip) return;
  h = await setup();
  h.cli(['agent', 'add', 'root', '--admin'], PASSWORD + '\n');
});
after(async () => {
  if (h) await h.close();
});

const close = (...pages) =>
  Promise.all(
    pages.map((p) =>
      p
        .context()
        .close()
        .catch(() => {}),
    ),
  );

async function adminPage() {
  const ctx = await h.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const p = await ctx.newPage();
  p.on('pageerror', (e) => console.log('[admin pageerror]', e.message));
  await p.goto(h.server + '/admin/#restrictions');
  await waitFor(p, () => !document.getElementById('signin').hidden, null, 5000);
  await p.fill('#signin-name', 'root');
  await p.fill('#signin-password', PASSWORD);
  await p.press('#signin-password', 'Enter');
  await waitFor(p, () => !document.getElementById('tab-restrictions').hidden, null, 5000);
  return p;
}

/** Starts the editor from the console; returns the site's tab with the overlay. */
async function openEditor(p, page = '/restrict.html') {
  await p.fill('#ed-url', h.origin + page);
  const [site] = await Promise.all([p.context().waitForEvent('page'), p.click('#ed-open')]);
  site.on('pageerror', (e) => console.log('[site pageerror]', e.message));
  await waitFor(
    site,
    () =>
      document.querySelector('[data-cobrowse-editor]') &&
      document.querySelector('[data-cobrowse-editor]').shadowRoot.getElementById('cbe-pick'),
    null,
    10000,
  );
  return site;
}

/** Clicks an element of the page in picking mode; returns what the overlay proposes. */
async function pick(site, selector) {
  const box = await site.locator(selector).first().boundingBox();
  await site.mouse.move(box.x + Math.min(10, box.width / 2), box.y + box.height / 2);
  await site.waitForTimeout(50);
  await site.mouse.click(box.x + Math.min(10, box.width / 2), box.y + box.height / 2);
  await site.locator('#cbe-selection').waitFor({ state: 'visible' });
  return {
    selector: await site.inputValue('#cbe-selector'),
    count: await site.locator('#cbe-count').textContent(),
    action: await site.locator('#cbe-selection [aria-pressed=true]').getAttribute('data-action'),
  };
}

test('editor: selectors picked on the page mask, block and disable in the next session', {
  skip,
}, async () => {
  const p = await adminPage();
  const site = await openEditor(p);
  assert.ok(
    !site.url().includes('cobrowse-editor'),
    'the one-time token left the address bar: ' + site.url(),
  );
  assert.match(await site.locator('#cbe-set').textContent(), /restrict\.html/);
  assert.equal(await site.inputValue('#cbe-pattern'), h.origin + '/restrict.html*');
  // Hovering highlights (and names) the element.
  const note = await site.locator('.note').boundingBox();
  await site.mouse.move(note.x + 20, note.y + 10);
  await waitFor(site, () => {
    const r = document.querySelector('[data-cobrowse-editor]').shadowRoot;
    return r.querySelector('.box.hover') && !r.querySelector('.tip').hidden;
  });
  assert.match(await site.locator('.tip').textContent(), /<div class="note">/);
  // Clicking selects instead of acting on the page: the page's own button does nothing now.
  await site.evaluate(() => {
    window.paid = 0;
    document.getElementById('pay').addEventListener('click', () => window.paid++);
  });

  const picks = {};
  for (const [sel, action] of [
    ['#holder', 'mask'],
    ['input[name=iban]', 'mask'],
    ['p[data-testid=balance]', 'mask'],
    ['.note', 'mask'],
    ['.list li:nth-child(2)', 'mask'],
    ['img.avatar', 'block'],
    ['#pay', 'disable'],
  ]) {
    const got = await pick(site, sel);
    picks[sel] = got;
    assert.equal(got.action, action, `${sel}: the restriction proposed`);
    assert.equal(got.count, 'Matches 1 element on this page.', sel);
    await site.click('#cbe-add');
  }
  assert.deepEqual(
    Object.values(picks).map((x) => x.selector),
    [
      '#holder',
      'input[name="iban"]',
      'p[data-testid="balance"]',
      'div.note',
      'ul.list > li:nth-of-type(2)',
      'img.avatar',
      '#pay',
    ],
  );
  assert.equal(await site.evaluate(() => window.paid), 0, 'picking never clicked the page');
  // The selector is editable; its count follows, matches are highlighted, a broken one cannot be
  // added.
  await pick(site, '.list li:first-child');
  await site.fill('#cbe-selector', 'ul.list li');
  await waitFor(site, () =>
    /Matches 2 elements on this page, highlighted/.test(
      document.querySelector('[data-cobrowse-editor]').shadowRoot.getElementById('cbe-count')
        .textContent,
    ),
  );
  // The other match is highlighted beside the selected one (drawn at the next frame).
  await waitFor(
    site,
    () =>
      document.querySelector('[data-cobrowse-editor]').shadowRoot.querySelectorAll('.box.match')
        .length === 1,
    null,
    3000,
  );
  await site.fill('#cbe-selector', 'ul.list >');
  await waitFor(
    site,
    () =>
      document.querySelector('[data-cobrowse-editor]').shadowRoot.getElementById('cbe-count')
        .textContent === 'Not a valid CSS selector.',
  );
  assert.ok(await site.locator('#cbe-add').isDisabled());
  await site.keyboard.press('Escape');
  assert.ok(await site.locator('#cbe-selection').isHidden(), 'Esc drops the selection');
  // One added by mistake, then removed before saving.
  await pick(site, 'input[name=nick]');
  await site.click('#cbe-add');
  await site.locator('li.rule[data-selector=\'input[name="nick"]\'] button').click();
  assert.equal(await site.locator('#cbe-pending').textContent(), '7 unsaved changes');
  await site.click('#cbe-save');
  await waitFor(
    site,
    () =>
      /Saved/.test(
        document.querySelector('[data-cobrowse-editor]').shadowRoot.getElementById('cbe-message')
          .textContent,
      ),
    null,
    5000,
  );
  assert.match(
    await site.locator('#cbe-message').textContent(),
    /version 1\)\. The next co-browse session on matching pages gets these rules/,
  );

  // The admin console lists it, saved by the editor.
  await p.reload();
  const row = p.locator('#rs-table tr', { hasText: 'restrict.html' });
  await row.waitFor({ timeout: 5000 });
  assert.match(await row.textContent(), /5\s*1\s*1\s*v1\s*root \(visual editor\)/);

  // The next session on that page (another browser, no editor): nothing picked leaves the page.
  const ctx = await h.browser.newContext({ viewport: CUSTOMER_VIEWPORT });
  const c = await ctx.newPage();
  const cdp = await ctx.newCDPSession(c);
  await cdp.send('Network.enable');
  const frames = [];
  cdp.on('Network.webSocketFrameSent', (e) => frames.push(e.response));
  await c.goto(h.origin + '/restrict.html');
  await waitFor(c, () => window.Cobrowse && window.Cobrowse.v === 1, null, 10000);
  assert.equal(
    await c.evaluate(() => !!document.querySelector('[data-cobrowse-editor]')),
    false,
    'no editor for customers',
  );
  const id = await h.start(c);
  const a = await h.agent(id);
  await c.type('#holder', 'SECRET-LIVE-47');
  await c.type('input[name=nick]', 'plain-');
  await waitFor(
    a,
    () =>
      window.cobrowseAgent.mirror.frame.contentDocument
        .querySelector('input[name=nick]')
        .value.includes('plain-'),
    null,
    5000,
  );
  const texts = [],
    run = [];
  for (const f of frames) {
    if (f.opcode === 1) {
      const m = JSON.parse(f.payloadData);
      if (m.t === 'snapshot') {
        const b = Buffer.concat(run.splice(0).slice(-m.n));
        texts.push(m.z ? inflateRawSync(b).toString() : b.toString());
      }
      texts.push(f.payloadData);
    } else {
      const b = Buffer.from(f.payloadData, 'base64');
      if (b[1] === 1) run.push(b.subarray(6));
    }
  }
  assert.ok(
    texts.some((t) => t.includes('visible-nickname')) &&
      texts.some((t) => t.includes('First item')),
    'what was not picked travels',
  );
  for (const s of [
    'SECRET-HOLDER-42',
    'SECRET-IBAN-43',
    'SECRET-BALANCE-41',
    'SECRET-NOTE-44',
    'SECRET-ITEM-45',
    'SECRET-LIVE-47',
  ]) {
    for (const t of texts)
      assert.ok(!t.includes(s), `"${s}" left the browser in: ${t.slice(0, 200)}`);
  }
  assert.ok(
    await a.evaluate(() =>
      window.cobrowseAgent.mirror.frame.contentDocument.querySelector('img[data-cb-blocked]'),
    ),
    'the avatar is a blocked box',
  );
  // Disabled control: in write mode the agent's click on #pay does nothing; on another field it
  // does.
  await c.evaluate(() => {
    window.paid = 0;
    window.nickFocused = false;
    document.getElementById('pay').addEventListener('click', () => window.paid++);
    document
      .querySelector('input[name=nick]')
      .addEventListener('focus', () => (window.nickFocused = true));
  });
  await a.click('#request');
  await waitFor(
    c,
    () => window.Cobrowse.session && window.Cobrowse.session.controlPending,
    null,
    5000,
  );
  await c.evaluate(() => window.Cobrowse.answerControl(true));
  await waitFor(a, () => document.getElementById('mode').dataset.mode === 'write', null, 5000);
  const at = (sel) =>
    a.evaluate((s) => {
      const f = window.cobrowseAgent.mirror.frame,
        r = f.contentDocument.querySelector(s).getBoundingClientRect(),
        fr = f.getBoundingClientRect(),
        k = fr.width / f.offsetWidth;
      return { x: fr.left + (r.left + r.width / 2) * k, y: fr.top + (r.top + r.height / 2) * k };
    }, sel);
  let pt = await at('#pay');
  await a.mouse.click(pt.x, pt.y);
  pt = await at('input[name=nick]');
  await a.mouse.click(pt.x, pt.y);
  await waitFor(c, () => window.nickFocused, null, 5000);
  assert.equal(
    await c.evaluate(() => window.paid),
    0,
    "the disabled control did not get the agent's click",
  );
  await c.evaluate(() => window.Cobrowse.stop());
  await close(c, a, site, p);
});

test('editor: the link works once; a stopped editor cannot save; the overlay survives a reload', {
  skip,
}, async () => {
  const p = await adminPage();
  const site = await openEditor(p, '/forms.html');
  const link = await p.getAttribute('#ed-link', 'href');
  assert.match(link, /#cobrowse-editor=cbe_/);
  // The same link in another browser: refused, and the overlay says what to do.
  const other = await (await h.browser.newContext()).newPage();
  await other.goto(link);
  await waitFor(
    other,
    () => {
      const r = document.querySelector('[data-cobrowse-editor]');
      return r && r.shadowRoot.getElementById('cbe-problem');
    },
    null,
    10000,
  );
  assert.match(await other.locator('#cbe-problem').textContent(), /used already or has expired/);
  // A reload keeps the editor open in its tab.
  await site.reload();
  await waitFor(
    site,
    () => {
      const r = document.querySelector('[data-cobrowse-editor]');
      return r && r.shadowRoot.getElementById('cbe-pick');
    },
    null,
    10000,
  );
  // Stopped from the console: the overlay can no longer save.
  await p.click('#ed-stop');
  await waitFor(
    p,
    () => /Stopped \d+ editor/.test(document.getElementById('toast').textContent),
    null,
    5000,
  );
  await pick(site, '#t');
  await site.click('#cbe-add');
  await site.click('#cbe-save');
  await waitFor(
    site,
    () =>
      /Not saved/.test(
        document.querySelector('[data-cobrowse-editor]').shadowRoot.getElementById('cbe-message')
          .textContent,
      ),
    null,
    5000,
  );
  assert.match(await site.locator('#cbe-message').textContent(), /expired or was stopped/);
  // Closing the overlay gives the page back.
  await site.click('#cbe-close');
  assert.equal(
    await site.evaluate(() => !!document.querySelector('[data-cobrowse-editor]')),
    false,
  );
  await close(site, other, p);
});

test('editor: the restriction and the URL pattern changed before saving are what the rule set keeps', {
  skip,
}, async () => {
  const p = await adminPage();
  const site = await openEditor(p, '/forms.html');
  const shadow = (id) =>
    site.evaluate(
      (i) =>
        document.querySelector('[data-cobrowse-editor]').shadowRoot.getElementById(i).textContent,
      id,
    );
  // Each pick proposes a restriction; another one is chosen instead.
  const chosen = {};
  for (const [sel, proposed, instead] of [
    ['#t', 'mask', 'disable'],
    ['button[type=submit]', 'disable', 'mask'],
    ['#ce', 'mask', 'block'],
  ]) {
    const got = await pick(site, sel);
    assert.equal(got.action, proposed, `${sel}: proposed`);
    await site.click(`#cbe-action-${instead}`);
    assert.deepEqual(
      await site
        .locator('#cbe-selection [aria-pressed=true]')
        .evaluateAll((bs) => bs.map((b) => b.id)),
      [`cbe-action-${instead}`],
      'one restriction pressed',
    );
    await site.click('#cbe-add');
    const listed = await site
      .locator('li.rule')
      .evaluateAll((ls) => ls.map((l) => l.dataset.list + ' ' + l.dataset.selector));
    assert.ok(
      listed.includes(`${instead} ${got.selector}`),
      `${got.selector} listed under ${instead}: ${listed}`,
    );
    chosen[instead] = [got.selector];
  }
  // The URL pattern: one that misses this page is flagged; a wider one that covers it is kept.
  assert.equal(await site.inputValue('#cbe-pattern'), h.origin + '/forms.html*');
  await site.fill('#cbe-pattern', h.origin + '/checkout*');
  assert.match(await shadow('cbe-pattern-note'), /does NOT match/);
  const pattern = h.origin + '/form*';
  await site.fill('#cbe-pattern', pattern);
  assert.match(await shadow('cbe-pattern-note'), /This page matches/);
  await site.click('#cbe-save');
  await waitFor(
    site,
    () =>
      /Saved/.test(
        document.querySelector('[data-cobrowse-editor]').shadowRoot.getElementById('cbe-message')
          .textContent,
      ),
    null,
    5000,
  );
  assert.equal(
    await site.inputValue('#cbe-pattern'),
    pattern,
    'the overlay shows the pattern saved',
  );
  // The saved set has the chosen restrictions under the chosen pattern...
  const sets = await p.evaluate(() => fetch('/api/v1/admin/rule-sets').then((r) => r.json()));
  const set = sets.rule_sets.find((s) => s.name === '127.0.0.1/forms.html');
  assert.ok(set, JSON.stringify(sets.rule_sets.map((s) => s.name)));
  assert.equal(set.url_pattern, pattern);
  assert.deepEqual(set.rules, { mask: chosen.mask, disable: chosen.disable, block: chosen.block });
  // ...so it applies to pages the default pattern would have missed.
  const applies = await p.evaluate(
    (u) => fetch('/api/v1/admin/rule-sets?url=' + encodeURIComponent(u)).then((r) => r.json()),
    h.origin + '/form-step-2.html',
  );
  assert.deepEqual(
    applies.rule_sets.map((s) => s.name),
    ['127.0.0.1/forms.html'],
  );
  await close(site, p);
});
