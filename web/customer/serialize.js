// DOM → compact JSON text (FORMAT.md). Ids are implicit (both sides count in pre-order),
// and the walker is resumable so that a big page is serialized in slices.

import { rectOf, state } from './core.js';
import {
  announce,
  blocked,
  hides,
  isField,
  masks,
  maskText,
  maskValue,
  sensitive,
} from './mask.js';
import { abs, absCss, adopted, cssOf } from './styles.js';

export const HTML = 'http://www.w3.org/1999/xhtml';
const SVG = 'http://www.w3.org/2000/svg',
  MATH = 'http://www.w3.org/1998/Math/MathML';
/** One-URL attributes, made absolute (<base> respected) for the agent's proxy. */
const URLA = new Set([
  'src',
  'href',
  'action',
  'formaction',
  'poster',
  'data',
  'background',
  'cite',
  'xlink:href',
  'longdesc',
]);

/** Ids of the current capture; `next` only grows, so ids ≥ a batch's start are new in it. */
export const mirror = { ids: new WeakMap(), next: 1, blk: new WeakSet() };
export const reset = () => {
  mirror.ids = new WeakMap();
  mirror.next = 1;
  mirror.blk = new WeakSet();
};
/** Whether changes under an element must not be sent (it was, or now is, blocked). */
export const shut = (el) => mirror.blk.has(el) || (el.nodeType === 1 && blocked(el));
export const idOf = (n) => mirror.ids.get(n);
/** id → node, built on demand (a walk) and trusted only while the node still has that id. */
let index = new Map(),
  built = -1,
  builtFor = null;
/**
 * Node of an id (control replay, pointers): a walk of the page on a miss, at most once per change
 * of ids.
 */
