// The visual DOM restrictions editor: an overlay on the administrator's own site, opened from
// the admin console (the loader imports this module when the address carries
// #cobrowse-editor=<one-time token>). Hover highlights an element, a click selects it; choose
// mask, disable control or block; the generated selector (ids, `name`, data attributes before
// classes and positions) is shown, editable, with how many elements it matches on this page
// (highlighted); then save into the rule set the administrator chose, scoped by a URL pattern.
//
// The one-time link token is traded at once for a short editor token (kept in this tab's
// sessionStorage, so a reload or the next page keeps the editor open) that the server accepts
// for this rule set's saves only, from this site's origin only. Nothing here is ever mirrored
// to an agent (data-cobrowse-ui), and nothing of the page is sent anywhere: only selectors.

const KEY = 'cobrowse:editor';
const LISTS = { mask: 'Mask', disable: 'Disable control', block: 'Block' };
const HINTS = {
  mask: "Values and texts are replaced by • before they leave the customer's browser.",
  disable: "The agent's clicks and typing on it do nothing (the customer can always act).",
  block: 'Never sent: the agent sees a grey box of the same size.',
};
/** Characters the server refuses in a selector, even quoted (style-sheet and markup injection). */
const REFUSED = /[{};<]/;
/**
 * Data attributes tried first, in this order: test hooks and field names are the stablest handles.
 */
const DATA_FIRST = [
  'data-testid',
  'data-test',
  'data-test-id',
  'data-qa',
  'data-cy',
  'data-field',
  'data-name',
  'data-id',
  'data-role',
];

let ui = null;

/** Opens the editor: from the link in the address, or the one this tab already has open. */
export async function open(origin) {
  if (ui) return ui;
  const m = /(?:^#|&)cobrowse-editor=([A-Za-z0-9_]+)/.exec(location.hash);
  let grant = null,
    problem = '';
  if (m) {
    // The token must not stay in the address bar (history, screenshots, shared links).
    const rest = location.hash
      .slice(1)
      .split('&')
      .filter((p) => !p.startsWith('cobrowse-editor='))
      .join('&');
    history.replaceState(
      history.state,
      '',
      location.pathname + location.search + (rest ? '#' + rest : ''),
    );
    try {
      const r = await fetch(origin + '/api/v1/admin/editor/open', {
        method: 'POST',
        mode: 'cors',
        credentials: 'omit',
        headers: { authorization: 'Bearer ' + m[1] },
      });
      const data = await r.json().catch(() => null);
      if (r.ok) grant = data;
      else
        problem =
          (data && data.error && data.error.message) ||
          'The server refused the editor link (' + r.status + ').';
    } catch {
      problem = 'The co-browse server could not be reached.';
    }
    if (grant) save(grant);
  } else {
    grant = load();
    if (!grant) return null;
  }
  ui = new Editor(origin, grant, problem);
  return ui;
}

function save(g) {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(g));
  } catch {}
}
function load() {
  try {
    const g = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    if (g && g.expires_at > Date.now()) return g;
    sessionStorage.removeItem(KEY);
  } catch {}
  return null;
}

// ---- selectors ----

