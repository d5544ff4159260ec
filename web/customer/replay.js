// Write mode: the agent's actions replayed on the customer's page as a real user's would be,
// behind both locks, and never on what the agent may not touch: submit controls, disabled or
// masked elements, links off the site. Each refusal is told to the agent in plain words
// (`notice`).
//
// The mouse as the page would see a person's: hover transitions (over, enter, out, leave),
// press-move-release with real `buttons`, clicks with their `detail`, right clicks
// (`contextmenu`), drags that move sliders, select text or carry an HTML5 drag and drop
// (`dragstart`, `dragover`, `drop` with a `DataTransfer`), in the customer's own layout's
// coordinates (the agent names an element and an offset in it). The keys as a keyboard gives
// them: every property pages read (`key`, `code`, the legacy `keyCode`, `which` and `charCode`
// that jQuery-era code switches on, `location`, `repeat`, modifiers: as the agent's own keyboard
// gave them), keypress for characters and Enter, then the key's default action unless the page
// cancelled it. Values through the native setter, with the events a person's edit fires.
import { allowed, refuse, send, state } from './core.js';
import { deepActive } from './events.js';
import { hides, noControl } from './mask.js';
import { nodeOf } from './serialize.js';

// ---- what the agent may touch, and events as the browser builds them ----

/** Parent across shadow roots and same-origin frames. */
const up = (n) =>
  n.parentElement ||
  (n.parentNode && n.parentNode.host) ||
  (n.ownerDocument && n.ownerDocument.defaultView.frameElement) ||
  null;

/** `sel` matched by the element or an ancestor (through shadow roots and frames). */
function within(el, sel) {
  // selectors: ours, or rules checked by setRules
  for (let n = el; n; n = up(n)) if (n.matches(sel)) return n;
  return null;
}

/**
 * The submit control an activation of `el` would press: submit buttons, their children, their
 * labels.
 */
function submitter(el) {
  for (let n = el; n; n = up(n)) {
    const t = n.localName;
    if (t === 'button') return n.type === 'submit' && (n.form || n.hasAttribute('type')) ? n : null;
    if (t === 'input') return /^(submit|image)$/.test(n.type) ? n : null;
    if (t === 'label') return n.control && n.control !== el && submitter(n.control) ? n : null;
  }
  return null;
}

const NOT_TEXT =
  /^(checkbox|radio|submit|image|reset|button|file|hidden|range|color|date|time|datetime-local|month|week)$/;
const textField = (el) =>
  el.localName === 'textarea' || (el.localName === 'input' && !NOT_TEXT.test(el.type));
const checkable = (el) => /^(checkbox|radio)$/.test(el.type);
const isRange = (el) => el.localName === 'input' && el.type === 'range';

/** Why the agent may not do this to `el` (a refusal code), or ''. */
function why(el, edit) {
  if (
    within(el, '[data-cobrowse-ui]') ||
    within(el, noControl()) ||
    (el.localName === 'input' && el.type === 'file')
  )
    return 'disabled';
  if (edit && hides(el)) return 'masked';
  return '';
}

/**
 * Whether the agent may send the page to `url`: this page's origin or one the server says the
 * site allows. Anything else (javascript:, data:, other sites) has an origin not on the list.
 */
function onSite(url) {
  try {
    const o = new URL(url, location.href).origin;
    return o === location.origin || state.origins.includes(o);
  } catch {
    return false;
  }
}

/**
 * A link the agent activates must stay on the site; an SVG link's `href` (or `xlink:href`) is an
 * SVGAnimatedString.
 */
function offSite(el) {
  const a = within(el, 'a,area');
  return !!a && !onSite(a.href.baseVal ?? a.href); // no href: '', this page
}

/** Checks an activation (click, Enter, Space) of `el`; returns a refusal code or ''. */
function activation(el) {
  if (submitter(el)) return 'submit';
  if (offSite(el)) return 'origin';
  const c = (within(el, 'label') || {}).control; // a label acts on its control
  return why(el, checkable(el) || isRange(el)) || (c && c !== el ? why(c, checkable(c)) : '');
}

/** @type {[RegExp, string][]} */
const EVENT = [
  [/^pointer/, 'PointerEvent'],
  [/^key/, 'KeyboardEvent'],
  [/input$/, 'InputEvent'],
  [/^wheel$/, 'WheelEvent'],
  [/^(drag|drop)/, 'DragEvent'],
  [/^(mouse|click|dblclick|auxclick|contextmenu)/, 'MouseEvent'],
  [/^(focus|blur)/, 'FocusEvent'],
];
/**
 * Dispatches an event built in the element's own realm; false if cancelled. `legacy` holds what
 * constructors ignore but pages still read (`keyCode`, `which`, `charCode`): set on the event.
 */
