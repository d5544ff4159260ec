// The minimal agent page: signs in with the token from the URL fragment, joins the session
// from ?session=, shows the customer's page live and says plainly why it cannot.
import { Mirror } from './mirror.js';

const $ = (id) => document.getElementById(id);
const sid = new URLSearchParams(location.search).get('session') || '';
const token = new URLSearchParams(location.hash.slice(1)).get('token');

/** Words for the close codes of docs/protocol.md, when no `ended`/`error` message said more. */
const CLOSE = {
  4001: ['Not signed in', 'Your sign-in is missing, invalid or expired. Open this page from your agent desktop (with #token=…) or sign in again.'],
  4004: ['No such session', 'There is no live session with this ID. Check the number the customer read out: an ended session cannot be joined again.'],
  4009: ['Cannot join', 'Another agent is already in this session, or you are still in another session.'],
  4029: ['Too many attempts', 'Too many messages or join attempts. Wait a moment and try again.'],
  4400: ['Protocol error', 'The server did not understand this page (version mismatch?). Reload the page.'],
  1009: ['Message too big', 'A message was larger than the server accepts.'],
};

const ui = {
  state(s, text) { $('state').dataset.state = document.body.dataset.state = s; $('state').textContent = text; },
  notice(h, p) { $('notice').hidden = false; $('notice-h').textContent = h; $('notice-p').textContent = p; },
  clear() { $('notice').hidden = true; },
  page(url, title) {
    if (url !== undefined) { $('url').textContent = url; $('url').removeAttribute('href'); }
    if (title !== undefined) $('title').textContent = title;
  },
};

const mirror = new Mirror($('stage'), (u) => location.origin + '/proxy?url=' + encodeURIComponent(u) + '&session=' + encodeURIComponent(sid));
/** For tests and debugging: the mirror and the last messages seen. */
const trace = [];
const note = (x) => { trace.push(x); if (trace.length > 60) trace.shift(); };
window.cobrowseAgent = { mirror, trace, drop: 0, snapshots: 0, requestResync: () => { resyncAt = 0; resync('asked'); } };

let ws = null, mySeq = 0, tries = 0, ended = false, everOpen = false;
/** Sequence check of the customer's messages: deltas count only after a snapshot, and a gap means resync. */
let last = 0, waiting = true, waitSince = Date.now(), resyncAt = 0, chunks = [], customerIn = false;
let work = Promise.resolve();

function send(t, o = {}) {
  if (ws && ws.readyState === 1) ws.send(JSON.stringify({ v: 1, t, s: ++mySeq, ...o }));
}
/** Asks the customer for a fresh snapshot and ignores deltas until it comes. */
function resync(why) {
  if (!waiting) waiting = true, (waitSince = Date.now());
  if (Date.now() - resyncAt < 5000) return;
  resyncAt = Date.now();
  console.warn('cobrowse: resync,', why);
  send('resync');
}
mirror.onMissing = (e) => resync(e.message);
// A snapshot that does not come (lost, or sent before we were attached) is asked for again.
setInterval(() => waiting && customerIn && Date.now() - waitSince > 4000 && resync('no snapshot yet'), 1000);