const quote = (v) => '"' + v.replace(/["\\]/g, '\\$&').replace(/\n/g, '\\a ') + '"';
const tagOf = (el) => CSS.escape(el.localName);
/**
 * Ids a framework generated (React useId, Ember, MUI, long numbers, UUIDs) change between page
 * loads.
 */
const generatedId = (v) =>
  /\d{4,}|^(ember|ext-gen|ui-id-|mui-|react-|rc_|radix-|headlessui-)|:|^[a-f0-9-]{16,}$/i.test(v);
/** Classes made by CSS-in-JS tools, or state classes, are poor handles. */
const weakClass = (c) =>
  /^(css|sc|jsx|emotion|svelte|tw)-|^_|[a-z0-9]{5,}_[a-z0-9]{3,}|\d{3,}|^(is-|has-)?(active|hover|focus|selected|open|visible|hidden|disabled|checked)$/i.test(
    c,
  );

function matches(sel) {
  try {
    return Array.from(document.querySelectorAll(sel));
  } catch {
    return null;
  }
}
const only = (sel, el) => {
  const l = matches(sel);
  return !!l && l.length === 1 && l[0] === el;
};
const usable = (sel) => sel && !REFUSED.test(sel) && matches(sel) !== null;

/** The steadiest selector that names this element alone (or null). */
function own(el) {
  const tag = tagOf(el),
    tries = [];
  if (el.id && !generatedId(el.id)) tries.push('#' + CSS.escape(el.id));
  const name = el.getAttribute('name');
  if (name) tries.push(`${tag}[name=${quote(name)}]`);
  const data = Array.from(el.attributes).filter(
    (a) => a.name.startsWith('data-') && !a.name.startsWith('data-cobrowse') && a.value.length < 80,
  );
  data.sort(
    (a, b) => (DATA_FIRST.indexOf(a.name) + 1 || 99) - (DATA_FIRST.indexOf(b.name) + 1 || 99),
  );
  for (const a of data)
    tries.push(a.value ? `${tag}[${a.name}=${quote(a.value)}]` : `${tag}[${a.name}]`);
  // Attributes that name what the element is (not words shown to people, which get translated).
  for (const a of ['autocomplete', 'for', 'role', 'type']) {
    const v = el.getAttribute(a);
    if (v && v.length < 80 && !(a === 'autocomplete' && /^(on|off)$/i.test(v)))
      tries.push(`${tag}[${a}=${quote(v)}]`);
  }
  const classes = Array.from(el.classList)
    .filter((c) => !weakClass(c))
    .map((c) => '.' + CSS.escape(c));
  for (const c of classes) tries.push(tag + c);
  if (classes.length > 1) tries.push(tag + classes.slice(0, 3).join(''));
  for (const a of ['aria-label', 'placeholder', 'title', 'alt']) {
    const v = el.getAttribute(a);
    if (v && v.length < 80) tries.push(`${tag}[${a}=${quote(v)}]`);
  }
  return tries.find((s) => usable(s) && only(s, el)) || null;
}

/** A handle for an ancestor used as context: an id, name or data attribute, unique or not. */
function anchor(el) {
  if (el.id && !generatedId(el.id) && !REFUSED.test(el.id)) return '#' + CSS.escape(el.id);
  for (const a of DATA_FIRST) {
    const v = el.getAttribute(a);
    if (v && !REFUSED.test(v)) return `${tagOf(el)}[${a}=${quote(v)}]`;
  }
  const name = el.getAttribute('name');
  if (name && !REFUSED.test(name)) return `${tagOf(el)}[name=${quote(name)}]`;
  // A class that names this one element of the page will do as well.
  for (const c of Array.from(el.classList).filter((c) => !weakClass(c))) {
    const sel = `${tagOf(el)}.${CSS.escape(c)}`;
    if (usable(sel) && only(sel, el)) return sel;
  }
  return null;
}

/**
 * A stable selector for `el`: its own id, name, data attribute, label-ish attributes or
 * classes; else the same inside the nearest ancestor that has a handle; else a path of
 * positions (`:nth-of-type`) from the nearest such ancestor (or the body).
 */
export function selectorFor(el) {
  const mine = own(el);
  if (mine) return mine;
  const step = (n) => {
    const tag = tagOf(n),
      p = n.parentElement;
    if (!p) return tag;
    const same = Array.from(p.children).filter((c) => c.localName === n.localName);
    return same.length > 1 ? `${tag}:nth-of-type(${same.indexOf(n) + 1})` : tag;
  };
  const steps = [step(el)];
  for (let n = el.parentElement; n && n !== document.documentElement; n = n.parentElement) {
    const a = anchor(n) || (n === document.body ? 'body' : null);
    if (a) {
      // Inside that ancestor: the element's own weaker handles first, then the path of positions.
      const tries = [];
      const name = el.getAttribute('name');
      if (name && !REFUSED.test(name)) tries.push(`${a} ${tagOf(el)}[name=${quote(name)}]`);
      for (const c of Array.from(el.classList).filter((c) => !weakClass(c)))
        tries.push(`${a} ${tagOf(el)}.${CSS.escape(c)}`);
      tries.push(`${a} > ${[...steps].reverse().join(' > ')}`);
      const found = tries.find((t) => usable(t) && only(t, el));
      if (found) return found;
      if (n === document.body) return tries[tries.length - 1];
    }
    steps.push(step(n));
  }
  return [...steps].reverse().join(' > ');
}

/** Whether a page address falls under a pattern (`*` matches anything): the server's rule. */
export function urlMatches(pattern, url) {
  const parts = pattern.split('*');
  if (!url.startsWith(parts[0])) return false;
  let rest = url.slice(parts[0].length);
  if (parts.length === 1) return rest === '';
  for (const p of parts.slice(1, -1)) {
    const i = rest.indexOf(p);
    if (i < 0) return false;
    rest = rest.slice(i + p.length);
  }
  return rest.endsWith(parts[parts.length - 1]);
}

function defaultAction(el) {
  if (
    /^(input|textarea|select)$/.test(el.localName) &&
    !/^(submit|button|image|reset)$/.test(el.type)
  )
    return 'mask';
  if (el.isContentEditable) return 'mask';
  if (/^(button|a)$/.test(el.localName) || /^(submit|button|image|reset)$/.test(el.type))
    return 'disable';
  if (/^(img|video|canvas|iframe|picture|svg|object|embed)$/.test(el.localName)) return 'block';
  return 'mask';
}

function describe(el) {
  let d = '<' + el.localName;
  if (el.id) d += ` id="${el.id}"`;
  const name = el.getAttribute('name');
  if (name) d += ` name="${name}"`;
  if (el.type && el.localName === 'input') d += ` type="${el.type}"`;
  if (!el.id && el.classList.length)
    d += ` class="${Array.from(el.classList).slice(0, 2).join(' ')}${el.classList.length > 2 ? ' …' : ''}"`;
  d += '>';
  const text =
    el.localName === 'input' || el.localName === 'textarea'
      ? ''
      : (el.textContent || '').trim().replace(/\s+/g, ' ');
  return text ? d + ' ' + (text.length > 40 ? text.slice(0, 40) + '…' : text) : d;
}

// ---- the overlay ----

const CSS_TEXT = `
:host { all: initial; }
* { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.boxes { position: fixed; inset: 0; pointer-events: none; z-index: 1; }
.box { position: fixed; pointer-events: none; border-radius: 3px; }
.box.hover { outline: 2px dashed #2f6fed; background: #2f6fed14; }
.box.match { outline: 2px solid #e0245e; background: #e0245e26; }
.box.match.mask { outline-color: #7c3aed; background: #7c3aed26; }
.box.match.disable { outline-color: #d97706; background: #d9770626; }
.box.match.block { outline-color: #475569; background: repeating-linear-gradient(45deg,#47556940 0 6px,#47556915 6px 12px); }
.box.selected { outline: 3px solid #2f6fed; background: #2f6fed1f; }
.box.rule { outline: 2px dotted #7c3aed; }
.box.rule.disable { outline-color: #d97706; }
.box.rule.block { outline-color: #475569; }
.box.rule::after { content: attr(data-k); position: absolute; right: 0; top: -15px; font: 700 9.5px/13px system-ui, sans-serif; letter-spacing: .05em; text-transform: uppercase; color: #fff; background: #7c3aed; padding: 0 4px; border-radius: 3px 3px 0 0; }
.box.rule.disable::after { background: #d97706; }
.box.rule.block::after { background: #475569; }
.tip { position: fixed; pointer-events: none; z-index: 2; background: #0f1b2d; color: #fff; font: 12px/1.3 ui-monospace, SFMono-Regular, Menlo, monospace; padding: 3px 7px; border-radius: 4px; white-space: nowrap; max-width: 60vw; overflow: hidden; text-overflow: ellipsis; }
.panel { position: fixed; top: 12px; right: 12px; z-index: 3; width: 372px; max-height: calc(100vh - 24px); overflow: auto; background: #fff; color: #17212f; border-radius: 12px; box-shadow: 0 12px 40px #0f1b2d55, 0 0 0 1px #0f1b2d14; font-size: 13.5px; line-height: 1.45; }
.panel.left { right: auto; left: 12px; }
header { display: flex; align-items: center; gap: 8px; padding: 11px 14px; background: #0f1b2d; color: #fff; border-radius: 12px 12px 0 0; position: sticky; top: 0; z-index: 1; }
header strong { font-size: 13.5px; }
header .tag { font-size: 10.5px; font-weight: 700; letter-spacing: .08em; text-transform: uppercase; background: #2f6fed; border-radius: 4px; padding: 1px 6px; }
header .sp { flex: 1; }
header button { background: none; border: 0; color: #c9d6ea; font-size: 17px; cursor: pointer; padding: 2px 6px; border-radius: 4px; line-height: 1; }
header button:hover { color: #fff; background: #ffffff1a; }
section { padding: 12px 14px; border-bottom: 1px solid #edf0f4; }
section:last-child { border-bottom: 0; }
h3 { margin: 0 0 6px; font-size: 11px; text-transform: uppercase; letter-spacing: .07em; color: #5b6778; font-weight: 700; }
.muted { color: #5b6778; }
.small { font-size: 12px; }
.meta { font-size: 12.5px; color: #3b4656; }
.meta b { color: #17212f; }
label { display: block; font-weight: 600; font-size: 12.5px; margin: 8px 0 4px; }
input[type=text] { width: 100%; font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; padding: 7px 9px; border: 1px solid #c5cdd8; border-radius: 7px; color: #17212f; background: #fff; }
input[type=text]:focus { outline: 2px solid #2f6fed55; border-color: #2f6fed; }
input[aria-invalid=true] { border-color: #c23434; background: #fff7f7; }
button.btn { font: 600 13px/1 system-ui, sans-serif; border-radius: 7px; padding: 8px 12px; border: 1px solid #c5cdd8; background: #fff; color: #17212f; cursor: pointer; }
button.btn:hover:not(:disabled) { background: #f0f3f7; }
button.btn:disabled { opacity: .5; cursor: default; }
button.primary { background: #2f6fed; border-color: #2f6fed; color: #fff; }
button.primary:hover:not(:disabled) { background: #1d4fc4; }
button:focus-visible { outline: 3px solid #ffb020; outline-offset: 2px; }
.row { display: flex; gap: 6px; align-items: center; }
.row.end { justify-content: flex-end; margin-top: 10px; }
.pick { display: flex; align-items: center; gap: 8px; }
.pick .dot { width: 9px; height: 9px; border-radius: 50%; background: #1f8a4c; box-shadow: 0 0 0 3px #1f8a4c33; }
.pick.off .dot { background: #9aa5b1; box-shadow: none; }
.el { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; background: #f4f6f9; border-radius: 6px; padding: 6px 8px; word-break: break-all; color: #3b4656; }
.actions { display: grid; grid-template-columns: repeat(3, 1fr); gap: 6px; margin-top: 4px; }
.actions button { font: 600 12.5px/1.2 system-ui, sans-serif; padding: 8px 4px; border-radius: 7px; border: 1px solid #c5cdd8; background: #fff; cursor: pointer; color: #17212f; }
.actions button[aria-pressed=true] { border-color: #2f6fed; background: #eaf1ff; color: #1d4fc4; box-shadow: inset 0 0 0 1px #2f6fed; }
.hint { font-size: 12px; color: #5b6778; margin: 6px 0 0; }
.count { font-size: 12.5px; margin-top: 6px; }
.count.none, .count.bad { color: #c23434; }
.count.many { color: #8a5a0c; }
ul { list-style: none; margin: 0; padding: 0; }
li.rule { display: flex; align-items: center; gap: 6px; padding: 5px 0; border-top: 1px solid #f0f2f5; }
li.rule:first-child { border-top: 0; }
li.rule code { flex: 1; font: 12px/1.35 ui-monospace, SFMono-Regular, Menlo, monospace; word-break: break-all; }
li.rule .kind { font-size: 10.5px; font-weight: 700; text-transform: uppercase; letter-spacing: .05em; padding: 1px 6px; border-radius: 4px; background: #ede9fe; color: #6d28d9; white-space: nowrap; }
li.rule .kind.disable { background: #fef3c7; color: #92400e; }
li.rule .kind.block { background: #e2e8f0; color: #334155; }
li.rule .n { font-size: 11.5px; color: #5b6778; white-space: nowrap; }
li.rule.removed code { text-decoration: line-through; color: #9aa5b1; }
li.rule.new code { color: #1f8a4c; }
li.rule button { background: none; border: 0; color: #5b6778; cursor: pointer; font-size: 15px; padding: 0 4px; border-radius: 4px; }
li.rule button:hover { color: #c23434; background: #fdecec; }
.msg { margin-top: 10px; padding: 8px 10px; border-radius: 7px; font-size: 12.5px; }
.msg.ok { background: #eaf6ef; color: #17603a; border: 1px solid #bfe3cd; }
.msg.err { background: #fdecec; color: #8a1f1f; border: 1px solid #f3c2c2; }
.msg.warn { background: #fff8e6; color: #7a5208; border: 1px solid #f0d79a; }
kbd { font: 11px ui-monospace, monospace; border: 1px solid #c5cdd8; border-bottom-width: 2px; border-radius: 4px; padding: 0 4px; background: #f8fafc; }
`;

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat())
    if (k !== null && k !== undefined && k !== false) e.append(k instanceof Node ? k : String(k));
  return e;
}

