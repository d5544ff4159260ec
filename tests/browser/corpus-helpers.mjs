// Helpers for the widget corpus (corpus.test.mjs): one scripted task per widget, written once
// against a driver (a hand with a mouse and a keyboard) that is either the customer's on their
// own page or the agent's on the mirrored view in the console; after each step the agent's view
// must equal the customer's page (canonical DOM and pixels), and at the end the widget's state
// must be the expected one. The results can be written as a table into README.md.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { viewPoint, writeMode } from './control-helpers.mjs';
import {
  CUSTOMER_BROWSER,
  canon,
  diff,
  ENGINE_SHIFT,
  keepShots,
  pixelDiff,
  waitFor,
} from './harness.mjs';

/**
 * What a step aims at: a selector, or `{ sel, text }` for a piece of text in that element (a
 * word to double-click).
 * @typedef {string | { sel: string, text: string }} Target
 */
/** @typedef {{ x: number, y: number, width: number, height: number }} Box */

/**
 * The box of a target in the page's coordinates, run in the page (no closures: sent as source).
 * On the agent page the target is looked up in the mirrored view, scaled as the view is shown.
 * @param {{ target: Target, agent: boolean }} arg
 * @returns {Box | null}
 */
function boxIn({ target, agent }) {
  const f = agent ? window.cobrowseAgent.mirror.frame : null;
  const doc = f ? f.contentDocument : document;
  const sel = typeof target === 'string' ? target : target.sel;
  const el = doc.querySelector(sel);
  if (!el) return null;
  let r = el.getBoundingClientRect();
  if (typeof target !== 'string') {
    const walk = doc.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      const i = n.data.indexOf(target.text);
      if (i < 0) continue;
      const range = doc.createRange();
      range.setStart(n, i);
      range.setEnd(n, i + target.text.length);
      r = range.getBoundingClientRect();
      break;
    }
  }
  if (!f) return { x: r.left, y: r.top, width: r.width, height: r.height };
  const fr = f.getBoundingClientRect();
  const k = fr.width / f.offsetWidth;
  return {
    x: fr.left + r.left * k,
    y: fr.top + r.top * k,
    width: r.width * k,
    height: r.height * k,
  };
}

/**
 * How each side picks what the view cannot open (the browser draws a `<select>`'s list and a date
 * field's calendar outside the page): `choose` one option of a `<select>`, `chooseMany` the
 * options of a `<select multiple>`, `setDate` a date field's value (`yyyy-mm-dd`).
 * @typedef {{
 *   choose: (sel: string, label: string) => Promise<void>,
 *   chooseMany: (sel: string, labels: string[]) => Promise<void>,
 *   setDate: (sel: string, value: string) => Promise<void>,
 * }} Pickers
 */

/**
 * A hand on `page`: the mouse and keyboard of that page at the targets' places in it.
 * `box(target)` finds a target there; `pickers` are that side's ways of picking values.
 * @param {import('playwright-core').Page} page
 * @param {(t: Target) => Promise<Box>} box
 * @param {Pickers} pickers
 */
