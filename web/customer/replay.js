// Write mode: the agent's actions replayed on the customer's page as a real user's would be
// (full event sequences, the native value setter, keyboard defaults), behind both locks, and
// never on what the agent may not touch: submit controls, disabled or masked elements, links
// off the site. Each refusal is told to the agent in plain words (`notice`).
import { state } from './core.js';
import { nodeOf } from './serialize.js';
import { hides, noControl } from './mask.js';
import { deepActive } from './events.js';
import { allowed, refuse } from './main.js';

/** The action being replayed: a submit it causes, even indirectly, is stopped. */
let busy = null;

/** Parent across shadow roots and same-origin frames. */
const up = (n) => n.parentElement || (n.parentNode && n.parentNode.host) || (n.ownerDocument && n.ownerDocument.defaultView.frameElement) || null;
/** `sel` matched by the element or an ancestor (through shadow roots and frames). */
function within(el, sel) {
  for (let n = el; n; n = up(n)) if (n.matches(sel)) return n; // selectors: ours, or rules checked by setRules
  return null;
}

/** The submit control an activation of `el` would press: submit buttons, their children, their labels. */
function submitter(el) {
  for (let n = el; n; n = up(n)) {
    const t = n.localName;
    if (t === 'button') return n.type === 'submit' && (n.form || n.hasAttribute('type')) ? n : null;
    if (t === 'input') return /^(submit|image)$/.test(n.type) ? n : null;
    if (t === 'label') return n.control && n.control !== el && submitter(n.control) ? n : null;
  }
  return null;
}
const textField = (el) => el.localName === 'textarea' || (el.localName === 'input' && !/^(checkbox|radio|submit|image|reset|button|file|hidden|range|color)$/.test(el.type));

/** Why the agent may not do this to `el` (a refusal code), or ''. */
function why(el, edit) {
  if (within(el, '[data-cobrowse-ui]') || within(el, noControl()) || (el.localName === 'input' && el.type === 'file')) return 'disabled';
  if (edit && hides(el)) return 'masked';
  return '';
}

/** Dispatches a trusted-looking event built in the element's own realm; false if cancelled. */
function fire(el, type, o = {}) {
  const w = el.ownerDocument.defaultView;
  const C = /^pointer/.test(type) ? w.PointerEvent : /^key/.test(type) ? w.KeyboardEvent : /input$/.test(type) ? w.InputEvent
    : type === 'wheel' ? w.WheelEvent : /^(mouse|click|dblclick)/.test(type) ? w.MouseEvent : /^focus|blur/.test(type) ? w.FocusEvent : w.Event;
  return el.dispatchEvent(new C(type, { bubbles: true, cancelable: true, composed: true, view: w, ...o }));
}

/** The point the agent chose, in the element's own viewport. */
function point(el, m) {
  const r = el.getBoundingClientRect(), k = (a, b, c) => (b > 0 ? (a * c) / b : a);
  const x = m.ox === undefined ? r.width / 2 : k(+m.ox, m.w, r.width), y = m.oy === undefined ? r.height / 2 : k(+m.oy, m.h, r.height);
  return { clientX: Math.round(r.left + x), clientY: Math.round(r.top + y), screenX: Math.round(r.left + x + screenX), screenY: Math.round(r.top + y + screenY) };
}

/** Focus as a mouse press gives it: the nearest focusable ancestor, else nothing. */
function focusAt(el, p) {
  let f = el;
  while (f && !(f.isContentEditable || f.hasAttribute('tabindex') || (f.tabIndex >= 0 && !f.disabled && f.localName !== 'label'))) f = up(f);
  const a = deepActive();
  if (!f) return a && a.blur && a.blur();
  if (f.isContentEditable) {
    while (f.parentElement && f.parentElement.isContentEditable) f = f.parentElement;
    if (a !== f) f.focus();
    const d = el.ownerDocument, r = d.caretRangeFromPoint && d.caretRangeFromPoint(p.clientX, p.clientY), s = d.getSelection();
    if (r && f.contains(r.startContainer)) s.removeAllRanges(), s.addRange(r);
    return;
  }
  if (a !== f) f.focus();
  if (textField(f)) try { f.setSelectionRange(f.value.length, f.value.length); } catch {}
}