function fire(el, type, o = {}, legacy = {}) {
  const w = el.ownerDocument.defaultView;
  const kind = EVENT.find(([re]) => re.test(type));
  const C = (kind && w[kind[1]]) || w.Event;
  const e = new C(type, { bubbles: true, cancelable: true, composed: true, view: w, ...o });
  for (const [k, v] of Object.entries(legacy)) Object.defineProperty(e, k, { value: v });
  return el.dispatchEvent(e);
}

/** The point the agent chose, in the element's own viewport. */
function point(el, m) {
  const r = el.getBoundingClientRect(),
    k = (a, b, c) => (b > 0 ? (a * c) / b : a);
  const x = m.ox === undefined ? r.width / 2 : k(+m.ox, m.w, r.width);
  const y = m.oy === undefined ? r.height / 2 : k(+m.oy, m.h, r.height);
  const clientX = Math.round(r.left + x),
    clientY = Math.round(r.top + y);
  return { clientX, clientY, screenX: clientX + screenX, screenY: clientY + screenY };
}

/** The caret under a point: a text node or a field (`offset` in its value), and the offset. */
function caretAt(d, p) {
  if (d.caretPositionFromPoint) {
    const c = d.caretPositionFromPoint(p.clientX, p.clientY);
    return c && { node: c.offsetNode, offset: c.offset };
  }
  const r = d.caretRangeFromPoint && d.caretRangeFromPoint(p.clientX, p.clientY); // Safari
  return r && { node: r.startContainer, offset: r.startOffset };
}

/** Index in a field's value under a point (the caret a click there puts), else its end. */
function fieldOffset(f, p) {
  const c = caretAt(f.ownerDocument, p);
  return c && (c.node === f || f.contains(c.node))
    ? Math.min(c.offset, f.value.length)
    : f.value.length;
}

const valueSetter = (el) => {
  for (let p = Object.getPrototypeOf(el); p; p = Object.getPrototypeOf(p)) {
    const d = Object.getOwnPropertyDescriptor(p, 'value');
    if (d && d.set) return d.set;
  }
  return null;
};
/** Fields edited by the agent get `change` when they lose focus, as after real typing. */
const changed = new WeakSet();
function later(el) {
  if (changed.has(el)) return;
  changed.add(el);
  el.addEventListener(
    'blur',
    () => {
      changed.delete(el);
      fire(el, 'change', { cancelable: false });
    },
    { once: true },
  );
}

/**
 * A new value set as the browser's own UI sets it (a picker, a slider): the native setter, input,
 * change.
 */
function setValue(el, v, change = true) {
  if (el.value === v) return;
  valueSetter(el).call(el, v);
  fire(el, 'input', { cancelable: false });
  if (change) fire(el, 'change', { cancelable: false });
}

/** One edit of a text field at its selection: beforeinput, native value setter, caret, input. */
function edit(el, ins, type) {
  const v = el.value;
  let s = null,
    e = null;
  try {
    s = el.selectionStart;
    e = el.selectionEnd;
  } catch {}
  if (s === null) s = e = v.length;
  if (s === e && type === 'deleteContentBackward') s = Math.max(0, s - 1);
  if (s === e && type === 'deleteContentForward') e = Math.min(v.length, e + 1);
  const max = el.maxLength;
  if (ins && max >= 0) ins = ins.slice(0, Math.max(0, max - (v.length - (e - s))));
  if ((type.startsWith('insert') && !ins) || (s === e && !ins)) return;
  if (!fire(el, 'beforeinput', { inputType: type, data: ins || null })) return;
  valueSetter(el).call(el, v.slice(0, s) + ins + v.slice(e));
  try {
    el.setSelectionRange(s + ins.length, s + ins.length);
  } catch {}
  fire(el, 'input', { inputType: type, data: ins || null, cancelable: false });
  later(el);
}

// ---- the mouse ----

/** The element under the agent's pointer: where the next move starts its transitions. */
let over = null;
/**
 * The press under way between `down` and `up`: where it started, the button, whether the page
 * let its default happen (`free`), and what the drag does: a slider, a selection, a drag and drop.
 * @type {null | {el: Element, p: ReturnType<typeof point>, button: number, down: boolean,
 *   free: boolean,
 *   moved?: boolean, range?: boolean, field?: {el: any, anchor: number}, text?: boolean,
 *   dnd?: {src: Element, dt: DataTransfer, at: Element | null, drop: boolean}}}
 */
let pressed = null;

/** `buttons` while `button` is held: left 1, right 2, middle 4. */
const buttonsOf = (button) => [1, 4, 2][button] || 1;
const pointerOf = (o) => ({
  ...o,
  pointerId: 1,
  pointerType: 'mouse',
  isPrimary: true,
  pressure: o.buttons ? 0.5 : 0,
});
const chain = (el) => {
  const l = [];
  for (
    let n = el;
    n && n.nodeType === 1;
    n = n.parentElement || (n.parentNode && n.parentNode.host)
  )
    l.push(n);
  return l;
};

