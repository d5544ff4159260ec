// The built-in customer UI, loaded only when needed and never with disableBuiltInUI: toolbar
// (ID, state, mode, exit), the write-mode consent dialog, notices, the agent's pointer and
// marks, masked-field outlines and tooltips; the start points (start.js) when used.
// It lives in its own shadow root under [data-cobrowse-ui]: never mirrored, safe from the
// site's CSS. Every string can be replaced (configure({strings})); languages from <html lang>.
import { on, rectOf, state } from './core.js';
import { hides, maskSelector } from './mask.js';

export const EN = {
  region: 'Co-browse',
  id: 'Session ID',
  exit: 'End co-browsing',
  connecting: 'Connecting…',
  waiting: 'Waiting for an agent',
  connected: 'Agent connected',
  away: 'Agent reconnecting…',
  paused: 'Shown in another tab',
  pointer: 'Agent can point',
  write: 'Agent can click and type',
  revoke: 'Stop control',
  agent: 'Agent',
  startTitle: 'Browse with an expert',
  startText: 'Read this number to the person helping you:',
  starting: 'Starting…',
  startWait: 'Waiting for them to join…',
  close: 'Close',
  cancel: 'End co-browsing',
  askTitle: 'Let the agent control this page?',
  askText:
    'The agent will be able to click, scroll and fill in fields for you. They cannot submit forms or see hidden fields. You can take back control at any time.',
  allow: 'Allow',
  deny: 'Deny',
  askLeft: 'No answer in {s} s counts as no.',
  joined: 'An agent has joined. They see this page, but not your passwords or card details.',
  left: 'The agent lost connection. Waiting for them to come back…',
  modeWrite: 'The agent can now click and type on this page. Press “Stop control” to take it back.',
  modePointer: 'The agent can no longer control this page.',
  denied: 'You said no: the agent can only point.',
  timedOut: 'No answer, so the agent was not given control.',
  maskedTip: 'Hidden from the agent',
  maskedFocus: 'The agent can’t see what you type here.',
  dismiss: 'Dismiss',
  help: 'Need help?',
  chat: 'Chat with us',
  call: 'Call us',
  browse: 'Browse with an expert',
  customer_exit: 'You ended co-browsing.',
  agent_exit: 'The agent left the session.',
  interaction_ended: 'Your chat or call ended, so co-browsing stopped.',
  inactivity: 'Co-browsing timed out after {time} of inactivity.',
  agent_gone: 'The agent’s connection was lost, so co-browsing stopped.',
  customer_gone: 'You were away from this site too long, so co-browsing stopped.',
  join_timeout: 'No agent joined in time, so co-browsing stopped.',
  ended_by_api: 'The support team ended co-browsing.',
  server_shutdown: 'The co-browse service restarted. Start again if you still need help.',
  refused: 'Co-browsing could not continue.',
};
const LANGS = ['fr', 'es', 'de'];

/**
 * "10 minutes", "5 seconds", "1 hour" in the UI's language: Intl knows the unit names, no table per
 * language.
 */
export function duration(ms, lang) {
  const s = Math.round(ms / 1000);
  const [n, unit] =
    s && s % 3600 === 0
      ? [s / 3600, 'hour']
      : s && s % 60 === 0
        ? [s / 60, 'minute']
        : [s, 'second'];
  try {
    return new Intl.NumberFormat(lang, { style: 'unit', unit, unitDisplay: 'long' }).format(n);
  } catch {
    return n + ' ' + unit + 's';
  }
}

