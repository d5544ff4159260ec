// Test harness for the browser tests: the real server (child process), a second origin
// serving the fixture pages (as a customer's website would), headless Chromium (and the
// customer in Firefox ESR with CUSTOMER_BROWSER=firefox), and the helpers that compare the
// customer's page with the agent's rebuilt view.
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { PNG } from 'pngjs';
import { FIREFOX, firefoxContext, launchFirefox } from './firefox.mjs';

const { ws: WS } = createRequire(import.meta.url)('playwright-core/lib/utilsBundle');

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = path.join(ROOT, 'tests/browser/fixtures');
const BIN = path.join(ROOT, 'target/debug/cobrowse');
const CHROMIUM = '/usr/bin/chromium';
export const CUSTOMER_VIEWPORT = { width: 800, height: 600 };
/**
 * The customer's browser: `chromium`, or `firefox` (env CUSTOMER_BROWSER; the agent is always in
 * Chromium).
 */
export const CUSTOMER_BROWSER = process.env.CUSTOMER_BROWSER || 'chromium';
const IN_FIREFOX = CUSTOMER_BROWSER === 'firefox';
/** A test's `skip` when it cannot run with the customer in Firefox: `reason` then, else false. */
export const notInFirefox = (reason) => IN_FIREFOX && `customer in Firefox: ${reason}`;

/** Runs a `cobrowse` command on a data directory (`input` on its stdin); its output, trimmed. */
export function cli(dataDir, env, args, input) {
  return execFileSync(BIN, [...args, '--data-dir', dataDir], {
    input,
    env: { ...env, COBROWSE_LOG: 'error' },
  })
    .toString()
    .trim();
}

/**
 * Whether the tests can run here. Without Chromium (or Firefox ESR, when the customer is in
 * Firefox) they are skipped locally but FAIL under CI (env CI set), so that a missing install
 * never passes silently.
 */
export function requirements() {
  for (const [exe, pkg] of [
    [CHROMIUM, 'chromium'],
    ...(IN_FIREFOX ? [[FIREFOX, 'firefox-esr']] : []),
  ]) {
    if (existsSync(exe)) continue;
    if (process.env.CI) throw new Error(`${exe} is missing (CI): install Debian's ${pkg} package`);
    return `${exe} is missing`;
  }
  if (!['chromium', 'firefox'].includes(CUSTOMER_BROWSER))
    throw new Error(`CUSTOMER_BROWSER=${CUSTOMER_BROWSER}: chromium or firefox`);
  if (!existsSync(BIN)) {
    if (process.env.CI) throw new Error(`${BIN} is missing: run cargo build first`);
    return `${BIN} is missing (cargo build)`;
  }
  return false;
}

/**
 * Test-only npm packages the fixture pages may load (`/npm/<package>/…`): ES modules, stylesheets,
 * fonts.
 */
const NPM =
  /^\/npm\/(preact|htm|bootstrap|bootstrap-icons|@fortawesome\/fontawesome-free|@fontsource\/inter|@picocss\/pico|jquery|jquery-ui|react|react-dom|vue|flatpickr|nouislider|sortablejs|quill|tom-select|codemirror|@codemirror\/[\w-]+|@lezer\/[\w-]+|@marijn\/find-cluster-break|style-mod|w3c-keyname|crelt|react-select|@emotion\/[\w-]+|@babel\/runtime|@floating-ui\/[\w-]+|stylis|memoize-one|use-isomorphic-layout-effect|hoist-non-react-statics|react-is)\//;

/**
 * Serves tests/browser/fixtures (and NPM); `{{SERVER}}`, `{{ORIGIN}}` and `{{OTHER}}` in HTML/CSS
 * are filled in.
 */
function fixtureServer(vars) {
  const types = {
    html: 'text/html',
    css: 'text/css',
    js: 'text/javascript',
    mjs: 'text/javascript',
    svg: 'image/svg+xml',
    png: 'image/png',
    json: 'application/json',
    woff2: 'font/woff2',
  };
  const hits = [];
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    hits.push({ path: u.pathname, host: req.headers.host, ua: req.headers['user-agent'] || '' });
    const npm = NPM.test(u.pathname),
      dir = npm ? path.join(ROOT, 'node_modules') : FIXTURES;
    const file = path.join(
      dir,
      path.normalize(npm ? u.pathname.slice(4) : u.pathname).replace(/^([/\\])+/, ''),
    );
    if (!file.startsWith(dir) || !existsSync(file) || statSync(file).isDirectory()) {
      res.writeHead(404);
      return res.end('not found');
    }
    const ext = path.extname(file).slice(1);
    let body = readFileSync(file);
    if (ext === 'html' || ext === 'css' || ext === 'js')
      body = body.toString().replace(/\{\{(\w+)\}\}/g, (m, k) => vars[k] ?? m);
    res.writeHead(200, {
      'content-type': types[ext] || 'application/octet-stream',
      'cache-control': 'no-store',
    });
    res.end(body);
  });
  return new Promise((r) =>
    srv.listen(0, '127.0.0.1', () => r({ srv, hits, port: srv.address().port })),
  );
}