/**
 * Moves the agent's pointer onto `el`: out and leave on what it leaves, over and enter on what it
 * enters.
 */
function hover(el, p) {
  if (over === el) return;
  const was = over && over.isConnected && over.ownerDocument === el.ownerDocument ? over : null;
  over = el;
  const from = was ? chain(was) : [],
    to = chain(el);
  const left = from.filter((n) => !to.includes(n)),
    entered = to.filter((n) => !from.includes(n)).reverse();
  /** @type {[string, (o: object) => object][]} */
  const kinds = [
    ['pointer', pointerOf],
    ['mouse', (o) => o],
  ];
  for (const [prefix, make] of kinds) {
    if (was) {
      fire(was, prefix + 'out', make({ ...p, relatedTarget: el }));
      for (const n of left)
        fire(
          n,
          prefix + 'leave',
          make({ ...p, relatedTarget: el, bubbles: false, cancelable: false }),
        );
    }
    fire(el, prefix + 'over', make({ ...p, relatedTarget: was }));
    for (const n of entered)
      fire(
        n,
        prefix + 'enter',
        make({ ...p, relatedTarget: was, bubbles: false, cancelable: false }),
      );
  }
}

/**
 * Focus as a mouse press gives it: the nearest focusable ancestor (caret at the point), else
 * nothing.
 */
function focusAt(el, p) {
  let f = el;
  const focusable = (n) =>
    n.isContentEditable ||
    n.hasAttribute('tabindex') ||
    (n.tabIndex >= 0 && !n.disabled && n.localName !== 'label');
  while (f && !focusable(f)) f = up(f);
  const a = deepActive();
  if (!f) return a && a.blur && a.blur();
  if (f.isContentEditable) {
    f = host(f);
    if (a !== f) f.focus();
    const c = caretAt(el.ownerDocument, p);
    if (c && f.contains(c.node)) el.ownerDocument.getSelection().collapse(c.node, c.offset);
    return;
  }
  if (a !== f) f.focus();
  if (textField(f)) {
    const i = fieldOffset(f, p);
    try {
      f.setSelectionRange(i, i);
    } catch {}
  }
}

/**
 * A range input's value under a point, as a press or a drag on its track sets it: the thumb's
 * centre travels the track less the thumb (16 px wide as browsers draw it).
 */
function slide(el, p) {
  const r = el.getBoundingClientRect(),
    min = +el.min || 0,
    max = el.max === '' ? 100 : +el.max;
  const thumb = Math.min(16, r.width);
  const f = Math.max(0, Math.min(1, (p.clientX - r.left - thumb / 2) / (r.width - thumb || 1)));
  setValue(el, String(min + f * (max - min)), false); // the browser snaps it to the step
}

/**
 * The element a drag of `el` would carry: the nearest draggable one (`draggable`, links, images).
 */
function draggable(el) {
  for (let n = el; n && n.nodeType === 1; n = n.parentElement) if (n.draggable) return n;
  return null;
}

/**
 * Press: pointerdown, mousedown, focus (and the caret or the selection at the point), contextmenu
 * for the right button. Returns the press: what a drag of it would move (a slider, a field's
 * selection, the text selection).
 */
function pressAt(el, p, button, detail) {
  hover(el, p);
  const o = { ...p, button, buttons: buttonsOf(button), detail };
  fire(el, 'pointermove', pointerOf({ ...o, button: -1, buttons: 0, detail: 0 }));
  fire(el, 'mousemove', { ...o, button: 0, buttons: 0, detail: 0 });
  const down = fire(el, 'pointerdown', pointerOf(o));
  const free = down && fire(el, 'mousedown', o);
  /** @type {NonNullable<typeof pressed>} */
  const pr = { el, p, button, down, free };
  if (free && button === 0) {
    focusAt(el, p);
    if (isRange(el)) {
      pr.range = true;
      slide(el, p);
    } else if (textField(el)) pr.field = { el, anchor: el.selectionStart };
    else if (!draggable(el) && getComputedStyle(el).userSelect !== 'none') {
      pr.text = true;
      // a press on text puts the selection there
      const c = !el.isContentEditable && caretAt(el.ownerDocument, p);
      if (c) el.ownerDocument.getSelection().collapse(c.node, c.offset);
    }
  }
  if (button === 2) fire(el, 'contextmenu', o);
  return pr;
}

/**
 * Release: pointerup, mouseup, then the click (or auxclick) on what the press and release share.
 */
function releaseAt(el, p, pr, detail) {
  hover(el, p);
  const o = { ...p, button: pr.button, buttons: 0, detail };
  fire(el, 'pointerup', pointerOf(o));
  if (pr.down) fire(el, 'mouseup', o);
  if (pr.range) fire(pr.el, 'change', { cancelable: false });
  let t = pr.el;
  while (t && !t.contains(el)) t = t.parentElement;
  if (!t || !t.isConnected || pr.button === 1) return '';
  const r = t === pr.el ? '' : activation(t);
  if (r) return r;
  fire(t, pr.button ? 'auxclick' : 'click', o);
  return '';
}

