// DOM → compact JSON text (FORMAT.md). Ids are implicit (both sides count in pre-order),
// and the walker is resumable so that a big page is serialized in slices.
import { masks, masked, sensitive, maskText, maskValue, blocked, announce } from './mask.js';
import { abs, absCss, cssOf, adopted } from './styles.js';
import { rectOf } from './core.js';

const HTML = 'http://www.w3.org/1999/xhtml', SVG = 'http://www.w3.org/2000/svg', MATH = 'http://www.w3.org/1998/Math/MathML';
/** One-URL attributes, made absolute (<base> respected) for the agent's proxy. */
const URLA = /^(src|href|action|formaction|poster|data|background|cite|xlink:href|longdesc)$/;
/** Never mirrored: scripts; noscript (it would render in the no-script view). */
const SKIP = /^(script|noscript)$/;

/** Ids of the current capture; `next` only grows, so ids ≥ a batch's start are new in it. */
export const mirror = { ids: new WeakMap(), next: 1, blk: new WeakSet() };
export const reset = () => { mirror.ids = new WeakMap(); mirror.next = 1; mirror.blk = new WeakSet(); };
/** Whether changes under an element must not be sent (it was, or now is, blocked). */
export const shut = (el) => mirror.blk.has(el) || (el.nodeType === 1 && blocked(el));
export const idOf = (n) => mirror.ids.get(n);
/** id → node, built on demand (a walk) and trusted only while the node still has that id. */
let index = new Map(), built = -1, builtFor = null;
/** Node of an id (control replay, pointers): a walk of the page on a miss, at most once per change of ids. */
export function nodeOf(id) {
  const n = index.get(id);
  if (n && mirror.ids.get(n) === id) return n;
  if (built === mirror.next && builtFor === mirror.ids) return null;
  index = new Map(); built = mirror.next; builtFor = mirror.ids;
  const st = [document];
  while (st.length) {
    const x = st.pop(), i = mirror.ids.get(x);
    if (!i) continue;
    index.set(i, x);
    for (let c = x.firstChild; c; c = c.nextSibling) st.push(c);
    if (x.nodeType === 1) {
      const s = shadowOf(x);
      if (s) st.push(s);
      try { if (x.contentDocument) st.push(x.contentDocument); } catch {}
    }
  }
  return index.get(id) || null;
}
/**
 * Where the agent points: `{i, ox, oy, w, h}` is an element and an offset in its box (scaled if
 * the box differs in size), so it lands on the same thing whatever the scroll; `x, y` otherwise.
 */
export function locate(m) {
  const n = m.i && nodeOf(m.i);
  if (n && n.nodeType === 1 && n.isConnected) {
    const r = rectOf(n), k = (a, b, c) => (b > 0 ? (a * c) / b : a);
    return { x: r.left + k(+m.ox || 0, m.w, r.width), y: r.top + k(+m.oy || 0, m.h, r.height), el: n };
  }
  return { x: +m.x || 0, y: +m.y || 0 };
}

/** Closed shadow roots, kept when attached (by the loader; here for frames). */
let closed = Element.prototype.attachShadow.cb || new WeakMap();
export const shadowOf = (el) => el.shadowRoot || closed.get(el);
export function hookShadow(win) {
  const P = win.Element.prototype, a = P.attachShadow;
  if (a.cb) return;
  (P.attachShadow = function (o) { const r = a.call(this, o); closed.set(this, r); return r; }).cb = closed;
}

/** A child's namespace as the HTML parser would decide it. */
function inferNs(tag, pns, fo) {
  const b = fo ? HTML : pns;
  return b === HTML ? (tag === 'svg' ? SVG : tag === 'math' ? MATH : HTML) : b;
}
const q = JSON.stringify;

/** Attributes with readable text: masked in masked regions. */
const TEXTA = /^(alt|title|label|placeholder|aria-(label|valuetext|description))$/;
/** Value as sent (`sens`: masked field, `m`: masked region); null: not sent. */
export function attrValue(el, name, v, sens, m) {
  if (/^on/i.test(name)) return null;
  if (sens && name === 'value') return maskValue(v);
  if (m && TEXTA.test(name)) return maskText(v);
  if (name === 'srcset' || name === 'imagesrcset') return v.replace(/(^|,)(\s*)([^\s,]+)/g, (m, c, w, u) => c + w + abs(u, el.baseURI));
  if (URLA.test(name)) return abs(v, el.baseURI);
  if (name === 'style') return absCss(v, el.baseURI);
  return v;
}
const aname = (a) => (a.prefix ? a.prefix + ':' + a.localName : a.localName);
export const isField = (el) => /^(input|textarea|select)$/.test(el.localName);

/**
 * Resumable depth-first serializer. Stack: output text or `[node, expectedParent, ctx, first]`,
 * ctx `{n: parent ns, f: parent is foreignObject, m: masked}`. Hooks: root(r), el(el, masked).
 */
export class Walker {
  constructor(hooks) { this.h = hooks; this.out = []; this.st = []; this.start = mirror.next; }
  /** Queues a node, written first (no comma) if `first`. */
  add(node, parent, ctx, first) { this.st.push([node, parent, ctx, first]); return this; }
  /** Runs until done (true) or past `deadline` (false). */
  run(deadline = Infinity) {
    const st = this.st;
    for (let k = 0; st.length; k++) {
      if ((k & 127) === 127 && performance.now() > deadline) return false;
      const t = st.pop();
      if (typeof t === 'string') this.out.push(t);
      else this.visit(t[0], t[1], t[2], t[3]);
    }
    return true;
  }
  take() { const s = this.out.join(''); this.out = []; return s; }

