// Capture: the time-sliced snapshot, then DOM changes as operations that always apply:
// removals (the agent only detaches), then insertions last-to-first before the next sibling
// the agent has (a known node is a move; a new one goes whole, so its insides need no
// records); both sides then forget detached nodes that were not re-inserted.
import { emit, hold, on, release, send, sendBinary, state } from './core.js';
import * as ev from './events.js';
import { guard, isField, maskText, notePw } from './mask.js';
import {
  attrValue,
  ctxOf,
  HTML,
  hookShadow,
  mirror,
  reset as resetMirror,
  serialize,
  shadowOf,
  shut,
  Walker,
} from './serialize.js';
import * as st from './styles.js';

const XLINK = 'http://www.w3.org/1999/xlink',
  XML = 'http://www.w3.org/XML/1998/namespace';
const OPTS = {
  childList: true,
  subtree: true,
  attributes: true,
  characterData: true,
  attributeOldValue: true,
};
/** One observer per document: a removed frame's can be let go. */
const observers = new Map();
const frames = new WeakSet(),
  listened = new WeakSet();
const dirtyStyles = new Set(),
  dirtyRoots = new Set();
let epoch = 0,
  buffered = null,
  styleTimer = 0,
  tickTimer = 0,
  snapping = false;

/** Hooks a window (page or same-origin frame) before its DOM is read. */
export function realm(win) {
  guard(win);
  st.hook(win);
  ev.hook(win);
  hookShadow(win);
}

const isSheet = (n) =>
  n.localName === 'style' || (n.localName === 'link' && /\bstylesheet\b/i.test(n.rel));
function onLoad(e) {
  const t = e.composedPath()[0];
  if (state.capturing && t.localName === 'link') {
    dirtyStyles.add(t);
    soonStyles();
  }
}

/** Called by the serializer on roots (observe, listen) and special elements. */
const hooks = {
  root(r) {
    const d = r.nodeType === 9 ? r : r.ownerDocument;
    let mo = observers.get(d);
    if (!mo) observers.set(d, (mo = new MutationObserver(onRecords)));
    mo.observe(r, OPTS);
    // Listeners stay between captures (they check `state.capturing`): adding them again at
    // every snapshot cost a small page's snapshot a tenth of its time.
    if (listened.has(r)) return;
    listened.add(r);
    ev.attach(r);
    r.addEventListener('load', onLoad, true);
  },
  el(n, masked) {
    const t = n.localName;
    if (t === 'iframe' || t === 'frame') {
      try {
        realm(n.contentWindow);
      } catch {}
      if (!frames.has(n)) {
        frames.add(n);
        n.addEventListener('load', () => reframe(n));
      }
    } else if (!masked) ev.track(n);
  },
};

function onRecords(recs) {
  if (!state.capturing) return;
  if (buffered) buffered.push(...recs);
  else process(recs);
}
/** A batch that fails would leave the view silently wrong: start over with a snapshot instead. */
function process(recs) {
  try {
    batch(recs);
  } catch (e) {
    console.error('cobrowse: capture error, resending the page', e);
    setTimeout(start);
  }
}
/** Handles pending records now, before anything that refers to ids is sent. */
export function flushRecords() {
  if (buffered || !state.capturing) return;
  const r = [];
  for (const mo of observers.values()) r.push(...mo.takeRecords());
  if (r.length) process(r);
}

/** Qualified name of a changed attribute (xlink:href keeps its prefix). */
function qname(t, r) {
  if (!r.attributeNamespace) return r.attributeName; // the usual case: no Attr node to make
  const a = t.getAttributeNodeNS(r.attributeNamespace, r.attributeName);
  if (a && a.prefix) return a.prefix + ':' + a.localName;
  return r.attributeNamespace === XLINK
    ? 'xlink:' + r.attributeName
    : r.attributeNamespace === XML
      ? 'xml:' + r.attributeName
      : r.attributeName;
}