export function nodeOf(id) {
  const n = index.get(id);
  if (n && mirror.ids.get(n) === id) return n;
  if (built === mirror.next && builtFor === mirror.ids) return null;
  index = new Map();
  built = mirror.next;
  builtFor = mirror.ids;
  /** @type {any[]} */
  const st = [document];
  while (st.length) {
    const x = st.pop(),
      i = mirror.ids.get(x);
    if (!i) continue;
    index.set(i, x);
    for (let c = x.firstChild; c; c = c.nextSibling) st.push(c);
    if (x.nodeType === 1) {
      const s = shadowOf(x);
      if (s) st.push(s);
      try {
        if (x.contentDocument) st.push(x.contentDocument);
      } catch {}
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
    const r = rectOf(n),
      k = (a, b, c) => (b > 0 ? (a * c) / b : a);
    return {
      x: r.left + k(+m.ox || 0, m.w, r.width),
      y: r.top + k(+m.oy || 0, m.h, r.height),
      el: n,
    };
  }
  return { x: +m.x || 0, y: +m.y || 0 };
}

/** Closed shadow roots, kept when attached (by the loader; here for frames). */
const closed = Element.prototype.attachShadow.cb || new WeakMap();
export const shadowOf = (el) => el.shadowRoot || closed.get(el);
export function hookShadow(win) {
  const P = win.Element.prototype,
    a = P.attachShadow;
  if (a.cb) return;
  (P.attachShadow = function (o) {
    const r = a.call(this, o);
    closed.set(this, r);
    return r;
  }).cb = closed;
}

/** A child's namespace as the HTML parser would decide it. */
function inferNs(tag, pns, fo) {
  const b = fo ? HTML : pns;
  return b === HTML ? (tag === 'svg' ? SVG : tag === 'math' ? MATH : HTML) : b;
}
const q = JSON.stringify;
/** JSON of tag and attribute names: few distinct ones, written for every element. */
const names = new Map();
const qn = (s) => {
  let j = names.get(s);
  if (j === undefined) {
    j = q(s);
    if (names.size < 2000) names.set(s, j);
  }
  return j;
};

/**
 * The attributes a masked element (or anything in a masked region) keeps: those its box and
 * the site's CSS need. Everything else (value, name, data-*, aria-*, title, alt, href, src,
 * checked, selected, label…) can tell what the customer chose or who they are. FORMAT.md.
 */
const LAYOUT = new Set(
  'class id style type dir hidden slot width height size cols rows colspan rowspan multiple disabled readonly open popover'.split(
    ' ',
  ),
);
/** Value as sent (`m`: masked element or region); null: not sent. */
export function attrValue(el, name, v, m) {
  // on* handlers, in any case (a test per attribute: cheaper than a regular expression)
  if ((name.charCodeAt(0) | 32) === 111 && (name.charCodeAt(1) | 32) === 110) return null;
  if (m && !LAYOUT.has(name)) return null;
  if (name === 'srcset' || name === 'imagesrcset')
    return v.replace(/(^|,)(\s*)([^\s,]+)/g, (_m, c, w, u) => c + w + abs(u, el.baseURI));
  if (URLA.has(name)) return abs(v, el.baseURI);
  // absCss finds escaped url(), image-set() strings
  if (name === 'style') return absCss(v, el.baseURI);
  return v;
}
/** Marks the next node popped from a Walker's stack as the first of its list (no comma). */
const FIRST = {},
  NONE = [];
/**
 * Elements the `el` hook is told of: what changes beyond the DOM (frames' documents, pictures, play
 * state).
 */
const WATCHED = new Set(['iframe', 'frame', 'canvas', 'video', 'audio']);

/**
 * Resumable depth-first serializer. Stack, flat (no array per node): output text, or
 * `ctx, expectedParent, node` (node on top), maybe topped by FIRST. ctx `{n: parent ns,
 * f: parent is foreignObject, m: masked, x: read every element's scroll}`. Hooks: root(r),
 * el(el, masked) for WATCHED elements.
 */
export class Walker {
  constructor(hooks) {
    this.h = hooks;
    this.out = [];
    this.st = [];
    this.start = mirror.next;
    this.first = false;
    /**
     * Elements scrolled since the loader ran (null: any may be); only those have a scroll position
     * to read.
     */
    this.scrolled = state.scrolled;
  }
  /** Queues a node, written first (no comma) if `first`. */
  add(node, parent, ctx, first) {
    this.st.push(ctx, parent, node);
    if (first) this.st.push(FIRST);
    return this;
  }
  /** Runs until done (true) or past `deadline` (false). */
  run(deadline = Infinity) {
    const st = this.st;
    for (let k = 0; st.length; k++) {
      if ((k & 127) === 127 && performance.now() > deadline) return false;
      const t = st.pop();
      if (typeof t === 'string') this.out.push(t);
      else if (t === FIRST) this.first = true;
      else this.visit(t, st.pop(), st.pop());
    }
    return true;
  }
  take() {
    const s = this.out.join('');
    this.out = [];
    return s;
  }

  visit(n, parent, ctx) {
    const ids = mirror.ids,
      c = this.first ? '' : ',',
      t = n.nodeType;
    this.first = false;
    // Moved since queued, or already written: skip (the next batch fixes it up).
    if (parent && n.parentNode !== parent && n.host !== parent) return;
    if (ids.get(n) >= this.start) return;
    if (t === 3 || t === 4) {
      // A masked option's label or textarea's text: not even its length (no id: never sent).
      if (ctx.m && /^(option|textarea)$/.test(n.parentNode.localName)) return;
      ids.set(n, mirror.next++);
      return this.out.push(c + q(ctx.m ? maskText(n.data) : n.data));
    }
    if (t === 9 || t === 11) {
      ids.set(n, mirror.next++);
      this.h.root(n);
      const ex = {},
        as = adopted(n);
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
    // Never mirrored: scripts; noscript (it would render in the no-script view); our own UI.
    const an = n.hasAttributes() ? n.getAttributeNames() : NONE;
    if (tag === 'script' || tag === 'noscript' || (an.length && an.includes('data-cobrowse-ui')))
      return;
    ids.set(n, mirror.next++);
    // `extra` members, each `,"key":json`, written by hand as the attributes are: most
    // elements have none, and an object per element to stringify would be the slow part.
    const ns = n.namespaceURI,
      pns = ctx.n;
    let x = ns !== inferNs(tag, pns, ctx.f) ? ',"ns":' + q(ns) : '';
    if (blocked(n)) {
      mirror.blk.add(n);
      // Only the box size leaves the page.
      const r = n.getBoundingClientRect(),
        d = getComputedStyle(n).display;
      x +=
        ',"b":' +
        q([Math.round(r.width), Math.round(r.height), d === 'inline' ? 'inline-block' : d]);
      return this.out.push(c + '[' + q(tag) + ',0,{' + x.slice(1) + '}]');
    }
    let m = ctx.m;
    const own = !m && masks(n),
      field = isField(n),
      sens = field && sensitive(n, m || own);
    if (sens || own) {
      x += ',"m":1';
      m = true;
      announce(n);
    }
    let a = '';
    for (let i = 0; i < an.length; i++) {
      // getAttribute lowercases on HTML elements: a mixed-case name set by setAttributeNS reads by
      // index.
      const name = an[i],
        raw = n.getAttribute(name) ?? n.attributes[i].value;
      const v = attrValue(n, name, raw, m);
      if (v !== null) a += (a ? ',' : '{') + qn(name) + ':' + q(v);
    }
    a = a ? a + '}' : '0';
    // Live state that attributes do not show.
    // Masked: no checked or selected state; a value of one length (its markup is not sent).
    if (tag === 'input') {
      if (n.type === 'checkbox' || n.type === 'radio') {
        if (!m && n.checked !== n.hasAttribute('checked')) x += ',"c":' + +n.checked;
      } else if (n.type !== 'file' && (sens || n.value !== (n.getAttribute('value') ?? '')))
        x += ',"v":' + q(sens ? maskValue(n.value) : n.value);
    } else if (tag === 'textarea') {
      if (sens || n.value !== n.defaultValue) x += ',"v":' + q(sens ? maskValue(n.value) : n.value);
    } else if (tag === 'option') {
      if (!m && n.selected !== n.hasAttribute('selected')) x += ',"o":' + +n.selected;
    } else if (tag === 'style' || (tag === 'link' && /\bstylesheet\b/i.test(n.rel))) {
      const s = cssOf(n);
      if (s !== null) x += ',"css":' + q(s);
    } else if (tag === 'dialog' && n.open && n.matches(':modal')) x += ',"md":1';
    else if (tag.includes('-') && !n.matches(':defined')) x += ',"u":1';
    if ((ctx.x || !this.scrolled || this.scrolled.has(n)) && (n.scrollTop || n.scrollLeft))
      x += ',"sc":[' + n.scrollLeft + ',' + n.scrollTop + ']';
    if (WATCHED.has(tag)) this.h.el(n, m);
    const sr = shadowOf(n);
    let fd = null;
    if (tag === 'iframe' || tag === 'frame') {
      try {
        fd = n.contentDocument;
      } catch {}
    }
    const kids = tag !== 'style' && n.firstChild,
      fo = tag === 'foreignObject';
    const cctx = ns === pns && m === ctx.m && !fo && !ctx.f ? ctx : { n: ns, f: fo, m, x: ctx.x };
    const e = x && '{' + x.slice(1) + '}';
    if (!sr && !fd) {
      if (!kids)
        return this.out.push(
          c + '[' + qn(tag) + (e ? ',' + a + ',' + e : a !== '0' ? ',' + a : '') + ']',
        );
      this.out.push(c + '[' + qn(tag) + ',' + a + ',' + (e || '0'));
      return this.kids(n, cctx);
    }
    // Nested trees go in `extra`, before the children (pre-order ids). Their scroll events
    // do not reach the loader's listener: every element's position is read there.
    this.out.push(c + '[' + qn(tag) + ',' + a + ',{' + (x && x.slice(1) + ','));
    if (kids) this.kids(n, cctx);
    else this.st.push(']');
    this.st.push('}');
    if (fd) this.add(fd, null, { n: HTML, m, x: true }, true).st.push((sr ? ',' : '') + '"f":');
    if (sr) this.add(sr, n, { n: HTML, m, x: true }, true).st.push('"s":');
  }
  kids(n, ctx) {
    const st = this.st;
    st.push(']');
    for (let k = n.lastChild; k; k = k.previousSibling) st.push(ctx, n, k);
  }
}

/** Context of a node inserted under `parent`. */
export function ctxOf(parent) {
  const el = parent.nodeType === 1 ? parent : parent.host || null;
  return {
    n: el ? el.namespaceURI : HTML,
    f: el && el.localName === 'foreignObject',
    m: !!el && hides(el),
  };
}

/** One new subtree, at once; '' when not mirrored. */
export function serialize(node, hooks) {
  const p = node.parentNode,
    w = new Walker(hooks);
  w.add(node, null, ctxOf(p || node), true).run();
  return w.take();
}