class Editor {
  constructor(origin, grant, problem) {
    this.origin = origin;
    this.grant = grant || {};
    /** Selectors in the rule set (as last saved) and the changes not saved yet. */
    this.saved = { mask: [], disable: [], block: [], ...(this.grant.rules || {}) };
    this.add = { mask: [], disable: [], block: [] };
    this.remove = { mask: [], disable: [], block: [] };
    this.picking = !problem;
    this.hovered = null;
    this.selected = null;
    this.action = 'mask';
    this.host = el('div', {
      'data-cobrowse-ui': '',
      'data-cobrowse-editor': '',
      style: 'position:fixed;inset:0;z-index:2147483647;pointer-events:none',
    });
    this.root = this.host.attachShadow({ mode: 'open' });
    this.root.append(el('style', {}, CSS_TEXT));
    this.boxes = el('div', { class: 'boxes' });
    this.tip = el('div', { class: 'tip', hidden: true });
    this.panel = el('div', {
      class: 'panel',
      role: 'dialog',
      'aria-label': 'Co-browse restrictions editor',
      style: 'pointer-events:auto',
    });
    this.root.append(this.boxes, this.tip, this.panel);
    document.documentElement.append(this.host);
    if (problem) {
      this.failed(problem);
      return;
    }
    this.build();
    this.listen();
    this.frame();
  }

