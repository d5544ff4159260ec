// The agent's hand on the customer's page. Over the mirrored view it captures the agent's
// pointer (sent as an element of the view and an offset in it, once per animation frame) and
// clicks: in pointer mode a click is a `mark` (a red circle on the customer's page); in write
// mode the pointer's moves (hover), clicks of every button, drags (press, moves, release),
// double clicks, typing, keys, <select> choices, checkboxes, values picked for date, time, color
// and datalist fields, wheel scrolling and navigation are sent as input messages
// (docs/protocol.md) that the customer's script replays.
// Nothing here acts on the customer's page: the customer's script decides (and may refuse,
// telling us why in a `notice`, shown here as a toast).
//
//   import { attachControl } from './control.js';
//   const control = attachControl({ mirror, overlay: $('overlay'), transport });
//   control.mode            // 'pointer' | 'write'
//   control.on('mode' | 'notice' | 'control', fn)
//   control.navigate('back' | 'forward' | 'reload' | url)
//   control.place(m)        // where a customer `pointer` message points, in the view's pixels

/**
 * Where the agent points: the customer-viewport point, and when it is over an element of the
 * view, that element's id, the offset in it and its size (the customer's page may lay it out
 * otherwise).
 * @typedef {{x: number, y: number, i?: number, ox?: number, oy?: number, w?: number, h?: number}} Point
 */

/** Keys that are never sent: modifiers alone, and what a keyboard layout is still composing. */
const UNSENT =
  /^(Shift|Control|Alt|AltGraph|Meta|CapsLock|NumLock|ScrollLock|Fn|FnLock|Dead|Process|Unidentified|Compose)$/;
/** Fields whose value is picked from the console's own control: the view cannot open the browser's picker. */
const PICKED = /^(date|time|datetime-local|month|week|color)$/;
/** Why an action did nothing, by the code the server or the customer's script gives. */
const NOTICE_WORDS = {
  not_allowed: 'Write mode is off: the customer has not given you control.',
  refused: 'The customer has not given you control of the page.',
  submit: 'Only the customer can submit forms.',
  disabled: 'This part of the page is not available to agents.',
  masked: 'This field is hidden from you: only the customer can fill it in.',
  origin: 'This link leaves the site: only the customer can follow it.',
  gone: "That element is no longer on the customer's page.",
  history: 'There is no page of this site to go to in that direction.',
};
/** For a code outside the table: the customer's page may be hostile, its text is never shown. */
const NOTICE_UNKNOWN = "The customer's page did not carry out that action.";
/** Input types the customer's script may name in `re` (docs/protocol.md). */
const INPUT_TYPES = /^(click|dblclick|down|move|up|key|type|select|check|set|scroll|navigate)$/;

/**
 * The console's own words for a customer's `notice`, and the notice reduced to known values.
 * Whatever else the customer sent (markup, a phone number to call, `toString`) stays out.
 * @param {{code?: unknown, re?: unknown}} m
 * @returns {{code: string, re?: string, words: string}}
 */
export function noticeOf(m) {
  const known = typeof m.code === 'string' && Object.hasOwn(NOTICE_WORDS, m.code);
  const code = known ? /** @type {string} */ (m.code) : 'unknown';
  const key = code === 'not_allowed' ? 'refused' : code;
  const words = known ? NOTICE_WORDS[key] : NOTICE_UNKNOWN;
  const re =
    typeof m.re === 'string' && INPUT_TYPES.test(m.re) ? /** @type {string} */ (m.re) : undefined;
  return re ? { code, re, words } : { code, words };
}

/**
 * @param {{mirror: import('./mirror.js').Mirror, overlay?: HTMLElement, transport: import('./transport.js').Transport, toasts?: boolean}} o
 */
