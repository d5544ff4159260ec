// Attacks from the customer's side on the agent console. The customer's page may be hostile (a
// compromised or malicious site): it can send anything over the customer WebSocket, not only
// what our customer script sends, and the server relays page content without reading it. So
// the console trusts nothing it receives: it shows only its own words, bounds what it inflates
// and builds, and rebuilds the page so that nothing runs and nothing is fetched but through our
// proxy. Each test here plays such a customer and fails if the console gives way.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { createDeflateRaw } from 'node:zlib';
import { rawCustomer, requirements, setup, waitFor } from './harness.mjs';

const skip = requirements();
/** @type {Awaited<ReturnType<typeof setup>>} */
let h;
before(async () => {
  if (!skip) h = await setup();
});
after(async () => {
  if (h) await h.close();
});

/** A plain page as a snapshot's `d` (format: web/customer/FORMAT.md). */
const PLAIN = [
  '#d',
  0,
  0,
  [
    'html',
    0,
    0,
    ['head', 0, 0, ['title', 0, 0, 'Raw']],
    ['body', 0, 0, ['p', { id: 'hello' }, 0, 'hello from a raw customer']],
  ],
];

/**
 * Watches the agent page for signs of an attack: script effects (`pwned` on the console's
 * window), dialogs, CSP violations, and every toast the console shows (they last 5 s).
 */