function hand(page, box, pickers) {
  /** A point of a target: `fx`, `fy` are fractions of its box (0.5: the centre). */
  const at = async (/** @type {Target} */ t, fx = 0.5, fy = 0.5) => {
    const b = await box(t);
    return { x: b.x + b.width * fx, y: b.y + b.height * fy };
  };
  return {
    at,
    ...pickers,
    /**
     * @param {Target} t
     * @param {{ fx?: number, fy?: number, button?: 'left' | 'right', modifiers?: string[] }} o
     */
    async click(t, o = {}) {
      const p = await at(t, o.fx, o.fy);
      for (const m of o.modifiers || []) await page.keyboard.down(m);
      await page.mouse.click(p.x, p.y, { button: o.button });
      for (const m of o.modifiers || []) await page.keyboard.up(m);
    },
    async dblclick(/** @type {Target} */ t) {
      const p = await at(t);
      await page.mouse.dblclick(p.x, p.y);
    },
    async hover(/** @type {Target} */ t) {
      const p = await at(t);
      await page.mouse.move(p.x, p.y, { steps: 5 });
    },
    /** Press on one point, move in steps to another, release: `[target, fx?, fy?]` each. */
    async drag(
      /** @type {[Target, number?, number?]} */ from,
      /** @type {[Target, number?, number?]} */ to,
    ) {
      const a = await at(...from);
      const b = await at(...to);
      await page.mouse.move(a.x, a.y);
      await page.mouse.down();
      await page.mouse.move(a.x + 3, a.y + 3, { steps: 2 });
      await page.mouse.move(b.x, b.y, { steps: 12 });
      // A hand settles before it lets go (SortableJS, say, reorders on a later dragover than the
      // first one there).
      await new Promise((res) => setTimeout(res, 100));
      await page.mouse.move(b.x, b.y + 2);
      await page.mouse.move(b.x, b.y);
      await page.mouse.up();
    },
    type: (/** @type {string} */ text) => page.keyboard.type(text, { delay: 15 }),
    press: (/** @type {string} */ key) => page.keyboard.press(key),
  };
}
/** @typedef {ReturnType<typeof hand>} Driver */

/** The customer's own hand on their page. @param {import('playwright-core').Page} c */
export function customerDriver(c) {
  const box = async (/** @type {Target} */ t) => {
    const sel = typeof t === 'string' ? t : t.sel;
    await c.evaluate((s) => document.querySelector(s)?.scrollIntoView({ block: 'nearest' }), sel);
    const b = await c.evaluate(boxIn, { target: t, agent: false });
    if (!b) throw new Error('no ' + sel + ' on the customer page');
    return b;
  };
  // The native list of a <select> opens on a click and is walked with the arrow keys.
  const choose = async (/** @type {string} */ sel, /** @type {string} */ label) => {
    const [from, to] = await c.evaluate(
      ([s, l]) => {
        const el = document.querySelector(s);
        return [el.selectedIndex, [...el.options].findIndex((o) => o.text === l)];
      },
      [sel, label],
    );
    // (Firefox draws the open list outside the page, where WebDriver BiDi's keys do not go: its
    // closed select is walked with the arrows instead, as a keyboard user does.)
    if (CUSTOMER_BROWSER === 'firefox') await c.focus(sel);
    else await c.mouse.click((await self.at(sel)).x, (await self.at(sel)).y);
    for (let i = from; i !== to; i += Math.sign(to - from))
      await c.keyboard.press(to > from ? 'ArrowDown' : 'ArrowUp');
    if (CUSTOMER_BROWSER !== 'firefox') await c.keyboard.press('Enter');
  };
  // A listbox: a click on the first option, Ctrl+click on the others.
  const chooseMany = async (/** @type {string} */ sel, /** @type {string[]} */ labels) => {
    for (const [k, label] of labels.entries()) {
      const n = await c.evaluate(
        ([s, l]) => [...document.querySelector(s).options].findIndex((o) => o.text === l) + 1,
        [sel, label],
      );
      await self.click(`${sel} option:nth-child(${n})`, { modifiers: k ? ['Control'] : [] });
    }
  };
  // A date field is typed into, segment by segment from the first (month, day, year in en-US).
  const setDate = async (/** @type {string} */ sel, /** @type {string} */ value) => {
    const [y, m, d] = value.split('-');
    await self.click(sel, { fx: 0.1 });
    await c.keyboard.type(m + d + y, { delay: 15 });
  };
  const self = hand(c, box, { choose, chooseMany, setDate });
  return self;
}

/**
 * The agent's hand on the mirrored view in the console (write mode): a target out of the
 * customer's viewport is scrolled into it first, as the agent would ask the customer to.
 * @param {import('playwright-core').Page & { customer: import('playwright-core').Page }} a
 */