/** A mouse click: over, move, pointerdown, mousedown, focus, pointerup, mouseup, click. */
function click(el, m, detail = 1) {
  const p = point(el, m), o = { ...p, button: 0, buttons: 1, detail }, po = { ...o, pointerId: 1, pointerType: 'mouse', isPrimary: true, pressure: 0.5 };
  fire(el, 'pointerover', po); fire(el, 'mouseover', o); fire(el, 'pointermove', po); fire(el, 'mousemove', o);
  const down = fire(el, 'pointerdown', po);
  if (down && fire(el, 'mousedown', o)) focusAt(el, p);
  fire(el, 'pointerup', { ...po, buttons: 0, pressure: 0 });
  if (down) fire(el, 'mouseup', { ...o, buttons: 0 });
  if (el.isConnected) fire(el, 'click', { ...o, buttons: 0 });
}

/**
 * Whether the agent may send the page to `url`: this page's origin or one the server says the
 * site allows. Anything else (javascript:, data:, other sites) has an origin not on the list.
 */
function onSite(url) {
  try { const o = new URL(url, location.href).origin; return o === location.origin || state.origins.includes(o); } catch { return false; }
}
/** A link the agent activates must stay on the site; an SVG link's `href` (or `xlink:href`) is an SVGAnimatedString. */
function offSite(el) {
  const a = within(el, 'a,area');
  return !!a && !onSite(a.href.baseVal ?? a.href); // no href: '', this page
}

/** Checks an activation (click, Enter, Space) of `el`; returns a refusal code or ''. */
const checkable = (el) => /^(checkbox|radio)$/.test(el.type);
function activation(el) {
  if (submitter(el)) return 'submit';
  if (offSite(el)) return 'origin';
  const c = (within(el, 'label') || {}).control; // a label acts on its control
  return why(el, checkable(el)) || (c && c !== el ? why(c, checkable(c)) : '');
}

const valueSetter = (el) => {
  for (let p = Object.getPrototypeOf(el); p; p = Object.getPrototypeOf(p)) { const d = Object.getOwnPropertyDescriptor(p, 'value'); if (d && d.set) return d.set; }
  return null;
};
/** Fields edited by the agent get `change` when they lose focus, as after real typing. */
const changed = new WeakSet();
function later(el) {
  if (changed.has(el)) return;
  changed.add(el);
  el.addEventListener('blur', () => { changed.delete(el); fire(el, 'change', { cancelable: false }); }, { once: true });
}
/** One edit of a text field: beforeinput, native value setter, caret, input. */
function edit(el, ins, type) {
  const v = el.value;
  let s = null, e = null;
  try { s = el.selectionStart; e = el.selectionEnd; } catch {}
  if (s === null) s = e = v.length;
  if (s === e && type === 'deleteContentBackward') s = Math.max(0, s - 1);
  if (s === e && type === 'deleteContentForward') e = Math.min(v.length, e + 1);
  const max = el.maxLength;
  if (ins && max >= 0) ins = ins.slice(0, Math.max(0, max - (v.length - (e - s))));
  if ((type.startsWith('insert') && !ins) || (s === e && !ins)) return;
  if (!fire(el, 'beforeinput', { inputType: type, data: ins || null })) return;
  valueSetter(el).call(el, v.slice(0, s) + ins + v.slice(e));
  try { el.setSelectionRange(s + ins.length, s + ins.length); } catch {}
  fire(el, 'input', { inputType: type, data: ins || null, cancelable: false });
  later(el);
}

/** The element typed into: the one the agent names, else the customer's focus. */
function keyTarget(m) {
  if (!m.i) return deepActive() || document.body;
  const el = nodeOf(m.i);
  if (!el || el.nodeType !== 1 || !el.isConnected) return null;
  if (deepActive() !== el && el.focus) el.focus();
  return el;
}

/** The physical key of a character (US layout); named keys (Enter, ArrowLeft…) are their own code. */
const CODE = (k) => (k === ' ' ? 'Space' : k.length === 1 ? (/[a-z]/i.test(k) ? 'Key' + k.toUpperCase() : /\d/.test(k) ? 'Digit' + k : '') : k);