async function watch(a) {
  const dialogs = [];
  a.on('dialog', (d) => {
    dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  await a.evaluate(() => {
    window.__toasts = [];
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__violations.push(e.blockedURI),
    );
    new MutationObserver((l) => {
      for (const r of l) {
        for (const n of r.addedNodes) {
          if (n.nodeType === 1 && n.classList.contains('cbc-toast'))
            window.__toasts.push(n.textContent);
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

test("a hostile customer's notices, title, URL and viewport never become markup or words of its own in the console", {
  skip,
}, async () => {
  const { raw, a } = await rawSession();
  const { dialogs } = await watch(a);
  const payload = '<img src=x onerror="window.top.pwned=\'notice\'">';
  const phish = 'Your account is locked: call +1 555 0100 now';
  // Codes outside the console's table, prototype names, non-strings, markup everywhere.
  const notices = [
    { code: payload, re: payload, i: payload },
    { code: phish },
    { code: 'toString' },
    { code: 'constructor' },
    { code: '__proto__' },
    { code: { toString: 1 } },
    { code: ['masked'] },
    { code: 12 },
    {},
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
    handlers: Array.from(document.querySelectorAll('*')).filter((e) =>
      Array.from(e.attributes).some((x) => /^on/i.test(x.name)),
    ).length,
  }));
  assert.equal(seen.pwned, undefined, 'a script ran in the console');
  assert.deepEqual(dialogs, []);
  assert.equal(seen.imgs, 0);
  assert.equal(seen.handlers, 0);
  // Toasts say only the console's own words: the unknown codes a fixed generic sentence.
  assert.ok(seen.toasts.length >= 2, JSON.stringify(seen.toasts));
  for (const t of seen.toasts) {
    assert.doesNotMatch(
      t,
      /<|onerror|555|locked|function|object|proto|constructor|\[|12/i,
      'customer words in a toast: ' + t,
    );
  }
  assert.ok(
    seen.toasts.includes('Only the customer can submit forms.'),
    JSON.stringify(seen.toasts),
  );
  assert.ok(
    seen.toasts.includes("The customer's page did not carry out that action."),
    JSON.stringify(seen.toasts),
  );
  // The title and the URL are the customer's own words, shown as text (never parsed as HTML).
  assert.equal(seen.title, payload);
  assert.equal(seen.titleKids, 0);
  assert.equal(seen.url, url);
  // A viewport is numbers only: the console keeps the last real one.
  assert.equal(seen.vp, '800 × 600');
  raw.close();
  await a.context().close();
});

/**
 * `size` bytes of JSON-looking text deflated (streamed: the bomb is never whole in memory here).
 */
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
const deepJson = (depth) =>
  '{"d":["#d",0,0,["html",0,0,["body",0,0,' +
  '["b",0,0,'.repeat(depth) +
  '"x"' +
  ']'.repeat(depth) +
  ']]]}';
/** A chain of `depth` elements, as one serialized node. */
const chain = (depth) => {
  let x = 'x';
  for (let k = 0; k < depth; k++) x = ['b', 0, 0, x];
  return x;
};

test('a snapshot bomb (inflating to 1 GiB, or too many or too deep nodes) is refused; the console stays alive', {
  skip,
}, async () => {
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
  const many = [
    '#d',
    0,
    0,
    ['html', 0, 0, ['body', 0, 0, ...Array.from({ length: 2e6 }, () => ['i'])]],
  ];
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
  let parent = 6,
    next = 9;
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
    for (
      let n = window.cobrowseAgent.mirror.frame.contentDocument.body;
      n.lastElementChild;
      n = n.lastElementChild
    )
      d++;
    return d;
  });
  assert.ok(depth <= 1000, 'view depth ' + depth);
  // Moves too: shallow chains side by side, then each moved under the deepest of the previous.
  raw.snapshot({ d: PLAIN, sh: {} });
  await waitFor(a, () => window.cobrowseAgent.snapshots >= 3, null, 10000);
  const bases = Array.from({ length: 12 }, (_, k) => 200000 + k * 101);
  raw.send('mutation', { a: bases.map((b) => [6, 0, b, chain(100)]) });
  for (let k = 1; k < bases.length; k++)
    raw.send('mutation', { a: [[bases[k - 1] + 99, 0, bases[k]]] });
  await waitFor(a, () => window.cobrowseAgent.refused.length >= 5, null, 10000);
  r = await refusals();
  assert.match(r[4], /deep/, r[4]);
  const moved = await a.evaluate(() => {
    let max = 0;
    const walk = (n, d) => {
      max = Math.max(max, d);
      for (let c = n.firstElementChild; c; c = c.nextElementSibling) walk(c, d + 1);
    };
    walk(window.cobrowseAgent.mirror.frame.contentDocument.body, 0);
    return max;
  });
  assert.ok(moved <= 1000, 'view depth after moves ' + moved);
  // And an honest snapshot afterwards is shown.
  raw.snapshot({ d: PLAIN, sh: {} });
  await waitFor(a, () => window.cobrowseAgent.snapshots >= 4, null, 10000);
  assert.ok(
    await a.evaluate(
      () => !!window.cobrowseAgent.mirror.frame.contentDocument.getElementById('hello'),
    ),
  );
  raw.close();
  await a.context().close();
});

/**
 * Fails, and records, every request of the agent's browser that is not for the server's own
 * origin: the rebuild must send everything through /proxy, so the fixture's origins and
 * http://evil.example see nothing from the agent (and not because the CSP had to stop it).
 * @param {string[]} offsite
 */
const guard = (offsite) => (ctx) =>
  ctx.route('**/*', (route) => {
    const u = route.request().url();
    if (new URL(u).origin === h.server) return route.continue();
    offsite.push(u);
    return route.abort();
  });

/** What the view holds that could run or navigate, in every document of it (frames included). */
function viewState() {
  const docs = [];
  const wins = [];
  const walk = (d) => {
    if (!d) return;
    docs.push(d);
    wins.push(d.defaultView);
    for (const f of d.querySelectorAll('iframe, frame')) walk(f.contentDocument);
    for (const el of d.querySelectorAll('*'))
      if (el.shadowRoot)
        for (const f of el.shadowRoot.querySelectorAll('iframe')) walk(f.contentDocument);
  };
  walk(window.cobrowseAgent.mirror.frame.contentDocument);
  const all = docs.flatMap((d) => Array.from(d.querySelectorAll('*')));
  const attrs = (el) => Array.from(el.attributes).filter((x) => !x.name.startsWith('data-cb-'));
  return {
    pwned: [window.pwned, ...wins.map((w) => w && w.pwned)].filter((x) => x !== undefined),
    scripts: all.filter((e) => e.localName === 'script').length,
    handlers: all.filter((e) => attrs(e).some((x) => /^on/i.test(x.name))).map((e) => e.localName),
    scriptUrls: all
      .filter((e) =>
        attrs(e).some((x) =>
          // A browser drops control characters from a URL, so must the check.
          // biome-ignore lint/suspicious/noControlCharactersInRegex: see above
          /^\s*(javascript|vbscript|data:text\/html)/i.test(x.value.replace(/[\x00-\x20]/g, '')),
        ),
      )
      .map((e) => e.outerHTML.slice(0, 120)),
    hrefAnimations: all.filter(
      (e) =>
        /^(animate|set)$/.test(e.localName) && /href/i.test(e.getAttribute('attributeName') || ''),
    ).length,
    fetchers: all
      .filter((e) =>
        e.matches(
          '[srcdoc], meta[http-equiv], form[action], [formaction], [ping], [target], [download], object, embed, base[href], link[href]:not([data-cb-link])',
        ),
      )
      .map((e) => e.outerHTML.slice(0, 120)),
    frameUrls: wins
      .map((w) => w && w.location.href)
      .filter((u) => u && !/^(about:|http:\/\/127\.0\.0\.1:\d+\/agent\/)/.test(u)),
    // The view and every frame in it: sandboxed, same origin only (no scripts, forms, pop-ups,
    // navigation).
    sandboxes: [
      window.cobrowseAgent.mirror.frame,
      ...all.filter((e) => /^i?frame$/.test(e.localName)),
    ]
      .map((f) => f.getAttribute('sandbox'))
      .filter((v) => v !== 'allow-same-origin'),
  };
}

/** Waits until the agent's browser fetched each tagged resource, through the proxy. */
async function proxied(a, tags) {
  const end = Date.now() + 5000;
  for (;;) {
    const got = a.requests
      .filter((u) => u.startsWith(h.server + '/proxy?'))
      .map(decodeURIComponent);
    const missing = tags.filter((t) => !got.some((u) => u.includes(t)));
    if (!missing.length || Date.now() > end) return missing;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const CORPUS = {
  'hostile.html': [
    '?img',
    '?css',
    '?inline',
    '?svgimg',
    '?source',
    '?poster',
    '?crossorigin',
    '?import',
    '?late',
  ],
  'hostile-corpus.html': [
    '?import2',
    '?importstring',
    '?esc1',
    '?esc2',
    '?cprop',
    '?cprop2',
    '?imageset',
    '?wimageset',
    '?relative',
    '?attresc',
    '?attrset',
    '?srcset',
    '?poster2',
    '?source3',
    '?tablebg',
    '?borderimage',
    '?mask',
    '?liststyle',
    '?content',
    '?font2',
    '?lateattr',
    '?lateset',
    '?latecprop',
    '?changedattr',
  ],
};

for (const [fixture, tags] of Object.entries(CORPUS)) {
  test(`hostile corpus (${fixture}): nothing runs in the agent's view, no request leaves but for the server, through /proxy`, {
    skip,
  }, async () => {
    const c = await h.customer(fixture, {
      onPage: (p) => p.context().route(/^https?:\/\/evil\.example\//, (r) => r.abort()),
    });
    const id = await h.start(c);
    const offsite = [];
    const a = await h.agent(id, { onContext: guard(offsite) });
    const { dialogs } = await watch(a);
    const url = a.url();
    await new Promise((r) => setTimeout(r, 1000));
    await c.evaluate(() => window.fixtureChanges());
    // every load, animation or navigation had its time
    await new Promise((r) => setTimeout(r, 1500));
    const s = await a.evaluate(viewState);
    assert.deepEqual(s.pwned, [], 'a script ran');
    assert.deepEqual(dialogs, [], 'a dialog opened');
    assert.equal(s.scripts, 0, 'scripts in the view');
    assert.deepEqual(s.handlers, [], 'handlers in the view');
    assert.deepEqual(s.scriptUrls, [], 'script URLs in the view');
    assert.equal(s.hrefAnimations, 0, 'SMIL animating an href');
    assert.deepEqual(s.fetchers, [], 'attributes or elements that fetch or navigate');
    assert.deepEqual(s.frameUrls, [], 'a frame of the view navigated');
    assert.deepEqual(s.sandboxes, [], 'frames of the view not sandboxed as they should');
    assert.equal(a.url(), url, 'the agent page navigated');
    const missing = await proxied(a, tags);
    assert.deepEqual(
      offsite,
      [],
      "requests from the agent's browser to another origin than the server",
    );
    assert.deepEqual(a.csp, [], 'URLs left for the CSP to block');
    assert.deepEqual(await a.evaluate(() => window.__violations), []);
    assert.deepEqual(missing, [], 'not loaded through the proxy');
    await c.evaluate(() => window.Cobrowse.stop());
    await c.context().close();
    await a.context().close();
  });
}

const E = 'http://evil.example';
const SVG = 'http://www.w3.org/2000/svg';
const MATH = 'http://www.w3.org/1998/Math/MathML';
/**
 * A page our customer script would never send, crafted as a hostile page can: scripts in every
 * namespace and case, handlers, script URLs behind whitespace and NULs, frames with their own
 * scripts, plug-ins, hints, CSS fetching through escapes, image-set() and @import strings, and
 * URLs of a foreign origin everywhere. (JSON: `\\75` is the CSS escape `\75`.)
 */
const CRAFTED = [
  '#d',
  0,
  0,
  [
    'html',
    0,
    0,
    [
      'head',
      0,
      0,
      ['script', 0, 0, "top.pwned='script'"],
      ['SCRIPT', 0, 0, "top.pwned='SCRIPT'"],
      ['script', 0, { ns: SVG }, "top.pwned='svg-script'"],
      ['meta', { 'http-equiv': 'refresh', content: '0;url=javascript:top.pwned="refresh"' }],
      ['meta', { 'HTTP-EQUIV': 'refresh', content: '0;url=' + E + '/refresh' }],
      ['base', { href: E + '/' }],
      ['link', { rel: 'stylesheet', href: E + '/link.css' }],
      [
        'link',
        {
          rel: 'preload',
          as: 'image',
          href: E + '/preload.png',
          imagesrcset: E + '/preloadset.png 1x',
        },
      ],
      ['link', { rel: 'prefetch', href: E + '/prefetch' }],
      ['link', { rel: 'icon', href: E + '/favicon.ico' }],
      ['link', { rel: 'stylesheet', href: `#");.inject1{background:url(${E}/inject-link.png)}` }],
      [
        'link',
        {
          rel: 'stylesheet',
          href: `data:image/png,");.inject2{background:url(${E}/inject-link2.png)}`,
        },
      ],
      [
        'style',
        0,
        {
          css: `@import "${E}/i.css"; @\\69mport '${E}/i2.css';
      .a{background:\\75 rl(${E}/a.png)} .b{background:image-set("${E}/b.png" 1x)} .c{--x:"${E}/c.png"}
      .d{background:url(javascript:top.pwned=1)} body{cursor:u\\rl(${E}/cursor.png),auto}`,
        },
      ],
      ['style', 0, 0, `.raw{background:url(${E}/raw.png)}`],
    ],
    [
      'body',
      { onload: "top.pwned='body'", ONLOAD: "top.pwned='BODY'", background: E + '/body.png' },
      0,
      [
        'img',
        {
          id: 'img',
          src: E + '/img.png',
          onerror: "top.pwned='img'",
          srcset: `${E}/s1.png 1x, javascript:top.pwned=2 2x`,
        },
      ],
      ['img', { src: 'javascript:top.pwned="imgjs"' }],
      ['img', { src: '//evil.example/protocol-relative.png' }],
      [
        'a',
        { href: ' \tjavascript:top.pwned="a"', ping: E + '/ping', target: '_top', download: '' },
        0,
        'a',
      ],
      ['a', { href: 'java\u0000script:top.pwned="a0"' }, 0, 'a0'],
      ['a', { href: 'data:text/html,<script>top.pwned=1</script>' }, 0, 'data'],
      [
        'iframe',
        {
          srcdoc: "<script>top.pwned='srcdoc'</script>",
          src: E + '/frame',
          sandbox: 'allow-scripts allow-same-origin',
        },
        {
          f: [
            '#d',
            0,
            0,
            [
              'html',
              0,
              0,
              [
                'body',
                { onload: "top.pwned='frame-body'" },
                0,
                ['script', 0, 0, "top.pwned='frame-script'"],
                ['img', { src: E + '/frame-img.png' }],
              ],
            ],
          ],
        },
      ],
      ['iframe', { src: 'javascript:top.pwned="iframe-js"' }],
      ['frame', { src: E + '/frame2' }],
      ['object', { data: E + '/o.swf' }],
      ['embed', { src: E + '/e.swf' }],
      ['portal', { src: E + '/portal' }],
      [
        'form',
        { action: E + '/steal', method: 'post' },
        0,
        ['button', { formaction: 'javascript:top.pwned="formaction"' }, 0, 'go'],
        ['input', { type: 'image', src: E + '/input.png' }],
      ],
      [
        'div',
        { id: 'style1', class: 'a', style: `background:\\75 rl(${E}/style.png);min-height:10px` },
        0,
        'style',
      ],
      [
        'div',
        { class: 'b', style: `background-image:image-set('${E}/style2.png' 1x);min-height:10px` },
        0,
        'style2',
      ],
      [
        'svg',
        { width: '100', height: '50' },
        0,
        ['a', { 'xlink:href': 'javascript:top.pwned="svg-a"' }, 0, ['text', { y: '10' }, 0, 'x']],
        ['animate', { attributeName: 'href', values: 'javascript:top.pwned="animate"' }],
        ['set', { attributeName: 'xlink:href', to: 'javascript:top.pwned="set"' }],
        ['animate', { attributeName: 'fill', values: `url(${E}/paint.svg#p)` }],
        ['image', { href: E + '/svg-image.png', width: '10', height: '10' }],
        ['use', { href: E + '/use.svg#a' }],
        ['feImage', { 'xlink:href': E + '/fe.png' }],
        [
          'rect',
          {
            id: 'rect',
            width: '10',
            height: '10',
            cursor: `\\75 rl(${E}/svg-cursor.png), auto`,
            fill: `\\75 rl(${E}/fill.svg#x)`,
          },
        ],
        [
          'foreignObject',
          { width: '50', height: '50' },
          0,
          ['iframe', { srcdoc: '<script>top.pwned="fo"</script>' }],
          ['script', 0, 0, 'top.pwned="fo-script"'],
        ],
        ['script', { href: E + '/svg.js' }],
      ],
      [
        'math',
        0,
        0,
        ['mi', { href: 'javascript:top.pwned="math"' }, 0, 'x'],
        ['script', 0, { ns: MATH }, 'top.pwned="math-script"'],
      ],
      [
        'div',
        0,
        {
          s: [
            '#s',
            0,
            0,
            ['script', 0, 0, 'top.pwned="shadow"'],
            ['img', { src: E + '/shadow.png', onerror: 'top.pwned="shadow-img"' }],
          ],
        },
      ],
      [
        'video',
        { poster: E + '/poster.png', src: E + '/v.mp4', autoplay: '' },
        0,
        ['source', { src: E + '/s.mp4' }],
        ['track', { src: E + '/t.vtt' }],
      ],
      ['table', { background: E + '/table.png' }],
      [
        'template',
        0,
        0,
        ['img', { src: E + '/template.png' }],
        ['script', 0, 0, 'top.pwned="template"'],
      ],
      ['noscript', 0, 0, ['img', { src: E + '/noscript.png', onerror: 'top.pwned="noscript"' }]],
      ['div', { 'on\u0000load': 'x', '"><img src=x onerror=top.pwned=1>': 'x' }, 0, 'names'],
      ['div', { class: 'a', style: 'min-height:10px' }, 0, 'a'],
      ['div', { class: 'b', style: 'min-height:10px' }, 0, 'b'],
      ['div', { class: 'sh', style: 'min-height:10px' }, 0, 'adopted'],
      ['div', { class: 'inject1 inject2', style: 'min-height:10px' }, 0, 'injected'],
      ['div', { id: 'blocked' }, { b: [10, 10, `block;background:url(${E}/blocked.png)`] }],
      ['div', { id: 'blocked2' }, { b: [`10px;background:url(${E}/blocked2.png)`, 10] }],
      ['p', { id: 'done' }, 0, 'crafted'],
    ],
  ],
];

test('a crafted snapshot and crafted changes (never from our script): nothing runs, nothing leaves but for the server', {
  skip,
}, async () => {
  const raw = rawCustomer(h);
  const id = await raw.start();
  const offsite = [];
  const agent = h.agent(id, { onContext: guard(offsite) });
  await raw.joined();
  raw.snapshot({ d: CRAFTED, sh: {} });
  const a = await agent;
  const { dialogs } = await watch(a);
  const url = a.url();
  const ids = await a.evaluate(() => {
    const m = window.cobrowseAgent.mirror,
      d = m.frame.contentDocument;
    const frames = d.querySelectorAll('iframe');
    return {
      frame: m.ids.get(frames[0]),
      frame2: m.ids.get(frames[1]),
      body: m.ids.get(d.body),
      img: m.ids.get(d.getElementById('img')),
      rect: m.ids.get(d.getElementById('rect')),
      style1: m.ids.get(d.getElementById('style1')),
      root: 1,
    };
  });
  // The same tricks as changes: attributes set, a subtree added, sheets replaced.
  raw.send('mutation', {
    at: [
      [ids.img, 'src', 'javascript:top.pwned="late-src"'],
      [ids.img, 'onclick', 'top.pwned="late-onclick"'],
      [ids.rect, 'cursor', `u\\rl(${E}/late-cursor.png), auto`],
      [ids.style1, 'style', `background:\\75 rl(${E}/late-style.png)`],
      [ids.body, 'background', E + '/late-body.png'],
      [ids.frame, 'sandbox', null],
      [ids.frame2, 'sandbox', 'allow-scripts allow-same-origin'],
    ],
    a: [
      [
        ids.body,
        0,
        100000,
        [
          'div',
          0,
          0,
          ['script', 0, 0, 'top.pwned="late-script"'],
          ['iframe', { srcdoc: '<script>top.pwned="late-srcdoc"</script>' }],
          ['img', { src: E + '/late.png', onerror: 'top.pwned="late-img"' }],
          [
            'svg',
            0,
            0,
            ['animate', { attributeName: 'HREF', values: 'javascript:top.pwned="late-animate"' }],
          ],
          ['style', 0, { css: `.late{background:image-set("${E}/late-set.png" 1x)}` }],
        ],
      ],
    ],
  });
  raw.send('style', {
    sh: { 1: `@import "${E}/adopted.css"; .sh{background:\\75 rl(${E}/adopted.png)}` },
    as: [[ids.root, [1]]],
  });
  // The customer's pointer: numbers only reach the console's own cursor.
  raw.send('pointer', { x: '0px) scale(40', y: `0px);background:url(${E}/pointer.png`, i: 0 });
  await new Promise((r) => setTimeout(r, 2000));
  const cursor = await a.evaluate(() => document.getElementById('cursor').style.transform);
  assert.doesNotMatch(cursor, /scale|url/, cursor);
  const s = await a.evaluate(viewState);
  assert.equal(
    await a.evaluate(
      () => window.cobrowseAgent.mirror.frame.contentDocument.getElementById('done').textContent,
    ),
    'crafted',
  );
  assert.deepEqual(s.pwned, [], 'a script ran');
  assert.deepEqual(dialogs, [], 'a dialog opened');
  assert.equal(s.scripts, 0, 'scripts in the view');
  assert.deepEqual(s.handlers, [], 'handlers in the view');
  assert.deepEqual(s.scriptUrls, [], 'script URLs in the view');
  assert.equal(s.hrefAnimations, 0, 'SMIL animating an href');
  assert.deepEqual(s.fetchers, [], 'attributes or elements that fetch or navigate');
  assert.deepEqual(s.frameUrls, [], 'a frame of the view navigated');
  assert.deepEqual(s.sandboxes, [], 'frames of the view not sandboxed as they should');
  assert.equal(a.url(), url, 'the agent page navigated');
  assert.deepEqual(
    offsite,
    [],
    "requests from the agent's browser to another origin than the server",
  );
  assert.deepEqual(a.csp, [], 'URLs left for the CSP to block');
  // What was rewritten went to our proxy (which refuses a foreign origin), never to the origin.
  const missing = await proxied(a, [
    '/s1.png',
    '/a.png',
    '/b.png',
    '/style.png',
    '/style2.png',
    '/late-style.png',
    '/late.png',
    '/adopted.png',
  ]);
  assert.deepEqual(missing, [], 'not sent through the proxy');
  raw.close();
  await a.context().close();
});

// The vectors are the server's too (src/proxy/css_urls.rs), for the stylesheets it proxies.
test('CSS: every URL the browser would fetch is found, however it is spelt (no browser needed)', async () => {
  const { rewriteCssUrls } = await import('../../web/agent/css-urls.js');
  const { cases } = JSON.parse(
    readFileSync(new URL('../fixtures/css-urls.json', import.meta.url), 'utf8'),
  );
  assert.ok(cases.length > 0);
  /** The vectors' mapping: fragments as they are, the rest marked as a URL or an import. */
  const mapped = (u, isImport) => (u.startsWith('#') ? u : (isImport ? 'import:' : 'url:') + u);
  for (const { name, css, urls, out } of cases) {
    const found = [];
    const rewritten = rewriteCssUrls(css, (u, isImport) => {
      found.push([u, isImport]);
      return mapped(u, isImport);
    });
    assert.deepEqual(found, urls, name);
    assert.equal(rewritten, out, name);
  }
});