export function agentDriver(a) {
  const box = async (/** @type {Target} */ t) => {
    await viewPoint(a, typeof t === 'string' ? t : t.sel);
    const b = await a.evaluate(boxIn, { target: t, agent: true });
    if (!b) throw new Error('no ' + JSON.stringify(t) + ' in the agent view');
    return b;
  };
  // The console shows its own list of a <select>'s options at the click.
  const choose = async (/** @type {string} */ sel, /** @type {string} */ label) => {
    const p = await self.at(sel);
    await a.mouse.click(p.x, p.y);
    await a.locator('.cbc-picker button', { hasText: label }).first().click({ timeout: 3000 });
  };
  // The console's list of a <select multiple> toggles each option it is given; Escape closes it.
  const chooseMany = async (/** @type {string} */ sel, /** @type {string[]} */ labels) => {
    const p = await self.at(sel);
    await a.mouse.click(p.x, p.y);
    for (const label of labels)
      await a.locator('.cbc-picker button', { hasText: label }).first().click({ timeout: 3000 });
    await a.keyboard.press('Escape');
  };
  // The console offers a date field of its own by the view's: typed into, then Set.
  const setDate = async (/** @type {string} */ sel, /** @type {string} */ value) => {
    const [y, m, d] = value.split('-');
    const p = await self.at(sel);
    await a.mouse.click(p.x, p.y);
    const field = a.locator('.cbc-picker input[type=date]');
    const b = await field.boundingBox({ timeout: 3000 });
    await a.mouse.click(b.x + 8, b.y + b.height / 2);
    await a.keyboard.type(m + d + y, { delay: 15 });
    await a.locator('.cbc-picker button', { hasText: 'Set' }).click({ timeout: 3000 });
  };
  const self = hand(a, box, { choose, chooseMany, setDate });
  return self;
}

/**
 * One widget's task.
 * @typedef {object} Widget
 * @property {string} name
 * @property {string} page fixture page
 * @property {boolean} [nativeControls] the page shows the browser's own form controls (text
 *   fields, selects, sliders, date fields) unstyled: compared in pixels with a Chromium customer
 * only
 * @property {boolean} [nativeDrag] the customer's task is an HTML5 drag and drop
 * @property {() => unknown} [ready] true in the page once the widget is built
 * @property {[string, (d: Driver) => Promise<void>, (() => unknown)?][]} steps what to do, and
 *   what then holds on the customer's page (what a user would see happen)
 * @property {() => unknown} state the widget's resulting state, read on the customer's page
 * @property {unknown} expected
 */

/** Pixel tolerance of the view against the customer's page (fraction of differing pixels). */
export const PIXELS = 0.005;

/**
 * A page function as an expression of whether it returns something truthy (an element, an object…).
 */
const truthy = (/** @type {Function} */ fn) => `!!(${fn})()`;

/** Waits until the customer's page shows what a step should have done; names the step if not. */
async function reached(c, w, mode, name, until) {
  try {
    await waitFor(c, truthy(until), null, 3000);
  } catch {
    const now = JSON.stringify(await c.evaluate(w.state).catch(() => '?'));
    throw Object.assign(
      new Error(
        `${w.name} (${mode}): after "${name}" the page never showed ${String(until)} (state: ${now})`,
      ),
      { task: true },
    );
  }
}

/**
 * The canonical forms (harness.mjs `canon`) of the page and of the view, with each element's
 * attributes in name order: the order in which a page's script set them shows nowhere.
 */
async function canonical(c, a) {
  const sorted = (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v) && 'a' in v
      ? { ...v, a: Object.fromEntries(Object.entries(v.a).sort()) }
      : v;
  const customer = JSON.stringify(await c.evaluate(canon, { mode: 'customer' }), sorted, 1);
  const agent = JSON.stringify(await a.evaluate(canon, { mode: 'agent' }), sorted, 1);
  return { customer, agent, equal: customer === agent };
}

/**
 * Waits until the view's canonical DOM equals the page's (harness.mjs `converge`, attributes
 * sorted).
 */
async function converge(c, a, timeout) {
  const end = Date.now() + timeout;
  for (;;) {
    const r = await canonical(c, a);
    if (r.equal || Date.now() > end) return r;
    await new Promise((res) => setTimeout(res, 150));
  }
}