/** A whole click: press and release on one element, `detail` the click count. */
function click(el, m, detail = 1) {
  const p = point(el, m);
  return releaseAt(el, p, pressAt(el, p, +m.b || 0, detail), detail);
}

/** The start of a press that the agent moves before releasing (a drag). */
function down(el, m) {
  pressed = pressAt(el, point(el, m), +m.b || 0, 1);
}

/** A drag and drop begins: refused from a masked element (its data would leave with the drop). */
function dragStart(pr) {
  const src = draggable(pr.el);
  if (!src || !pr.free || pr.button !== 0) return '';
  if (hides(src)) return 'masked';
  const dt = new src.ownerDocument.defaultView.DataTransfer();
  pr.dnd = { src, dt, at: null, drop: false };
  if (!fire(src, 'dragstart', { ...pr.p, dataTransfer: dt })) {
    pr.dnd = undefined;
    return '';
  }
  fire(pr.el, 'pointercancel', pointerOf({ ...pr.p, buttons: 0 }));
  return '';
}

function dragOver(el, p, d) {
  if (d.at !== el) {
    if (d.at) fire(d.at, 'dragleave', { ...p, dataTransfer: d.dt, relatedTarget: el });
    fire(el, 'dragenter', { ...p, dataTransfer: d.dt, relatedTarget: d.at });
    d.at = el;
  }
  fire(d.src, 'drag', { ...p, dataTransfer: d.dt });
  // a page accepts a drop by cancelling dragover
  d.drop = !fire(el, 'dragover', { ...p, dataTransfer: d.dt });
}

/** The pointer moves: hover, or the press under way drags (slider, selection, drag and drop). */
function move(el, m) {
  const p = point(el, m),
    pr = pressed;
  if (pr && pr.dnd) {
    dragOver(el, p, pr.dnd);
    return '';
  }
  if (pr && !pr.moved && Math.hypot(p.clientX - pr.p.clientX, p.clientY - pr.p.clientY) > 3) {
    pr.moved = true; // a drag starts once, or never for this press
    const r = dragStart(pr);
    if (r) {
      pressed = null;
      return r;
    }
    if (pr.dnd) {
      dragOver(el, p, pr.dnd);
      return '';
    }
  }
  hover(el, p);
  const buttons = pr ? buttonsOf(pr.button) : 0;
  fire(el, 'pointermove', pointerOf({ ...p, button: -1, buttons }));
  fire(el, 'mousemove', { ...p, button: 0, buttons });
  if (!pr) return '';
  if (pr.range) slide(pr.el, p);
  else if (pr.field) {
    const f = pr.field.el,
      a = pr.field.anchor,
      h = fieldOffset(f, p);
    try {
      f.setSelectionRange(Math.min(a, h), Math.max(a, h), h < a ? 'backward' : 'forward');
    } catch {}
  } else if (pr.text) {
    const c = caretAt(el.ownerDocument, p);
    if (c) el.ownerDocument.getSelection().extend(c.node, c.offset);
  }
  return '';
}

/** The press ends: a drop (if the page accepted one there), or the release and its click. */
function release(el, m) {
  const pr = pressed;
  pressed = null;
  if (!pr) return '';
  const p = point(el, m),
    d = pr.dnd;
  if (!d) return releaseAt(el, p, pr, 1);
  let r = '';
  if (d.drop && hides(el)) r = 'masked';
  else if (d.drop) fire(el, 'drop', { ...p, dataTransfer: d.dt });
  else if (d.at) fire(d.at, 'dragleave', { ...p, dataTransfer: d.dt });
  fire(d.src, 'dragend', { ...p, dataTransfer: d.dt });
  return r;
}

/**
 * The element scrolled by a wheel or a scrolling key over `el`: the nearest that can move that way.
 */
function scroller(el, dx, dy) {
  for (let n = el; n && n.nodeType === 1; n = up(n)) {
    if (n === n.ownerDocument.documentElement || n === n.ownerDocument.body) break;
    const s = getComputedStyle(n);
    const can = (o, size, client, pos, d) =>
      /(auto|scroll|overlay)/.test(o) && size > client && (d > 0 ? pos + client < size : pos > 0);
    if (
      (dy && can(s.overflowY, n.scrollHeight, n.clientHeight, n.scrollTop, dy)) ||
      (dx && can(s.overflowX, n.scrollWidth, n.clientWidth, n.scrollLeft, dx))
    )
      return n;
  }
  return el.ownerDocument.defaultView;
}

/**
 * A wheel over `el`: the event at the agent's point, then the scroll unless the page cancelled it.
 */