/** One key as a real keyboard gives it: keydown, (keypress), the default action unless cancelled, keyup. */
function press(el, m, text) {
  const k = text !== undefined ? text : String(m.key), mod = m.ctrl || m.meta;
  const o = { key: k, code: m.code || CODE(k), shiftKey: !!m.shift, altKey: !!m.alt, ctrlKey: !!m.ctrl, metaKey: !!m.meta };
  const ce = el.isContentEditable, tf = textField(el) && !el.readOnly && !el.disabled;
  // Refusals come before any event: the page must not react to what the agent may not do.
  if (k !== 'Tab' && k !== 'Escape' && (tf || ce || el.localName === 'select') && hides(el)) return 'masked';
  if (k === 'Enter' && el.localName === 'input' && (el.form || submitter(el))) return 'submit';
  const act = (k === 'Enter' || k === ' ') && !tf && !ce && /^(button|a|area|input|summary)$/.test(el.localName);
  if (act) { const r = activation(el); if (r) return r; }
  if (fire(el, 'keydown', o)) {
    if ((k.length === 1 && !mod) || k === 'Enter') fire(el, 'keypress', o);
    if (k.length === 1 && !mod) {
      if (tf) edit(el, k, 'insertText');
      else if (ce && fire(el, 'beforeinput', { inputType: 'insertText', data: k })) el.ownerDocument.execCommand('insertText', false, k);
    } else deflt(el, k, m, tf, ce, act);
  }
  fire(el, 'keyup', o);
  if (act && k === ' ') click(el, {});
  return '';
}

/** Default actions of the special keys. */
function deflt(el, k, m, tf, ce, act) {
  const d = el.ownerDocument, w = d.defaultView;
  if (k === 'Backspace' || k === 'Delete') {
    if (tf) edit(el, '', k === 'Backspace' ? 'deleteContentBackward' : 'deleteContentForward');
    else if (ce) d.execCommand(k === 'Backspace' ? 'delete' : 'forwardDelete');
  } else if (k === 'Enter') {
    if (tf && el.localName === 'textarea') edit(el, '\n', 'insertLineBreak');
    else if (ce) d.execCommand('insertParagraph');
    else if (act) click(el, {});
  } else if (k === 'Tab') {
    const l = [...d.querySelectorAll('a[href],button,input,select,textarea,summary,[tabindex],[contenteditable]')]
      // (hidden inputs have no box)
      .filter((e) => e.tabIndex >= 0 && !e.disabled && e.getClientRects().length && !e.closest('[inert],[data-cobrowse-ui]'))
      .sort((a, b) => (a.tabIndex || 1e9) - (b.tabIndex || 1e9));
    const i = l.indexOf(el), n = l[(i + (m.shift ? l.length - 1 : 1) + (i < 0 && m.shift ? 1 : 0)) % l.length];
    if (n) n.focus(), textField(n) && n.select && n.select();
  } else if (tf && /^(Arrow(Left|Right)|Home|End)$/.test(k)) {
    try {
      const p = /Left/.test(k) ? Math.max(0, el.selectionStart - 1) : /Right/.test(k) ? el.selectionEnd + 1 : k === 'Home' ? 0 : el.value.length;
      el.setSelectionRange(p, p);
    } catch {}
  } else if (el.localName === 'select' && /^Arrow(Up|Down)$/.test(k)) {
    const i = Math.max(0, Math.min(el.options.length - 1, el.selectedIndex + (k === 'ArrowUp' ? -1 : 1)));
    if (i !== el.selectedIndex) el.selectedIndex = i, fire(el, 'input', { cancelable: false }), fire(el, 'change', { cancelable: false });
  } else if (!tf && !ce && /^(Arrow(Up|Down)|Page(Up|Down))$/.test(k)) {
    w.scrollBy(0, (/Up/.test(k) ? -1 : 1) * (/Page/.test(k) ? w.innerHeight * 0.9 : 40));
  } else if ((m.ctrl || m.meta) && k.toLowerCase() === 'a' && tf) el.select();
}

/** Scrolls what a wheel over `el` would: the nearest ancestor that can move that way, else the window. */
function scroll(el, dx, dy) {
  if (!fire(el, 'wheel', { deltaX: dx, deltaY: dy, deltaMode: 0 })) return;
  for (let n = el; n && n.nodeType === 1; n = up(n)) {
    const s = getComputedStyle(n), can = (o, size, client, pos, d) => /(auto|scroll|overlay)/.test(o) && size > client && (d > 0 ? pos + client < size : pos > 0);
    if (n === n.ownerDocument.documentElement || n === n.ownerDocument.body) break;
    if ((dy && can(s.overflowY, n.scrollHeight, n.clientHeight, n.scrollTop, dy)) || (dx && can(s.overflowX, n.scrollWidth, n.clientWidth, n.scrollLeft, dx))) return n.scrollBy(dx, dy);
  }
  el.ownerDocument.defaultView.scrollBy(dx, dy);
}

