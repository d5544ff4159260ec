// Attacks on the customer's privacy through the customer script: what a page does (a
// single-page app's route change, a masked choice, a hidden field, a secret in its URL) must
// never make masked data leave the browser, and an agent in write mode must not take the
// customer off the site through an SVG link. Every frame the customer page sends (and gets) is
// recorded through CDP, in order; snapshots are inflated before they are searched.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import { agentClick, collectNotes, writeMode } from './control-helpers.mjs';
import { requirements, setup, waitFor } from './harness.mjs';

const { ws: WS } = createRequire(import.meta.url)('playwright-core/lib/utilsBundle');

const skip = requirements();
let h, key;
before(async () => {
  if (skip) return;
  h = await setup();
  key = h.cli(['apikey', 'create', 'privacy-attacks']);
  // The checkout's rules, by path (history API routes) and by fragment (hash routes).
  for (const [name, url_pattern] of [
    ['spa checkout', h.origin + '/spa/checkout*'],
    ['spa hash checkout', h.origin + '/spa.html#/checkout*'],
  ]) {
    const r = await fetch(h.server + '/api/v1/admin/rule-sets', {
      method: 'POST',
      headers: { authorization: 'Bearer ' + key, 'content-type': 'application/json' },
      body: JSON.stringify({
        name,
        url_pattern,
        rules: { mask: ['.secret'], block: ['.vault'], disable: ['.nope'] },
      }),
    });
    assert.ok(r.ok, `rule set refused: ${r.status} ${await r.text()}`);
  }
});
after(async () => {
  if (h) await h.close();
});

/** Content the customer sends (relayed to the agent), as opposed to control messages. */
const CONTENT = new Set([
  'snapshot',
  'mutation',
  'input',
  'scroll',
  'viewport',
  'focus',
  'hover',
  'style',
  'canvas',
  'media',
  'selection',
  'pointer',
]);

/**
 * Records a page's WebSocket frames in both directions, in the order they happened:
 * `list` of {out, t, m} (binary frames: t `bin`); `texts()` every sent text, snapshots inflated.
 */
async function record(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const list = [];
  const add = (out, r) => {
    if (r.opcode === 1) {
      const m = JSON.parse(r.payloadData);
      list.push({ out, t: m.t, m, raw: r.payloadData });
    } else list.push({ out, t: 'bin', b: Buffer.from(r.payloadData, 'base64') });
  };
  cdp.on('Network.webSocketFrameSent', (e) => add(true, e.response));
  cdp.on('Network.webSocketFrameReceived', (e) => add(false, e.response));
  return {
    list,
    texts() {
      const out = [],
        run = [];
      for (const f of list.filter((x) => x.out)) {
        if (f.t === 'bin') {
          if (f.b[1] === 1) run.push(f.b.subarray(6));
          continue;
        }
        if (f.t === 'snapshot') {
          const buf = Buffer.concat(run.splice(0).slice(-f.m.n));
          out.push(f.m.z === 'deflate-raw' ? inflateRawSync(buf).toString() : buf.toString());
        }
        out.push(f.raw);
      }
      return out;
    },
  };
}

/** Whether none of `secrets` is in any text the customer page sent. */
function noneSent(rec, secrets) {
  for (const t of rec.texts())
    for (const s of secrets)
      assert.ok(!t.includes(s), `"${s}" left the browser in: ${t.slice(0, 400)}`);
}
/** The agent's console on a session, its frames recorded from the start (`rec`). */
async function recordedAgent(id) {
  const ctx = await h.browser.newContext({ viewport: { width: 1000, height: 800 } });
  const page = await ctx.newPage();
  const rec = await record(page);
  await page.goto(`${h.server}/agent/?session=${id}#token=${h.token()}`);
  await waitFor(page, () => document.getElementById('state').dataset.state === 'live', null, 15000);
  return Object.assign(page, { rec });
}
/** Evaluates `fn(doc, arg)` on the agent's view document. */
const inView = (a, fn, arg) =>
  a.evaluate(
    ([f, x]) =>
      new Function('d', 'x', 'return (' + f + ')(d, x)')(
        window.cobrowseAgent.mirror.frame.contentDocument,
        x,
      ),
    [String(fn), arg],
  );
/** Waits until `sel` in the agent's view has text matching `re`. */
const viewHas = (a, sel, re) =>
  waitFor(
    a,
    ([s, r]) => {
      const e = window.cobrowseAgent.mirror.frame.contentDocument.querySelector(s);
      return !!e && new RegExp(r).test(e.textContent);
    },
    [sel, re.source],
    8000,
  );