  failed(problem) {
    this.panel.replaceChildren(
      el(
        'header',
        {},
        el('strong', {}, 'Co-browse'),
        el('span', { class: 'tag' }, 'Editor'),
        el('span', { class: 'sp' }),
        el(
          'button',
          { type: 'button', 'aria-label': 'Close the editor', onclick: () => this.close() },
          '×',
        ),
      ),
      el(
        'section',
        {},
        el('div', { class: 'msg err', role: 'alert', id: 'cbe-problem' }, problem),
        el(
          'p',
          { class: 'hint' },
          'Start the visual editor again from the admin console (DOM restrictions).',
        ),
      ),
    );
  }

  build() {
    const g = this.grant;
    this.patternInput = el('input', {
      type: 'text',
      id: 'cbe-pattern',
      value: g.url_pattern || '',
      spellcheck: 'false',
      'aria-describedby': 'cbe-pattern-note',
      oninput: () => this.patternNote(),
    });
    this.pickButton = el('button', {
      type: 'button',
      class: 'btn',
      id: 'cbe-pick',
      onclick: () => this.setPicking(!this.picking),
    });
    this.pickState = el(
      'div',
      { class: 'pick' },
      el('span', { class: 'dot' }),
      el('span', { id: 'cbe-pick-state' }),
    );
    this.selectorInput = el('input', {
      type: 'text',
      id: 'cbe-selector',
      spellcheck: 'false',
      'aria-label': 'Selector',
      oninput: () => this.showMatches(),
    });
    this.count = el('div', {
      class: 'count',
      id: 'cbe-count',
      role: 'status',
      'aria-live': 'polite',
    });
    this.actionButtons = Object.fromEntries(
      Object.entries(LISTS).map(([k, label]) => [
        k,
        el(
          'button',
          {
            type: 'button',
            'data-action': k,
            id: 'cbe-action-' + k,
            'aria-pressed': 'false',
            onclick: () => this.setAction(k),
          },
          label,
        ),
      ]),
    );
    this.hint = el('p', { class: 'hint', id: 'cbe-hint' });
    this.element = el('div', { class: 'el', id: 'cbe-element' });
    this.selection = el(
      'section',
      { id: 'cbe-selection', hidden: true },
      el('h3', {}, 'Selected element'),
      this.element,
      el('label', {}, 'Restriction'),
      el(
        'div',
        { class: 'actions', role: 'group', 'aria-label': 'Restriction' },
        Object.values(this.actionButtons),
      ),
      this.hint,
      el('label', { for: 'cbe-selector' }, 'Selector'),
      this.selectorInput,
      this.count,
      el(
        'div',
        { class: 'row end' },
        el(
          'button',
          {
            type: 'button',
            class: 'btn',
            id: 'cbe-parent',
            title: 'Select the parent element',
            onclick: () =>
              this.select(
                this.selected && this.selected.parentElement !== document.documentElement
                  ? this.selected.parentElement
                  : this.selected,
              ),
          },
          '↑ Parent',
        ),
        el('button', { type: 'button', class: 'btn', onclick: () => this.deselect() }, 'Cancel'),
        el(
          'button',
          { type: 'button', class: 'btn primary', id: 'cbe-add', onclick: () => this.addRule() },
          'Add to rule set',
        ),
      ),
    );
    this.list = el('ul', { id: 'cbe-rules' });
    this.saveButton = el(
      'button',
      { type: 'button', class: 'btn primary', id: 'cbe-save', onclick: () => this.save() },
      'Save',
    );
    this.message = el('div', { id: 'cbe-message', role: 'status', 'aria-live': 'polite' });
    this.panel.replaceChildren(
      el(
        'header',
        {},
        el('strong', {}, 'Co-browse'),
        el('span', { class: 'tag' }, 'Restrictions editor'),
        el('span', { class: 'sp' }),
        el(
          'button',
          {
            type: 'button',
            title: 'Move the panel to the other side',
            'aria-label': 'Move the panel to the other side',
            onclick: () => this.panel.classList.toggle('left'),
          },
          '⇆',
        ),
        el(
          'button',
          {
            type: 'button',
            title: 'Close the editor',
            'aria-label': 'Close the editor',
            id: 'cbe-close',
            onclick: () => this.close(),
          },
          '×',
        ),
      ),
      el(
        'section',
        {},
        el(
          'div',
          { class: 'meta' },
          'Rule set ',
          el('b', { id: 'cbe-set' }, g.rule_set || '?'),
          g.account ? ' · ' + g.account : '',
        ),
        el('label', { for: 'cbe-pattern' }, 'Applies to pages matching'),
        this.patternInput,
        el('p', { class: 'hint', id: 'cbe-pattern-note' }),
      ),
      el(
        'section',
        {},
        el(
          'div',
          { class: 'row' },
          this.pickState,
          el('span', { class: 'sp', style: 'flex:1' }),
          this.pickButton,
        ),
        el(
          'p',
          { class: 'hint' },
          'Point at an element and click to select it. ',
          el('kbd', {}, 'Esc'),
          ' cancels; pause picking to use the page normally.',
        ),
      ),
      this.selection,
      el(
        'section',
        {},
        el('h3', {}, 'Rules of this set'),
        this.list,
        el(
          'div',
          { class: 'row end' },
          el('span', { class: 'muted small', id: 'cbe-pending', style: 'flex:1' }),
          this.saveButton,
        ),
        this.message,
      ),
    );
    this.setPicking(true);
    this.patternNote();
    this.render();
  }