  visit(n, parent, ctx, first) {
    const ids = mirror.ids, c = first ? '' : ',', t = n.nodeType;
    // Moved since queued, or already written: skip (the next batch fixes it up).
    if (parent && n.parentNode !== parent && n.host !== parent) return;
    if (ids.get(n) >= this.start) return;
    if (t === 3 || t === 4) {
      ids.set(n, mirror.next++);
      return this.out.push(c + q(ctx.m ? maskText(n.data) : n.data));
    }
    if (t === 9 || t === 11) {
      ids.set(n, mirror.next++);
      this.h.root(n);
      const ex = {}, as = adopted(n);
      if (as) ex.as = as;
      if (t === 9) {
        if (n.compatMode === 'BackCompat') ex.q = 1;
        const w = n.defaultView;
        if (w && (w.scrollX || w.scrollY)) ex.sc = [w.scrollX, w.scrollY];
      }
      this.out.push(c + '["' + (t === 9 ? '#d' : '#s') + '",0,' + q(ex));
      return this.kids(n, ctx);
    }
    if (t !== 1) return;
    const tag = n.localName;
    if (SKIP.test(tag) || n.hasAttribute('data-cobrowse-ui')) return;
    ids.set(n, mirror.next++);
    const ex = {}, ns = n.namespaceURI, pns = ctx.n;
    if (ns !== inferNs(tag, pns, ctx.f)) ex.ns = ns;
    if (blocked(n)) {
      mirror.blk.add(n);
      // Only the box size leaves the page.
      const r = n.getBoundingClientRect(), d = getComputedStyle(n).display;
      ex.b = [Math.round(r.width), Math.round(r.height), d === 'inline' ? 'inline-block' : d];
      return this.out.push(c + '[' + q(tag) + ',0,' + q(ex) + ']');
    }
    const field = isField(n), sens = field && sensitive(n);
    let m = ctx.m;
    if (sens || (!m && masks(n))) { ex.m = 1; m = true; announce(n); }
    // Written by hand: an object per element to stringify would be the slow part.
    let a = '';
    for (const at of n.attributes) {
      const v = attrValue(n, at.name, at.value, sens || (m && field), m);
      if (v !== null) a += (a ? ',' : '{') + q(aname(at)) + ':' + q(v);
    }
    a = a ? a + '}' : '0';
    // Live state that attributes do not show.
    if (tag === 'input') {
      if (n.type === 'checkbox' || n.type === 'radio') { if (n.checked !== n.hasAttribute('checked')) ex.c = +n.checked; }
      else if (n.type !== 'file' && n.value !== (n.getAttribute('value') ?? '')) ex.v = sens ? maskValue(n.value) : n.value;
    } else if (tag === 'textarea') { if (n.value !== n.defaultValue) ex.v = sens ? maskValue(n.value) : n.value; }
    else if (tag === 'option') { if (n.selected !== n.hasAttribute('selected')) ex.o = +n.selected; }
    else if (tag === 'style' || (tag === 'link' && /\bstylesheet\b/i.test(n.rel))) { const s = cssOf(n); if (s !== null) ex.css = s; }
    else if (tag === 'dialog' && n.open && n.matches(':modal')) ex.md = 1;
    else if (tag.includes('-') && !n.matches(':defined')) ex.u = 1;
    if (n.scrollTop || n.scrollLeft) ex.sc = [n.scrollLeft, n.scrollTop];
    this.h.el(n, m);
    const sr = shadowOf(n);
    let fd = null;
    if (tag === 'iframe' || tag === 'frame') { try { fd = n.contentDocument; } catch {} }
    const kids = tag !== 'style' && n.firstChild, fo = tag === 'foreignObject';
    const cctx = ns === pns && m === ctx.m && !fo && !ctx.f ? ctx : { n: ns, f: fo, m };
    const e = q(ex);
    if (!sr && !fd) {
      if (!kids) return this.out.push(c + '[' + q(tag) + (e !== '{}' ? ',' + a + ',' + e : a !== '0' ? ',' + a : '') + ']');
      this.out.push(c + '[' + q(tag) + ',' + a + ',' + (e === '{}' ? '0' : e));
      return this.kids(n, cctx);
    }
    // Nested trees go in `extra`, before the children (pre-order ids).
    this.out.push(c + '[' + q(tag) + ',' + a + ',' + e.slice(0, -1) + (e === '{}' ? '' : ','));
    this.st.push(']');
    if (kids) for (let k = n.lastChild; k; k = k.previousSibling) this.st.push([k, n, cctx]);
    this.st.push('}');
    if (fd) this.st.push([fd, null, { n: HTML, m }, true], (sr ? ',' : '') + '"f":');
    if (sr) this.st.push([sr, n, { n: HTML, m }, true], '"s":');
  }
  kids(n, ctx) {
    this.st.push(']');
    for (let k = n.lastChild; k; k = k.previousSibling) this.st.push([k, n, ctx]);
  }
}

/** Context of a node inserted under `parent`. */
export function ctxOf(parent) {
  const el = parent.nodeType === 1 ? parent : parent.host || null;
  return { n: el ? el.namespaceURI : HTML, f: el && el.localName === 'foreignObject', m: !!el && (masked(el) || (isField(el) && sensitive(el))) };
}

/** One new subtree, at once; '' when not mirrored. */
export function serialize(node, hooks) {
  const p = node.parentNode, w = new Walker(hooks);
  w.add(node, null, ctxOf(p || node), true).run();
  return w.take();
}