/** A batch of MutationRecords → one `mutation` message (FORMAT.md). */
function batch(recs) {
  const ids = mirror.ids,
    start = mirror.next;
  const rem = new Set(),
    cand = [],
    attrs = new Map(),
    texts = new Set();
  for (const r of recs) {
    const t = r.target;
    if (r.type === 'childList') {
      if (isSheet(t)) {
        dirtyStyles.add(t);
        continue;
      }
      if (!ids.has(t) || shut(t)) continue;
      for (const n of r.removedNodes) if (ids.has(n)) rem.add(n);
      for (const n of r.addedNodes) cand.push(n);
    } else if (r.type === 'attributes') {
      if (r.attributeName === 'type' && r.oldValue && r.oldValue.toLowerCase() === 'password')
        notePw(t);
      if (!ids.has(t)) continue;
      let m = attrs.get(t);
      if (!m) attrs.set(t, (m = new Map()));
      m.set(
        r.attributeNamespace ? r.attributeNamespace + ' ' + r.attributeName : r.attributeName,
        r,
      );
    } else if (t.parentNode && isSheet(t.parentNode)) dirtyStyles.add(t.parentNode);
    else if (ids.has(t)) texts.add(t);
  }
  const r = [],
    a = [],
    at = [],
    tx = [],
    moved = new Set(),
    pend = new Set(cand);
  for (const n of rem) r.push(ids.get(n));
  for (let k = cand.length - 1; k >= 0; k--) {
    const n = cand[k];
    if (!pend.delete(n)) continue;
    const p = n.parentNode,
      pid = p && ids.get(p),
      i = ids.get(n);
    // Parent unknown, detached, blocked, or new in this batch (n went with it).
    if (!pid || pid >= start || !p.isConnected || i >= start || shut(p)) continue;
    let b = n.nextSibling;
    while (b && (pend.has(b) || !ids.has(b))) b = b.nextSibling;
    const bid = b ? ids.get(b) : 0;
    if (i) {
      a.push('[' + pid + ',' + bid + ',' + i + ']');
      moved.add(n);
      continue;
    }
    const base = mirror.next,
      s = serialize(n, hooks);
    if (s) a.push('[' + pid + ',' + bid + ',' + base + ',' + s + ']');
  }
  for (const [t, m] of attrs) {
    const i = ids.get(t);
    if (i >= start || !t.isConnected || shut(t)) continue;
    const field = isField(t),
      inMask = ctxOf(t).m; // masked field, or in a masked region
    for (const rec of m.values()) {
      const name = qname(t, rec),
        v = t.getAttributeNS(rec.attributeNamespace, rec.attributeName);
      const val = v === null ? null : attrValue(t, name, v, inMask);
      if (v !== null && val === null) continue;
      at.push(
        t.localName === 'dialog' && name === 'open'
          ? [i, name, val, +(v !== null && t.matches(':modal'))]
          : [i, name, val],
      );
    }
    if (field) ev.dirtyField(t);
  }
  for (const t of texts) {
    const i = ids.get(t);
    if (i < start && t.isConnected) tx.push([i, ctxOf(t.parentNode).m ? maskText(t.data) : t.data]);
  }
  // Forget what the agent forgets: not a node that went with a new parent (ids given again above).
  for (const n of rem) if (!moved.has(n) && !(ids.get(n) >= start)) purge(n);
  if (rem.size) sweep();
  if (!(r.length || a.length || at.length || tx.length)) return;
  let body = '';
  if (r.length) body += '"r":' + JSON.stringify(r) + ',';
  if (a.length) body += '"a":[' + a.join() + '],';
  if (at.length) body += '"at":' + JSON.stringify(at) + ',';
  if (tx.length) body += '"tx":' + JSON.stringify(tx) + ',';
  send('mutation', body.slice(0, -1));
}

/** Drops the ids of a detached subtree (iteratively: it can be deep). */
function purge(n) {
  const s = [n],
    ids = mirror.ids;
  while (s.length) {
    const x = s.pop();
    if (!ids.delete(x)) continue;
    for (let c = x.firstChild; c; c = c.nextSibling) s.push(c);
    const sr = x.nodeType === 1 && shadowOf(x);
    if (sr) s.push(sr);
  }
}
/** Lets go of observers of removed or navigated frames. */
function sweep() {
  for (const [d, mo] of observers) {
    const w = d.defaultView,
      f = w && w.frameElement;
    if (d !== document && (!f || !f.isConnected || f.contentDocument !== d)) {
      mo.disconnect();
      observers.delete(d);
    }
  }
}