async function start() {
  if (!/^\d{9}$/.test(sid)) return ui.state('error', 'No session'), ui.notice('No session ID', 'Open this page as /agent/?session=<9-digit session ID>.');
  $('sid').textContent = sid.replace(/(\d{3})(?=\d)/g, '$1 ');
  if (token) {
    history.replaceState(null, '', location.pathname + location.search); // the token must not linger in the address bar
    let r;
    try { r = await fetch('/auth/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }), credentials: 'same-origin' }); } catch { r = null; }
    if (!r || !r.ok) {
      ui.state('error', 'Not signed in');
      return ui.notice('Sign-in failed', r ? (r.status === 401 || r.status === 403 ? 'The sign-in token was refused (invalid or expired).' : 'The server answered ' + r.status + ' to the sign-in.') : 'The server could not be reached.');
    }
  }
  connect();
}

function connect() {
  ui.state('connecting', 'Connecting…');
  const s = (ws = new WebSocket(location.origin.replace(/^http/, 'ws') + '/ws/agent?v=1&session=' + encodeURIComponent(sid)));
  s.binaryType = 'arraybuffer';
  mySeq = 0; waiting = true; waitSince = Date.now(); chunks = [];
  s.onopen = () => { everOpen = true; tries = 0; };
  s.onmessage = (e) => {
    note(typeof e.data === 'string' ? e.data.slice(0, 100) : 'binary ' + e.data.byteLength);
    if (window.cobrowseAgent.drop > 0 && /"s":/.test(e.data)) return void window.cobrowseAgent.drop--; // tests: simulate a lost message
    if (typeof e.data === 'string') { let m; try { m = JSON.parse(e.data); } catch { return; } receive(m); }
    else binary(new Uint8Array(e.data));
  };
  s.onclose = (e) => { if (ws === s) closed(e); };
}
setInterval(() => ws && ws.readyState === 1 && ws.send('{"v":1,"t":"ping"}'), 25000);

/** Checks `s` continuity; returns whether a delta may be applied. */
function inSeq(s) {
  const ok = s === last + 1;
  last = s;
  if (waiting) return false;
  if (!ok) { resync('gap before ' + s); return false; }
  return true;
}

function binary(b) {
  if (b.length < 6 || b[0] !== 1) return;
  const s = new DataView(b.buffer, b.byteOffset).getUint32(2), kind = b[1], p = b.subarray(6);
  if (kind === 1) {
    // Chunks of the next snapshot: kept as one contiguous run until its `snapshot` message.
    if (chunks.length && chunks[chunks.length - 1][0] !== s - 1) chunks = [];
    chunks.push([s, p]);
    last = s;
    return;
  }
  if (kind === 2 && inSeq(s)) {
    const id = new DataView(p.buffer, p.byteOffset).getUint32(0);
    queue(() => mirror.canvas(id, p.subarray(4)));
  }
}
/** Keeps the order of application even when a step is asynchronous (decompression). */
const queue = (f) => (work = work.then(f).catch((e) => { console.error(e); resync(String(e)); }));

async function snapshot(m) {
  const run = chunks.slice(-m.n);
  chunks = [];
  if (run.length !== m.n || (run.length && run[run.length - 1][0] !== m.s - 1)) return resync('snapshot chunks missing');
  last = m.s;
  waiting = false;
  let stream = new Blob(run.map((c) => c[1])).stream();
  if (m.z) stream = stream.pipeThrough(new DecompressionStream(m.z));
  const data = JSON.parse(await new Response(stream).text());
  mirror.snapshot(data, m);
  window.cobrowseAgent.snapshots++;
  $('wrap').hidden = false;
  ui.clear();
  ui.state('live', 'Live');
  ui.page(m.url, m.title);
  $('vp').textContent = m.w + '×' + m.h;
  fit();
}

function receive(m) {
  if (m.s !== undefined && m.t !== 'pong') return customer(m);
  switch (m.t) {
    case 'session':
      if (m.page) ui.page(m.page.url, m.page.title);
      $('mode').textContent = m.mode === 'write' ? 'Write mode' : 'Pointer mode';
      $('exit').hidden = false;
      customerIn = !!m.customer_connected;
      if (!m.customer_connected) ui.state('waiting', 'Customer away'), ui.notice('Waiting for the customer', 'The customer\'s page is not connected right now (reloading or changing page).');
      else ui.state('waiting', 'Waiting for page…');
      break;
    case 'presence':
      if (m.role === 'customer') {
        customerIn = m.connected;
        if (m.connected) { waiting = true; waitSince = Date.now(); ui.state('waiting', 'Waiting for page…'); }
        else ui.state('waiting', 'Customer away');
      }
      break;
    case 'mode': $('mode').textContent = m.mode === 'write' ? 'Write mode' : 'Pointer mode'; break;
    case 'ended':
      ended = true;
      ui.state('ended', 'Ended');
      ui.notice('Session ended', m.message || m.reason);
      $('exit').hidden = true;
      break;
    case 'error':
      console.warn('cobrowse server error', m);
      if (m.code !== 'not_allowed' && m.code !== 'rate_limited') ui.notice('Error', m.message || m.code);
      lastError = m;
      break;
  }
}
let lastError = null;

/** Messages relayed from the customer (they carry `s`). */
function customer(m) {
  if (m.t === 'snapshot') return queue(() => snapshot(m));
  if (m.t === 'page') { last = m.s; return ui.page(m.url, m.title); }
  if (!inSeq(m.s)) return;
  queue(() => {
    switch (m.t) {
      case 'mutation': mirror.mutate(m); break;
      case 'style': mirror.style(m); break;
      case 'input': mirror.input(m.l); break;
      case 'scroll': mirror.scroll(m.l); break;
      case 'viewport': mirror.size(m.w, m.h); $('vp').textContent = m.w + '×' + m.h; fit(); break;
      case 'focus': mirror.focus(m.i); break;
      case 'hover': mirror.hover(m.i); break;
      case 'media': mirror.media(m.l); break;
      case 'pointer': pointer(m.x, m.y); break;
    }
  });
}

function closed(e) {
  ws = null;
  if (ended) return;
  const c = CLOSE[e.code];
  if (c) { ui.state('error', c[0]); return ui.notice(lastError && lastError.message ? c[0] : c[0], lastError && lastError.message ? lastError.message : c[1]); }
  if (e.code === 4000) { ui.state('ended', 'Ended'); return ui.notice('Session ended', 'The session has ended.'); }
  if (!everOpen && tries >= 2) { ui.state('error', 'Cannot connect'); return ui.notice('Cannot connect', token ? 'The co-browse server refused or could not be reached.' : 'You may not be signed in: open this page with #token=… from your agent desktop.'); }
  ui.state('connecting', e.code === 1001 ? 'Server restarting…' : 'Reconnecting…');
  setTimeout(connect, Math.min(10000, 500 * 2 ** tries++));
}

// ---- view: scale to fit, customer pointer, agent pointer and marks ----

let scale = 1;
/** Scales the customer-sized frame to the space we have (never above 100%). */
function fit() {
  const box = $('main'), w = mirror.w || 1, h = mirror.h || 1;
  scale = Math.min(1, box.clientWidth / w, box.clientHeight / h);
  const wrap = $('wrap');
  wrap.style.width = w + 'px'; wrap.style.height = h + 'px';
  wrap.style.transform = `scale(${scale})`;
}
addEventListener('resize', fit);
function pointer(x, y) {
  const c = $('cursor');
  c.hidden = false;
  c.style.transform = `translate(${x}px,${y}px)`;
}
let lastMove = 0;
$('overlay').addEventListener('mousemove', (e) => {
  if (performance.now() - lastMove < 50) return;
  lastMove = performance.now();
  send('pointer', { x: Math.round(e.offsetX), y: Math.round(e.offsetY) });
});
$('overlay').addEventListener('click', (e) => {
  send('mark', { x: Math.round(e.offsetX), y: Math.round(e.offsetY) });
  const d = document.createElement('div');
  d.className = 'mark'; d.style.left = e.offsetX + 'px'; d.style.top = e.offsetY + 'px';
  $('overlay').append(d); setTimeout(() => d.remove(), 900);
});
$('exit').addEventListener('click', () => { send('exit'); });

start();