/** Each input message: check, then act as the customer's own hand would. */
const ACT = {
  click(m, el) { const r = activation(el); if (r) return r; click(el, m, m.d || 1); return ''; },
  dblclick(m, el) {
    const r = activation(el);
    if (r) return r;
    fire(el, 'dblclick', { ...point(el, m), button: 0, detail: 2 });
    const s = el.ownerDocument.getSelection();
    if (!textField(el) && s && el.firstChild && s.modify) { // selects the word, as a double click does
      const p = point(el, m), r2 = el.ownerDocument.caretRangeFromPoint(p.clientX, p.clientY);
      if (r2) { s.removeAllRanges(); s.addRange(r2); s.modify('move', 'backward', 'word'); s.modify('extend', 'forward', 'word'); }
    }
    return '';
  },
  check(m, el) {
    if (el.localName === 'label' && el.control) el = el.control;
    if (!checkable(el)) return 'gone';
    const r = activation(el);
    if (r) return r;
    if (el.disabled || el.checked === !!m.c || (el.type === 'radio' && !m.c)) return '';
    click(el, {});
    return '';
  },
  select(m, el) {
    if (el.localName !== 'select') return 'gone';
    const r = why(el, true);
    if (r || el.disabled) return r;
    focusAt(el, point(el, {}));
    const want = new Set(m.x || []);
    if (m.v !== undefined) Array.from(el.options).forEach((o, i) => o.value === String(m.v) && want.add(i));
    Array.from(el.options).forEach((o, i) => { o.selected = want.has(i) && !o.disabled; });
    fire(el, 'input', { cancelable: false }); fire(el, 'change', { cancelable: false });
    return '';
  },
  type(m, el) {
    const t = String(m.text || '');
    if (t.length > 64 && textField(el)) { // a paste: one edit
      if (hides(el)) return 'masked';
      return edit(el, t, 'insertFromPaste'), '';
    }
    for (const ch of t) { const r = press(el, m, ch === '\n' ? 'Enter' : ch); if (r) return r; }
    return '';
  },
  key: (m, el) => press(el, m),
  scroll(m, el) { scroll(el, +m.dx || 0, +m.dy || 0); return ''; },
  navigate(m) {
    const to = m.to, nav = window.navigation;
    if (to === 'reload') return location.reload(), '';
    if (to === 'back' || to === 'forward') {
      // The Navigation API lists this site's entries only: anything else is off the site.
      const can = nav ? (to === 'back' ? nav.canGoBack : nav.canGoForward) : to === 'back' && document.referrer.startsWith(location.origin + '/');
      if (!can) return 'history';
      return to === 'back' ? history.back() : history.forward(), '';
    }
    if (!onSite(m.url)) return 'origin';
    return location.assign(new URL(m.url, location.href).href), '';
  },
};

// A form submitted while an agent action is replayed (by the page's own handlers) is stopped.
addEventListener('submit', (e) => { if (busy) e.preventDefault(), e.stopImmediatePropagation(), refuse(busy, 'submit'); }, true);
for (const f of ['submit', 'requestSubmit']) {
  const P = HTMLFormElement.prototype, orig = P[f];
  P[f] = function (...a) { if (busy) return refuse(busy, 'submit'); return orig.apply(this, a); };
}

/** Replays one agent input message (after checking the lock again: it may have closed meanwhile). */
export function run(m) {
  if (!allowed()) return refuse(m, 'not_allowed');
  const f = ACT[m.t];
  if (!f) return;
  const el = m.t === 'navigate' || (m.t === 'scroll' && !m.i) ? document : m.t === 'key' || m.t === 'type' ? keyTarget(m) : m.i && nodeOf(m.i);
  if (!el || (el.nodeType !== 1 && m.t !== 'navigate' && m.t !== 'scroll')) return refuse(m, 'gone');
  if (el.nodeType === 1 && within(el, '[data-cobrowse-ui]')) return refuse(m, 'disabled'); // our own UI is the customer's only
  busy = m;
  try { const r = f(m, el.nodeType === 9 ? el.documentElement : el); if (r) refuse(m, r); }
  catch (e) { console.error('cobrowse: replay', e); }
  finally { busy = null; }
}