/**
 * Screenshots the customer's viewport and the agent's view until they match (harness.mjs
 * `screensMatch`, but both carets are left as they are: hiding them sets a style on every field
 * for the picture, changes the page would send to the view in the middle of a task).
 */
async function screens(c, a, timeout) {
  const end = Date.now() + timeout;
  for (;;) {
    const customerPng = await c.screenshot({
      animations: 'disabled',
      caret: 'initial',
      style: '[data-cobrowse-ui]{visibility:hidden!important}',
    });
    const r = await a.locator('iframe.cb-view').boundingBox();
    const clip = {
      x: Math.round(r.x),
      y: Math.round(r.y),
      width: Math.round(r.width),
      height: Math.round(r.height),
    };
    // The console's overlay is made transparent, not hidden: hiding it would take the agent's
    // keyboard focus away.
    const agentPng = await a.screenshot({
      animations: 'disabled',
      caret: 'initial',
      clip,
      style: '#overlay{opacity:0!important}',
    });
    // glyphs a pixel or two apart across engines
    const d = pixelDiff(customerPng, agentPng, 40, ENGINE_SHIFT);
    if (d.ratio <= PIXELS || Date.now() > end) return { ...d, customerPng, agentPng };
    await new Promise((res) => setTimeout(res, 250));
  }
}

/**
 * The text selected on the page, or in the view (run in the page: no closures). In a focused text
 * field its selected part; the view marks the customer's focus with `data-cb-focus`.
 * @param {{ agent: boolean }} arg
 */
function selectedIn({ agent }) {
  const w = agent ? window.cobrowseAgent.mirror.frame.contentWindow : window;
  const f = agent ? w.document.querySelector('[data-cb-focus]') : document.activeElement;
  if (f && (f.localName === 'textarea' || (f.localName === 'input' && f.selectionStart !== null))) {
    return f.value.slice(f.selectionStart, f.selectionEnd);
  }
  return w.getSelection().toString();
}

/** Waits until the view shows the page's selection; returns both. */
async function sameSelection(c, a, timeout) {
  const end = Date.now() + timeout;
  for (;;) {
    const customer = await c.evaluate(selectedIn, { agent: false });
    const agent = await a.evaluate(selectedIn, { agent: true });
    if (customer === agent || Date.now() > end) return { customer, agent };
    await new Promise((res) => setTimeout(res, 150));
  }
}

/**
 * The agent's view equals the customer's page (DOM, selection and, unless `pixels` is false,
 * pixels); an error naming the step if not.
 */
async function sameView(c, a, label, shot, pixels) {
  const dom = await converge(c, a, 5000);
  if (!dom.equal)
    return new Error(
      `${label}: the view's DOM differs from the page's\n${diff(dom.customer, dom.agent)}`,
    );
  const sel = await sameSelection(c, a, 3000);
  if (sel.customer !== sel.agent)
    return new Error(
      `${label}: the page's selection is ${JSON.stringify(sel.customer)}, the view's ${JSON.stringify(sel.agent)}`,
    );
  if (!pixels) return null;
  const px = await screens(c, a, 5000);
  if (px.ratio > PIXELS) {
    keepShots(shot, px);
    return new Error(
      `${label}: ${(px.ratio * 100).toFixed(2)} % of the view's pixels differ from the page's (over ${PIXELS * 100} %${px.why ? ', ' + px.why : ''}; /tmp/cobrowse-shots/${shot}-*.png)`,
    );
  }
  return null;
}

/**
 * Does a widget's task on fresh pages, by the customer ('mirrored') or by the agent through the
 * console ('driven'); the agent's view is compared with the page after each step. Resolves the
 * outcome: `task` (the task's first failure, or null) and `view` (the first mismatch, or null).
 * @param {any} h harness (setup())
 * @param {Widget} w
 * @param {'mirrored' | 'driven'} mode
 */
