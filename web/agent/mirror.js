// Rebuilds the customer's page inside <iframe sandbox="allow-same-origin" inert>, from the
// format in web/customer/FORMAT.md. Nothing from the customer is trusted: every tag,
// attribute and piece of CSS goes through the filters below, so that nothing runs and no
// request leaves for the customer's site (resources go through our /proxy). The page's
// CSP (index.html) is the second lock.

import { cssString, rewriteCssUrls } from './css-urls.js';

const HTML = 'http://www.w3.org/1999/xhtml',
  SVG = 'http://www.w3.org/2000/svg',
  MATH = 'http://www.w3.org/1998/Math/MathML';
const NS = {
  xlink: 'http://www.w3.org/1999/xlink',
  xml: 'http://www.w3.org/XML/1998/namespace',
  xmlns: 'http://www.w3.org/2000/xmlns/',
};

/** Same rule as the customer's serializer: the namespace a child gets unless told otherwise. */
function inferNs(tag, pns, fo) {
  const b = fo ? HTML : pns;
  return b === HTML ? (tag === 'svg' ? SVG : tag === 'math' ? MATH : HTML) : b;
}
/** Number of ids a serialized node uses (itself, shadow root, frame document, children). */
function count(x) {
  if (typeof x === 'string') return 1;
  const e = x[2] || 0;
  let n = 1 + (e.s ? count(e.s) : 0) + (e.f ? count(e.f) : 0);
  for (let k = 3; k < x.length; k++) n += count(x[k]);
  return n;
}
/**
 * Bounds of what the view builds: a snapshot's inflated text (bytes), the nodes of the view and
 * the depth of its tree. A hostile page could otherwise send a small message that takes the
 * agent's tab down (a "zip bomb", millions of nodes, a tree deep enough to overflow the stack or
 * hang layout). Real pages stay far below: a 50 000-node page is a few MiB of JSON, and HTML's
 * own parser stops nesting at 512.
 */
export const LIMITS = { bytes: 64 * 1024 * 1024, nodes: 1000000, depth: 1000 };
/** What the view refuses to build (beyond LIMITS, or not nodes at all): the caller says so. */
export class Refused extends Error {}

/**
 * Checks a serialized subtree before any of it is built: its shape (the customer's page may be
 * hostile and send any JSON, not what our serializer makes) and its size against LIMITS, `depth`
 * being where it goes and `room` how many nodes it may add. Iterative, so that a deep tree
 * cannot overflow the stack here. Returns its node count.
 */
function measure(x, depth, room) {
  let n = 0;
  const stack = [x, depth];
  while (stack.length) {
    const d = stack.pop(),
      y = stack.pop();
    if (++n > room) throw new Refused('too many nodes: over ' + LIMITS.nodes + ' in the view');
    if (d > LIMITS.depth) throw new Refused('tree too deep: over ' + LIMITS.depth + ' levels');
    if (typeof y === 'string') continue;
    if (!Array.isArray(y) || typeof y[0] !== 'string') throw new Refused('not a node: ' + typeof y);
    const a = y[1] || {},
      e = y[2] || {};
    if (typeof a !== 'object' || Array.isArray(a) || typeof e !== 'object' || Array.isArray(e)) {
      throw new Refused('not a node: bad attributes or extras');
    }
    if (e.s) stack.push(e.s, d + 1);
    if (e.f) stack.push(e.f, d + 1);
    for (let k = y.length - 1; k >= 3; k--) stack.push(y[k], d + 1);
  }
  return n;
}
/**
 * Whether a node of the view, put at `depth`, keeps its subtree within LIMITS.depth (a move
 * can stack subtrees that were each shallow). Walks the subtree, stopping at the first breach.
 */
function fits(n, depth) {
  const stack = [n, depth];
  while (stack.length) {
    const d = stack.pop(),
      x = stack.pop();
    if (d > LIMITS.depth) return false;
    for (let c = x.firstChild; c; c = c.nextSibling) stack.push(c, d + 1);
    if (x.shadowRoot) stack.push(x.shadowRoot, d + 1);
  }
  return true;
}
/** How deep a node of the view is (its ancestors, through shadow roots and frames). */
function depthOf(n) {
  let d = 0;
  for (; n && d <= LIMITS.depth; d++) {
    n =
      n.parentNode ||
      n.host ||
      (n.nodeType === 9 && n.defaultView && n.defaultView.frameElement) ||
      null;
  }
  return d;
}