function wheel(el, m) {
  const dx = +m.dx || 0,
    dy = +m.dy || 0;
  const at = m.ox === undefined ? {} : point(el, m);
  if (!fire(el, 'wheel', { ...at, deltaX: dx, deltaY: dy, deltaMode: 0 })) return '';
  scroller(el, dx, dy).scrollBy(dx, dy);
  return '';
}

// ---- the keyboard ----

/**
 * The legacy `keyCode` (and `which`) of keydown and keyup: the agent's own keyboard's when its
 * console sends it (`kc`), else the one every layout agrees on (letters, digits, space).
 */
function keyCode(k, kc) {
  if (Number.isInteger(kc) && kc >= 0 && kc < 256) return kc;
  return k === 'Enter' ? 13 : /^[a-z0-9 ]$/i.test(k) ? k.toUpperCase().charCodeAt(0) : 0;
}

/** Whether the key acts on the element as a click would (buttons, links, boxes, summaries). */
function activates(el, k) {
  const t = el.localName,
    input = t === 'input';
  if (k === 'Enter') {
    return (
      /^(button|area|summary)$/.test(t) ||
      (t === 'a' && el.hasAttribute('href')) ||
      (input && /^(button|reset|submit|image)$/.test(el.type))
    );
  }
  return (
    k === ' ' &&
    (/^(button|summary)$/.test(t) ||
      (input && /^(button|reset|submit|image|checkbox|radio)$/.test(el.type)))
  );
}

/**
 * One key (a `key` message, or a character of a `type` message as the key that typed it):
 * keydown, keypress (characters and Enter), the default action unless cancelled, keyup.
 * Returns a refusal code or ''.
 */
function press(el, m) {
  const k = String(m.key);
  const o = {
    key: k,
    code: String(m.code || ''),
    location: +m.loc || 0,
    repeat: !!m.rep,
    shiftKey: !!m.shift,
    altKey: !!m.alt,
    ctrlKey: !!m.ctrl,
    metaKey: !!m.meta,
  };
  const tf = textField(el) && !el.readOnly && !el.disabled,
    ce = el.isContentEditable;
  // Refusals come before any event: the page must not react to what the agent may not do.
  if (
    k !== 'Tab' &&
    k !== 'Escape' &&
    (ce || /^(input|textarea|select)$/.test(el.localName)) &&
    hides(el)
  )
    return 'masked';
  const act = activates(el, k);
  if (act) {
    const r = activation(el);
    if (r) return r;
  }
  const code = keyCode(k, m.kc),
    legacy = { keyCode: code, which: code, charCode: 0 };
  let r = '';
  if (fire(el, 'keydown', o, legacy)) {
    const mod = o.ctrlKey || o.metaKey || o.altKey;
    const ch = k === 'Enter' ? '\r' : k.length === 1 && !mod ? k : '';
    const c = ch.charCodeAt(0);
    if (!ch || fire(el, 'keypress', o, { keyCode: c, which: c, charCode: c }))
      r = action(el, k, o, tf, ce, act);
  }
  fire(el, 'keyup', o, legacy);
  if (act && k === ' ' && el.isConnected) fire(el, 'click', { detail: 0 });
  return r;
}

/** The default action of a key that the page did not cancel. */
function action(el, k, o, tf, ce, act) {
  const d = el.ownerDocument,
    mod = o.ctrlKey || o.metaKey;
  if (k.length === 1 && !mod && !o.altKey) {
    if (tf) edit(el, k, 'insertText');
    else if (ce && fire(el, 'beforeinput', { inputType: 'insertText', data: k }))
      d.execCommand('insertText', false, k);
    return '';
  }
  if (k === 'Backspace' || k === 'Delete') {
    const type = k === 'Backspace' ? 'deleteContentBackward' : 'deleteContentForward';
    if (tf) edit(el, '', type);
    else if (ce && fire(el, 'beforeinput', { inputType: type }))
      d.execCommand(k === 'Backspace' ? 'delete' : 'forwardDelete');
  } else if (k === 'Enter') {
    if (act) fire(el, 'click', { detail: 0 });
    else if (tf && el.localName === 'textarea') edit(el, '\n', 'insertLineBreak');
    else if (ce) {
      const type = o.shiftKey ? 'insertLineBreak' : 'insertParagraph';
      if (fire(el, 'beforeinput', { inputType: type }))
        d.execCommand(o.shiftKey ? 'insertLineBreak' : 'insertParagraph');
    } else if (tf && el.form) return 'submit'; // implicit submission: only the customer submits
  } else if (k === 'Tab') tab(el, o.shiftKey);
  else if (k === 'Escape') {
    const dialog = d.querySelector('dialog:modal');
    if (dialog && fire(dialog, 'cancel', { bubbles: false })) dialog.close();
  } else if (mod && /^a$/i.test(k)) {
    if (tf) el.select();
    else if (ce) d.getSelection().selectAllChildren(host(el));
  } else if (mod && ce && /^[biu]$/i.test(k)) {
    const f = { b: 'Bold', i: 'Italic', u: 'Underline' }[k.toLowerCase()];
    if (fire(el, 'beforeinput', { inputType: 'format' + f })) d.execCommand(f.toLowerCase());
  } else if (/^(Arrow|Home$|End$|Page)/.test(k)) navigate(el, k, o, tf, ce);
  return '';
}

