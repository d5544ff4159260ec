// Benchmark: the cobrowse customer script vs rrweb 2.x, same Chromium, same pages, one run.
// Usage: node bench/rrweb/run.mjs   (needs target/debug/cobrowse and /usr/bin/chromium)
// Options (env): BENCH_WIRE_SECONDS (default 60: the issue's scripted 60-second session), BENCH_LATENCY_N (default 200),
// BENCH_SNAPSHOTS (our snapshots per page size: the join, then resyncs; default 5, as rrweb's runs).
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const BIN = path.join(ROOT, 'target/debug/cobrowse');
const CHROMIUM = '/usr/bin/chromium';
const WIRE_SECONDS = +(process.env.BENCH_WIRE_SECONDS || 60);
const LAT_N = +(process.env.BENCH_LATENCY_N || 200);
const SNAPS = Math.max(1, +(process.env.BENCH_SNAPSHOTS || 5));

if (!existsSync(path.join(HERE, 'node_modules/rrweb'))) {
  console.log('# installing rrweb into bench/rrweb/node_modules (npm ci)');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: HERE, stdio: 'inherit' });
}
for (const [f, why] of [[BIN, 'run cargo build first'], [CHROMIUM, 'install Debian chromium']]) if (!existsSync(f)) { console.error(`${f} missing: ${why}`); process.exit(1); }
const { chromium } = createRequire(path.join(ROOT, 'package.json'))('playwright-core');
const rrwebVersion = JSON.parse(readFileSync(path.join(HERE, 'node_modules/rrweb/package.json'))).version;
const RRWEB_JS = readFileSync(path.join(HERE, 'node_modules/rrweb/dist/rrweb.umd.min.cjs'));
const SNAP_JS = readFileSync(path.join(HERE, 'node_modules/rrweb-snapshot/dist/rrweb-snapshot.umd.min.cjs'));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length ? s[Math.floor(s.length / 2)] : NaN; };
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]; };
const gz = (b) => zlib.gzipSync(b, { level: 9 }).length;

// ---------- synthetic shop pages ----------
const SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="100"><rect width="160" height="100" fill="#8ac"/></svg>';
function card(i) {
  const c = ['#c00', '#070', '#00a', '#a50'][i % 4];
  return `<div class="card" data-sku="SKU-${i}" style="border:1px solid #ddd;padding:8px;margin:4px;display:inline-block;width:180px;vertical-align:top">` +
    `<img src="/img.svg" alt="Product ${i}" width="160" height="100">` +
    `<h3 style="font-size:14px;margin:4px 0">Product ${i} – Comfortable cotton shirt</h3>` +
    `<p class="desc" style="color:#555;font-size:12px">Soft, breathable fabric; machine washable. Item number ${i * 7919 % 100000}.</p>` +
    `<span class="price" style="color:${c};font-weight:bold">$${(i % 90) + 9}.99</span>` +
    `<ul class="feat"><li>Free shipping</li><li>30-day returns</li><li>In stock: ${i % 17}</li></ul>` +
    `<form class="buy"><label>Qty <input type="number" name="q${i}" value="1" min="1"></label>` +
    `<select name="size${i}"><option>S</option><option selected>M</option><option>L</option></select>` +
    `<button type="button" class="add">Add to cart</button></form></div>`;
}
const NODES_PER_CARD = 28;
function shopPage(target, lib, server) {
  const cards = Math.max(1, Math.round((target - 50) / NODES_PER_CARD));
  const head = lib === 'ours' ? `<script src="${server}/cobrowse.js"></script>`
    : lib === 'rrweb' ? '<script src="/lib/rrweb.umd.min.js"></script><script src="/lib/rrweb-snapshot.umd.min.js"></script>' : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop ${target}</title>${head}
<style>body{font-family:sans-serif;margin:0}header{background:#222;color:#fff;padding:8px}nav a{color:#fff;margin-right:12px}.card:hover{box-shadow:0 0 4px #888}#work div{display:inline}</style></head>` +
    `<body><header><h1 style="display:inline;font-size:20px">Shop</h1><nav><a href="/c/men">Men</a><a href="/c/women">Women</a><a href="/c/kids">Kids</a><a href="/c/sale">Sale</a></nav>` +
    `<span id="lat">L-1</span> <span id="cartcount">0</span></header>` +
    `<main><section id="checkout" style="padding:8px;background:#f7f7f7"><form><label>Name <input id="name" name="name"></label> <label>Email <input id="email" type="email" name="email"></label> <label>Card <input id="cc" autocomplete="cc-number" name="cc"></label> <textarea id="note" rows="2" cols="40"></textarea><ul id="cart"></ul></form></section>` +
    `<section id="grid">${Array.from({ length: cards }, (_, i) => card(i)).join('')}</section>` +
    `<div id="work"></div><div id="work2"></div></main><footer style="padding:20px;color:#777">© Shop</footer>` +
    `<script>window.countNodes=()=>{let n=0;const w=document.createTreeWalker(document.documentElement,5);do n++;while(w.nextNode());return n;}</script></body></html>`;
}

// ---------- servers ----------
function pageServer() {
  const vars = {};
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    const send = (type, body) => { res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }); res.end(body); };
    if (u.pathname === '/lib/rrweb.umd.min.js') return send('text/javascript', RRWEB_JS);
    if (u.pathname === '/lib/rrweb-snapshot.umd.min.js') return send('text/javascript', SNAP_JS);
    if (u.pathname === '/img.svg') return send('image/svg+xml', SVG);
    const m = /^\/shop\/(\d+)\/(ours|rrweb|none)$/.exec(u.pathname);
    if (m) return send('text/html', shopPage(+m[1], m[2], vars.SERVER));
    res.writeHead(404); res.end('not found');
  });
  return new Promise((r) => srv.listen(0, '127.0.0.1', () => r({ srv, vars, origin: `http://127.0.0.1:${srv.address().port}` })));
}

