// Helpers for the control and customer-experience tests: the agent's real mouse and keyboard
// over the mirrored view, write mode through the customer's consent dialog, the customer's
// built-in UI (in its shadow root: Playwright's CSS locators pierce open shadow roots), and a
// raw agent speaking the protocol.
import { rawSocket, waitFor } from './harness.mjs';

/**
 * Agent-page coordinates of the centre of an element of the mirrored view. An element outside
 * the customer's viewport is first scrolled into view on the customer's page (`a.customer`),
 * and the view follows, as it would for a real agent asking the customer to scroll.
 */
export async function viewPoint(a, sel) {
  const get = () =>
    a.evaluate((s) => {
      const f = window.cobrowseAgent.mirror.frame,
        el = f.contentDocument.querySelector(s);
      if (!el) return null;
      const r = el.getBoundingClientRect(),
        fr = f.getBoundingClientRect(),
        k = fr.width / f.offsetWidth;
      const inside =
        r.top >= 0 && r.bottom <= f.offsetHeight && r.left >= 0 && r.right <= f.offsetWidth;
      return {
        x: fr.left + (r.left + r.width / 2) * k,
        y: fr.top + (r.top + r.height / 2) * k,
        inside,
      };
    }, sel);
  let p = await get();
  if (p && !p.inside && a.customer) {
    const want = await a.customer.evaluate((s) => {
      document.querySelector(s).scrollIntoView({ block: 'center' });
      return [scrollX, scrollY];
    }, sel);
    await waitFor(
      a,
      (w) => {
        const v = window.cobrowseAgent.mirror.frame.contentWindow;
        return Math.abs(v.scrollX - w[0]) <= 2 && Math.abs(v.scrollY - w[1]) <= 2;
      },
      want,
      3000,
    ).catch(() => {}); // a view that cannot scroll that far (shorter page) is used as it is
    await new Promise((r) => setTimeout(r, 50));
    p = await get();
  }
  if (!p) throw new Error('no ' + sel + ' in the agent view');
  return p;
}
/** The agent clicks an element of the view with the real mouse. */
export async function agentClick(a, sel, opts = {}) {
  const p = await viewPoint(a, sel);
  await a.mouse.click(p.x, p.y, opts);
}

/** The customer's toolbar text as shown (hidden parts left out), or '' when hidden. */
export const toolbar = (c) =>
  c.evaluate(() => {
    const h = document.querySelector('[data-cobrowse-ui]'),
      b = h && h.shadowRoot.querySelector('[data-part=toolbar]');
    // biome-ignore lint/performance/useDomNodeTextContent: the text as shown, without hidden parts
    return b && !b.hidden ? b.innerText.replace(/\s+/g, ' ') : '';
  });
/** Waits until the toolbar text matches (the UI draws at the next frame); returns it. */
export async function toolbarHas(c, re, timeout = 5000) {
  const end = Date.now() + timeout;
  for (;;) {
    const t = await toolbar(c);
    if (re.test(t)) return t;
    if (Date.now() > end) throw new Error(`toolbar ${JSON.stringify(t)} does not match ${re}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
/** Texts of the customer's notices. */
export const notices = (c) =>
  c.evaluate(() => {
    const h = document.querySelector('[data-cobrowse-ui]');
    return h ? [...h.shadowRoot.querySelectorAll('.n span')].map((n) => n.textContent) : [];
  });
/** Waits until one of the customer's notices matches. */
export async function noticeHas(c, re, timeout = 5000) {
  const end = Date.now() + timeout;
  for (;;) {
    const l = await notices(c);
    if (l.some((n) => re.test(n))) return l;
    if (Date.now() > end) throw new Error(`no notice matches ${re}: ${JSON.stringify(l)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
/** The agent's mode as the console shows it. */
export const agentMode = (a) => a.evaluate(() => window.cobrowseAgent.control.mode);

/** Asks for write mode from the agent page, and the customer allows it in the built-in dialog. */
export async function writeMode(c, a) {
  await a.evaluate(() => window.cobrowseAgent.requestControl());
  const allow = c.locator('[data-part=consent] button', { hasText: /^Allow$/ });
  await allow.waitFor({ timeout: 5000 });
  await allow.click();
  await waitFor(a, () => window.cobrowseAgent.control.mode === 'write', null, 5000);
  await waitFor(c, () => window.Cobrowse.session.mode === 'write', null, 5000);
  await waitFor(
    c,
    () => {
      const h = document.querySelector('[data-cobrowse-ui]');
      return !h || !h.shadowRoot.querySelector('[data-part=toolbar] .rv').hidden;
    },
    null,
    5000,
  );
}

/** Collects the customer's notices (refusals) on the agent page: `window.notes`. */
export const collectNotes = (a) =>
  a.evaluate(() => {
    window.notes = [];
    window.cobrowseAgent.control.on('notice', (n) => window.notes.push(n.code));
  });

/** `cobrowse_agent_input_dropped_total` from /metrics. */
export async function droppedInputs(server) {
  const t = await (await fetch(server + '/metrics')).text();
  const m = /^cobrowse_agent_input_dropped_total(?:\{[^}]*\})? (\d+)/m.exec(t);
  return m ? +m[1] : 0;
}

/**
 * An agent client speaking the raw protocol (Authorization: Bearer <jwt>): `send`, `messages`,
 * `next(pred)`.
 */
export function rawAgent(server, id, token) {
  return rawSocket(server, '/ws/agent?v=1&session=' + id, { Authorization: 'Bearer ' + token });
}

/** The customer script's id of an element (capture must be running). */
export const idOf = (c, sel) =>
  c.evaluate(
    (s) => window.Cobrowse._.capture().then((m) => m.idOf(document.querySelector(s))),
    sel,
  );
