// Sheets as the CSSOM has them: CSS-in-JS uses insertRule(), never the <style> text.
import { emit } from './core.js';

/** url() as the CSSOM writes it (`url("…")`, escapes decoded, image-set() strings as url()s). */
const URL_RE = /url\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^)'"]*?))\s*\)/g;

/**
 * URLs already resolved, `base + '\n' + url` → absolute: pages repeat a few (an image per card),
 * and parsing was a tenth of a snapshot.
 */
const done = new Map();
/** Absolute URL; fragments, data: and the like stay as they are. */
export function abs(u, base) {
  const t = u.trim();
  if (!t || /^(#|data:|blob:|about:|javascript:|mailto:|tel:)/i.test(t)) return u;
  const k = base + '\n' + u;
  let r = done.get(k);
  if (r === undefined) {
    try {
      r = new URL(t, base).href;
    } catch {
      r = u;
    }
    if (done.size >= 4096) done.clear();
    done.set(k, r);
  }
  return r;
}
/**
 * Absolute URLs in CSS, so that the agent never resolves against its own page. Sheets come
 * from the CSSOM, which writes every URL the browser fetches as `url("…")`; a URL spelt
 * otherwise in raw text (a style attribute) is one the agent's rebuild drops
 * (web/agent/css-urls.js), never one it fetches.
 */
export const absCss = (css, base) =>
  css.includes('url(')
    ? css.replace(
        URL_RE,
        (_m, a, b, c) => 'url("' + abs(a ?? b ?? c, base).replace(/"/g, '\\"') + '")',
      )
    : css;

/**
 * What the page wrote by rule or sheet (insertRule, replace, replaceSync); a <link>'s file (null
 * while fetched).
 */
const written = new WeakMap();

/** The rules of a list as text, @imports left out (a constructed sheet has none). */
const own = (rules) =>
  Array.from(rules)
    .filter((r) => !('styleSheet' in r))
    .map((r) => r.cssText)
    .join('\n');

/**
 * `text`, the page's own spelling of `rules`, if it still parses into them (no script changed
 * them since); else `t`, their CSSOM text.
 * @param {string | undefined} text @param {ArrayLike<CSSRule>} rules @param {string} t
 */
function asWritten(text, rules, t) {
  if (typeof text !== 'string') return t;
  const parsed = new CSSStyleSheet();
  parsed.replaceSync(text);
  return own(parsed.cssRules) === own(rules) ? text : t;
}

/**
 * Whether CSSOM text lost declarations: a shorthand holding var() that a later longhand of its
 * rule overrides in part is written as longhands without values (`font-style: ;`), which
 * apply nothing when parsed again.
 */
const lossy = (css) => /[{;]\s*[a-z][a-z-]*: ;/.test(css);

/** An imported sheet's text under the media, supports() and layer of the rule that imports it. */
function imported(r, css) {
  const m = r.media && r.media.mediaText;
  if (r.layerName != null) css = '@layer ' + r.layerName + '{' + css + '}';
  if (r.supportsText) css = '@supports (' + r.supportsText + '){' + css + '}';
  return m ? '@media ' + m + '{' + css + '}' : css;
}

/**
 * A readable sheet's text, readable imported sheets inlined; throws if cross-origin. An import
 * rule that cannot be inlined (cross-origin, or lossy) stays one, put first as CSS requires: the
 * agent
 * imports it through the proxy, which serves the sheet as the site wrote it.
 */
export function sheetText(sh, base) {
  const b = sh.href || base;
  let head = '';
  let s = '';
  for (const r of sh.cssRules) {
    if ('styleSheet' in r) {
      try {
        const inner = sheetText(r.styleSheet, b);
        if (!lossy(inner)) {
          s += imported(r, inner);
          continue;
        }
      } catch {}
      head += r.cssText + '\n';
      continue;
    }
    const t = r.cssText;
    s += (lossy(t) ? asWritten(written.get(r), [r], t) : t) + '\n';
  }
  return absCss(head + s, b);
}

/**
 * CSS of a <style> or readable <link>; null if unreadable or not loaded. When the CSSOM text is
 * lossy, a <style> sends its own text if that still parses into its rules, and a <link> the
 * text of its file, fetched: unreadable until then, the agent imports it through the proxy.
 */
export function cssOf(el) {
  const sh = el.sheet;
  const style = el.localName === 'style';
  if (!sh) return style ? absCss(el.textContent, el.baseURI) : null;
  try {
    const t = sheetText(sh, el.baseURI);
    if (!lossy(t)) return t;
    if (style) return absCss(asWritten(el.textContent, sh.cssRules, t), el.baseURI);
    if (!written.has(sh)) fetchText(sh);
    const w = asWritten(written.get(sh), sh.cssRules, null);
    return w === null ? null : absCss(w, sh.href);
  } catch {
    return null;
  }
}

/**
 * Fetches a sheet's file once (from the browser's cache, most often), then has its element's
 * CSS sent again: a sheet the agent imports through the proxy misses its :hover and :focus
 * emulation.
 */
function fetchText(sh) {
  written.set(sh, null);
  fetch(sh.href, { cache: 'force-cache' })
    .then((r) => (r.ok ? r.text() : null))
    .then((t) => {
      if (t !== null) {
        written.set(sh, t);
        emit('sheet', sh);
      }
    })
    .catch(() => {});
}

/** Adopted sheets: ids, and texts still to send. */
let ids = new WeakMap(),
  next = 1;
/** @type {Map<number, CSSStyleSheet>} */
export const pending = new Map();
/** Roots with adopted sheets → ids sent (polled: the array changes in place). */
export const adoptRoots = new Map();
export function reset() {
  ids = new WeakMap();
  next = 1;
  pending.clear();
  adoptRoots.clear();
}
export const sheetId = (sh) => ids.get(sh);

/** Adopted sheet ids of a root, or 0. */
export function adopted(root) {
  const l = root.adoptedStyleSheets;
  if (!l || !l.length) return 0;
  const r = Array.from(l, (sh) => {
    let i = ids.get(sh);
    if (!i) {
      i = next++;
      ids.set(sh, i);
      pending.set(i, sh);
    }
    return i;
  });
  adoptRoots.set(root, r.join());
  return r;
}
/** `{id: css}` of new adopted sheets, or null. */
export function takeSheets() {
  if (!pending.size) return null;
  const o = {};
  for (const [i, sh] of pending) {
    try {
      const t = sheetText(sh, document.baseURI);
      o[i] = lossy(t) ? absCss(asWritten(written.get(sh), sh.cssRules, t), document.baseURI) : t;
    } catch {
      o[i] = '';
    }
  }
  pending.clear();
  return o;
}

const hooked = new WeakSet();
/** Hooks a window's CSSOM: rule changes emit `sheet`, adoptedStyleSheets assignments `adopt`. */
export function hook(win) {
  if (hooked.has(win)) return;
  hooked.add(win);
  const wrap = (P, names, sheetOf) =>
    P &&
    names.forEach((n) => {
      const f = P[n];
      if (typeof f !== 'function') return;
      P[n] = function (...a) {
        const r = f.apply(this, a);
        if (n === 'insertRule') written.set(this.cssRules[r], String(a[0]));
        if (n === 'replaceSync') written.set(this, String(a[0]));
        emit('sheet', sheetOf(this));
        return r;
      };
    });
  wrap(
    win.CSSStyleSheet.prototype,
    ['insertRule', 'deleteRule', 'replaceSync', 'addRule', 'removeRule'],
    (t) => t,
  );
  wrap(
    win.CSSGroupingRule && win.CSSGroupingRule.prototype,
    ['insertRule', 'deleteRule'],
    (t) => t.parentStyleSheet,
  );
  const rep = win.CSSStyleSheet.prototype.replace;
  if (rep) {
    win.CSSStyleSheet.prototype.replace = function (t) {
      return rep.call(this, t).then((r) => {
        written.set(this, String(t));
        emit('sheet', this);
        return r;
      });
    };
  }
  for (const P of [win.Document.prototype, win.ShadowRoot.prototype]) {
    const d = Object.getOwnPropertyDescriptor(P, 'adoptedStyleSheets');
    if (d && d.set)
      Object.defineProperty(P, 'adoptedStyleSheets', {
        ...d,
        set(v) {
          d.set.call(this, v);
          emit('adopt', this);
        },
      });
  }
}