async function startServer(origin) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'cobrowse-bench-'));
  const env = { ...process.env, COBROWSE_ALLOWED_ORIGINS: JSON.stringify([origin]), COBROWSE_PROXY_ORIGINS: JSON.stringify([origin]), COBROWSE_LOG: 'warn' };
  const proc = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('server did not start:\n' + log)), 20000);
    const on = (d) => { log += d; const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log); if (m) { clearTimeout(t); resolve(m[1]); } };
    proc.stdout.on('data', on); proc.stderr.on('data', on);
    proc.on('exit', (c) => reject(new Error('server exited ' + c + '\n' + log)));
  });
  let n = 0;
  return { url, proc, dataDir, token: () => execFileSync(BIN, ['token', 'agent', 'bench' + ++n, '--data-dir', dataDir], { env }).toString().trim() };
}

/**
 * A TCP relay in front of the server that counts the bytes of each WebSocket connection as
 * they cross the wire (frame headers and compression included): `bytes[path]` is
 * `{up, down}` for the connections whose upgrade request went to `path`.
 */
function wireCounter(target) {
  const to = new URL(target);
  const bytes = {};
  const srv = net.createServer((client) => {
    const server = net.connect(+to.port, to.hostname);
    let count = null;
    client.on('data', (d) => {
      if (count) count.up += d.length;
      else {
        const m = /^GET (\/ws\/\w+)/.exec(d.toString('latin1', 0, 64));
        count = m ? (bytes[m[1]] ||= { up: 0, down: 0 }) : { up: 0, down: 0 };
      }
      server.write(d);
    });
    server.on('data', (d) => {
      if (count) count.down += d.length;
      client.write(d);
    });
    const end = () => { client.destroy(); server.destroy(); };
    client.on('close', end); server.on('close', end); client.on('error', end); server.on('error', end);
  });
  return new Promise((r) => srv.listen(0, '127.0.0.1', () => r({ srv, bytes, url: `http://127.0.0.1:${srv.address().port}` })));
}

async function waitFor(page, fn, arg, timeout = 15000) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await page.evaluate(fn, arg).catch(() => false);
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + String(fn).slice(0, 100));
    await sleep(50);
  }
}

// ---------- main ----------
const fx = await pageServer();
const srv = await startServer(fx.origin);
fx.vars.SERVER = srv.url;
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-gpu', '--disable-renderer-backgrounding', '--disable-background-timer-throttling', '--disable-backgrounding-occluded-windows'] });
const R = {};
const ctxOpts = { viewport: { width: 1000, height: 700 }, deviceScaleFactor: 1 };