// The site's CSS cannot break it: the host's place and size are inline !important (they beat
// the page's !important), whatever would hide, fade, move or contain what is inside is :host
// !important (the inner context wins over the page's), and nothing the page sets on the host
// is inherited inside (.r resets it all), except `visibility`: a site may still hide us, e.g.
// in its own screenshots.
const CSS = `:host{opacity:1!important;transform:none!important;translate:none!important;
rotate:none!important;scale:none!important;zoom:1!important;filter:none!important;
backdrop-filter:none!important;clip-path:none!important;mask:none!important;contain:none!important;
content-visibility:visible!important;mix-blend-mode:normal!important;perspective:none!important;
will-change:auto!important;container-type:normal!important}
.r{all:initial;display:block;visibility:inherit}*{box-sizing:border-box;
font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#17202b;margin:0}
button,a{cursor:pointer;border:0;border-radius:8px;padding:8px 14px;background:#e6ebf1;
text-decoration:none;display:inline-block}
button:focus-visible,a:focus-visible,[tabindex]:focus-visible{outline:3px solid #2563eb;
outline-offset:2px}
.p{background:#1d4ed8;color:#fff}[hidden]{display:none!important}
.bar{position:fixed;bottom:12px;left:50%;transform:translateX(-50%);display:flex;flex-wrap:wrap;
align-items:center;justify-content:center;gap:4px 10px;width:max-content;
max-width:calc(100vw - 16px);padding:5px 6px 5px 14px;background:#fff;border:1px solid #c6d0db;
border-radius:22px;box-shadow:0 4px 18px #0003}
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}.id{font-weight:700;
letter-spacing:.06em;font-variant-numeric:tabular-nums;white-space:nowrap}.st::before{content:"";
display:inline-block;width:8px;height:8px;border-radius:50%;background:#d39b1f;margin-right:6px}
.on .st::before{background:#16a34a}.x{padding:2px 8px;font-size:18px;line-height:1;background:none;
color:#b91c1c}.md{padding:2px 8px;border-radius:10px;background:#eef2f6;font-size:13px}
.w .md{background:#fde7cf;color:#8a3b00}.rv{padding:4px 10px;background:#b91c1c;color:#fff;
font-size:13px}
.ns{position:fixed;bottom:70px;left:50%;transform:translateX(-50%);
width:min(420px,calc(100vw - 16px));display:grid;gap:8px}.top .bar{bottom:auto;top:8px}
.top .ns{bottom:auto;top:60px}
.n{display:flex;gap:8px;align-items:start;padding:10px 12px;background:#17202b;color:#fff;
border-radius:10px;box-shadow:0 4px 18px #0004}.n span{color:#fff;flex:1}.n button{padding:0 6px;
background:none;color:#fff;font-size:18px;line-height:1}
dialog{margin:auto;border:0;border-radius:14px;padding:22px;width:min(420px,calc(100vw - 24px));
box-shadow:0 10px 40px #0005}dialog::backdrop{background:#0007}
h2{font-size:19px;font-weight:700;margin-bottom:8px}p{margin-bottom:12px}
.row{display:flex;flex-wrap:wrap;gap:8px;justify-content:flex-end}.sm{font-size:13px;color:#4a5866}
.ptr{position:fixed;left:0;top:0;pointer-events:none;transition:transform 60ms linear}
.ptr span{position:absolute;left:14px;top:18px;padding:1px 7px;border-radius:9px;background:#1d4ed8;
color:#fff;font-size:12px;white-space:nowrap}
.mk{position:fixed;width:40px;height:40px;margin:-20px 0 0 -20px;border:4px solid #dc2626;
border-radius:50%;pointer-events:none;animation:mk 1.2s ease-out forwards}
@keyframes mk{from{transform:scale(.4)}60%{opacity:1}to{transform:scale(1.4);opacity:0}}
.ol{position:fixed;border:2px dashed #7c3aed;border-radius:5px;pointer-events:none}
.tip{position:fixed;padding:3px 8px;border-radius:6px;background:#5b21b6;color:#fff;font-size:12px;
pointer-events:none}`;