/** The session's history as the admin API gives it (url of each visited page included). */
async function history(id) {
  const l = await (
    await fetch(h.server + '/api/v1/history', { headers: { authorization: 'Bearer ' + key } })
  ).json();
  const row = l.sessions.find(
    (s) => String(s.id) === String(id) || String(s.session_id) === String(id),
  );
  assert.ok(row, 'the session is in history: ' + JSON.stringify(l).slice(0, 300));
  const r = await fetch(h.server + '/api/v1/history/' + encodeURIComponent(row.key), {
    headers: { authorization: 'Bearer ' + key },
  });
  return r.text();
}

test('attack: a single-page app moves to a masked route (pushState, replaceState, popstate, hashchange): nothing of it leaves before its rules, then masked, blocked, disabled', {
  skip,
}, async () => {
  let rec;
  const c = await h.customer('spa.html', {
    onPage: async (p) => {
      rec = await record(p);
    },
  });
  const id = await h.start(c);
  const a = await h.agent(id);
  a.customer = c;
  await collectNotes(a);
  // pushState, and the route rendered in the same task (as a router does), then the customer types.
  await c.evaluate(() => {
    history.pushState({}, '', '/spa/checkout');
    render('checkout', 'SpaTextSECRET41');
  });
  await c.type('#si', 'SpaTypedSECRET43');
  await viewHas(a, '#co', /^Checkout$/);
  // replaceState within the checkout.
  await c.evaluate(() => {
    history.replaceState({}, '', '/spa/checkout?step=2');
    document.getElementById('sp').textContent = 'ReplaceSECRET44';
    document.getElementById('co').textContent = 'Checkout, step 2';
  });
  await viewHas(a, '#co', /step 2/);
  // Back (popstate: the home route), forward (popstate: the checkout, rendered by the page's
  // handler).
  await c.evaluate(() => history.back());
  await viewHas(a, '#home', /Welcome/);
  await c.evaluate(() => history.forward());
  await viewHas(a, '#co', /^Checkout$/);
  // A hash route: home by pushState, then the fragment (hashchange) with the checkout in the same
  // task.
  await c.evaluate(() => {
    history.pushState({}, '', '/spa.html');
    render('home');
  });
  await viewHas(a, '#home', /Welcome/);
  await c.evaluate(() => {
    location.hash = '#/checkout';
    render('checkout', 'HashSECRET46');
  });
  await viewHas(a, '#co', /^Checkout$/);
  await new Promise((r) => setTimeout(r, 500));

  // The view shows the checkout masked and blocked as its rules say.
  const shown = await inView(a, (d) => ({
    sp: d.getElementById('sp').textContent,
    masked: d.getElementById('sp').hasAttribute('data-cb-masked'),
    vault:
      !!d.querySelector('#main > [data-cb-blocked]') &&
      !/Vault/.test(d.getElementById('main').textContent),
  }));
  assert.ok(
    shown.masked && /^[•\s]*$/.test(shown.sp),
    'the masked paragraph is shown masked: ' + JSON.stringify(shown),
  );
  assert.ok(shown.vault, 'the blocked element is a placeholder');
  // The rules' `disable` follows the route too: the agent cannot use the checkout's button.
  await writeMode(c, a);
  await agentClick(a, '#nope');
  await waitFor(a, () => window.notes.includes('disabled'), null, 5000);
  assert.equal(
    await c.evaluate(() => document.getElementById('nopes').textContent),
    '0',
    'the disabled button was not pressed',
  );

  noneSent(rec, [
    'SpaTextSECRET41',
    'SpaTypedSECRET43',
    'ReplaceSECRET44',
    'PopSECRET45',
    'HashSECRET46',
  ]);
  // Fail closed: from a `page` naming a new URL until the server's `rules` for it, no content
  // leaves.
  let url = rec.list.find((f) => f.out && (f.t === 'create' || f.t === 'resume')).m.url,
    waiting = null,
    answered = 0;
  for (const f of rec.list) {
    if (f.out && f.t === 'page' && f.m.url !== url) {
      url = waiting = f.m.url;
      continue;
    }
    if (!f.out && f.t === 'rules' && f.m.url === waiting) {
      waiting = null;
      answered++;
      continue;
    }
    if (f.out && waiting && (CONTENT.has(f.t) || f.t === 'bin'))
      assert.fail(`${f.t} sent for ${waiting} before its rules: ${(f.raw || '').slice(0, 300)}`);
  }
  assert.equal(waiting, null, 'the rules of the last URL came');
  assert.ok(answered >= 6, 'each new URL got its rules: ' + answered);
  // Each new URL's rules were followed by a fresh snapshot (the agent's view re-masked).
  assert.ok(
    rec.list.filter((f) => f.out && f.t === 'snapshot').length >= 7,
    'a snapshot per route',
  );
  await c.evaluate(() => window.Cobrowse.stop());
  await c.context().close();
  await a.context().close();
});