/** The caret and selection keys, and the keys that move a control's value or scroll. */
function navigate(el, k, o, tf, ce) {
  const back = /Left|Up/.test(k);
  if (tf) return caret(el, k, o.shiftKey, o.ctrlKey || o.metaKey);
  if (ce) {
    const unit = /Up|Down/.test(k) ? 'line' : /Home|End/.test(k) ? 'lineboundary' : 'character';
    const s = el.ownerDocument.getSelection();
    return (
      s.modify &&
      s.modify(o.shiftKey ? 'extend' : 'move', back || k === 'Home' ? 'backward' : 'forward', unit)
    );
  }
  if (el.localName === 'input' && el.type === 'radio' && /^Arrow/.test(k)) return radio(el, back);
  if (el.localName === 'select' && !el.multiple && !/^Page/.test(k)) {
    const last = el.options.length - 1;
    const i =
      k === 'Home'
        ? 0
        : k === 'End'
          ? last
          : Math.max(0, Math.min(last, el.selectedIndex + (back ? -1 : 1)));
    if (i !== el.selectedIndex) {
      el.selectedIndex = i;
      fire(el, 'input', { cancelable: false });
      fire(el, 'change', { cancelable: false });
    }
    return;
  }
  if (isRange(el)) {
    const was = el.value;
    if (k === 'Home' || k === 'End') el.value = k === 'Home' ? el.min || '0' : el.max || '100';
    else if (back || k === 'PageDown') el.stepDown(/^Page/.test(k) ? 10 : 1);
    else el.stepUp(/^Page/.test(k) ? 10 : 1);
    const now = el.value;
    el.value = was;
    return setValue(el, now);
  }
  const w = el.ownerDocument.defaultView,
    page = /^Page/.test(k),
    ends = /^(Home|End)$/.test(k);
  const dy = (back || k === 'Home' ? -1 : 1) * (ends ? 1e9 : page ? w.innerHeight * 0.9 : 40);
  const dx = /Left|Right/.test(k) ? (back ? -40 : 40) : 0;
  scroller(el, dx, dx ? 0 : dy).scrollBy(dx, dx ? 0 : dy);
}

/** The caret keys in a field: move it, or extend the selection with Shift. */
function caret(el, k, shift, ctrl) {
  const v = el.value,
    s = el.selectionStart,
    e = el.selectionEnd;
  if (s === null) return;
  const backward = el.selectionDirection === 'backward';
  let head = backward ? s : e,
    anchor = backward ? e : s;
  const start = v.lastIndexOf('\n', head - 1) + 1,
    nl = v.indexOf('\n', head),
    end = nl < 0 ? v.length : nl;
  if (!shift && s !== e && /^Arrow(Left|Right)$/.test(k)) head = k === 'ArrowLeft' ? s : e;
  else if (k === 'ArrowLeft') head = Math.max(0, head - 1);
  else if (k === 'ArrowRight') head = Math.min(v.length, head + 1);
  else if (k === 'Home') head = ctrl ? 0 : start;
  else if (k === 'End') head = ctrl ? v.length : end;
  else if (/Up$/.test(k))
    head = start === 0 ? 0 : Math.min(start - 1, v.lastIndexOf('\n', start - 2) + 1 + head - start);
  else if (/Down$/.test(k)) {
    const next = v.indexOf('\n', end + 1);
    head =
      end >= v.length ? v.length : Math.min(next < 0 ? v.length : next, end + 1 + head - start);
  }
  if (!shift) anchor = head;
  el.setSelectionRange(
    Math.min(anchor, head),
    Math.max(anchor, head),
    head < anchor ? 'backward' : 'forward',
  );
}

/** Arrows in a radio group: the next (or previous) radio of the group is focused and chosen. */
function radio(el, back) {
  const root = el.form || el.getRootNode();
  const group = [...root.querySelectorAll('input[type=radio]')].filter(
    (r) => r.name === el.name && r.form === el.form && !r.disabled && r.getClientRects().length,
  );
  const next = group[(group.indexOf(el) + (back ? group.length - 1 : 1)) % group.length];
  if (!next || next === el || activation(next)) return;
  next.focus();
  fire(next, 'click', { detail: 0 });
}

/** The editing host of a contenteditable element. */
function host(el) {
  while (el.parentElement && el.parentElement.isContentEditable) el = el.parentElement;
  return el;
}