export async function perform(h, w, mode) {
  const c = await h.customer(w.page);
  let a = null;
  try {
    if (w.ready) await waitFor(c, truthy(w.ready), null, 10000);
    a = Object.assign(await h.agent(await h.start(c)), { customer: c });
    if (mode === 'driven') await writeMode(c, a);
    const slug = (w.name + '-' + mode).replace(/\W+/g, '-').toLowerCase();
    // The browser draws native form controls: another engine's are other sizes, and the layout
    // around them moves (docs/browsers.md). Such pages are compared in pixels within one engine.
    const pixels = !w.nativeControls || CUSTOMER_BROWSER === 'chromium';
    let view = await sameView(c, a, `${w.name} (${mode}): on load`, slug + '-0', pixels);
    const d = mode === 'driven' ? agentDriver(a) : customerDriver(c);
    let task = null;
    for (const [i, [name, act, until]] of w.steps.entries()) {
      try {
        await act(d);
        if (until) await reached(c, w, mode, name, until);
      } catch (e) {
        task = e.task
          ? e
          : new Error(
              `${w.name} (${mode}): "${name}" could not be done: ${e.message.split('\n')[0]}`,
            );
        break;
      }
      view ||= await sameView(
        c,
        a,
        `${w.name} (${mode}): after "${name}"`,
        `${slug}-${i + 1}`,
        pixels,
      );
    }
    if (!task) {
      const got = await c.evaluate(w.state);
      try {
        assert.deepEqual(got, w.expected);
      } catch {
        task = new Error(
          `${w.name} (${mode}): the widget's state is ${JSON.stringify(got)}, not ${JSON.stringify(w.expected)}`,
        );
      }
    }
    return { task, view };
  } finally {
    await c.context().close();
    if (a) await a.context().close();
  }
}

const README = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../README.md');
const START = '<!-- corpus:start -->',
  END = '<!-- corpus:end -->';

/**
 * Writes the results as a table between the corpus markers of README.md (kept where they are,
 * else appended in a section of their own).
 * @param {Map<string, { mirrored?: { task: Error | null, view: Error | null },
 *   driven?: { task: Error | null, view: Error | null } }>} results
 * @param {{ name: string, why: string }[]} undone rows for what the suite cannot do, with the
 *   reason
 */
export function writeReport(results, undone) {
  const mark = (r) => (!r ? '–' : !r.task && !r.view ? '✓' : '✗');
  // The message's first line without the widget's name, which the row already gives.
  const first = (name, r) =>
    r && (r.task || r.view)
      ? (r.task || r.view).message
          .split('\n')[0]
          .replace(name + ' ', '')
          .replace(/\|/g, '\\|')
      : '';
  const rows = [...results].map(([name, r]) => {
    const customer = !r.mirrored ? '–' : r.mirrored.task ? '✗' : '✓';
    const why = [first(name, r.mirrored), first(name, r.driven)].filter(Boolean).join('<br>');
    return `| ${name} | ${customer} | ${mark(r.mirrored)} | ${mark(r.driven)} | ${why} |`;
  });
  for (const u of undone) rows.push(`| ${u.name} | – | – | – | ${u.why} |`);
  const table = [
    START,
    '',
    '`CORPUS_REPORT=1 node --test --test-concurrency=1 tests/browser/corpus.test.mjs` writes this table.',
    '"customer": the customer\'s own real input did the task; "mirrored": meanwhile the agent\'s view',
    `equalled the page (DOM, selection and pixels, ≤ ${PIXELS * 100} % differing) after every step; "driven": the agent`,
    'did the task through the console in write mode, the view equal to the page throughout.',
    '',
    '| widget | customer | mirrored | driven by the agent | first failure |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    END,
  ].join('\n');
  const text = readFileSync(README, 'utf8');
  const i = text.indexOf(START),
    j = text.indexOf(END);
  const out =
    i >= 0 && j > i
      ? text.slice(0, i) + table + text.slice(j + END.length)
      : text.trimEnd() + '\n\n## Widget corpus\n\n' + table + '\n';
  writeFileSync(README, out);
}