/** In the page: never sent by the customer's browser. */
const CHOICES = [
  'PlanNameSECRET50',
  'OptValSECRET51',
  'OptLabelSECRET52',
  'OptValSECRET53',
  'PriceSECRET54',
  'OptLabelSECRET55',
  'OptValSECRET56',
  'OptLabelSECRET57',
  'UserAttrSECRET58',
  'AcctSECRET59',
  'TitleSECRET60',
  'RadioValSECRET61',
  'RadioValSECRET62',
  'CheckValSECRET63',
  'RegionOptSECRET64',
  'AcctLinkSECRET65',
  'HiddenSECRET66',
  'HiddenCodeSECRET67',
  'HiddenAttrSECRET68',
];
/**
 * In the page's URL: masked by the server (one implementation, trusting no client) before the agent
 * or history gets it.
 */
const URL_SECRETS = [
  'TokSECRET70',
  'FragSECRET71',
  'SessSECRET72',
  'bob%40example.com',
  'bob@example.com',
];

test("attack: masked choices, masked regions' attributes, hidden inputs and masked lengths never leave the browser; secret URL parameters never reach the agent or history", {
  skip,
}, async () => {
  let rec;
  const c = await h.customer(
    'privacy.html?token=TokSECRET70&q=shoes#access_token=FragSECRET71&x=1',
    {
      onPage: async (p) => {
        rec = await record(p);
      },
    },
  );
  const id = await h.start(c);
  const a = await recordedAgent(id);
  // The customer chooses: an option of the masked select, a radio and boxes in the masked region.
  await c.selectOption('#ms', { index: 1 });
  await c.check('#r1');
  await c.check('#cb1');
  await c.uncheck('#cb2');
  await c.selectOption('#rs', { index: 1 });
  // A masked field's value, short then long: the agent's view must not tell them apart.
  await c.type('#len', 'ab');
  await c.evaluate(() => {
    document.getElementById('plain').value = 'visible value one';
  });
  await waitFor(
    a,
    () =>
      window.cobrowseAgent.mirror.frame.contentDocument
        .getElementById('plain')
        .value.endsWith(' one'),
    null,
    5000,
  );
  const short = await inView(a, (d) => d.getElementById('len').value);
  await c.type('#len', 'cdefghijklmnopqrstuvwxyz');
  await c.evaluate(() => {
    document.getElementById('plain').value = 'visible value two';
  });
  await waitFor(
    a,
    () =>
      window.cobrowseAgent.mirror.frame.contentDocument
        .getElementById('plain')
        .value.endsWith(' two'),
    null,
    5000,
  );
  const long = await inView(a, (d) => d.getElementById('len').value);
  // Hidden inputs, set by code.
  await c.evaluate(() => {
    const x = document.getElementById('hid');
    x.value = 'HiddenCodeSECRET67';
    x.setAttribute('value', 'HiddenAttrSECRET68');
  });
  // Attributes of the masked region changed by the page.
  await c.evaluate(() => {
    document.getElementById('region').setAttribute('data-user', 'UserAttrSECRET58');
    document.getElementById('ms').options[1].setAttribute('label', 'OptLabelSECRET55');
  });
  // A route with secrets in its query.
  await c.evaluate(() =>
    history.pushState({}, '', '/privacy.html?email=bob%40example.com&session=SessSECRET72&page=2'),
  );
  await new Promise((r) => setTimeout(r, 1500));
  // A fresh snapshot carries the current state too.
  await a.evaluate(() => window.cobrowseAgent.requestResync());
  await new Promise((r) => setTimeout(r, 1500));

  const view = await inView(a, (d) => ({
    ms: d.getElementById('ms').selectedIndex,
    selectedAttr: d.querySelectorAll('#ms option[selected]').length,
    checked: ['r1', 'r2', 'cb1', 'cb2'].filter((i) => d.getElementById(i).checked),
    rs: d.getElementById('rs').selectedIndex,
    region: d
      .getElementById('region')
      .getAttributeNames()
      .filter((n) => !n.startsWith('data-cb-')),
  }));
  assert.equal(view.ms, 0, 'the agent does not see which option of the masked select is chosen');
  assert.equal(view.selectedAttr, 0, 'no option of the masked select is marked selected');
  assert.deepEqual(view.checked, [], 'no checked state of the masked region shows');
  assert.equal(view.rs, 0, 'a select of the masked region shows no choice');
  assert.deepEqual(
    view.region.sort(),
    ['class', 'id'],
    'only layout attributes of the masked region are sent',
  );
  assert.ok(
    short.length > 0 && short === long,
    `a masked field's value shows no length: ${JSON.stringify(short)} vs ${JSON.stringify(long)}`,
  );
  assert.ok(
    rec.texts().some((t) => t.includes('visible value')),
    'plain values do travel (the capture works)',
  );
  noneSent(rec, CHOICES);
  // Nothing secret reached the agent: not the page's choices, not its URL's secret parameters;
  // the URL it sees keeps the harmless ones.
  const got = a.rec.list.filter((f) => !f.out && f.raw).map((f) => f.raw);
  for (const t of got)
    for (const x of [...CHOICES, ...URL_SECRETS])
      assert.ok(!t.includes(x), `"${x}" reached the agent in: ${t.slice(0, 400)}`);
  const urls = a.rec.list
    .filter((f) => !f.out && (f.t === 'snapshot' || f.t === 'page'))
    .map((f) => f.m.url);
  assert.ok(
    urls.some(
      (u) => u.includes('q=shoes&access_token=***') || u.includes('q=shoes#access_token=***'),
    ),
    "the snapshot's URL is masked: " + urls,
  );
  assert.ok(
    urls.some((u) => u.includes('email=***&session=***&page=2')),
    "the new page's URL is masked: " + urls,
  );
  await c.evaluate(() => window.Cobrowse.stop());
  await waitFor(c, () => !window.Cobrowse.session, null, 5000);
  const hist = await history(id);
  for (const s of [...CHOICES, ...URL_SECRETS])
    assert.ok(!hist.includes(s), `"${s}" is in the history: ${hist.slice(0, 400)}`);
  await c.context().close();
  await a.context().close();
});