/**
 * A scroller with nothing focusable inside is a stop of its own, so that the keyboard can scroll
 * it.
 */
function scrollStop(el) {
  if (el.scrollHeight <= el.clientHeight && el.scrollWidth <= el.clientWidth) return false;
  const s = getComputedStyle(el);
  return (
    /(auto|scroll)/.test(s.overflowX + s.overflowY) &&
    ![...el.querySelectorAll('*')].some((n) => n.tabIndex >= 0)
  );
}

/** What a person can reach with Tab, in the page's order: positive `tabindex` first, then the
 * document's order (through open shadow roots); one stop per radio group. */
function tabbables(d) {
  const all = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) walk(el.shadowRoot);
      if (
        (el.tabIndex < 0 && !scrollStop(el)) ||
        el.disabled ||
        el.closest('[inert],[data-cobrowse-ui]')
      )
        continue;
      if (
        el.checkVisibility
          ? !el.checkVisibility({ visibilityProperty: true })
          : !el.getClientRects().length
      )
        continue;
      all.push(el);
    }
  };
  walk(d);
  const order = (el) => (el.tabIndex > 0 ? el.tabIndex : 1e9);
  const radios = all.filter((el) => el.localName === 'input' && el.type === 'radio' && el.name);
  const stop = (el) => {
    const group = radios.filter((r) => r.name === el.name && r.form === el.form);
    return el === (group.find((r) => r.checked) || group[0]);
  };
  return all
    .filter((el) => !radios.includes(el) || stop(el))
    .map((el, i) => [el, i])
    .sort(([a, i], [b, j]) => order(a) - order(b) || i - j)
    .map(([el]) => el);
}

/** Tab and Shift+Tab: focus moves to the next (previous) stop of the page's tab order. */
function tab(el, back) {
  const l = tabbables(el.ownerDocument),
    n = l.length;
  if (!n) return;
  let i = l.indexOf(el);
  if (i < 0) {
    // From what is not a stop (the body, a removed field): the next stop in document order.
    const f = l.findIndex((x) => el.compareDocumentPosition(x) & Node.DOCUMENT_POSITION_FOLLOWING);
    i = (f < 0 ? n : f) - (back ? 0 : 1);
  }
  const next = l[(i + (back ? -1 : 1) + n) % n];
  next.focus();
  if (textField(next) && next.select) next.select();
}

// ---- the actions ----

/** The action being replayed: a submit it causes, even indirectly, is stopped. */
let busy = null;

/** The element typed into: the one the agent names, else the customer's focus. */
function keyTarget(m) {
  if (!m.i) return deepActive() || document.body;
  const el = nodeOf(m.i);
  if (!el || el.nodeType !== 1 || !el.isConnected) return null;
  if (deepActive() !== el && el.focus) el.focus();
  return el;
}

/**
 * Fields whose value the agent sets from its console's own picker: no keyboard path reaches them in
 * the view.
 */
const PICKED = /^(date|time|datetime-local|month|week|color|range)$/;
const settable = (el) =>
  el.localName === 'input' && (PICKED.test(el.type) || (textField(el) && el.list));

