// Attacks from the customer's side on the agent console. The customer's page may be hostile (a
// compromised or malicious site): it can send anything over the customer WebSocket, not only
// what our customer script sends, and the server relays page content without reading it. So
// the console trusts nothing it receives: it shows only its own words, bounds what it inflates
// and builds, and rebuilds the page so that nothing runs and nothing is fetched but through our
// proxy. Each test here plays such a customer and fails if the console gives way.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createDeflateRaw } from 'node:zlib';
import { setup, requirements, rawCustomer, waitFor } from './harness.mjs';

const skip = requirements();
/** @type {Awaited<ReturnType<typeof setup>>} */
let h;
before(async () => { if (!skip) h = await setup(); });
after(async () => { if (h) await h.close(); });

/** A plain page as a snapshot's `d` (format: web/customer/FORMAT.md). */
const PLAIN = ['#d', 0, 0, ['html', 0, 0, ['head', 0, 0, ['title', 0, 0, 'Raw']],
  ['body', 0, 0, ['p', { id: 'hello' }, 0, 'hello from a raw customer']]]];

/**
 * Watches the agent page for signs of an attack: script effects (`pwned` on the console's
 * window), dialogs, CSP violations, and every toast the console shows (they last 5 s).
 */
async function watch(a) {
  const dialogs = [];
  a.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  await a.evaluate(() => {
    window.__toasts = [];
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.blockedURI));
    new MutationObserver((l) => {
      for (const r of l) {
        for (const n of r.addedNodes) {
          if (n.nodeType === 1 && n.classList.contains('cbc-toast')) window.__toasts.push(n.textContent);
        }
      }
    }).observe(document.body, { subtree: true, childList: true });
  });
  return { dialogs };
}

/** A raw customer with an agent watching it, the agent's view showing `PLAIN`. */
async function rawSession() {
  const raw = rawCustomer(h);
  const id = await raw.start();
  const agent = h.agent(id);
  await raw.joined();
  raw.snapshot({ d: PLAIN, sh: {} });
  const a = await agent;
  return { raw, a, id };
}