/**
 * Starts `cobrowse serve` (a child process) on a new data directory with `env`; resolves once it
 * listens, with its URL (`https://` when `env` names a certificate), the process and its output.
 */
export async function startServer(env) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'cobrowse-test-'));
  const proc = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('server did not start in 20 s:\n' + log)), 20000);
    const on = (d) => {
      log += d;
      const m = /listening on (https?:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    };
    proc.stdout.on('data', on);
    proc.stderr.on('data', on);
    proc.on('exit', (c) => reject(new Error('server exited with ' + c + ':\n' + log)));
  });
  return { url, proc, dataDir, log: () => log };
}

/**
 * Starts everything; call `close()` at the end. `opts.env`: extra server environment (e.g. short
 * timeouts), or a function of `{origin, other}` for settings that name the fixture origins.
 * `opts.browserArgs`: extra Chromium flags (e.g. to trust a test certificate).
 */
export async function setup(opts = {}) {
  const vars = {};
  const fx = await fixtureServer(vars);
  const origin = `http://127.0.0.1:${fx.port}`,
    other = `http://localhost:${fx.port}`;
  const env = {
    ...process.env,
    COBROWSE_ALLOWED_ORIGINS: JSON.stringify([origin]),
    COBROWSE_PROXY_ORIGINS: JSON.stringify([origin, other]),
    COBROWSE_LOG: process.env.COBROWSE_LOG || 'warn',
    ...(typeof opts.env === 'function' ? opts.env({ origin, other }) : opts.env),
  };
  const { url: server, proc, dataDir, log } = await startServer(env);
  Object.assign(vars, { SERVER: server, ORIGIN: origin, OTHER: other });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-gpu',
      '--font-render-hinting=none',
      ...(opts.browserArgs || []),
    ],
  });
  const firefox = IN_FIREFOX ? await launchFirefox() : null;
  let n = 0;
  const h = {
    server,
    origin,
    other,
    fixtureHits: fx.hits,
    browser,
    dataDir,
    proc,
    env,
    log,
    /** A signed-in agent token (each test uses its own agent: one session per agent). */
    token(name = 'agent' + ++n) {
      return cli(dataDir, env, ['token', 'agent', name]);
    },
    /** Runs a `cobrowse` command on this server's data directory. */
    cli: (args, input) => cli(dataDir, env, args, input),
    /**
     * Opens a fixture page (or a full URL) as the customer, in CUSTOMER_BROWSER (own browser
     * context; `opts`: its options, and `onPage`). In Firefox only `viewport` of the context
     * options applies (the profile grants the clipboard).
     */
    async customer(fixture, opts = {}) {
      // onPage(page): before the fixture loads (e.g. a frame tap)
      const { onPage, ...ctxOpts } = opts;
      const viewport = ctxOpts.viewport || CUSTOMER_VIEWPORT;
      const ctx = firefox
        ? await firefoxContext(firefox.browser, viewport)
        : await browser.newContext({ viewport, deviceScaleFactor: 1, ...ctxOpts });
      const page = await ctx.newPage();
      page.on('pageerror', (e) => console.log('[customer pageerror]', e.message));
      if (onPage) await onPage(page);
      await page.goto(/^https?:/.test(fixture) ? fixture : `${origin}/${fixture}`);
      await waitFor(page, () => window.Cobrowse && window.Cobrowse.v === 1, null, 10000);
      return page;
    },
    /** Starts a session from the customer page; returns its 9-digit id. */
    start: (page, opts) => page.evaluate((o) => window.Cobrowse.start(o).then((s) => s.id), opts),
    /**
     * Opens the agent view on a session (own browser context; `opts.onContext(ctx)` first) and
     * waits for the first snapshot.
     */
    async agent(id, opts = {}) {
      const ctx = await browser.newContext({
        viewport: { width: 1000, height: 800 },
        deviceScaleFactor: 1,
      });
      if (opts.onContext) await opts.onContext(ctx); // e.g. request routes, before anything loads
      const page = await ctx.newPage();
      const requests = [],
        csp = [];
      ctx.on('request', (r) => requests.push(r.url()));
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) csp.push(m.text());
      });
      page.on('pageerror', (e) => console.log('[agent pageerror]', e.message));
      const token = opts.token ?? h.token();
      await page.goto(`${server}/agent/?session=${id}${token ? '#token=' + token : ''}`);
      if (opts.wait !== false) {
        try {
          await waitFor(
            page,
            () => document.getElementById('state').dataset.state === 'live',
            null,
            15000,
          );
        } catch (e) {
          throw new Error(
            e.message +
              '\nagent saw:\n' +
              (await page
                .evaluate(() => window.cobrowseAgent && cobrowseAgent.trace.join('\n'))
                .catch(() => '?')),
          );
        }
      }
      return Object.assign(page, { requests, csp });
    },
    async close() {
      if (firefox) await firefox.close();
      await browser.close().catch(() => {});
      const gone = new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
      proc.kill('SIGTERM');
      fx.srv.close();
      // it writes its data directory until it exits
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return h;
}