/** Elements never built (a comment holds their place and id): they run code or load documents. */
const DEAD = /^(script|noscript|object|embed|applet|portal|frameset)$/i;
/** Attributes dropped everywhere (the value is kept in data-cb-<name> for debugging and tests, except handlers). */
const DROP =
  /^(srcdoc|http-equiv|autofocus|autoplay|ping|nonce|action|formaction|target|formtarget|manifest|lowsrc|dynsrc|codebase|archive|classid|xml:base|integrity|allow|download)$/;
/** Attributes that make the agent's browser fetch something: rewritten to the proxy. */
const FETCH = /^(src|poster|background|data)$/;
const PSEUDO = {
  hover: '[data-cb-hover]',
  'focus-within': '[data-cb-focus-within]',
  'focus-visible': '[data-cb-focus-visible]',
  focus: '[data-cb-focus]',
  defined: ':not([data-cb-undef])',
};
/** The dynamic pseudo-classes we emulate (not `(hover)` media queries). */
const PSEUDO_RE =
  /(?<!\(\s*(?:any-)?hover\s*):(hover|focus-within|focus-visible|focus|defined)(?![\w-])/gi;
/** Attribute values the CSS rewriter must see on SVG elements: presentation attributes take url(), spelt with escapes too. */
const SVG_CSS = /url|\\/i;
/** What browsers drop from a URL before reading its scheme: C0 controls and spaces. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the controls are what it matches
const URL_NOISE = /[\x00-\x20]+/g;
/** Controls, which browsers skip in a `javascript:` attribute value. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the controls are what it matches
const CONTROLS = /[\x00-\x1f]/g;
const BLOCKED_BG = 'repeating-linear-gradient(45deg,#d5d5d5 0 6px,#e8e8e8 6px 12px)';
/**
 * Agent-only rules, adopted first in every document and shadow root of the view, at zero
 * specificity so the page's own rules win. Scripting is off in the view, so a <canvas>
 * would show its fallback content: it is drawn as a box with the customer's picture as
 * background instead. The view never has the focus, so the customer's selection would be
 * painted in the inactive colours: it gets the active ones.
 */
const BASE =
  ':where(canvas){display:inline-block;width:attr(width px,300px);height:attr(height px,150px);background:no-repeat 0 0/100% 100%;font-size:0;overflow:hidden}:where(canvas)>*{display:none}' +
  '::selection{background-color:Highlight;color:HighlightText}';

export class Mirror {
  /**
   * @param {HTMLElement} stage where the iframe goes
   * @param {(url: string) => string} proxy absolute URL → our proxy URL
   */
  constructor(stage, proxy) {
    this.stage = stage;
    this.proxy = proxy;
    /** @type {Map<number, Node>} */ this.nodes = new Map();
    this.ids = new WeakMap();
    this.next = 1;
    this.frame = null;
    this.w = 0;
    this.h = 0;
    this.want = new Map();
    this.marks = { hover: [], focus: [] };
    this.hovered = -1;
    this.sheetText = new Map();
    this.sheets = new Map();
    this.frames = [];
    this.post = [];
    /** Length of the constructed sheets' texts together (bounded: they only accumulate). */
    this.sheetBytes = 0;
    /** Canvas pictures: id → blob URL, and the agent sheet of each document. */
    this.pics = new Map();
    this.bases = new Map();
    /** Called with an Error when an operation names a node we do not have: the caller asks for a resync. */
    /** @type {(e: Error) => void} */
    this.onMissing = () => {};
    setInterval(() => this.applyScroll(), 300);
  }

  // ---- URLs and CSS ----

  /** A URL the agent's browser may fetch: http(s) through the proxy, inline data: as is, fragments as is; anything else nothing. */
  res(u) {
    const t = String(u).replace(URL_NOISE, '');
    if (!t) return '';
    if (t[0] === '#') return u;
    if (/^data:(image|font|audio|video|application\/(font|x-font))/i.test(t)) return u;
    if (/^https?:/i.test(t)) return this.proxy(u.trim());
    return null;
  }
  /** A link target: shown, never followed (the frame is inert); script URLs removed. */
  nav(u) {
    const t = String(u).replace(URL_NOISE, '');
    return /^(https?:|mailto:|tel:|#)/i.test(t) ? u : null;
  }
  /**
   * Rewrites CSS text: every URL the browser would fetch (found as its tokenizer finds them,
   * escapes and image-set() strings included) through the proxy or to nothing, and
   * :hover/:focus onto our marker attributes.
   */
  css(text) {
    // Refused URLs become url(""), which the browser does not fetch (data:, would still be
    // a load for the CSP to stop, as a stylesheet); a sheet is imported only through the proxy.
    const url = (u, isImport) => {
      if (isImport && !/^https?:/i.test(u.replace(URL_NOISE, ''))) return '';
      return this.res(u) ?? '';
    };
    const urls = rewriteCssUrls(String(text), url);
    return urls.replace(PSEUDO_RE, (_m, ps) => PSEUDO[ps.toLowerCase()]);
  }
  srcset(v) {
    return v
      .split(/,(?=\s*\S+(\s+[\d.]+[wx])?\s*(,|$))/)
      .filter((s) => s && s.trim() && !/^\s*[\d.]+[wx]\s*$/.test(s))
      .map((c) => {
        const [u, ...d] = c.trim().split(/\s+/);
        const r = this.res(u);
        return r ? [r, ...d].join(' ') : '';
      })
      .filter(Boolean)
      .join(', ');
  }

  // ---- attributes ----

  /** Sets (v = null: removes) a customer attribute on an element, neutralised. */
  attr(el, name, v) {
    const n = String(name).toLowerCase(),
      tag = el.localName;
    const set = (k, val) => {
      try {
        const p = k.indexOf(':'),
          ns = p > 0 && NS[k.slice(0, p)];
        if (val === null) ns ? el.removeAttributeNS(ns, k.slice(p + 1)) : el.removeAttribute(k);
        else ns ? el.setAttributeNS(ns, k, val) : el.setAttribute(k, val);
      } catch {} // names the parser allowed but setAttribute does not (e.g. "@click")
    };
    const keep = (val) => set('data-cb-' + name, val);
    if (n.startsWith('on') || n.startsWith('data-cb-')) return;
    if (n === 'sandbox' && /^i?frame$/.test(tag)) return keep(v === null ? null : String(v)); // ours stays, set or removed
    if (v === null) {
      set(name, null);
      keep(null);
      if (n === 'href' && el.hasAttribute('data-cb-link')) el.textContent = '';
      return;
    }
    v = String(v);
    if (
      /^\s*(javascript|vbscript):/i.test(v.replace(CONTROLS, '')) ||
      /^\s*data:text\/html/i.test(v)
    )
      return keep(v);
    if (DROP.test(n)) return keep(v);
    if (n === 'attributename' && /href/i.test(v)) return keep(v); // SMIL could animate an href into a script URL
    if (n === 'style' || (el.namespaceURI === SVG && SVG_CSS.test(v)))
      return set(name, this.css(v));
    if (n === 'srcset' || n === 'imagesrcset') {
      keep(v);
      return set(name, this.srcset(v));
    }
    if (tag === 'iframe' || tag === 'frame') {
      if (n === 'src') return keep(v);
    }
    if (n === 'href' || n === 'xlink:href') {
      if (el.hasAttribute('data-cb-link')) {
        // A sheet the customer could not read, imported through the rewriter: its URL is
        // never pasted into CSS as it came (it could close the string and add rules).
        keep(v);
        if (!el.hasAttribute('data-cb-inline'))
          el.textContent = this.css('@import url(' + cssString(v) + ');');
        return;
      }
      if (tag === 'link' || tag === 'base') return keep(v);
      const link = tag === 'a' || tag === 'area';
      const u = link ? this.nav(v) : this.res(v);
      if (u === null) return keep(v);
      if (u !== v) keep(v);
      return set(name, u);
    }
    if (FETCH.test(n) && !(n === 'data' && tag !== 'object')) {
      const u = this.res(v);
      keep(v);
      return u ? set(name, u) : set(name, null);
    }
    set(name, v);
  }

  // ---- building ----

  /** Builds a serialized node (ids from this.next, pre-order) for document `doc`. */
  build(x, doc, pns, fo) {
    const id = this.next++;
    if (typeof x === 'string') return this.put(id, doc.createTextNode(x));
    const tag = String(x[0]),
      a = x[1] || 0,
      e = x[2] || 0;
    const ns = e.ns || inferNs(tag, pns, fo);
    if (DEAD.test(tag) || (ns !== HTML && /^script$/i.test(tag))) {
      for (let k = 3; k < x.length; k++) this.next += count(x[k]);
      if (e.s) this.next += count(e.s);
      if (e.f) this.next += count(e.f);
      return this.put(id, doc.createComment(tag));
    }
    const isLink = tag === 'link' && /\bstylesheet\b/i.test(a.rel || '');
    let el;
    try {
      el = doc.createElementNS(ns, isLink ? 'style' : tag);
    } catch {
      el = doc.createElementNS(HTML, 'cb-invalid');
    }
    this.put(id, el);
    if (e.b) {
      // Blocked by the customer's rules: an empty box of the same size.
      el.setAttribute('data-cb-blocked', '');
      // Numbers and a display keyword only: this style is ours, not the page's (not rewritten).
      const px = (v) => Math.max(0, Math.min(1e5, +v || 0));
      const display = /^[a-z-]{1,30}$/.test(e.b[2]) ? e.b[2] : 'block';
      el.setAttribute(
        'style',
        `display:${display};width:${px(e.b[0])}px;height:${px(e.b[1])}px;box-sizing:border-box;background:${BLOCKED_BG}`,
      );
      return el;
    }
    if (isLink) el.setAttribute('data-cb-link', '');
    // A style's text comes only from `css`, through the rewriter: child text nodes would not be.
    const sheet = el.localName === 'style';
    if (sheet && e.css !== undefined) {
      if (isLink) el.setAttribute('data-cb-inline', '');
      el.textContent = this.css(e.css);
    }
    for (const k in a) if (!(e.md && k === 'open')) this.attr(el, k, a[k]);
    if (tag === 'iframe' || tag === 'frame') el.setAttribute('sandbox', 'allow-same-origin');
    if (tag === 'video' || tag === 'audio') el.muted = true;
    if (tag === 'canvas') el.setAttribute('data-cb-canvas', id);
    if (e.m) el.setAttribute('data-cb-masked', '');
    if (e.u) el.setAttribute('data-cb-undef', '');
    if (e.sc) this.want.set(id, e.sc);
    if (e.s) {
      let sr;
      try {
        sr = el.shadowRoot || el.attachShadow({ mode: 'open' });
      } catch {
        sr = doc.createDocumentFragment();
      }
      this.fill(sr, e.s, doc, HTML);
    }
    if (e.f) {
      this.frames.push([el, e.f, this.next]);
      this.next += count(e.f);
    }
    if (sheet) for (let k = 3; k < x.length; k++) this.next += count(x[k]);
    else
      for (let k = 3; k < x.length; k++)
        el.appendChild(this.build(x[k], doc, ns, tag === 'foreignObject'));
    if (e.v !== undefined || e.c !== undefined || e.o !== undefined)
      this.post.push(() => this.state(el, e));
    if (e.md)
      this.post.push(() => {
        try {
          el.isConnected && !el.open && el.showModal();
        } catch {}
      });
    return el;
  }
  /** Fills a document or shadow root from a '#d'/'#s' node (its id included). */
  fill(root, x, doc, ns) {
    const id = this.next++,
      e = x[2] || 0;
    this.put(id, root);
    for (let k = 3; k < x.length; k++) {
      const n = this.build(x[k], doc, ns, false);
      try {
        root.appendChild(n);
      } catch {} // e.g. text directly under a document
    }
    this.adopt(root, e.as || []);
    if (e.sc) this.want.set(id, e.sc);
  }
  put(id, n) {
    this.nodes.set(id, n);
    this.ids.set(n, id);
    return n;
  }

  /** Gives a frame its document, once the iframe element is in a document (it has none before). */
  fillFrames() {
    while (this.frames.length) {
      const [f, x, base] = this.frames.shift();
      const d = f.isConnected && f.contentDocument;
      if (!d) continue;
      const save = this.next;
      this.next = base;
      this.newDoc(d, x);
      this.next = save;
    }
  }
  /** Resets a document to the customer's mode (quirks or standards) and builds into it. */
  newDoc(d, x) {
    d.open();
    d.write((x[2] || 0).q ? '' : '<!DOCTYPE html>');
    d.close();
    d.documentElement && d.documentElement.remove();
    this.fill(d, x, d, HTML);
  }
  /** Runs what needs the tree in place: frame documents, modal dialogs, form state. */
  settle() {
    for (let i = 0; i < 20 && (this.frames.length || this.post.length); i++) {
      this.fillFrames();
      const p = this.post;
      this.post = [];
      for (const f of p) f();
    }
  }

  // ---- snapshot ----

  /** Replaces the view with a full snapshot `{d, sh}` (built aside, then swapped in). */
  snapshot(data, meta) {
    if (!data || typeof data !== 'object') throw new Refused('not a snapshot');
    if (!Array.isArray(data.d) || data.d[0] !== '#d')
      throw new Refused('not a snapshot: no document');
    measure(data.d, 0, LIMITS.nodes);
    this.nodes = new Map();
    this.ids = new WeakMap();
    this.want = new Map();
    this.sheetText = new Map(Object.entries(data.sh || {}).map(([k, v]) => [+k, v]));
    this.sheetBytes = 0;
    for (const v of this.sheetText.values()) this.sheetBytes += String(v).length;
    this.sheets = new Map();
    this.frames = [];
    this.post = [];
    this.next = 1;
    for (const u of this.pics.values()) URL.revokeObjectURL(u);
    this.pics = new Map();
    this.bases = new Map();
    this.marks = { hover: [], focus: [] };
    this.hovered = -1;
    const f = document.createElement('iframe');
    f.setAttribute('sandbox', 'allow-same-origin');
    f.setAttribute('inert', '');
    f.tabIndex = -1;
    f.className = 'cb-view';
    f.title = 'Customer page (view only)';
    f.style.visibility = 'hidden';
    this.stage.append(f);
    try {
      this.newDoc(f.contentDocument, data.d);
      this.settle();
    } catch (e) {
      f.remove();
      throw e;
    }
    const old = this.frame;
    this.frame = f;
    this.size(meta.w, meta.h);
    f.style.visibility = '';
    if (old) old.remove();
    this.applyScroll();
  }
  /** The customer's viewport: the frame gets exactly that size (then scaled by the page). */
  size(w, h) {
    const ok = (v) => Number.isInteger(v) && v > 0 && v <= 100000;
    if (ok(w) && ok(h)) {
      this.w = w;
      this.h = h;
    }
    if (this.frame) {
      this.frame.style.width = this.w + 'px';
      this.frame.style.height = this.h + 'px';
    }
  }

  // ---- deltas ----

  get(id) {
    const n = this.nodes.get(id);
    if (!n) throw new Error('node with id ' + id + ' not found');
    return n;
  }
  /** Applies one `mutation` message; false (after onMissing) if it does not fit the tree we have. */
  mutate(m) {
    const gone = [];
    try {
      for (const id of m.r || []) {
        const n = this.get(id);
        n.parentNode && n.parentNode.removeChild(n);
        gone.push(n);
      }
      for (const op of m.a || []) {
        const p = this.get(op[0]),
          b = op[1] ? this.get(op[1]) : null;
        const el = p.nodeType === 1 ? /** @type {Element} */ (p) : null;
        if (el && el.localName === 'style') continue; // see build(): no raw text into sheets
        let n;
        if (op.length === 3) {
          n = this.get(op[2]);
          if (!fits(n, depthOf(p) + 1))
            throw new Refused('tree too deep: over ' + LIMITS.depth + ' levels');
        } else {
          measure(op[3], depthOf(p), LIMITS.nodes - this.nodes.size);
          this.next = op[2];
          n = this.build(
            op[3],
            p.ownerDocument || p,
            el ? el.namespaceURI : HTML,
            !!el && el.localName === 'foreignObject',
          );
        }
        p.insertBefore(n, b);
      }
      for (const [id, name, v, md] of m.at || []) {
        const el = /** @type {Element} */ (this.get(id));
        if (el.localName === 'dialog' && name === 'open') {
          const dialog = /** @type {HTMLDialogElement} */ (el);
          if (v === null) {
            try {
              dialog.close();
            } catch {}
            dialog.removeAttribute('open');
          } else if (md) {
            if (!dialog.open)
              try {
                dialog.showModal();
              } catch {}
          } else if (!dialog.open) dialog.setAttribute('open', '');
          continue;
        }
        this.attr(el, name, v);
      }
      for (const [id, t] of m.tx || []) /** @type {CharacterData} */ (this.get(id)).data = t;
      for (const [id, base, x] of m.f || []) {
        const el = this.get(id);
        measure(x, depthOf(el), LIMITS.nodes - this.nodes.size);
        this.frames.push([el, x, base]);
      }
    } catch (e) {
      this.onMissing(e);
      return false;
    }
    for (const n of gone) if (!n.isConnected) this.forget(n);
    this.settle();
    return true;
  }
  /** Drops the ids of a detached subtree (and of its shadow roots and frame documents). */
  forget(n) {
    const s = [n];
    while (s.length) {
      const x = s.pop(),
        i = this.ids.get(x);
      if (i !== undefined && this.nodes.get(i) === x) {
        this.nodes.delete(i);
        this.want.delete(i);
      }
      for (let c = x.firstChild; c; c = c.nextSibling) s.push(c);
      if (x.shadowRoot) s.push(x.shadowRoot);
      if (x.localName === 'iframe' && x.contentDocument) s.push(x.contentDocument);
    }
  }

  /** Field state: value, checked, selected options. */
  state(el, s) {
    try {
      if (s.v !== undefined && el.type !== 'file') el.value = s.v;
      if (s.c !== undefined) el.checked = !!s.c;
      if (s.o !== undefined) el.selected = !!s.o;
      if (s.x && el.options) Array.from(el.options, (o, i) => (o.selected = s.x.includes(i)));
    } catch {}
  }
  input(l) {
    for (const [id, s] of l) {
      const el = this.nodes.get(id);
      if (el) this.state(el, s);
    }
  }

  /** Scroll positions are kept and re-applied: images arriving later may change the page height. */
  scroll(l) {
    for (const [id, x, y] of l) this.want.set(id, [x, y]);
    this.applyScroll();
  }
  applyScroll() {
    for (const [id, [x, y]] of this.want) {
      const n = this.nodes.get(id);
      if (!n) continue;
      if (n.nodeType === 9) {
        const w = /** @type {Document} */ (n).defaultView;
        if (w && (w.scrollX !== x || w.scrollY !== y)) w.scrollTo(x, y);
        continue;
      }
      const e = /** @type {Element} */ (n);
      if (e.scrollLeft !== x || e.scrollTop !== y) {
        e.scrollLeft = x;
        e.scrollTop = y;
      }
    }
  }

  /** Emulated :hover / :focus: marker attributes on the element and its ancestors (across shadow roots and frames). */
  mark(kind, id, self, up) {
    for (const [el, a] of this.marks[kind]) el.removeAttribute(a);
    const l = (this.marks[kind] = []);
    let n = this.nodes.get(id),
      first = true;
    while (n) {
      if (n.nodeType === 1) {
        for (const a of first ? self : up) el(/** @type {Element} */ (n), a);
        first = false;
      }
      const d = n.nodeType === 9 ? /** @type {Document} */ (n) : null;
      n =
        n.parentNode ||
        /** @type {ShadowRoot} */ (n).host ||
        (d && d.defaultView && d.defaultView.frameElement) ||
        null;
    }
    /** @param {Element} n @param {string} a */
    function el(n, a) {
      n.setAttribute(a, '');
      l.push([n, a]);
    }
  }
  hover(id) {
    if (id === this.hovered) return;
    this.hovered = id;
    this.mark('hover', id, ['data-cb-hover'], ['data-cb-hover']);
  }
  /** `visible`: the customer's browser shows the focus ring (`:focus-visible`). */
  focus(id, visible) {
    const self = [
      'data-cb-focus',
      'data-cb-focus-within',
      ...(visible ? ['data-cb-focus-visible'] : []),
    ];
    this.mark('focus', id, self, ['data-cb-focus-within']);
  }
  /** The customer's selection (FORMAT.md `selection`): a field's range, or a range of the page's text. */
  select(m) {
    const d = this.frame && this.frame.contentDocument,
      at = (p) => Array.isArray(p) && this.nodes.get(p[0]);
    if (!d) return;
    d.getSelection().removeAllRanges();
    const el = m.i && /** @type {HTMLInputElement} */ (this.nodes.get(m.i)),
      a = at(m.a),
      f = at(m.f);
    try {
      // offsets come from the customer's page: out of range, nothing is shown
      if (el && el.setSelectionRange && Array.isArray(m.r)) el.setSelectionRange(+m.r[0], +m.r[1]);
      else if (a && f && a.ownerDocument === f.ownerDocument)
        a.ownerDocument.getSelection().setBaseAndExtent(a, +m.a[1], f, +m.f[1]);
    } catch {}
  }

  /** Style changes: sheet texts of <style>/<link>, constructed sheets, adopted lists. */
  style(m) {
    for (const [id, text] of m.css || []) {
      const el = /** @type {Element} */ (this.nodes.get(id));
      if (el && el.nodeType === 1) {
        if (el.hasAttribute('data-cb-link')) el.setAttribute('data-cb-inline', '');
        el.textContent = this.css(text);
      }
    }
    for (const k in m.sh || {}) {
      // Constructed sheets only accumulate: their texts together stay within LIMITS.bytes.
      const grow = String(m.sh[k]).length - String(this.sheetText.get(+k) ?? '').length;
      if (this.sheetBytes + grow > LIMITS.bytes) {
        this.onMissing(
          new Refused('too much CSS: constructed sheets over ' + LIMITS.bytes + ' bytes'),
        );
        return;
      }
      this.sheetBytes += grow;
      this.sheetText.set(+k, m.sh[k]);
      for (const per of this.sheets.values()) {
        const sh = per.get(+k);
        if (sh) sh.replaceSync(this.css(m.sh[k]));
      }
    }
    for (const [id, l] of m.as || []) {
      const r = this.nodes.get(id);
      if (r) this.adopt(r, l);
    }
  }
  /** Adopts constructed sheets, made in the realm of the root's document (a sheet cannot cross documents). */
  adopt(root, list) {
    const d = root.nodeType === 9 ? root : root.ownerDocument;
    let m = this.sheets.get(d);
    if (!m) this.sheets.set(d, (m = new Map()));
    root.adoptedStyleSheets = [
      this.base(d),
      ...list.map((sid) => {
        let sh = m.get(sid);
        if (!sh) {
          sh = new d.defaultView.CSSStyleSheet();
          sh.replaceSync(this.css(this.sheetText.get(sid) || ''));
          m.set(sid, sh);
        }
        return sh;
      }),
    ];
  }
  /** The agent-only sheet of a document (BASE plus canvas pictures). */
  base(d) {
    let sh = this.bases.get(d);
    if (!sh) {
      sh = new d.defaultView.CSSStyleSheet();
      sh.replaceSync(this.baseText());
      this.bases.set(d, sh);
    }
    return sh;
  }
  baseText() {
    let t = BASE;
    for (const [id, u] of this.pics) t += `[data-cb-canvas="${id}"]{background-image:url("${u}")}`;
    return t;
  }

  /** Media follow the customer's play state (muted: the agent never hears the page). */
  media(l) {
    for (const [id, paused, t, muted] of l) {
      const el = /** @type {HTMLMediaElement} */ (this.nodes.get(id));
      if (!el || !el.play) continue;
      el.muted = true;
      void muted;
      if (Math.abs(el.currentTime - t) > 0.5)
        try {
          el.currentTime = t;
        } catch {}
      paused ? el.pause() : el.play().catch(() => {});
    }
  }
  /** A canvas picture (binary kind 2): becomes the background of our canvas box. */
  canvas(id, bytes) {
    const el = /** @type {Element} */ (this.nodes.get(id));
    if (!el || el.localName !== 'canvas') return;
    const old = this.pics.get(id);
    this.pics.set(id, URL.createObjectURL(new Blob([bytes], { type: 'image/webp' })));
    const t = this.baseText();
    for (const sh of this.bases.values()) sh.replaceSync(t);
    if (old) setTimeout(() => URL.revokeObjectURL(old), 1000);
  }
}
