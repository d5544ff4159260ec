// State the DOM does not show (values, scroll, viewport, focus, hover, pointer, media,
// canvas). Handlers only mark; one flush reads the current state, masks it, sends it.
import { emit, frameXY, rectOf, send, sendBinary, state } from './core.js';
import { isField, masked, maskValue, sensitive } from './mask.js';
import { mirror } from './serialize.js';

const fields = new Set(),
  scrolls = new Set(),
  media = new Set();
/** Canvases to picture (≤ 2/s), and signatures of the last pictures sent. */
export const canvases = new Set();
let sigs = new WeakMap();
let timer = 0,
  frame = 0,
  hoverEl = null,
  hoverId = -1,
  focusDirty = false,
  ptr = null,
  vp = '';
/** The focus as last sent: `id:fv`. */
let focusId = '';
/** The selection as last sent (its message's JSON), and whether it may have changed since. */
let selSent = '',
  selDirty = false;

/** Forgets the previous capture (ids restart with each snapshot). */
export function reset() {
  fields.clear();
  scrolls.clear();
  media.clear();
  canvases.clear();
  sigs = new WeakMap();
  hoverId = -1;
  ptrBox = focusId = '';
  focusDirty = selDirty = true;
  selSent = '';
  vp = innerWidth + 'x' + innerHeight;
}
const soon = (ms = 0) => timer || (timer = setTimeout(flush, ms));
/**
 * The pointer goes at the next animation frame: one position per frame is all the agent's view can
 * show.
 */
const nextFrame = () =>
  frame ||
  (frame = requestAnimationFrame(() => {
    frame = 0;
    flush();
  }));
/** Marks a field to send (typed, or value/checked/selected set by code). */
export function dirtyField(el) {
  if (!state.capturing) return;
  fields.add(el.localName === 'option' ? el.closest('select') || el : el);
  soon();
}

/** The pointer's element and box size as last sent (since the last snapshot). */
let ptrBox = '';
/**
 * The element under the pointer and the offset in its box: the agent's view places the cursor on
 * the same thing even while its scroll lags behind. The box's size goes only when it changed
 * since the snapshot: the view keeps the last one. The element is also the one hovered, so the
 * view marks it from this and no `hover` follows.
 * @param {{x: number, y: number, t: Node}} p
 */
function sendPointer({ x, y, t }) {
  const n = elUp(t),
    i = n && n.nodeType === 1 && mirror.ids.get(n);
  if (!i) return send('pointer', { x, y });
  const r = rectOf(n),
    w = Math.round(r.width),
    h = Math.round(r.height),
    box = i + ':' + w + 'x' + h,
    o = { i, ox: Math.round(x - r.left), oy: Math.round(y - r.top) };
  if (box !== ptrBox) Object.assign(o, { w, h });
  ptrBox = box;
  send('pointer', o);
  hoverId = i;
}