  patternNote() {
    const p = this.patternInput.value.trim(),
      note = this.root.getElementById('cbe-pattern-note');
    const ok = p && urlMatches(p, location.href);
    note.textContent = !p
      ? 'A pattern is required: the whole page address, * for anything.'
      : ok
        ? 'This page matches: its next session gets these rules.'
        : 'This page does NOT match the pattern: the rules will not apply here.';
    note.style.color = ok ? '' : '#8a5a0c';
    this.render();
  }

  setPicking(on) {
    this.picking = on;
    this.pickState.classList.toggle('off', !on);
    this.root.getElementById('cbe-pick-state').textContent = on
      ? 'Picking elements'
      : 'Picking paused';
    this.pickButton.textContent = on ? 'Pause' : 'Pick elements';
    if (!on) {
      this.hovered = null;
      this.tip.hidden = true;
    }
  }

  listen() {
    const ours = (e) => e.composedPath().includes(this.host);
    const swallow = (e) => {
      if (this.picking && !ours(e)) {
        e.preventDefault();
        e.stopImmediatePropagation();
      }
    };
    this.handlers = {
      mousemove: (e) => {
        if (!this.picking || ours(e)) {
          this.hovered = null;
          this.tip.hidden = true;
          return;
        }
        const t = e.target && e.target.nodeType === 1 ? e.target : null;
        if (t && t !== document.documentElement && t !== document.body) {
          this.hovered = t;
          this.pointer = [e.clientX, e.clientY];
        } else this.hovered = null;
      },
      click: (e) => {
        if (!this.picking || ours(e)) return;
        swallow(e);
        if (this.hovered) this.select(this.hovered);
      },
      mousedown: swallow,
      mouseup: swallow,
      pointerdown: swallow,
      pointerup: swallow,
      dblclick: swallow,
      auxclick: swallow,
      submit: swallow,
      contextmenu: () => {},
      keydown: (e) => {
        if (e.key !== 'Escape') return;
        if (this.selected) this.deselect();
        else if (this.picking) this.setPicking(false);
      },
    };
    for (const [t, f] of Object.entries(this.handlers)) addEventListener(t, f, true);
  }