/** A same-origin frame loaded a new document: sent whole. */
function reframe(f) {
  const i = mirror.ids.get(f);
  if (!state.capturing || buffered || !i || !f.isConnected) return;
  flushRecords();
  let d = null;
  try {
    realm(f.contentWindow);
    d = f.contentDocument;
  } catch {}
  sweep();
  if (!d) return;
  const base = mirror.next,
    w = new Walker(hooks);
  w.add(d, null, { n: HTML, m: ctxOf(f).m, x: true }, true).run();
  const sh = st.takeSheets();
  if (sh) send('style', { sh });
  send('mutation', '"f":[[' + i + ',' + base + ',' + w.take() + ']]');
}

const soonStyles = () => styleTimer || (styleTimer = setTimeout(flushStyles, 0));
/** Sends changed sheets (CSSOM edits, loaded links) and adopted lists. */
function flushStyles() {
  clearTimeout(styleTimer);
  styleTimer = 0;
  if (!state.capturing || buffered) return;
  flushRecords();
  const ids = mirror.ids,
    css = [],
    as = [];
  for (const x of dirtyStyles) {
    if (x.nodeType) {
      const i = ids.get(x),
        c = i && st.cssOf(x);
      if (i && c !== null) css.push([i, c]);
    } else {
      const i = st.sheetId(x);
      if (i) st.pending.set(i, x);
    }
  }
  dirtyStyles.clear();
  for (const [root, key] of st.adoptRoots) {
    const i = ids.get(root);
    if (!i || !(root.host || root).isConnected) {
      st.adoptRoots.delete(root);
      continue;
    }
    if (Array.from(root.adoptedStyleSheets, st.sheetId).join() !== key) dirtyRoots.add(root);
  }
  for (const root of dirtyRoots) {
    const i = ids.get(root);
    if (i) as.push([i, st.adopted(root) || []]);
  }
  dirtyRoots.clear();
  const sh = st.takeSheets(),
    o = {};
  if (css.length) o.css = css;
  if (sh) o.sh = sh;
  if (as.length) o.as = as;
  if (sh || css.length || as.length) send('style', o);
}
on('sheet', (sh) => {
  if (!state.capturing || !sh) return;
  while (sh.ownerRule && sh.ownerRule.parentStyleSheet) sh = sh.ownerRule.parentStyleSheet;
  dirtyStyles.add(sh.ownerNode || sh);
  soonStyles();
});
on('adopt', (root) => {
  if (state.capturing) {
    dirtyRoots.add(root);
    soonStyles();
  }
});

/** Yields to the event loop between slices. */
const tick = () =>
  globalThis.scheduler && scheduler.yield
    ? scheduler.yield()
    : new Promise((r) => {
        const c = new MessageChannel();
        c.port1.onmessage = r;
        c.port2.postMessage(0);
      });
/**
 * The server keeps each connection's buffers at its largest frame: chunks stay small (a 16 MiB
 * snapshot is 256, within the rate limit's burst).
 */
const CHUNK = 64 * 1024 - 6;

/** One array of the bytes in `parts`. */
function concat(parts) {
  const b = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    b.set(p, o);
    o += p.length;
  }
  return b;
}
/**
 * Collects the snapshot's bytes, deflated when `z`. The output is taken with a stream reader,
 * not `new Response(…).arrayBuffer()`: the reader's steps are microtasks, so a small page's
 * snapshot is sent before the event loop turns (the Response's reads wait for tasks, and a
 * frame's rendering could go first: a few ms that were most of a 1k-node page's snapshot).
 * So each `put` is deflated in the task that made it, by the time its promise resolves.
 */
