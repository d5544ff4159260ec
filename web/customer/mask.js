// Privacy decisions, taken before anything is sent (docs/security.md, "Masking and the
// customer's page").
import { emit } from './core.js';

/** Inputs that were ever `type=password`: they stay masked after a "show password" toggle. */
const pw = new WeakSet();
const told = new WeakSet();
/** Masked by default, whatever the rules say: passwords, card numbers, CVCs, one-time codes. */
const SENSITIVE =
  'input[type=password],[autocomplete~=cc-number i],[autocomplete~=cc-csc i],[autocomplete~=one-time-code i]';
let maskSel = '',
  blockSel = '',
  noControlSel = '';

/**
 * The page's own attribute and the rule set's selectors: parsable ones only, as one bad rule must
 * not break capture.
 */
const rule = (name, l) =>
  [
    '[data-cobrowse-' + name + ']',
    ...(l || []).filter((s) => {
      try {
        document.querySelector(s);
        return true;
      } catch {
        console.warn('cobrowse: bad selector', s);
        return false;
      }
    }),
  ].join();
/** Applies the server's rules for this page. */
export function setRules(r) {
  maskSel = rule('mask', r.mask);
  blockSel = rule('block', r.block);
  noControlSel = rule('no-control', r.disable);
}
setRules({});
/**
 * Elements the agent may not use (write mode): data-cobrowse-no-control and the rules' `disable`.
 */
export const noControl = () => noControlSel;

export const masks = (el) => el.matches(maskSel);
/**
 * The selector of masked elements (rules and fields masked by default included), for the customer's
 * outline.
 */
export const maskSelector = () => maskSel + ',' + SENSITIVE;
/** Inside a masked region (through shadow roots and frames)? */
export function masked(n) {
  for (; n; n = n.parentNode || n.host || (n.defaultView && n.defaultView.frameElement))
    if (n.nodeType === 1 && n.matches(maskSel)) return true;
  return false;
}
/**
 * Field whose value is never sent: password (even after a type change), card/OTP, hidden, masked
 * (`inMask`, if the caller knows).
 */
export function sensitive(el, inMask) {
  if (el.type === 'password') pw.add(el);
  return pw.has(el) || el.type === 'hidden' || el.matches(SENSITIVE) || (inMask ?? masked(el));
}
export const isField = (el) => {
  const t = el.localName;
  return t === 'input' || t === 'textarea' || t === 'select';
};
/** Hidden from the agent: a masked field, or an element in a masked region. */
export const hides = (el) => (isField(el) ? sensitive(el) : masked(el));
export const notePw = (el) => el.type === 'password' && pw.add(el);
/** Blocked: a same-size placeholder; the content is never read. */
export const blocked = (el) => el.matches(blockSel);
/** One length whatever the value: the agent sees that a masked field is filled, not how much. */
export const maskValue = (v) => (v ? '••••••••' : '');
export const maskText = (t) => t.replace(/\S/g, '•');
/** Tells plug-ins (toolbar, site UI) once per element that it is hidden. */
export const announce = (el) => {
  if (told.has(el)) return;
  told.add(el);
  emit('maskedElement', el);
};

const guarded = new WeakSet();
/** From load on (even idle), notes password fields before a type change can reveal them. */
export function guard(win) {
  if (guarded.has(win)) return;
  guarded.add(win);
  const P = win.HTMLInputElement.prototype,
    d = Object.getOwnPropertyDescriptor(P, 'type');
  Object.defineProperty(P, 'type', {
    ...d,
    set(v) {
      notePw(this);
      d.set.call(this, v);
    },
  });
  const doc = win.document,
    scan = () => {
      for (const e of doc.querySelectorAll('input[type=password]')) pw.add(e);
    };
  new win.MutationObserver((rs) => {
    for (const r of rs) if (r.oldValue && r.oldValue.toLowerCase() === 'password') pw.add(r.target);
  }).observe(doc, {
    subtree: true,
    attributes: true,
    attributeFilter: ['type'],
    attributeOldValue: true,
  });
  scan();
  doc.readyState === 'loading' && doc.addEventListener('DOMContentLoaded', scan);
}