  /** Keeps the highlight boxes on the elements while the page scrolls and changes. */
  frame() {
    if (!this.host.isConnected) return;
    const boxes = [];
    const put = (target, cls, k) => {
      const r = target.getBoundingClientRect();
      if (!r.width && !r.height) return;
      boxes.push(
        el('div', {
          class: 'box ' + cls,
          'data-k': k,
          style: `left:${r.left - 2}px;top:${r.top - 2}px;width:${r.width + 4}px;height:${r.height + 4}px`,
        }),
      );
    };
    // What the rule set already restricts on this page (refreshed twice a second, not every frame).
    if (!this.forceAt || performance.now() - this.forceAt > 500) {
      this.forceAt = performance.now();
      this.inForce = this.restricted();
    }
    for (const [e, k] of this.inForce)
      if (e !== this.selected && !(this.matched || []).includes(e))
        put(e, 'rule ' + k, k === 'disable' ? 'disabled' : k === 'block' ? 'blocked' : 'masked');
    for (const m of (this.matched || []).slice(0, 300))
      if (m !== this.selected) put(m, 'match ' + this.action);
    if (this.selected && this.selected.isConnected) put(this.selected, 'selected');
    if (this.hovered && this.hovered !== this.selected && this.picking) {
      put(this.hovered, 'hover');
      const r = this.hovered.getBoundingClientRect();
      this.tip.hidden = false;
      this.tip.textContent = describe(this.hovered);
      this.tip.style.left = Math.max(4, Math.min(r.left, innerWidth - 320)) + 'px';
      this.tip.style.top = (r.top > 26 ? r.top - 24 : r.bottom + 4) + 'px';
    } else this.tip.hidden = true;
    this.boxes.replaceChildren(...boxes);
    requestAnimationFrame(() => this.frame());
  }