/** Each input message: check, then act as the customer's own hand would. */
const ACT = {
  click(m, el) {
    return activation(el) || click(el, m, +m.d || 1);
  },
  down(m, el) {
    const refused = activation(el);
    if (refused) return refused;
    down(el, m);
    return '';
  },
  move: (m, el) => move(el, m),
  up: (m, el) => release(el, m),
  dblclick(m, el) {
    const r = activation(el);
    if (r) return r;
    fire(el, 'dblclick', { ...point(el, m), button: 0, detail: 2 });
    const s = el.ownerDocument.getSelection();
    if (textField(el)) {
      // a double click in a field selects the word at the caret
      const v = el.value,
        at = el.selectionStart ?? v.length;
      const a = v.slice(0, at).search(/\w*$/),
        b = at + v.slice(at).search(/\W|$/);
      el.setSelectionRange(a, b);
    } else if (s && s.modify && s.rangeCount) {
      // the word at the caret the clicks put
      s.modify('move', 'backward', 'word');
      s.modify('extend', 'forward', 'word');
    }
    return '';
  },
  check(m, el) {
    if (el.localName === 'label' && el.control) el = el.control;
    if (!checkable(el)) return 'gone';
    const r = activation(el);
    if (r) return r;
    if (el.disabled || el.checked === !!m.c || (el.type === 'radio' && !m.c)) return '';
    return click(el, {});
  },
  select(m, el) {
    if (el.localName !== 'select') return 'gone';
    const r = why(el, true);
    if (r || el.disabled) return r;
    el.focus();
    const want = new Set(Array.isArray(m.x) ? m.x : []);
    Array.from(el.options).forEach((o, i) => {
      o.selected = want.has(i) && !o.disabled;
    });
    fire(el, 'input', { cancelable: false });
    fire(el, 'change', { cancelable: false });
    return '';
  },
  set(m, el) {
    if (!settable(el)) return 'gone';
    const r = why(el, true);
    if (r || el.disabled || el.readOnly) return r;
    if (el.ownerDocument.activeElement !== el) el.focus();
    setValue(el, String(m.val ?? ''));
    return '';
  },
  type(m, el) {
    const t = String(m.text || '');
    if (t.length > 64 && textField(el)) {
      // a paste: one edit
      if (hides(el)) return 'masked';
      edit(el, t, 'insertFromPaste');
      return '';
    }
    // `k`: the key of each character as the agent's console saw it ([code, keyCode, shift]).
    const keys = Array.isArray(m.k) ? m.k : [];
    let n = 0;
    for (const ch of t) {
      const [code, kc, shift] = Array.isArray(keys[n]) ? keys[n] : [];
      n++;
      const r = press(el, { key: ch === '\n' ? 'Enter' : ch, code, kc, shift });
      if (r) return r;
    }
    return '';
  },
  key: (m, el) => press(el, m),
  scroll: (m, el) => wheel(el, m),
  navigate(m) {
    const to = m.to,
      nav = window.navigation;
    if (to === 'reload') {
      location.reload();
      return '';
    }
    if (to === 'back' || to === 'forward') {
      // The Navigation API lists this site's entries only: anything else is off the site.
      const can = nav
        ? to === 'back'
          ? nav.canGoBack
          : nav.canGoForward
        : to === 'back' && document.referrer.startsWith(location.origin + '/');
      if (!can) return 'history';
      if (to === 'back') history.back();
      else history.forward();
      return '';
    }
    if (!onSite(m.url)) return 'origin';
    location.assign(new URL(m.url, location.href).href);
    return '';
  },
};

// A form submitted while an agent action is replayed (by the page's own handlers) is stopped.
addEventListener(
  'submit',
  (e) => {
    if (busy) {
      e.preventDefault();
      e.stopImmediatePropagation();
      refuse(busy, 'submit');
    }
  },
  true,
);
for (const f of ['submit', 'requestSubmit']) {
  const P = HTMLFormElement.prototype,
    orig = P[f];
  P[f] = function (...a) {
    if (busy) return refuse(busy, 'submit');
    return orig.apply(this, a);
  };
}

/** Write mode ended: a press under way ends with it (the next grant starts with none). */
export function forget() {
  pressed = null;
}

/** Acts the audit trail keeps (docs/audit.md); motion and scrolling are not. */
const KEPT = /^(click|dblclick|key|type|select|check|set|navigate)$/;
/** A short CSS path to `el`, up to an ID, at most four steps. */
function path(el) {
  const p = [];
  for (let e = el; e && e.nodeType === 1 && p.length < 4; e = e.parentElement) {
    if (e.id) {
      p.unshift('#' + CSS.escape(e.id));
      break;
    }
    const k = [...(e.parentElement?.children || [])].filter((x) => x.localName === e.localName);
    p.unshift(e.localName + (k.length > 1 ? `:nth-of-type(${k.indexOf(e) + 1})` : ''));
  }
  return p.join('>');
}
/**
 * Tells the server which element an agent's action reached, for the audit trail: its tag, ID,
 * name and a selector, never a value or text; of a masked element, the tag alone.
 */
function applied(m, el) {
  const d = { re: m.t, i: m.i, tag: el.localName };
  if (!hides(el)) Object.assign(d, { id: el.id, name: el.getAttribute('name'), sel: path(el) });
  send('applied', d);
}

/**
 * Replays one agent input message (after checking the lock again: it may have closed meanwhile).
 */
export function run(m) {
  if (!allowed()) return m.t === 'move' ? undefined : refuse(m, 'not_allowed');
  const f = ACT[m.t];
  if (!f) return;
  // A release over nothing known still ends the press.
  const el =
    m.t === 'navigate' || (!m.i && (m.t === 'scroll' || m.t === 'up'))
      ? document
      : m.t === 'key' || m.t === 'type'
        ? keyTarget(m)
        : m.i && nodeOf(m.i);
  // over nothing of the page: nothing to tell
  if (m.t === 'move' && (!el || el.nodeType !== 1)) return;
  if (!el || (el.nodeType !== 1 && m.t !== 'navigate' && m.t !== 'scroll'))
    return refuse(m, 'gone');
  // our own UI is the customer's only
  if (el.nodeType === 1 && within(el, '[data-cobrowse-ui]')) return refuse(m, 'disabled');
  busy = m;
  try {
    const target = el.nodeType === 9 ? el.documentElement : el;
    const r = f(m, target);
    if (r) refuse(m, r);
    else if (KEPT.test(m.t)) applied(m, target);
  } catch (e) {
    console.error('cobrowse: replay', e);
  } finally {
    busy = null;
  }
}