async function plainPage(size, lib, onPage = () => {}) {
  const ctx = await browser.newContext(ctxOpts);
  const page = await ctx.newPage();
  onPage(page);
  page.on('pageerror', (e) => console.log(`[${lib} pageerror]`, e.message));
  await page.addInitScript(() => {
    window.__long = [];
    try { new PerformanceObserver((l) => l.getEntries().forEach((e) => window.__long.push(e.duration))).observe({ type: 'longtask', buffered: true }); } catch {}
  });
  await page.goto(`${fx.origin}/shop/${size}/${lib}`);
  const cdp = await ctx.newCDPSession(page);
  return { ctx, page, cdp };
}

/** A customer page with a live session and an agent page showing it. Records the customer's WS frames. */
async function oursSession(size, server = srv.url) {
  const c = await plainPage(size, 'ours');
  await waitFor(c.page, () => window.Cobrowse && window.Cobrowse.v === 1);
  const frames = []; // {dir, t (CDP monotonic s), bytes, text?}
  await c.cdp.send('Network.enable');
  c.cdp.on('Network.webSocketFrameSent', (e) => {
    const bin = e.response.opcode === 2;
    frames.push({ dir: 'out', t: e.timestamp, bin, bytes: bin ? Buffer.from(e.response.payloadData, 'base64').length : Buffer.byteLength(e.response.payloadData), text: bin ? '' : e.response.payloadData.slice(0, 40) });
  });
  c.cdp.on('Network.webSocketFrameReceived', (e) => frames.push({ dir: 'in', t: e.timestamp, text: e.response.opcode === 1 ? e.response.payloadData.slice(0, 200) : '' }));
  const id = await c.page.evaluate(() => window.Cobrowse.start().then((s) => s.id));
  await sleep(300);
  await c.page.evaluate(() => { window.__long = []; });
  const actx = await browser.newContext({ viewport: { width: 1000, height: 800 }, deviceScaleFactor: 1 });
  const agent = await actx.newPage();
  agent.on('pageerror', (e) => console.log('[agent pageerror]', e.message));
  await agent.goto(`${server}/agent/?session=${id}#token=${srv.token()}`);
  await waitFor(agent, () => document.getElementById('state').dataset.state === 'live' && window.cobrowseAgent.snapshots >= 1, null, 60000);
  return { ...c, agent, actx, frames, id, async close() { await c.ctx.close(); await actx.close(); } };
}

/** Per snapshot: from the `joined`/`resync` frame received to the `snapshot` text frame sent. */
function snapshots(frames) {
  const out = [];
  let start = null, bytes = 0, chunks = 0;
  for (const f of frames) {
    if (f.dir === 'in' && /"t":"(joined|resync)"/.test(f.text)) { if (!start) { start = f.t; bytes = 0; chunks = 0; } }
    else if (f.dir === 'out' && start && f.bin) { bytes += f.bytes; chunks++; }
    else if (f.dir === 'out' && start && /"t":"snapshot"/.test(f.text)) { out.push({ ms: (f.t - start) * 1000, bytes, chunks }); start = null; }
  }
  return out;
}