  /** Elements the rule set's selectors (saved or about to be) match here, with their kind. */
  restricted() {
    const out = [];
    for (const k of Object.keys(LISTS)) {
      for (const sel of [...this.saved[k], ...this.add[k]]) {
        if (this.remove[k].includes(sel)) continue;
        for (const e of (matches(sel) || []).slice(0, 100)) out.push([e, k]);
      }
    }
    return out.slice(0, 300);
  }

  select(target) {
    if (!target) return;
    this.selected = target;
    this.hovered = null;
    this.selection.hidden = false;
    this.element.textContent = describe(target);
    this.setAction(defaultAction(target));
    this.selectorInput.value = selectorFor(target);
    this.showMatches();
    this.selectorInput.focus();
  }

  deselect() {
    this.selected = null;
    this.matched = [];
    this.selection.hidden = true;
    this.message.replaceChildren();
  }

  setAction(k) {
    this.action = k;
    for (const [a, b] of Object.entries(this.actionButtons))
      b.setAttribute('aria-pressed', String(a === k));
    this.hint.textContent = HINTS[k];
  }

  showMatches() {
    const sel = this.selectorInput.value.trim();
    const found = sel ? matches(sel) : [];
    let text,
      cls = '';
    if (!sel) {
      text = 'Type a selector.';
      cls = 'none';
      this.matched = [];
    } else if (found === null) {
      text = 'Not a valid CSS selector.';
      cls = 'bad';
      this.matched = [];
    } else if (REFUSED.test(sel)) {
      text = '{ } ; and < are not allowed in a selector.';
      cls = 'bad';
      this.matched = found;
    } else {
      this.matched = found;
      const n = found.length,
        includes = this.selected ? found.includes(this.selected) : true;
      text =
        n === 0
          ? 'Matches no element on this page.'
          : `Matches ${n} element${n > 1 ? 's' : ''} on this page${n > 1 ? ', highlighted' : ''}.`;
      if (n && !includes) text += ' (Not the selected one!)';
      cls = n === 0 || !includes ? 'none' : n > 1 ? 'many' : '';
    }
    this.count.textContent = text;
    this.count.className = 'count ' + cls;
    this.selectorInput.setAttribute('aria-invalid', String(cls === 'bad'));
    this.root.getElementById('cbe-add').disabled = cls === 'bad' || !sel;
  }

  addRule() {
    const sel = this.selectorInput.value.trim(),
      k = this.action;
    if (!sel || matches(sel) === null || REFUSED.test(sel)) return;
    const rm = this.remove[k].indexOf(sel);
    if (rm >= 0) this.remove[k].splice(rm, 1);
    else if (!this.saved[k].includes(sel) && !this.add[k].includes(sel)) this.add[k].push(sel);
    this.deselect();
    this.render();
    this.saveButton.focus();
  }