function packer() {
  const parts = [];
  let cs;
  // Absent before Safari 16.4 and Firefox 113; without deflate-raw (a throw) before Chromium 103.
  try {
    cs = new CompressionStream('deflate-raw');
  } catch {
    return { z: 0, put: (b) => parts.push(b), end: async () => concat(parts) };
  }
  const wr = cs.writable.getWriter(),
    rd = cs.readable.getReader();
  const read = (async () => {
    for (let r; !(r = await rd.read()).done; ) parts.push(r.value);
  })();
  return {
    z: 'deflate-raw',
    put: (b) => wr.write(b),
    end: async () => {
      wr.close();
      await read;
      return concat(parts);
    },
  };
}
/**
 * The next snapshot's packer, made ahead when the page is idle: making one was a tenth of a small
 * page's snapshot.
 */
let spare = null;
const idle = (f) => (globalThis.requestIdleCallback || setTimeout)(f);
const makeSpare = () => {
  spare ||= packer();
};

/**
 * (Re)starts capture with a full snapshot: serialized and deflated in ≤ 8 ms slices while changes
 * are buffered, sent as ≤ 64 KiB binary chunks, then `snapshot`, then the buffered changes.
 */
export async function start() {
  stop();
  const my = ++epoch;
  state.capturing = true;
  resetMirror();
  st.reset();
  ev.reset();
  dirtyStyles.clear();
  dirtyRoots.clear();
  realm(window);
  hold();
  buffered = [];
  const enc = new TextEncoder(),
    pk = spare || packer();
  spare = null;
  const put = (s) => pk.put(enc.encode(s));
  const w = new Walker(hooks).add(document, null, { n: HTML, m: false }, true);
  snapping = true;
  put('{"d":');
  // A slice is 8 ms with its deflating (the same task: see packer); the walk gets what the last
  // deflating left.
  for (let walk = 8; !w.run(performance.now() + walk); ) {
    const t = performance.now();
    await put(w.take());
    walk = Math.max(2, 8 - (performance.now() - t));
    await tick();
    if (my !== epoch) return;
  }
  put(w.take() + ',"sh":' + JSON.stringify(st.takeSheets() || {}) + '}');
  const data = await pk.end();
  if (my !== epoch) return;
  snapping = false;
  let n = 0;
  for (let o = 0; o < data.length || !n; o += CHUNK, n++)
    sendBinary(1, data.subarray(o, o + CHUNK));
  send('snapshot', {
    n,
    z: pk.z,
    url: location.href,
    title: document.title,
    w: innerWidth,
    h: innerHeight,
  });
  release(() => {
    const b = buffered;
    buffered = null;
    for (const mo of observers.values()) b.push(...mo.takeRecords());
    if (b.length) process(b);
  });
  flushStyles();
  ev.flush();
  tickTimer = setInterval(() => {
    ev.pictureCanvases();
    soonStyles();
  }, 500);
  ev.pictureCanvases();
  emit('captureStarted');
  idle(makeSpare);
}

/** Stops capture (agent gone, session over, new snapshot). */
export function stop() {
  epoch++;
  snapping = false;
  state.capturing = false;
  for (const mo of observers.values()) mo.disconnect();
  observers.clear();
  buffered = null;
  clearInterval(tickTimer);
  clearTimeout(styleTimer);
  styleTimer = 0;
  release();
}

export { idOf, locate, nodeOf } from './serialize.js';

/**
 * Readies the first snapshot while no agent watches: its packer, and the serializer run over a
 * made-up fragment (never the customer's page; nothing is sent), so that the join's snapshot runs
 * optimized code: a page's first snapshots took two to five times as long as the next ones.
 */
function warmUp() {
  makeSpare();
  const b = document.implementation.createHTMLDocument('').body;
  b.innerHTML = '<p class=a>b <a href=/c>d</a><input value=e></p>'.repeat(60);
  for (let k = 0; k < 10 && !state.capturing; k++) {
    serialize(b, {});
    resetMirror();
  }
}
/** Loaded once a session is live, before an agent joins: readies the first snapshot. */
export function ready() {
  realm(window);
  idle(warmUp);
}
on('msg:paused', stop);
// A snapshot under way answers a resync too (restarting could loop on a slow page).
on('msg:resync', () => snapping || start());
on('msg:presence', (m) => m.role === 'agent' && !m.connected && stop());
on('disconnected', stop);
on('ended', stop);
on('preflush', flushRecords);