/** Id of the nearest mirrored node. */
function idUp(n) {
  return mirror.ids.get(elUp(n)) || 0;
}
/** The nearest mirrored node. */
function elUp(n) {
  for (; n; n = n.parentNode || n.host) if (mirror.ids.get(n)) return n;
  return null;
}
/** Focused element, through shadow roots and same-origin frames. */
export function deepActive(d = document) {
  /** @type {any} */
  let a = d.activeElement;
  for (;;) {
    if (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
    else if (a && a.contentDocument && a.contentDocument.activeElement) {
      try {
        a = a.contentDocument.activeElement;
      } catch {
        break;
      }
    } else break;
  }
  return a && a !== d.body ? a : null;
}
/** Pointer position in the top window's viewport (also from frames). */
function topXY(e) {
  const [x, y] = frameXY(e.view);
  return { x: Math.round(e.clientX + x), y: Math.round(e.clientY + y) };
}

function handle(e) {
  if (!state.capturing) return;
  const t = e.composedPath()[0] || e.target;
  switch (e.type) {
    case 'input':
    case 'change':
      if (t.nodeType === 1 && isField(t)) fields.add(t);
      break;
    case 'scroll':
      scrolls.add(t);
      return soon(40);
    case 'focusin':
    case 'focusout':
      focusDirty = true;
      break;
    case 'mouseover':
      hoverEl = t;
      return soon(30);
    case 'mousemove':
      ptr = { ...topXY(e), t };
      return nextFrame();
    case 'resize':
      return soon(100);
    case 'selectionchange':
      selDirty = true;
      return soon(50);
    default:
      if (t.localName === 'video' || t.localName === 'audio') media.add(t); // play, pause, seeked…
  }
  soon();
}
const EVENTS = [
  'input',
  'change',
  'scroll',
  'focusin',
  'focusout',
  'mouseover',
  'mousemove',
  'selectionchange',
  'play',
  'pause',
  'seeked',
  'ratechange',
  'volumechange',
];
const opts = { capture: true, passive: true };
/** Listens on a document or shadow root (scroll, change… do not leave shadow roots). */
export function attach(root) {
  for (const ev of EVENTS) root.addEventListener(ev, handle, opts);
  if (root.defaultView) root.defaultView.addEventListener('resize', handle, opts);
}
// A timer set just before the customer leaves the page may never run: what is dirty goes now.
// (The page's only: a frame's, as it is removed, would take records before the removal is known.)
// Firefox closes the socket before pagehide: beforeunload is the last moment it is open there.
addEventListener('beforeunload', flush);
addEventListener('pagehide', flush);

const hooked = new WeakSet();
/** Hooks value setters, so values set by code (autofill, frameworks) are sent too. */
export function hook(win) {
  if (hooked.has(win)) return;
  hooked.add(win);
  const set = (P, props) =>
    props.forEach((p) => {
      const d = Object.getOwnPropertyDescriptor(P, p);
      if (d && d.set)
        Object.defineProperty(P, p, {
          ...d,
          set(v) {
            d.set.call(this, v);
            dirtyField(this);
          },
        });
    });
  set(win.HTMLInputElement.prototype, ['value', 'checked', 'valueAsNumber', 'valueAsDate']);
  set(win.HTMLTextAreaElement.prototype, ['value']);
  set(win.HTMLSelectElement.prototype, ['value', 'selectedIndex']);
  set(win.HTMLOptionElement.prototype, ['selected']);
}

/**
 * A field's state as sent. Masked: a value of one length, whatever the kind (a select's or a box's
 * choice is never told).
 */
function fieldState(el) {
  if (el.type === 'file') return null;
  if (sensitive(el)) return { v: maskValue(el.value) };
  if (el.localName === 'select')
    return { x: Array.from(el.options, (o, i) => (o.selected ? i : -1)).filter((i) => i >= 0) };
  if (el.type === 'checkbox' || el.type === 'radio') return { c: +el.checked };
  return { v: el.value };
}

/**
 * The customer's selection as the agent's view can show it: in a field (`i`, `r`: [start, end]) or
 * in the
 * page (`a`, `f`: [text node id, offset]); `{}` for none. Nothing in a masked field or region.
 */
function selection() {
  const el = deepActive(),
    ids = mirror.ids;
  if (el && isField(el)) {
    const s = el.selectionStart,
      e = el.selectionEnd;
    return ids.get(el) && s !== e && s !== null && !sensitive(el)
      ? { i: ids.get(el), r: [s, e] }
      : {};
  }
  const sel = getSelection(),
    end = (n, o) => !masked(n) && ids.get(n) && [ids.get(n), o];
  const a = sel && !sel.isCollapsed && end(sel.anchorNode, sel.anchorOffset),
    f = a && end(sel.focusNode, sel.focusOffset);
  return f ? { a, f } : {};
}

/** Sends what is dirty; pending mutations first (`preflush`) so ids are known. */
export function flush() {
  clearTimeout(timer);
  timer = 0;
  if (!state.capturing) return;
  emit('preflush');
  const ids = mirror.ids,
    l = [];
  for (const el of fields) {
    const i = ids.get(el),
      s = i && el.isConnected && fieldState(el);
    if (s) l.push([i, s]);
  }
  fields.clear();
  if (l.length) send('input', { l });
  const sl = [];
  for (const t of scrolls) {
    const i = ids.get(t);
    if (!i) continue;
    const w = t.defaultView; // a document's scroll is its window's
    sl.push([i, Math.round(w ? w.scrollX : t.scrollLeft), Math.round(w ? w.scrollY : t.scrollTop)]);
  }
  scrolls.clear();
  if (sl.length) send('scroll', { l: sl });
  const v = innerWidth + 'x' + innerHeight;
  if (v !== vp) {
    vp = v;
    send('viewport', { w: innerWidth, h: innerHeight });
  }
  if (focusDirty) {
    // Whether the focus ring shows (`:focus-visible`): not after a click, yes after a key.
    focusDirty = false;
    const a = deepActive(),
      i = idUp(a),
      fv = a && a.matches(':focus-visible') ? 1 : 0;
    if (i + ':' + fv !== focusId) {
      send('focus', { i, fv });
      focusId = i + ':' + fv;
    }
  }
  if (selDirty) {
    selDirty = false;
    const s = selection(),
      j = JSON.stringify(s);
    if (j !== selSent) {
      selSent = j;
      send('selection', s);
    }
  }
  if (ptr && !frame) {
    // only from the frame callback: a flush for other state between frames waits for it
    sendPointer(ptr);
    ptr = null;
  }
  if (hoverEl) {
    const i = idUp(hoverEl);
    hoverEl = null;
    if (i !== hoverId) send('hover', { i: (hoverId = i) });
  }
  const ml = [];
  for (const el of media) {
    const i = ids.get(el);
    if (i) ml.push([i, +el.paused, +el.currentTime.toFixed(2), +el.muted]);
  }
  media.clear();
  if (ml.length) send('media', { l: ml });
}

/** Registers canvases (pictured) and media (play state). */
export function track(el) {
  if (el.localName === 'canvas') canvases.add(el);
  else if (el.localName === 'video' || el.localName === 'audio') {
    if (!el.paused || el.currentTime) {
      media.add(el);
      soon();
    }
  }
}

/** FNV-1a over sampled bytes: enough to skip an unchanged picture. */
function sig(b) {
  let h = 2166136261;
  for (let i = 0; i < b.length; i += 7) h = Math.imul(h ^ b[i], 16777619);
  return b.length + ':' + h;
}
/** Pictures canvases (WebP via toBlob, off the main thread); changed ones go as binary kind 2. */
export function pictureCanvases() {
  if (!state.capturing || document.hidden) return;
  for (const c of canvases) {
    if (!c.isConnected) {
      canvases.delete(c);
      continue;
    }
    const id = mirror.ids.get(c);
    if (!id || !c.width || !c.height) continue;
    try {
      c.toBlob(
        async (b) => {
          if (!b || mirror.ids.get(c) !== id) return;
          const buf = new Uint8Array(await b.arrayBuffer()),
            s = sig(buf);
          if (s === sigs.get(c)) return;
          const p = new Uint8Array(4 + buf.length);
          new DataView(p.buffer).setUint32(0, id);
          p.set(buf, 4);
          if (sendBinary(2, p)) sigs.set(c, s);
        },
        'image/webp',
        0.9,
      );
    } catch {} // tainted canvas: nothing to show
  }
}