  render() {
    const items = [];
    for (const k of Object.keys(LISTS)) {
      for (const s of [...this.saved[k], ...this.add[k]]) {
        const isNew = this.add[k].includes(s),
          removed = this.remove[k].includes(s);
        const n = (matches(s) || []).length;
        items.push(
          el(
            'li',
            {
              class: 'rule' + (isNew ? ' new' : '') + (removed ? ' removed' : ''),
              'data-list': k,
              'data-selector': s,
              onmouseenter: () => {
                if (!this.selected) {
                  this.matched = matches(s) || [];
                  this.action = k;
                }
              },
              onmouseleave: () => {
                if (!this.selected) this.matched = [];
              },
            },
            el('span', { class: 'kind ' + k }, k),
            el('code', {}, s),
            el('span', { class: 'n', title: 'Elements it matches on this page' }, n + '×'),
            el(
              'button',
              {
                type: 'button',
                'aria-label': (removed ? 'Keep ' : 'Remove ') + s,
                title: removed ? 'Keep it' : 'Remove it',
                onclick: () => this.toggle(k, s),
              },
              removed ? '↺' : '×',
            ),
          ),
        );
      }
    }
    this.list.replaceChildren(
      ...(items.length
        ? items
        : [el('li', { class: 'muted small' }, 'No rules yet: select an element to add one.')]),
    );
    const pending =
      Object.values(this.add).flat().length + Object.values(this.remove).flat().length;
    const patternChanged = this.patternInput.value.trim() !== (this.grant.url_pattern || '');
    this.root.getElementById('cbe-pending').textContent = pending
      ? `${pending} unsaved change${pending > 1 ? 's' : ''}`
      : patternChanged
        ? 'Pattern changed'
        : 'All saved';
    this.saveButton.disabled = !pending && !patternChanged;
    this.forceAt = 0;
  }

  toggle(k, s) {
    const a = this.add[k].indexOf(s);
    if (a >= 0) this.add[k].splice(a, 1);
    else {
      const r = this.remove[k].indexOf(s);
      r >= 0 ? this.remove[k].splice(r, 1) : this.remove[k].push(s);
    }
    this.render();
  }

  async save() {
    const body = {
      url_pattern: this.patternInput.value.trim(),
      add: this.add,
      remove: this.remove,
    };
    this.saveButton.disabled = true;
    let r,
      data = null;
    try {
      r = await fetch(this.origin + '/api/v1/admin/editor/rules', {
        method: 'POST',
        mode: 'cors',
        credentials: 'omit',
        headers: {
          authorization: 'Bearer ' + this.grant.token,
          'content-type': 'application/json',
        },
        body: JSON.stringify(body),
      });
      data = await r.json().catch(() => null);
    } catch {
      r = null;
    }
    const say = (cls, ...text) =>
      this.message.replaceChildren(
        el('div', { class: 'msg ' + cls, role: cls === 'err' ? 'alert' : 'status' }, ...text),
      );
    if (!r || !r.ok) {
      const e = data && data.error;
      this.render();
      if (e && e.code === 'invalid_rule')
        return say('err', `Not saved: ${e.field} “${e.value}” — ${e.why}`);
      return say(
        'err',
        'Not saved: ' +
          (e
            ? e.message
            : r
              ? 'the server answered ' + r.status
              : 'the server could not be reached') +
          '.',
      );
    }
    const set = data.rule_set;
    this.saved = { ...set.rules };
    this.add = { mask: [], disable: [], block: [] };
    this.remove = { mask: [], disable: [], block: [] };
    this.grant = {
      ...this.grant,
      url_pattern: set.url_pattern,
      rules: set.rules,
      version: set.version,
    };
    this.patternInput.value = set.url_pattern;
    save(this.grant);
    this.render();
    this.patternNote();
    if (data.pattern_matches_page === false || !urlMatches(set.url_pattern, location.href))
      say('warn', `Saved as version ${set.version}, but the pattern does not match this page.`);
    else
      say(
        'ok',
        `Saved “${set.name}” (version ${set.version}). The next co-browse session on matching pages gets these rules.`,
      );
  }

  close() {
    for (const [t, f] of Object.entries(this.handlers || {})) removeEventListener(t, f, true);
    this.host.remove();
    try {
      sessionStorage.removeItem(KEY);
    } catch {}
    ui = null;
  }
}