export function attachControl({
  mirror,
  overlay = document.getElementById('overlay'),
  transport,
  toasts = true,
}) {
  /** @param {string} t @param {object} [o] */
  const send = (t, o) => transport.send(t, o);
  const subs = {};
  const emit = (ev, x) =>
    (subs[ev] || []).forEach((f) => {
      try {
        f(x);
      } catch (e) {
        console.error(e);
      }
    });
  const control = {
    mode: 'pointer',
    /** @param {'mode'|'notice'|'control'} ev */
    on(ev, fn) {
      (subs[ev] ||= []).push(fn);
      return () => subs[ev].splice(subs[ev].indexOf(fn) >>> 0, 1);
    },
    navigate(to) {
      if (control.mode !== 'write') {
        toast(NOTICE_WORDS.not_allowed);
        return false;
      }
      send('navigate', /^(back|forward|reload)$/.test(to) ? { to } : { url: String(to) });
      return true;
    },
    place,
  };

  // ---- the server's and the customer's messages ----
  transport.on('session', (m) => setMode(m.mode));
  transport.on('mode', (m) => setMode(m.mode));
  transport.on('ended', () => setMode('pointer'));
  transport.on('control', (m) => emit('control', m));
  // The customer's script refusing is its second lock: not_allowed from it means it never granted control.
  transport.on('notice', (m) => {
    const n = noticeOf(m);
    emit('notice', n);
    toast(n.words);
  });
  transport.on('error', (m) => {
    if (m.code === 'not_allowed' && sentInput && Date.now() - sentInput < 3000)
      toast(NOTICE_WORDS.not_allowed);
  });

  function setMode(m) {
    m = m === 'write' ? 'write' : 'pointer';
    if (m === control.mode) return;
    control.mode = m;
    overlay.dataset.mode = m;
    overlay.style.cursor = m === 'write' ? 'default' : 'crosshair';
    picker.hidden = true;
    emit('mode', m);
  }

  // ---- where the agent points: an element of the view and an offset in it ----
  overlay.tabIndex = 0;
  overlay.setAttribute('role', 'application');
  overlay.setAttribute(
    'aria-label',
    "Customer's page: point and click; in write mode, type and scroll",
  );
  /** Customer-viewport coordinates of a mouse event (the view is scaled to fit). */
  function xy(e) {
    const r = overlay.getBoundingClientRect(),
      k = r.width / (overlay.offsetWidth || 1) || 1;
    return { x: (e.clientX - r.left) / k, y: (e.clientY - r.top) / k };
  }
  /** The deepest element of the view at a point (through shadow roots and frames), and the point in its document. */
  function hit(x, y) {
    const f = mirror.frame;
    if (!f) return null;
    const was = f.hasAttribute('inert');
    if (was) f.removeAttribute('inert'); // inert content is not hit-tested; nothing can run in the view meanwhile
    try {
      let d = f.contentDocument,
        el = d && d.elementFromPoint(x, y);
      for (let k = 0; el && k < 20; k++) {
        const sr = el.shadowRoot,
          inner = sr && sr.elementFromPoint(x, y);
        if (inner && inner !== el) {
          el = inner;
          continue;
        }
        const frameEl = /** @type {HTMLIFrameElement} */ (el);
        if (/^i?frame$/.test(el.localName) && frameEl.contentDocument) {
          const r = el.getBoundingClientRect();
          x -= r.left + el.clientLeft;
          y -= r.top + el.clientTop;
          d = frameEl.contentDocument;
          const next = d.elementFromPoint(x, y);
          if (!next) break;
          el = next;
          continue;
        }
        break;
      }
      while (el && !mirror.ids.has(el))
        el =
          el.parentElement ||
          (el.parentNode && /** @type {ShadowRoot} */ (el.parentNode).host) ||
          null;
      if (!el) return null;
      const r = el.getBoundingClientRect(),
        n = (v) => Math.round(v * 10) / 10;
      return {
        el,
        i: mirror.ids.get(el),
        ox: n(x - r.left),
        oy: n(y - r.top),
        w: n(r.width),
        h: n(r.height),
      };
    } finally {
      if (was) f.setAttribute('inert', '');
    }
  }
  /**
   * Message fields for a point: the element and offset, plus the raw point as a fallback.
   * @param {MouseEvent} e
   * @returns {{target: Element | null, msg: Point}}
   */
  function at(e) {
    const p = xy(e),
      t = hit(p.x, p.y),
      o = { x: Math.round(p.x), y: Math.round(p.y) };
    return t
      ? { target: t.el, msg: { ...o, i: t.i, ox: t.ox, oy: t.oy, w: t.w, h: t.h } }
      : { target: null, msg: o };
  }
  /** Where a customer `pointer` message points in the view (element + offset when we have it). */
  function place(m) {
    const node = m.i && mirror.nodes.get(m.i);
    if (!node || node.nodeType !== 1 || !node.isConnected)
      return { x: Math.round(+m.x || 0), y: Math.round(+m.y || 0) };
    const el = /** @type {Element} */ (node);
    const r = el.getBoundingClientRect(),
      k = (a, b, c) => (b > 0 ? (a * c) / b : a);
    let x = r.left + k(+m.ox || 0, m.w, r.width),
      y = r.top + k(+m.oy || 0, m.h, r.height);
    for (
      let w = /** @type {Window} */ (el.ownerDocument.defaultView);
      w && w.frameElement && w.frameElement !== mirror.frame;
      w = w.parent
    ) {
      const b = w.frameElement.getBoundingClientRect();
      x += b.left + w.frameElement.clientLeft;
      y += b.top + w.frameElement.clientTop;
    }
    return { x: Math.round(x), y: Math.round(y) };
  }

  // ---- events over the view (captured before app.js's own overlay handlers, which they replace) ----
  const box = overlay.parentNode;
  let move = null,
    frame = 0,
    last = '',
    sentInput = 0,
    wheel = null,
    text = '';
  /** The key of each character of `text`: [code, keyCode, shift], or null for pasted text. */
  let keys = [];
  /** The agent's press on the view: a click unless it moves, then a drag (down, moves, up). */
  let held = null,
    dragged = false;
  const input = (t, o) => {
    sentInput = Date.now();
    send(t, o);
  };
  const tick = () => {
    frame = 0;
    if (move) {
      const m = at(move).msg,
        s = JSON.stringify(m);
      move = null;
      if (s !== last) {
        last = s;
        // In write mode the pointer hovers the customer's page (its cursor shows there too).
        if (control.mode === 'write' && m.i) send('move', m);
        else send('pointer', pointerMsg(m));
      }
    }
    if (wheel) {
      const w = wheel;
      wheel = null;
      input('scroll', { ...(w.i ? { i: w.i } : {}), dx: Math.round(w.dx), dy: Math.round(w.dy) });
    }
    flushText();
  };
  const soon = () => frame || (frame = requestAnimationFrame(tick));
  /** The box (element and size) the last `pointer` message gave since the last snapshot. */
  let sentBox = '';
  // A snapshot is a new page (or a reloaded script) on the customer's side: it has no box yet.
  transport.on('snapshot', () => {
    sentBox = '';
  });
  /**
   * A `pointer` message: the element and the whole-pixel offset in it, with the element's size
   * only when it changed since the snapshot (the customer's page keeps the last one); the point
   * itself only where there is no element.
   * @param {Point} m
   */
  function pointerMsg(m) {
    if (!m.i) return { x: m.x, y: m.y };
    const size = { w: Math.round(m.w || 0), h: Math.round(m.h || 0) },
      key = m.i + ':' + size.w + 'x' + size.h,
      o = { i: m.i, ox: Math.round(m.ox || 0), oy: Math.round(m.oy || 0) };
    if (key === sentBox) return o;
    sentBox = key;
    return { ...o, ...size };
  }
  const flushText = () => {
    if (!text) return;
    const t = text,
      k = keys;
    text = '';
    keys = [];
    input('type', k.some(Boolean) ? { text: t, k } : { text: t });
  };
  /** @param {Event} e */
  const mine = (e) => e.target === overlay || overlay.contains(/** @type {Node} */ (e.target));
  const take = (type, f, opts) =>
    box.addEventListener(
      type,
      (e) => {
        if (mine(e) && !picker.contains(/** @type {Node} */ (e.target))) {
          e.stopPropagation();
          f(e);
        }
      },
      { capture: true, ...opts },
    );

  take('mousedown', (e) => {
    overlay.focus({ preventScroll: true });
    dragged = false;
    const { msg } = at(e);
    const left = control.mode === 'write' && e.button === 0 && msg.i;
    held = left ? { x: e.clientX, y: e.clientY, msg, drag: false } : null;
  });
  take('mousemove', (e) => {
    if (held && !held.drag && Math.hypot(e.clientX - held.x, e.clientY - held.y) > 3) {
      held.drag = true;
      flushText();
      input('down', held.msg); // a left press: the only one the console drags with
    }
    move = e;
    soon();
  });
  // A drag may end outside the view: its release is heard wherever it happens.
  addEventListener(
    'mouseup',
    (e) => {
      const h = held;
      held = null;
      if (!h || !h.drag) return;
      if (move) tick(); // the last move, then the release where it happened
      const { msg } = at(e);
      input('up', msg);
      dragged = true;
    },
    true,
  );
  take('click', (e) => {
    picker.hidden = true;
    if (dragged) return void (dragged = false); // the click that ends a drag: the customer's page makes its own
    const { target, msg } = at(e);
    if (control.mode !== 'write') {
      send('mark', msg);
      return ring(e);
    }
    flushText();
    if (!target || !msg.i) return;
    const sel =
      target.closest('select') ||
      (target.localName === 'option' && target.parentElement.closest('select'));
    if (sel) return choose(sel, e);
    const field = target.localName === 'input' ? /** @type {HTMLInputElement} */ (target) : null;
    if (field && /^(checkbox|radio)$/.test(field.type))
      return input('check', { ...msg, c: field.type === 'radio' ? 1 : +!field.checked });
    input('click', { ...msg, d: e.detail || 1 });
    if (field && (PICKED.test(field.type) || field.list)) pick(field, e);
  });
  take('contextmenu', (e) => {
    if (control.mode !== 'write') return;
    e.preventDefault();
    const { msg } = at(e);
    if (msg.i) input('click', { ...msg, b: 2 });
  });
  take('dblclick', (e) => {
    if (control.mode === 'write') {
      const { msg } = at(e);
      if (msg.i) input('dblclick', msg);
    }
  });
  take(
    'wheel',
    (e) => {
      if (control.mode !== 'write') return;
      e.preventDefault();
      const k = e.deltaMode === 1 ? 40 : e.deltaMode === 2 ? 400 : 1,
        { msg } = at(e);
      wheel = {
        i: msg.i,
        dx: (wheel ? wheel.dx : 0) + e.deltaX * k,
        dy: (wheel ? wheel.dy : 0) + e.deltaY * k,
      };
      soon();
    },
    { passive: false },
  );
  overlay.addEventListener('keydown', (e) => {
    if (control.mode !== 'write' || e.isComposing || UNSENT.test(e.key)) return;
    const mod = e.ctrlKey || e.metaKey;
    if (mod && /^[vcx]$/i.test(e.key)) return; // paste arrives as a paste event; copy stays local
    e.preventDefault();
    if (e.key.length === 1 && !mod && !e.altKey) {
      text += e.key;
      keys.push([e.code, e.keyCode, +e.shiftKey]);
      return soon();
    }
    flushText();
    const flags = {
      shift: e.shiftKey,
      alt: e.altKey,
      ctrl: e.ctrlKey,
      meta: e.metaKey,
      loc: e.location,
      rep: e.repeat,
    };
    const set = Object.fromEntries(
      Object.entries(flags)
        .filter(([, v]) => v)
        .map(([k, v]) => [k, +v]),
    );
    input('key', { key: e.key, code: e.code, kc: e.keyCode, ...set });
  });
  overlay.addEventListener('paste', (e) => {
    if (control.mode !== 'write') return;
    e.preventDefault();
    const pasted = e.clipboardData.getData('text/plain');
    text += pasted;
    keys.push(...Array.from(pasted, () => null));
    soon();
  });

  // ---- feedback in the console: the agent's own click ring, the <select> picker, toasts ----
  const css = document.createElement('style');
  css.textContent = `.cbc-ring{position:absolute;width:26px;height:26px;margin:-13px 0 0 -13px;
border:3px solid #e0245e;border-radius:50%;pointer-events:none;
animation:cbc-ring .7s ease-out forwards}@keyframes cbc-ring{to{transform:scale(2);opacity:0}}
.cbc-picker{position:fixed;z-index:30;max-height:50vh;overflow:auto;min-width:160px;background:#fff;
border:1px solid #9aa5b1;border-radius:6px;box-shadow:0 4px 16px #0004;padding:4px;
font:14px system-ui,sans-serif}
.cbc-picker button{display:block;width:100%;text-align:left;border:0;background:none;
padding:6px 10px;border-radius:4px;cursor:pointer}
.cbc-picker button:hover,.cbc-picker button:focus{background:#e6eefb}
.cbc-picker button[aria-selected=true]{font-weight:700}
.cbc-toasts{position:fixed;z-index:40;left:50%;top:54px;transform:translateX(-50%);display:grid;
gap:6px;width:min(520px,90vw);pointer-events:none}.cbc-toast{padding:10px 14px;background:#1d2733;
color:#fff;border-radius:6px;box-shadow:0 2px 10px #0005;font:14px system-ui,sans-serif}`;
  document.head.append(css);
  function ring(e) {
    const p = xy(e),
      d = document.createElement('div');
    d.className = 'cbc-ring';
    d.style.left = p.x + 'px';
    d.style.top = p.y + 'px';
    overlay.append(d);
    setTimeout(() => d.remove(), 800);
  }
  const picker = document.createElement('div');
  picker.className = 'cbc-picker';
  picker.hidden = true;
  picker.setAttribute('role', 'listbox');
  document.body.append(picker);
  /** Opens the picker by the view's point `e` with `items`, focusing the chosen one. */
  function offer(e, items) {
    picker.replaceChildren(...items);
    picker.style.left = Math.min(e.clientX, innerWidth - 180) + 'px';
    picker.style.top = Math.min(e.clientY, innerHeight - 100) + 'px';
    picker.hidden = false;
    /** @type {HTMLElement} */ (
      picker.querySelector('[aria-selected=true]') || picker.firstChild
    )?.focus();
  }
  const option = (label, selected, disabled, f) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.disabled = disabled;
    b.setAttribute('role', 'option');
    b.setAttribute('aria-selected', String(selected));
    b.onclick = () => f(b);
    return b;
  };
  /** A <select> cannot open in the view: its options are offered here, the choice is sent (several for `multiple`). */
  function choose(sel, e) {
    const i = mirror.ids.get(sel),
      chosen = new Set(Array.from(sel.options).flatMap((o, k) => (o.selected ? [k] : [])));
    picker.setAttribute('aria-multiselectable', String(sel.multiple));
    offer(
      e,
      Array.from(sel.options, (o, k) =>
        option(o.label || o.text, o.selected, o.disabled, (b) => {
          if (!sel.multiple) {
            picker.hidden = true;
            overlay.focus();
            input('select', { i, x: [k] });
            return;
          }
          if (!chosen.delete(k)) chosen.add(k);
          b.setAttribute('aria-selected', String(chosen.has(k)));
          input('select', { i, x: [...chosen].sort((a, b) => a - b) });
        }),
      ),
    );
  }
  /** Date, time and color fields get the console's own control of that type; a field with a datalist, its suggestions. */
  function pick(field, e) {
    const i = mirror.ids.get(field);
    const done = (val) => {
      picker.hidden = true;
      overlay.focus();
      input('set', { i, val });
    };
    picker.removeAttribute('aria-multiselectable');
    if (!PICKED.test(field.type)) {
      const suggestions = Array.from(field.list.options, (o) =>
        option(o.label || o.value, false, o.disabled, () => done(o.value)),
      );
      return offer(e, suggestions);
    }
    const f = document.createElement('input'),
      ok = option('Set', false, false, () => done(f.value));
    f.type = field.type;
    f.value = field.value;
    f.min = field.min;
    f.max = field.max;
    f.step = field.step;
    f.setAttribute(
      'aria-label',
      field.getAttribute('aria-label') || "Value for the customer's field",
    );
    f.onkeydown = (k) => {
      if (k.key === 'Enter') done(f.value);
    };
    offer(e, [f, ok]);
  }
  picker.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      picker.hidden = true;
      overlay.focus();
    }
  });
  const toastBox = document.createElement('div');
  toastBox.className = 'cbc-toasts';
  toastBox.setAttribute('role', 'status');
  toastBox.setAttribute('aria-live', 'polite');
  document.body.append(toastBox);
  function toast(text) {
    if (!toasts || !text) return;
    const d = document.createElement('div');
    d.className = 'cbc-toast';
    d.textContent = text;
    toastBox.append(d);
    while (toastBox.children.length > 3) toastBox.firstChild.remove();
    setTimeout(() => d.remove(), 5000);
  }
  setMode('pointer');
  overlay.dataset.mode = 'pointer';
  return control;
}