/**
 * Polls `fn(arg)` in the page until truthy. (page.waitForFunction needs eval, which the
 * agent page's CSP rightly forbids; evaluate() is not subject to it.)
 */
export async function waitFor(page, fn, arg, timeout = 5000) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await page.evaluate(fn, arg).catch(() => false);
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + String(fn).slice(0, 120));
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Records a page's WebSocket frames: through CDP in Chromium (what really leaves the browser),
 * as the page hands them to its socket in Firefox (firefox.mjs). `texts()` yields every text
 * frame it sent, with the compressed snapshot chunks joined and inflated (so that a masked
 * value can be searched for); `received` the text frames it got.
 */
export async function tap(page) {
  const { frames, received } = page.socketFrames ? await page.socketFrames() : await cdpTap(page);
  return {
    frames,
    received,
    texts() {
      const out = [],
        run = [];
      for (const f of frames) {
        if (f.opcode === 1) {
          const m = JSON.parse(f.payloadData);
          if (m.t === 'snapshot') {
            const buf = Buffer.concat(run.splice(0).slice(-m.n));
            out.push(m.z === 'deflate-raw' ? inflateRawSync(buf).toString() : buf.toString());
          }
          out.push(f.payloadData);
        } else {
          const b = Buffer.from(f.payloadData, 'base64');
          if (b[1] === 1) run.push(b.subarray(6));
        }
      }
      return out;
    },
  };
}

/** CDP's frame events (Chromium): `{opcode, payloadData}` sent, and the text received. */
async function cdpTap(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const frames = [],
    received = [];
  cdp.on('Network.webSocketFrameSent', (e) => frames.push(e.response));
  cdp.on(
    'Network.webSocketFrameReceived',
    (e) => e.response.opcode === 1 && received.push(e.response.payloadData),
  );
  return { frames, received };
}

/**
 * Canonical form of a page, run in the page itself (no closures: it is sent as source).
 * Customer side: what the agent should show after masking. Agent side: what it shows,
 * with our bookkeeping (data-cb-*, proxy URLs) undone. Both yield the same shape:
 * text (string) or {t, a, c, s (shadow), f (frame document)}.
 */