export async function mount(api, opts) {
  const lang = (opts.lang || document.documentElement.lang || 'en').slice(0, 2).toLowerCase();
  const L = LANGS.includes(lang) ? (await import('./i18n-' + lang + '.js')).default : {};
  const t = (k, v = {}) =>
    String(opts.strings[k] ?? L[k] ?? EN[k] ?? k).replace(/\{(\w+)\}/g, (m, x) => v[x] ?? m);

  const host = document.createElement('cobrowse-ui');
  host.setAttribute('data-cobrowse-ui', '');
  // Not `all: … !important`: the page may still hide us (visibility), e.g. in its own screenshots.
  host.style.cssText =
    'all:initial;display:block!important;position:fixed!important;z-index:2147483647!important;top:0!important;left:0!important;width:0!important;height:0!important';
  const root = host.attachShadow({ mode: 'open' });
  /** Element helper: h('button.p', {onclick}, ...children). */
  const h = (tag, a = {}, ...kids) => {
    const [n, ...c] = tag.split('.'),
      e = document.createElement(n);
    if (c.length) e.className = c.join(' ');
    for (const k in a)
      k.startsWith('on') ? e.addEventListener(k.slice(2), a[k]) : e.setAttribute(k, a[k]);
    e.append(...kids);
    return e;
  };
  const style = h('style');
  style.textContent = CSS;
  const region = h('div.r', { role: 'region', 'aria-label': t('region') });
  if (opts.position === 'top') region.classList.add('top');
  root.append(style, region);
  const put = () => host.isConnected || document.documentElement.append(host);
  put();
  // a site that replaces <body> keeps us
  new MutationObserver(put).observe(document.documentElement, { childList: true });

  // ---- toolbar ----
  const id = h('span.id', { role: 'text' }),
    st = h('span.st', { 'aria-live': 'polite' }),
    md = h('span.md'),
    sidLabel = h('span.vh', {}, t('id') + ' ');
  const x = h(
    'button.x',
    { type: 'button', 'aria-label': t('exit'), title: t('exit'), onclick: () => api.stop() },
    '×',
  );
  const rv = h('button.rv', { type: 'button', onclick: () => api.revokeControl() }, t('revoke'));
  const bar = h('div.bar', { 'data-part': 'toolbar' }, sidLabel, id, x, st, md, rv);
  const ns = h('div.ns', { role: 'status', 'aria-live': 'polite' });
  const ptr = h('div.ptr', { 'aria-hidden': 'true', hidden: '' });
  ptr.innerHTML =
    '<svg width="18" height="24" viewBox="0 0 16 22"><path d="M1 1v17l4.5-4 3 7 3-1.3-3-6.7H15z" fill="#1d4ed8" stroke="#fff" stroke-width="1.5"/></svg>';
  ptr.append(h('span', {}, t('agent')));
  const tip = h('div.tip', { role: 'tooltip', hidden: '' }, t('maskedTip'));
  const boxes = h('div', { 'aria-hidden': 'true' });
  region.append(boxes, bar, ns, ptr, tip);

  const live = () => state.session && /^(idle|active|connecting)$/.test(state.status);
  // Only what changed is written: any write costs a big page a relayout at the next frame,
  // and the toolbar is repainted at every snapshot (resync).
  const text = (el, s) => el.textContent === s || (el.textContent = s);
  const show = (el, on) => el.hidden === !on || (el.hidden = !on);
  // Masked fields outlined: boxes drawn over them (nothing is changed on the page itself).
  const marked = new Set();
  on('maskedElement', (el) => marked.add(el));
  // While capturing, the serializer announces masked elements (maskedElement) as it meets them:
  // the page is not searched every 700 ms then (a long task on a big page), only once here for
  // those met before this module was loaded.
  let search = true;
  function outlines() {
    const l = [];
    if (live()) {
      if (search || !state.capturing)
        try {
          search = false;
          for (const e of document.querySelectorAll(maskSelector())) marked.add(e);
        } catch {}
      for (const el of marked) {
        if (!el.isConnected) {
          marked.delete(el);
          continue;
        }
        const r = rectOf(el);
        if (r.width && r.height && r.top + r.height > 0 && r.top < innerHeight && l.push(r) > 60)
          break;
      }
    }
    while (boxes.children.length < l.length) boxes.append(h('div.ol'));
    [...boxes.children].forEach((b, i) => {
      const r = l[i],
        s = r
          ? `left:${r.left - 3}px;top:${r.top - 3}px;width:${r.width + 6}px;height:${r.height + 6}px`
          : '';
      if (b.box !== s) {
        b.box = b.style.cssText = s;
        show(b, r);
      }
    });
  }
  let olWait = 0;
  const soon = () =>
    olWait ||
    (olWait = requestAnimationFrame(() => {
      olWait = 0;
      outlines();
    }));
  addEventListener('scroll', soon, { capture: true, passive: true });
  addEventListener('resize', soon);
  setInterval(soon, 700);
  function paint() {
    const on_ = live();
    show(bar, on_);
    if (on_) {
      text(id, state.session.spaced || state.session.id);
      const a = state.status === 'active';
      text(
        st,
        t(
          state.status === 'connecting'
            ? 'connecting'
            : !a
              ? 'waiting'
              : state.paused
                ? 'paused'
                : state.agentIn
                  ? 'connected'
                  : 'away',
        ),
      );
      bar.classList.toggle('on', a && state.agentIn);
      bar.classList.toggle('w', state.mode === 'write');
      show(md, a);
      text(md, t(state.mode === 'write' ? 'write' : 'pointer'));
      show(rv, a && state.mode === 'write');
    } else show(ptr, false);
    soon();
    if (ask && !state.pending) ask.close();
    if (points) points.then((p) => p.paint(on_));
  }

  // ---- notices ----
  function notice(text, keep) {
    const n = h(
      'div.n',
      {},
      h('span', {}, text),
      h('button', { type: 'button', 'aria-label': t('dismiss'), onclick: () => n.remove() }, '×'),
    );
    ns.append(n);
    while (ns.children.length > 3) ns.firstChild.remove();
    if (!keep) setTimeout(() => n.remove(), 8000);
    return n;
  }

  // ---- dialogs ----
  const dialog = (label, ...kids) => {
    const d = h('dialog', { 'aria-labelledby': label }, ...kids);
    region.append(d);
    return d;
  };
  let ask = null,
    askTimer = 0;
  function consent(ms) {
    if (ask) ask.remove();
    const left = h('p.sm');
    ask = dialog(
      'cb-ask-h',
      h('h2', { id: 'cb-ask-h' }, t('askTitle')),
      h('p', {}, t('askText')),
      left,
      h(
        'div.row',
        {},
        h('button', { type: 'button', onclick: () => api.answerControl(false) }, t('deny')),
        h('button.p', { type: 'button', onclick: () => api.answerControl(true) }, t('allow')),
      ),
    );
    ask.dataset.part = 'consent';
    ask.setAttribute('role', 'alertdialog');
    ask.addEventListener('cancel', (e) => {
      e.preventDefault();
      api.answerControl(false);
    });
    ask.addEventListener('close', () => {
      clearInterval(askTimer);
      ask && ask.remove();
      ask = null;
    });
    const end = Date.now() + (ms || 30000),
      tick = () => {
        left.textContent = t('askLeft', { s: Math.max(0, Math.ceil((end - Date.now()) / 1000)) });
      };
    tick();
    askTimer = setInterval(tick, 1000);
    ask.showModal();
  }

  // ---- start points (help launcher, ID dialog): a module of their own, loaded where used ----
  let points = null;
  const start = () =>
    (points ||= import('./start.js').then((m) =>
      m.mount({ api, opts, h, t, dialog, region, show }),
    ));
  if (opts.launcher) start();

  // ---- agent pointer and marks ----
  let want = null;
  on('agentPointer', (p) => {
    if (!want)
      requestAnimationFrame(() => {
        ptr.hidden = !live();
        ptr.style.transform = `translate(${want.x}px,${want.y}px)`;
        want = null;
      });
    want = p;
  });
  on('agentMark', (p) => {
    const m = h('div.mk', { 'aria-hidden': 'true', 'data-part': 'mark' });
    m.style.left = p.x + 'px';
    m.style.top = p.y + 'px';
    region.append(m);
    setTimeout(() => m.remove(), 1300);
  });

  // ---- masked fields: tooltip on hover, a notice on focus ----
  const isMasked = (el) => el && el.nodeType === 1 && hides(el);
  document.addEventListener(
    'mouseover',
    (e) => {
      const el = /** @type {Element} */ (e.composedPath()[0]);
      if (!live() || !isMasked(el)) return void (tip.hidden = true);
      const r = el.getBoundingClientRect();
      tip.hidden = false;
      tip.style.left = Math.max(4, Math.min(r.left, innerWidth - 140)) + 'px';
      tip.style.top = (r.top > 30 ? r.top - 26 : r.bottom + 4) + 'px';
    },
    { capture: true, passive: true },
  );
  const told = new WeakSet();
  document.addEventListener(
    'focusin',
    (e) => {
      const el = e.composedPath()[0];
      if (live() && isMasked(el) && !told.has(el)) {
        told.add(el);
        notice(t('maskedFocus'));
      }
    },
    true,
  );

  // ---- what the session says ----
  // Drawn at the next frame, never inside the handler: capture may be starting in the same
  // task, and our writes would make its first layout read a forced one on a big page.
  const later = (ev, f) =>
    on(ev, (x) =>
      requestAnimationFrame(() => {
        f(x);
        paint();
      }),
    );
  for (const e of [
    'status',
    'msg:session',
    'msg:presence',
    'msg:paused',
    'msg:resync',
    'msg:control',
  ]) {
    later(e, () => {});
  }
  const closeId = () => points && points.then((p) => p.close());
  later('agentJoined', (a) => {
    if (!a.reconnect) {
      notice(t('joined'));
      closeId();
    }
  });
  later('agentLeft', () => {
    notice(t('left'));
    ptr.hidden = true;
  });
  later('modeChanged', (m) => notice(t(m.mode === 'write' ? 'modeWrite' : 'modePointer')));
  later('controlRequested', (c) => consent(c.expiresInMs));
  later('controlAnswered', (c) => {
    ask && ask.close();
    if (c.state !== 'allowed') notice(t(c.state === 'timed_out' ? 'timedOut' : 'denied'));
  });
  /**
   * The end in plain words; an inactivity end says how long ({time}, from the server's after_ms).
   */
  const endWords = (e) =>
    t(e.reason in EN ? e.reason : 'refused', { time: e.afterMs ? duration(e.afterMs, lang) : '…' });
  const ended = (e) => {
    ask && ask.close();
    closeId();
    notice(endWords(e), true).dataset.reason = e.reason;
    paint();
  };
  later('sessionEnded', ended);
  // e.g. a page opened after the session ended
  if (state.status === 'ended' && state.ended) ended(state.ended);
  if (state.pending && live()) consent(0);
  paint();
  return { showId: () => start().then((p) => p.showId()), notice };
}