test('attack: a customer connection that sends secret URL parameters itself: the server masks them before it records or shows them', {
  skip,
}, async () => {
  const ws = new WS(h.server.replace(/^http/, 'ws') + '/ws/customer?v=1', {
    headers: { Origin: h.origin },
  });
  const got = [];
  const next = (t) =>
    new Promise((res, rej) => {
      const f = () => {
        const m = got.find((x) => x.t === t);
        if (m) {
          got.splice(got.indexOf(m), 1);
          return res(m);
        }
      };
      if (f()) return;
      ws.on('message', () => f());
      setTimeout(() => rej(new Error('no ' + t + ' in ' + got.map((x) => x.t))), 5000);
    });
  ws.on('message', (d, bin) => {
    if (!bin) got.push(JSON.parse(d.toString()));
  });
  await new Promise((res, rej) => {
    ws.on('open', res);
    ws.on('error', rej);
  });
  ws.send(
    JSON.stringify({
      v: 1,
      t: 'create',
      url: h.origin + '/x?Auth_Token=RawTokSECRET80&q=1',
      title: 'T',
      tab: 'rawtab',
    }),
  );
  const s = await next('session');
  assert.ok(
    !s.page.url.includes('RawTokSECRET80') && s.page.url.includes('q=1'),
    "the session's page is masked: " + s.page.url,
  );
  ws.send(
    JSON.stringify({
      v: 1,
      t: 'page',
      s: 1,
      url: h.origin + '/y?a=1#password=RawPwSECRET81&b=2',
      title: 'T',
    }),
  );
  const r = await next('rules');
  assert.deepEqual(r.rules, { mask: [], disable: [], block: [] });
  // An agent joining sees the session's page masked.
  const live = await (
    await fetch(h.server + '/api/v1/sessions/' + s.id, {
      headers: { authorization: 'Bearer ' + key },
    })
  ).text();
  assert.ok(!live.includes('RawPwSECRET81'), 'live session page masked: ' + live);
  ws.send(JSON.stringify({ v: 1, t: 'exit' }));
  await new Promise((res) => ws.on('close', res));
  await new Promise((res) => setTimeout(res, 300));
  const hist = await history(s.id);
  assert.ok(
    hist.includes('b=2') && hist.includes('q=1'),
    'the pages are recorded: ' + hist.slice(0, 400),
  );
  for (const x of ['RawTokSECRET80', 'RawPwSECRET81'])
    assert.ok(!hist.includes(x), `"${x}" is in the history: ${hist.slice(0, 400)}`);
});

test('attack: in write mode the agent clicks SVG links (href, xlink:href) to another site: refused, the page stays', {
  skip,
}, async () => {
  const c = await h.customer('svglinks.html');
  const id = await h.start(c);
  const a = await h.agent(id);
  a.customer = c;
  await collectNotes(a);
  await writeMode(c, a);
  await agentClick(a, '#sxr');
  await agentClick(a, '#shr');
  await waitFor(a, () => window.notes.filter((n) => n === 'origin').length === 2, null, 5000).catch(
    () => {},
  );
  assert.equal(
    await c.evaluate(() => location.href).catch(() => 'gone'),
    h.origin + '/svglinks.html',
    'the page stayed',
  );
  assert.deepEqual(
    await a.evaluate(() => window.notes),
    ['origin', 'origin'],
    'the agent is told why',
  );
  // An SVG link on the site is followed as an HTML one is.
  await agentClick(a, '#sor');
  await c.waitForURL(h.origin + '/control2.html');
  await c.context().close();
  await a.context().close();
});