test('a hostile customer\'s notices, title, URL and viewport never become markup or words of its own in the console', { skip }, async () => {
  const { raw, a } = await rawSession();
  const { dialogs } = await watch(a);
  const payload = '<img src=x onerror="window.top.pwned=\'notice\'">';
  const phish = 'Your account is locked: call +1 555 0100 now';
  // Codes outside the console's table, prototype names, non-strings, markup everywhere.
  const notices = [
    { code: payload, re: payload, i: payload },
    { code: phish },
    { code: 'toString' }, { code: 'constructor' }, { code: '__proto__' },
    { code: { toString: 1 } }, { code: ['masked'] }, { code: 12 }, {},
    { code: 'submit', re: payload },
  ];
  for (const n of notices) raw.send('notice', n);
  raw.send('viewport', { w: payload, h: phish });
  const url = 'javascript:window.top.pwned="url"//' + payload;
  raw.snapshot({ d: PLAIN, sh: {} }, { url, title: payload, w: payload, h: phish });
  await waitFor(a, (n) => window.__toasts.length >= n, 1, 5000);
  await new Promise((r) => setTimeout(r, 800));
  const seen = await a.evaluate(() => ({
    toasts: window.__toasts,
    pwned: window.pwned,
    title: document.getElementById('title').textContent,
    titleKids: document.getElementById('title').children.length,
    url: document.getElementById('url').textContent,
    vp: document.getElementById('vp').textContent,
    // Outside the view: the console's own document holds no image or handler from the customer.
    imgs: document.querySelectorAll('img').length,
    handlers: Array.from(document.querySelectorAll('*')).filter((e) => Array.from(e.attributes).some((x) => /^on/i.test(x.name))).length,
  }));
  assert.equal(seen.pwned, undefined, 'a script ran in the console');
  assert.deepEqual(dialogs, []);
  assert.equal(seen.imgs, 0);
  assert.equal(seen.handlers, 0);
  // Toasts say only the console's own words: the unknown codes a fixed generic sentence.
  assert.ok(seen.toasts.length >= 2, JSON.stringify(seen.toasts));
  for (const t of seen.toasts) {
    assert.doesNotMatch(t, /<|onerror|555|locked|function|object|proto|constructor|\[|12/i, 'customer words in a toast: ' + t);
  }
  assert.ok(seen.toasts.includes('Only the customer can submit forms.'), JSON.stringify(seen.toasts));
  // The title and the URL are the customer's own words, shown as text (never parsed as HTML).
  assert.equal(seen.title, payload);
  assert.equal(seen.titleKids, 0);
  assert.equal(seen.url, url);
  // A viewport is numbers only: the console keeps the last real one.
  assert.equal(seen.vp, '800 × 600');
  raw.close();
  await a.context().close();
});

/** `size` bytes of JSON-looking text deflated (streamed: the bomb is never whole in memory here). */
function bomb(size) {
  return new Promise((resolve, reject) => {
    const z = createDeflateRaw({ level: 9 });
    const out = [];
    z.on('data', (d) => out.push(d));
    z.on('end', () => resolve(Buffer.concat(out)));
    z.on('error', reject);
    z.write('{"d":["#d",0,0,"');
    const block = Buffer.alloc(1 << 20, 0x61);
    let left = size;
    const more = () => {
      while (left > 0) {
        left -= block.length;
        if (!z.write(block)) return void z.once('drain', more);
      }
      z.end('"]}');
    };
    more();
  });
}

/** A snapshot's JSON nested `depth` deep: a few bytes compressed, a pathological tree. */
const deepJson = (depth) => '{"d":["#d",0,0,["html",0,0,["body",0,0,' + '["b",0,0,'.repeat(depth) + '"x"' + ']'.repeat(depth) + ']]]}';
/** A chain of `depth` elements, as one serialized node. */
const chain = (depth) => {
  let x = 'x';
  for (let k = 0; k < depth; k++) x = ['b', 0, 0, x];
  return x;
};

test('a snapshot bomb (inflating to 1 GiB, or too many or too deep nodes) is refused; the console stays alive', { skip }, async () => {
  const { raw, a } = await rawSession();
  await watch(a);
  const gib = await bomb(1 << 30);
  assert.ok(gib.length < 2 << 20, 'a small bomb: ' + gib.length);
  const refusals = () => a.evaluate(() => window.cobrowseAgent.refused.slice());
  const t0 = Date.now();
  raw.snapshot(null, { raw: gib });
  await waitFor(a, () => window.cobrowseAgent.refused.length >= 1, null, 30000);
  let r = await refusals();
  assert.match(r[0], /too large/, r[0]);
  // The console says so in words, keeps the view it had and answers at once.
  const shown = await a.evaluate(() => ({
    h: document.getElementById('notice-h').textContent,
    p: document.getElementById('notice-p').textContent,
    hello: !!window.cobrowseAgent.mirror.frame.contentDocument.getElementById('hello'),
  }));
  assert.match(shown.h, /could not be shown/i, JSON.stringify(shown));
  assert.match(shown.p, /64 MiB/, JSON.stringify(shown));
  assert.ok(shown.hello, 'the previous view is gone');
  // Its memory stayed small: the inflation stopped at the bound, the 1 GiB never existed.
  const heap = await a.evaluate(() => performance.memory.usedJSHeapSize);
  assert.ok(heap < 200 << 20, 'JS heap ' + heap);
  console.log(`bomb refused in ${Date.now() - t0} ms`);

  // Too many nodes (2 million tiny ones, 12 MB of JSON) and too deep a tree: refused before a
  // single element is built.
  const many = ['#d', 0, 0, ['html', 0, 0, ['body', 0, 0, ...Array.from({ length: 2e6 }, () => ['i'])]]];
  raw.snapshot({ d: many, sh: {} });
  await waitFor(a, () => window.cobrowseAgent.refused.length >= 2, null, 30000);
  raw.snapshot(null, { json: deepJson(20000) });
  await waitFor(a, () => window.cobrowseAgent.refused.length >= 3, null, 30000);
  r = await refusals();
  assert.match(r[1], /nodes/, r[1]);
  assert.match(r[2], /deep/, r[2]);
  // Changes are bounded the same way: subtrees of 100 added one under the other (each message
  // small and shallow) stop at the depth bound, refused, and a resync is asked.
  raw.snapshot({ d: PLAIN, sh: {} });
  await waitFor(a, () => window.cobrowseAgent.snapshots >= 2, null, 10000);
  let parent = 6, next = 9;
  for (let k = 0; k < 15; k++) {
    raw.send('mutation', { a: [[parent, 0, next, chain(100)]] });
    parent = next + 99;
    next += 101;
  }
  await waitFor(a, () => window.cobrowseAgent.refused.length >= 4, null, 10000);
  r = await refusals();
  assert.match(r[3], /deep/, r[3]);
  const depth = await a.evaluate(() => {
    let d = 0;
    for (let n = window.cobrowseAgent.mirror.frame.contentDocument.body; n.lastElementChild; n = n.lastElementChild) d++;
    return d;
  });
  assert.ok(depth <= 1000, 'view depth ' + depth);
  // And an honest snapshot afterwards is shown.
  raw.snapshot({ d: PLAIN, sh: {} });
  await waitFor(a, () => window.cobrowseAgent.snapshots >= 3, null, 10000);
  assert.ok(await a.evaluate(() => !!window.cobrowseAgent.mirror.frame.contentDocument.getElementById('hello')));
  raw.close();
  await a.context().close();
});