export function canon(opt) {
  const { mode, mask = '', block = '' } = typeof opt === 'string' ? { mode: opt } : opt;
  const agent = mode === 'agent';
  const root = agent ? window.cobrowseAgent.mirror.frame.contentDocument : document;
  const URLA = /^(src|href|action|formaction|poster|data|background|cite|xlink:href|longdesc)$/;
  const unproxy = (u) => {
    const m = /^https?:\/\/[^/]+\/proxy\?url=([^&]*)/.exec(u);
    return m ? decodeURIComponent(m[1]) : u;
  };
  const abs = (u, base) => {
    const t = u.trim();
    if (!t || /^(#|data:|blob:|about:|javascript:|mailto:|tel:)/i.test(t)) return u;
    try {
      return new URL(t, base).href;
    } catch {
      return u;
    }
  };
  const cssUrls = (v, base) =>
    v.replace(/url\(\s*["']?([^"')]*)["']?\s*\)/g, (_m, u) => 'url(' + abs(unproxy(u), base) + ')');
  const maskSel = '[data-cobrowse-mask]' + (mask ? ',' + mask : ''),
    blockSel = '[data-cobrowse-block]' + (block ? ',' + block : '');
  const sensitive = (el) =>
    el.type === 'password' ||
    el.type === 'hidden' ||
    el.hasAttribute('data-was-password') ||
    /cc-number|cc-csc|one-time-code/.test(el.getAttribute('autocomplete') || '') ||
    !!el.closest(maskSel);
  const field = (el) => /^(input|textarea|select)$/.test(el.localName);
  /** A masked element, or in one (agent: marked by the view). */
  const hid = (n) => {
    for (; n; n = n.parentNode || n.host)
      if (
        n.nodeType === 1 &&
        (agent
          ? n.hasAttribute('data-cb-masked')
          : n.matches(maskSel) || (field(n) && sensitive(n)))
      )
        return true;
    return false;
  };
  /** What a masked element keeps of its attributes (serialize.js LAYOUT, FORMAT.md). */
  const LAYOUT =
    /^(class|id|style|type|dir|hidden|slot|width|height|size|cols|rows|colspan|rowspan|multiple|disabled|readonly|open|popover)$/;
  function attrs(el) {
    const o = {},
      base = el.baseURI;
    const raw = [];
    for (const at of el.attributes) {
      const n = at.name,
        v = at.value;
      if (/^on/i.test(n) || n === 'data-was-password') continue;
      if (agent) {
        if (n.startsWith('data-cb-')) {
          const orig = n.slice(8);
          if (
            ![
              'hover',
              'focus',
              'focus-within',
              'focus-visible',
              'masked',
              'undef',
              'blocked',
              'link',
              'inline',
              'canvas',
            ].includes(orig)
          )
            raw.push([orig, v]);
          continue;
        }
        if (el.hasAttribute('data-cb-' + n)) continue;
        if (n === 'sandbox' && /^i?frame$/.test(el.localName)) continue;
      }
      raw.push([n, v]);
    }
    const m = !agent && hid(el);
    for (let [n, v] of raw) {
      if (m && !LAYOUT.test(n)) continue;
      if (n === 'srcset')
        v = v
          .split(',')
          .map((c) => {
            const [u, ...d] = c.trim().split(/\s+/);
            return [abs(unproxy(u), base), ...d].join(' ');
          })
          .join(', ');
      else if (URLA.test(n)) v = abs(unproxy(v), base);
      else if (n === 'style') v = cssUrls(v, base);
      o[n] = v;
    }
    return o;
  }
  function node(n) {
    if (n.nodeType === 3) {
      const p = n.parentNode;
      if (agent || !p || !hid(p)) return n.data;
      // A masked option's label or textarea's text is not sent at all; other masked text as
      // bullets.
      return /^(option|textarea)$/.test(p.localName) ? null : n.data.replace(/\S/g, '•');
    }
    if (n.nodeType !== 1) return null;
    let t = n.localName;
    // Not shown by design: scripts and noscript (never sent), plug-ins and framesets (inert
    // placeholders in the view).
    if (
      /^(script|noscript)$/.test(t) ||
      n.hasAttribute('data-cobrowse-ui') ||
      (!agent && /^(object|embed|applet|portal|frameset)$/.test(t))
    )
      return null;
    if (agent && n.hasAttribute('data-cb-link')) t = 'link';
    if (agent ? n.hasAttribute('data-cb-blocked') : n.matches(blockSel)) return { t, a: {}, c: [] };
    const o = { t, a: attrs(n), c: [] };
    if (agent && t === 'link') delete o.a.inline;
    // Masked: a value of one length, and no choice shown (what a masked box or option shows is not
    // compared).
    const m = hid(n);
    if (t === 'input' || t === 'textarea') {
      if (n.type === 'checkbox' || n.type === 'radio') {
        if (!m) o.a[':checked'] = String(n.checked);
      } else if (n.type !== 'file') o.a[':value'] = !agent && m && n.value ? '••••••••' : n.value;
    }
    if (t === 'option' && !m) o.a[':selected'] = String(n.selected);
    if (t === 'dialog') o.a[':open'] = String(n.open);
    if (t !== 'style' && t !== 'link')
      for (let c = n.firstChild; c; c = c.nextSibling) {
        const x = node(c);
        if (x !== null) o.c.push(x);
      }
    const sr = n.shadowRoot || (!agent && window.__closedRoots && window.__closedRoots.get(n));
    if (sr) o.s = kids(sr);
    if (t === 'iframe') {
      try {
        const d = n.contentDocument;
        if (d && d.documentElement) o.f = kids(d);
      } catch {}
    }
    return o;
  }
  function kids(r) {
    const l = [];
    for (let c = r.firstChild; c; c = c.nextSibling) {
      const x = node(c);
      if (x !== null) l.push(x);
    }
    return l;
  }
  return kids(root);
}

/**
 * Waits until the agent's view equals the customer's page (canonical forms); returns both for
 * assertions.
 */
export async function converge(customer, agent, timeout = 5000, rules = {}) {
  const end = Date.now() + timeout;
  let c, a;
  for (;;) {
    c = JSON.stringify(await customer.evaluate(canon, { mode: 'customer', ...rules }), null, 1);
    a = JSON.stringify(await agent.evaluate(canon, { mode: 'agent', ...rules }), null, 1);
    if (c === a || Date.now() > end) return { customer: c, agent: a, equal: c === a };
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** First differing lines of two texts, for readable failures. */
export function diff(a, b, ctx = 3) {
  const x = a.split('\n'),
    y = b.split('\n');
  let i = 0;
  while (i < x.length && x[i] === y[i]) i++;
  return `first difference at line ${i + 1}:\n--- customer\n${x.slice(Math.max(0, i - ctx), i + ctx).join('\n')}\n--- agent\n${y.slice(Math.max(0, i - ctx), i + ctx).join('\n')}`;
}

/**
 * Fraction of pixels that differ by more than `tol` in any channel; sizes must match. With
 * `shift`, a pixel differs only when no pixel within `shift` px of it in the other picture
 * matches (both ways): two engines place the same glyphs a pixel apart.
 */
export function pixelDiff(pngA, pngB, tol = 40, shift = 0) {
  const a = PNG.sync.read(pngA),
    b = PNG.sync.read(pngB);
  if (a.width !== b.width || a.height !== b.height)
    return { ratio: 1, why: `sizes ${a.width}x${a.height} vs ${b.width}x${b.height}` };
  const { width: w, height: hh } = a;
  const near = (p, i, q, j) =>
    Math.abs(p[i] - q[j]) <= tol &&
    Math.abs(p[i + 1] - q[j + 1]) <= tol &&
    Math.abs(p[i + 2] - q[j + 2]) <= tol;
  /** Whether pixel (x, y) of `p` has a match in `q` within `shift`. */
  const matched = (p, q, x, y) => {
    for (let dy = -shift; dy <= shift; dy++) {
      for (let dx = -shift; dx <= shift; dx++) {
        const u = x + dx,
          v = y + dy;
        if (u >= 0 && v >= 0 && u < w && v < hh && near(p, (y * w + x) * 4, q, (v * w + u) * 4))
          return true;
      }
    }
    return false;
  };
  let bad = 0;
  for (let y = 0; y < hh; y++) {
    for (let x = 0; x < w; x++) {
      if (!matched(a.data, b.data, x, y) || (shift && !matched(b.data, a.data, x, y))) bad++;
    }
  }
  return { ratio: bad / (w * hh), bad };
}

/**
 * Leaves a failed comparison's pictures (`screensMatch`'s) in /tmp/cobrowse-shots as
 * `<name>-customer.png`, `<name>-agent.png`.
 */
export function keepShots(name, shots) {
  const dir = '/tmp/cobrowse-shots';
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, name + '-customer.png'), shots.customerPng);
  writeFileSync(path.join(dir, name + '-agent.png'), shots.agentPng);
}

/**
 * How far apart (px) the same text may be drawn by the customer's Firefox and the agent's
 * Chromium: their fonts' rasterization and baselines differ by a pixel or so.
 */
export const ENGINE_SHIFT = IN_FIREFOX ? 2 : 0;

/**
 * Screenshots the customer's viewport and the agent's frame until they match (images arrive through
 * the proxy).
 */
export async function screensMatch(
  customer,
  agent,
  { threshold = 0.005, timeout = 5000, tol, shift = ENGINE_SHIFT } = {},
) {
  const end = Date.now() + timeout;
  await agent.addStyleTag({ content: '#overlay{display:none!important}' });
  for (;;) {
    // The co-browse UI is never mirrored: left out of the customer's picture too.
    // Hiding the caret sets a style on every field for the shot, a change the
    // agent mirrors; Playwright restoring the agent's own fields afterwards
    // could undo the mirrored restore, so the agent's caret is left alone
    // (its view never has the focus).
    const c = await customer.screenshot({
      animations: 'disabled',
      caret: 'hide',
      style: '[data-cobrowse-ui]{visibility:hidden!important}',
    });
    const r = await agent.locator('iframe.cb-view').boundingBox();
    const a = await agent.screenshot({
      animations: 'disabled',
      caret: 'initial',
      clip: {
        x: Math.round(r.x),
        y: Math.round(r.y),
        width: Math.round(r.width),
        height: Math.round(r.height),
      },
    });
    const d = pixelDiff(c, a, tol, shift);
    if (d.ratio <= threshold || Date.now() > end) return { ...d, customerPng: c, agentPng: a };
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * A WebSocket to the server speaking the raw protocol, for clients our own code would never
 * be: `messages` (text ones, parsed), `open`, `next(pred, timeout)` (the first message that
 * matches, already come or to come), `send(t, o)` with the envelope, `binary(kind, payload)`
 * with its header, `close()`.
 * @param {string} server @param {string} path @param {Record<string, string>} headers
 */
export function rawSocket(server, path, headers) {
  const ws = new WS(server.replace(/^http/, 'ws') + path, { headers });
  /** @type {any[]} */
  const messages = [];
  /** @type {{pred: (m: any) => boolean, res: (m: any) => void}[]} */
  const waiters = [];
  let seq = 0;
  ws.on('message', (d, binary) => {
    if (binary) return;
    const m = JSON.parse(d.toString());
    messages.push(m);
    for (const w of waiters.slice())
      if (w.pred(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.res(m);
      }
  });
  const open = new Promise((res, rej) => {
    ws.on('open', res);
    ws.on('error', rej);
  });
  const next = (pred, timeout = 10000) => {
    const found = messages.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((res, rej) => {
      const w = { pred, res };
      waiters.push(w);
      setTimeout(() => {
        const i = waiters.indexOf(w);
        if (i >= 0) {
          waiters.splice(i, 1);
          rej(new Error('no such message; got ' + messages.map((m) => m.t).join(',')));
        }
      }, timeout);
    });
  };
  const send = (t, o = {}) => ws.send(JSON.stringify({ v: 1, t, s: ++seq, ...o }));
  const binary = (kind, payload) => {
    const head = Buffer.alloc(6);
    head[0] = 1;
    head[1] = kind;
    head.writeUInt32BE(++seq, 2);
    ws.send(Buffer.concat([head, payload]), { binary: true });
  };
  return { messages, open, next, send, binary, close: () => ws.close() };
}

/**
 * A customer client speaking the raw protocol, as a hostile or compromised site can: whatever
 * our customer script would never send reaches the agent console this way (the server relays
 * page content without reading it). `start()` creates a session and resolves its id;
 * `joined()` waits for the agent; `send(t, o)` a text message, `binary(kind, payload)` a binary
 * frame, `snapshot(data, meta)` a full snapshot (deflate-raw chunks, then the `snapshot`
 * message; `meta.raw`: chunks already compressed, as a bomb is; `meta.json`: the text to send).
 */
export function rawCustomer(h, { url = h.origin + '/raw.html', title = 'Raw customer' } = {}) {
  const path = '/ws/customer?v=1';
  const socket = rawSocket(h.server, path, { Origin: h.origin });
  const { messages, open, next, send, binary, close } = socket;
  return {
    messages,
    next,
    send,
    binary,
    async start() {
      await open;
      send('create', { url, title, tab: 'raw-' + Math.random().toString(36).slice(2) });
      return (await next((m) => m.t === 'session')).id;
    },
    joined: () => next((m) => m.t === 'joined', 20000),
    /** Sends `data` ({d, sh}) as a snapshot, or `raw` compressed bytes as they are. */
    snapshot(data, { w = 800, h: vh = 600, raw = null, json = null, chunk = 65536, ...meta } = {}) {
      const z = raw || deflateRawSync(Buffer.from(json ?? JSON.stringify(data)));
      let n = 0;
      for (let o = 0; o < z.length; o += chunk) {
        binary(1, z.subarray(o, o + chunk));
        n++;
      }
      send('snapshot', { n, z: 'deflate-raw', url, title, w, h: vh, ...meta });
    },
    close,
  };
}