// 3. Full snapshot
const SIZES = [1000, 10000, 50000];
R.snap = {};
for (const size of SIZES) {
  // rrweb
  const r = await plainPage(size, 'rrweb');
  const nodes = await r.page.evaluate(() => window.countNodes());
  const rr = await r.page.evaluate(async () => {
    const runs = [];
    let json = '';
    for (let i = 0; i < 5; i++) {
      await new Promise((res) => setTimeout(res, 50));
      const t0 = performance.now();
      const s = rrwebSnapshot.snapshot(document);
      const t1 = performance.now();
      json = JSON.stringify(s);
      runs.push([t1 - t0, performance.now() - t0]);
    }
    const bytes = new TextEncoder().encode(json);
    const gz = await new Response(new Blob([bytes]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer();
    return { runs, bytes: bytes.length, gzip: gz.byteLength };
  });
  await r.ctx.close();
  // ours: the join, then resyncs asked by the agent
  const o = await oursSession(size);
  const longs = [];
  longs.push(Math.max(0, ...(await o.page.evaluate(() => window.__long))));
  for (let i = 1; i < SNAPS; i++) {
    await sleep(300);
    await o.page.evaluate(() => { window.__long = []; });
    const n = await o.agent.evaluate(() => window.cobrowseAgent.snapshots);
    await o.agent.evaluate(() => window.cobrowseAgent.requestResync());
    await waitFor(o.agent, (n) => window.cobrowseAgent.snapshots > n, n, 60000);
    await sleep(200);
    longs.push(Math.max(0, ...(await o.page.evaluate(() => window.__long))));
  }
  const s = snapshots(o.frames);
  await o.close();
  R.snap[size] = {
    nodes,
    rr: { ms: median(rr.runs.map((x) => x[1])), snapOnly: median(rr.runs.map((x) => x[0])), bytes: rr.bytes, gzip: rr.gzip },
    ours: { ms: median(s.map((x) => x.ms)), all: s.map((x) => Math.round(x.ms)), bytes: median(s.map((x) => x.bytes)), chunks: s[0] && s[0].chunks, longest: median(longs), longs: longs.map(Math.round) },
  };
  console.log(`# snapshot ${size}: nodes ${nodes}`, JSON.stringify(R.snap[size]));
}

// 4. Mutation capture CPU
const WORK = {
  'add 1,000 × 10 nodes': { prep: () => { document.getElementById('work').textContent = ''; }, run: () => { const w = document.getElementById('work'); for (let i = 0; i < 1000; i++) { const d = document.createElement('div'); for (let j = 0; j < 9; j++) { const s = document.createElement('span'); s.textContent = 'n' + j; d.appendChild(s); } w.appendChild(d); } } },
  'move 10,000 nodes': { prep: () => { const w = document.getElementById('work2'); w.textContent = ''; for (let i = 0; i < 10000; i++) { const s = document.createElement('i'); s.textContent = ''; w.appendChild(s); } }, run: () => { const a = document.getElementById('work2'), b = document.getElementById('work'); b.textContent = ''; const l = [...a.children]; for (const n of l) b.appendChild(n); } },
  '10,000 attribute changes': { prep: () => { const w = document.getElementById('work'); w.textContent = ''; for (let i = 0; i < 1000; i++) w.appendChild(document.createElement('b')); }, run: () => { const l = document.getElementById('work').children; for (let k = 0; k < 10; k++) for (let i = 0; i < l.length; i++) l[i].setAttribute('data-x', k + '-' + i); } },
};
const metric = async (cdp) => { const m = (await cdp.send('Performance.getMetrics')).metrics; const g = (n) => m.find((x) => x.name === n).value * 1000; return { task: g('TaskDuration'), script: g('ScriptDuration') }; };
async function mutationRun(lib) {
  let env;
  if (lib === 'ours') env = await oursSession(1000);
  else {
    env = await plainPage(1000, lib);
    if (lib === 'rrweb') await env.page.evaluate(() => { window.__stop = rrweb.record({ emit() {} }); });
    env.close = () => env.ctx.close();
  }
  await env.cdp.send('Performance.enable', { timeDomain: 'threadTicks' }).catch(() => env.cdp.send('Performance.enable'));
  const out = {};
  for (const [name, w] of Object.entries(WORK)) {
    const runs = [];
    for (let rep = 0; rep < 3; rep++) {
      await env.page.evaluate(`(${w.prep})()`);
      await sleep(700);
      const m0 = await metric(env.cdp);
      // wall: the workload, then until observer callbacks and 0-ms timers ran (two timer turns)
      const wall = await env.page.evaluate(`(async () => { const t0 = performance.now(); (${w.run})(); for (let i = 0; i < 2; i++) await new Promise((r) => setTimeout(r, 0)); return performance.now() - t0; })()`);
      await sleep(700);
      const m1 = await metric(env.cdp);
      runs.push({ wall, task: m1.task - m0.task, script: m1.script - m0.script });
    }
    out[name] = { wall: median(runs.map((r) => r.wall)), task: median(runs.map((r) => r.task)), script: median(runs.map((r) => r.script)), tasks: runs.map((r) => Math.round(r.task)) };
  }
  await env.close();
  return out;
}
R.mut = { none: await mutationRun('none'), rrweb: await mutationRun('rrweb'), ours: await mutationRun('ours') };
console.log('# mutations', JSON.stringify(R.mut));

// 5. End-to-end latency and 6. wire bytes (ours), with rrweb's event bytes for the same script
{
  const o = await oursSession(1000);
  await o.agent.evaluate(() => {
    window.__seen = {};
    const doc = window.cobrowseAgent.mirror.frame.contentDocument;
    new MutationObserver(() => {
      const t = performance.timeOrigin + performance.now();
      const el = doc.getElementById('lat'), m = el && /^L(\d+)$/.exec(el.textContent);
      if (m && !(m[1] in window.__seen)) window.__seen[m[1]] = t;
    }).observe(doc, { subtree: true, childList: true, characterData: true, attributes: true });
  });
  const sent = [];
  for (let i = 0; i < LAT_N; i++) {
    sent.push(await o.page.evaluate((i) => { document.getElementById('lat').firstChild.data = 'L' + i; return performance.timeOrigin + performance.now(); }, i));
    await sleep(30 + Math.random() * 30);
  }
  await sleep(1000);
  const seen = await o.agent.evaluate(() => window.__seen);
  const lat = sent.map((t, i) => (seen[i] != null ? seen[i] - t : null)).filter((x) => x != null);
  R.lat = { n: LAT_N, got: lat.length, p50: pct(lat, 50), p99: pct(lat, 99), max: Math.max(...lat) };
  console.log('# latency', JSON.stringify(R.lat));
  await o.close();
}

async function scriptedSession(page, seconds, maxSteps = Infinity) {
  const t0 = Date.now();
  let k = 0;
  await page.click('#name');
  const text = 'Jane Doe, 12 Example Street, Springfield. Please deliver after 5pm. ';
  while (maxSteps === Infinity ? Date.now() - t0 < seconds * 1000 : k < maxSteps) {
    k++;
    if (k % 20 === 0) await page.click(k % 40 ? '#note' : '#email');
    await page.keyboard.type(text[k % text.length]);
    await page.mouse.move(100 + (k * 37) % 800, 100 + (k * 53) % 500);
    if (k % 10 === 0) await page.mouse.wheel(0, k % 60 < 30 ? 300 : -300);
    if (k % 10 === 5) await page.evaluate((k) => { const li = document.createElement('li'); li.textContent = 'Product ' + k + ' × 1 — $19.99'; document.getElementById('cart').appendChild(li); document.getElementById('cartcount').textContent = String(k); document.querySelectorAll('.price')[k % 30].style.color = k % 2 ? 'red' : 'green'; }, k);
    await sleep(100);
  }
  return k;
}
{
  // Through the counting relay: the bytes are what crosses the wire, WebSocket compression
  // (permessage-deflate, when the server agrees to it) and frame headers included.
  const wire = await wireCounter(srv.url);
  fx.vars.SERVER = wire.url;
  const o = await oursSession(10000, wire.url);
  fx.vars.SERVER = srv.url;
  const at = () => ({ customer: { ...wire.bytes['/ws/customer'] }, agent: { ...wire.bytes['/ws/agent'] } });
  const start = at(); // the snapshot on join is part of the session: counted separately below
  const snapBytes = start.customer.up;
  const t0 = Date.now();
  // The agent moves its pointer over the customer's page at 30 Hz meanwhile.
  let moving = true;
  const agentMoves = (async () => {
    for (let k = 0; moving; k++) {
      await o.agent.mouse.move(200 + (k * 13) % 600, 150 + (k * 7) % 400);
      await sleep(33);
    }
  })();
  const steps = await scriptedSession(o.page, WIRE_SECONDS);
  moving = false;
  await agentMoves;
  await sleep(500);
  const seconds = (Date.now() - t0) / 1000;
  const end = at();
  const delta = end.customer.up - start.customer.up;
  const agentUp = end.agent.up - start.agent.up;
  const kbits = (b) => (b * 8) / 1000 / seconds;
  R.rate = { seconds, customerUp: kbits(delta), agentUp: kbits(agentUp), toAgent: kbits(end.agent.down - start.agent.down) };
  console.log('# wire rates (kbit/s)', JSON.stringify(R.rate));
  wire.srv.close();
  await o.close();
  const r = await plainPage(10000, 'rrweb');
  await r.page.evaluate(() => { window.__ev = []; window.__stop = rrweb.record({ emit: (e) => window.__ev.push(JSON.stringify(e)) }); });
  await sleep(300);
  const rsnap = await r.page.evaluate(() => { const n = window.__ev.length; window.__mark = n; return window.__ev.reduce((a, s) => a + new TextEncoder().encode(s).length, 0); });
  await scriptedSession(r.page, WIRE_SECONDS, steps); // the same steps as ours
  await sleep(500);
  const rr = await r.page.evaluate(async () => {
    const all = window.__ev, d = all.slice(window.__mark), enc = new TextEncoder();
    const gzip = async (l) => (await new Response(new Blob([enc.encode(l.join('\n'))]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer()).byteLength;
    return { events: all.length, delta: d.reduce((a, s) => a + enc.encode(s).length, 0), deltaGz: await gzip(d), totalGz: await gzip(all) };
  });
  await r.ctx.close();
  R.wire = { seconds: WIRE_SECONDS, steps, ours: { snap: snapBytes, delta, total: snapBytes + delta }, rr: { snap: rsnap, delta: rr.delta, total: rsnap + rr.delta, deltaGz: rr.deltaGz, totalGz: rr.totalGz, events: rr.events } };
  console.log('# wire', JSON.stringify(R.wire));
}

// Script size: what the customer's browser downloads from the server (response bodies as
// sent, gzip by the server), in three steps of one session on a fresh browser context: a page
// with the script, a session with the built-in UI and an agent watching, write mode granted
// and an agent click replayed.
{
  const got = new Map(); // path -> {body: bytes received, raw: bytes decoded, enc}
  const c = await plainPage(1000, 'ours', (page) => page.on('requestfinished', async (r) => {
    const u = r.url();
    if (!u.startsWith(srv.url) || !/\.js$/.test(u)) return;
    const sizes = await r.sizes(), resp = await r.response();
    got.set(new URL(u).pathname, { body: sizes.responseBodySize, raw: (await resp.body()).length, enc: resp.headers()['content-encoding'] || '' });
  }));
  const settle = async () => { await sleep(700); return [...got].map(([p, s]) => ({ p, ...s })).sort((a, b) => (a.p < b.p ? -1 : 1)); };
  await waitFor(c.page, () => window.Cobrowse && window.Cobrowse.v === 1);
  const page = await settle();
  const id = await c.page.evaluate(() => window.Cobrowse.start().then((s) => s.id));
  const actx = await browser.newContext({ viewport: { width: 1000, height: 800 }, deviceScaleFactor: 1 });
  const agent = await actx.newPage();
  await agent.goto(`${srv.url}/agent/?session=${id}#token=${srv.token()}`);
  await waitFor(agent, () => window.cobrowseAgent.snapshots >= 1, null, 60000);
  const session = await settle();
  await agent.evaluate(() => window.cobrowseAgent.requestControl());
  await waitFor(c.page, () => window.Cobrowse.session.controlPending);
  await c.page.evaluate(() => window.Cobrowse.answerControl(true));
  await waitFor(agent, () => window.cobrowseAgent.session.mode === 'write');
  await agent.mouse.click(500, 400);
  await waitFor(c.page, (n) => performance.getEntriesByType('resource').some((e) => e.name.endsWith('/customer/replay.js')), null);
  const write = await settle();
  await c.ctx.close(); await actx.close();
  const sum = (l) => l.reduce((a, f) => a + f.body, 0);
  const recBundle = readFileSync(path.join(HERE, 'node_modules/rrweb/dist/rrweb.umd.min.cjs'));
  R.size = { page: sum(page), session: sum(session), write: sum(write), files: write, pageFiles: page.length, sessionFiles: session.length, rrwebFullGz: gz(recBundle), rrwebSnapGz: gz(SNAP_JS) };
  if (write.some((f) => f.enc !== 'gzip')) console.log('# WARNING: not every script came gzipped', JSON.stringify(write));
  console.log('# script size', JSON.stringify(R.size));
}

await browser.close();
const exited = new Promise((r) => srv.proc.once('exit', r));
srv.proc.kill('SIGTERM');
await Promise.race([exited, sleep(5000)]);
fx.srv.close();
try { rmSync(srv.dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }); } catch (e) { console.log('# could not remove', srv.dataDir, e.code); }

// ---------- table ----------
const f0 = (x) => (x == null || Number.isNaN(x) ? 'n/a' : Math.round(x).toLocaleString('en-US'));
const f1 = (x) => (x == null || Number.isNaN(x) ? 'n/a' : x.toFixed(1));
const kb = (b) => (b / 1024).toFixed(1) + ' KB';
const ratio = (a, b) => (b ? (a / b).toFixed(2) + '×' : 'n/a');
const rows = [['measure', 'ours', `rrweb ${rrwebVersion}`, 'ours / rrweb', 'target', 'met?']];
for (const size of SIZES) {
  const s = R.snap[size];
  rows.push([`snapshot time, ${f0(s.nodes)} nodes (ms; rrweb: snapshot()+stringify, ours: joined→last frame)`, f1(s.ours.ms), f1(s.rr.ms), ratio(s.ours.ms, s.rr.ms), '≤ 0.5× (2× faster)', s.ours.ms <= 0.5 * s.rr.ms ? 'yes' : 'NO']);
  const join = s.ours.all[0];
  rows.push([`  the join alone (cold: the agent's first view), ${f0(s.nodes)} nodes (ms)`, f1(join), f1(s.rr.ms), ratio(join, s.rr.ms), '≤ 0.5×', join <= 0.5 * s.rr.ms ? 'yes' : 'NO']);
  rows.push([`  longest main-thread task, ${f0(s.nodes)} nodes (ms; longtask API sees only ≥ 50 ms)`, s.ours.longest ? f1(s.ours.longest) : 'none ≥ 50', f1(s.rr.ms) + ' (one task)', s.ours.longest ? ratio(s.ours.longest, s.rr.ms) : '', '', '']);
  rows.push([`snapshot bytes, ${f0(s.nodes)} nodes (ours compressed vs rrweb raw JSON)`, kb(s.ours.bytes), kb(s.rr.bytes), ratio(s.ours.bytes, s.rr.bytes), '≤ 0.7×', s.ours.bytes <= 0.7 * s.rr.bytes ? 'yes' : 'NO']);
  rows.push([`snapshot bytes, ${f0(s.nodes)} nodes (vs rrweb JSON gzip -6)`, kb(s.ours.bytes), kb(s.rr.gzip), ratio(s.ours.bytes, s.rr.gzip), '(≤ 0.7×)', s.ours.bytes <= 0.7 * s.rr.gzip ? 'yes' : 'no']);
}
for (const name of Object.keys(WORK)) {
  const o = R.mut.ours[name], r = R.mut.rrweb[name], n = R.mut.none[name];
  rows.push([`${name}: renderer main-thread task time (ms; no recorder: ${f0(n.task)})`, f0(o.task), f0(r.task), ratio(o.task, r.task), '≤ 1×', o.task <= r.task ? 'yes' : 'NO']);
  rows.push([`  capture overhead over no recorder (ms)`, f0(o.task - n.task), f0(r.task - n.task), ratio(o.task - n.task, r.task - n.task), '≤ 1×', o.task - n.task <= r.task - n.task ? 'yes' : 'NO']);
  rows.push([`  wall: workload + 2 timer turns (ms; no recorder: ${f0(n.wall)})`, f0(o.wall), f0(r.wall), ratio(o.wall, r.wall), '', '']);
}
rows.push([`latency change → applied in agent view, p50 (ms, ${R.lat.got}/${R.lat.n} changes)`, f1(R.lat.p50), '—', '', '≤ 20 ms', R.lat.p50 <= 20 ? 'yes' : 'NO']);
rows.push([`latency p99 (ms)`, f1(R.lat.p99), '—', '', '≤ 50 ms', R.lat.p99 <= 50 ? 'yes' : 'NO']);
const w = R.wire;
rows.push([`wire, ${w.seconds} s scripted session on 10k page: initial snapshot`, kb(w.ours.snap), kb(w.rr.snap) + ' raw', ratio(w.ours.snap, w.rr.snap), '', '']);
rows.push([`  after the snapshot (typing, scrolling, mouse, DOM changes), on the wire`, kb(w.ours.delta), `${kb(w.rr.delta)} raw / ${kb(w.rr.deltaGz)} gz`, `${ratio(w.ours.delta, w.rr.delta)} / ${ratio(w.ours.delta, w.rr.deltaGz)}`, '≤ 1.0× gz', w.ours.delta <= w.rr.deltaGz ? 'yes' : 'NO']);
rows.push([`  customer → server, kbit/s over the session (agent watching)`, f1(R.rate.customerUp), '', '', '≤ 5', R.rate.customerUp <= 5 ? 'yes' : 'NO']);
rows.push([`  agent → server, kbit/s (its pointer moving at 30 Hz)`, f1(R.rate.agentUp), '', '', '≤ 5', R.rate.agentUp <= 5 ? 'yes' : 'NO']);
rows.push([`  server → agent, kbit/s`, f1(R.rate.toAgent), '', '', '', '']);
rows.push([`  whole session`, kb(w.ours.total), `${kb(w.rr.total)} raw / ${kb(w.rr.totalGz)} gz`, `${ratio(w.ours.total, w.rr.total)} / ${ratio(w.ours.total, w.rr.totalGz)}`, '', '']);
rows.push([`customer script downloaded (gzip), a page with the script (${R.size.pageFiles} files)`, kb(R.size.page), '', '', '', '']);
rows.push([`  a session with the built-in UI and an agent watching (${R.size.sessionFiles} files)`, kb(R.size.session), `${kb(R.size.rrwebFullGz)} (rrweb.umd.min, record+replay)`, '', '≤ 25 KB', R.size.session <= 25 * 1024 ? 'yes' : 'NO']);
rows.push([`  with write mode: control replayed (${R.size.files.length} files: capture, masking, control, UI)`, kb(R.size.write), '', '', '≤ 25 KB', R.size.write <= 25 * 1024 ? 'yes' : 'NO']);
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
const line = (r) => '| ' + r.map((c, i) => String(c).padEnd(widths[i])).join(' | ') + ' |';
const table = [line(rows[0]), '|' + widths.map((x) => '-'.repeat(x + 2)).join('|') + '|', ...rows.slice(1).map(line)].join('\n');
console.log('\n' + table + '\n');
console.log('files:', R.size.files.map((s) => `${s.p} ${s.body}`).join(', '));
console.log('mutation task ms per run:', Object.keys(WORK).map((k) => `${k}: none ${R.mut.none[k].tasks.join('/')}, rrweb ${R.mut.rrweb[k].tasks.join('/')}, ours ${R.mut.ours[k].tasks.join('/')}`).join('; '));
console.log(`snapshot runs ours (ms): ${SIZES.map((s) => s + ': ' + R.snap[s].ours.all.join('/')).join('; ')}; longest tasks: ${SIZES.map((s) => s + ': ' + R.snap[s].ours.longs.join('/')).join('; ')}`);
const stamp = new Date().toISOString();
writeFileSync(path.join(HERE, 'last-run.json'), JSON.stringify({ stamp, rrwebVersion, ...R }, null, 1));
if (process.env.BENCH_WRITE_RESULTS !== '0') {
  writeFileSync(path.join(HERE, 'RESULTS.md'), `# cobrowse vs rrweb ${rrwebVersion}: results\n\nCommand: \`node bench/rrweb/run.mjs\` (run ${stamp}, debug server build, headless /usr/bin/chromium; wire session ${w.seconds} s, latency over ${R.lat.n} changes). What each row measures: README.md.\n\n${table}\n\nFiles counted for the script size (bytes received, gzip, as the server sends them): ${R.size.files.map((s) => `\`${s.p}\` ${s.body} B (${s.raw} B minified)`).join(', ')}.\n\nOur snapshot runs (the join, then resyncs), ms: ${SIZES.map((s) => s + ' nodes: ' + R.snap[s].ours.all.join(' / ')).join('; ')}. Longest task per run, ms: ${SIZES.map((s) => s + ': ' + R.snap[s].ours.longs.join(' / ')).join('; ')}.\n`);
}
