// The page's JS API (window.Cobrowse), the session's life across pages and tabs, the write-mode
// lock, and the lazy parts: the built-in UI (ui.js) and the replay of agent actions (replay.js).
import {
  allowed,
  connect,
  emit,
  exit,
  off,
  on,
  persist,
  refuse,
  saved,
  send,
  state,
} from './core.js';
import { guard, setRules } from './mask.js';

/** The session being started or resumed. @type {Promise<unknown>|null} */
let starting = null;
/**
 * Built-in UI options: disableBuiltInUI, strings, lang, position ('bottom' | 'top'), launcher
 * {chat, call, side}.
 */
const opts = { strings: {}, lang: '' };
const live = () => state.session && state.status !== 'ended' && state.status !== 'off';
/**
 * `Cobrowse.session`: null before any session and after stop(); an ended one stays readable until
 * the next start.
 */
const pub = () =>
  state.session && {
    id: state.session.id,
    spaced: state.session.spaced,
    state: state.status,
    mode: state.mode,
    agent: state.agent || null,
    agentConnected: state.agentIn,
    controlPending: state.pending,
    shown: !state.paused,
  };

/** Site options (any time, also before the script has loaded: calls are queued). */
function configure(o = {}) {
  if (o.strings) Object.assign(opts.strings, o.strings);
  if (o.lang) opts.lang = o.lang;
  if (o.position) opts.position = o.position;
  if (o.launcher) opts.launcher = { ...opts.launcher, ...o.launcher };
  if ('disableBuiltInUI' in o) {
    state.ui = !o.disableBuiltInUI;
    persist();
  }
  if (state.ui && (opts.launcher || live())) ui();
}

/**
 * Starts a session (or returns the live one, e.g. resumed from the previous page).
 * @param {{interaction?: {id: string, channel?: string}, disableBuiltInUI?: boolean,
 *   strings?: object, lang?: string, showId?: boolean}} [o]
 * @returns {Promise<{id: string, spaced: string}>}
 */
async function start(o = {}) {
  configure(o);
  if (starting) {
    try {
      await starting;
    } catch {}
  }
  if (live()) return pub();
  if (state.ui) ui();
  state.session = state.ended = null; // a new session: nothing of the one that ended shows
  starting = connect({
    t: 'create',
    ...(o.interaction ? { interaction: { channel: '', ...o.interaction } } : {}),
  });
  try {
    await starting;
  } finally {
    starting = null;
  }
  emit('sessionStarted', pub());
  return pub();
}

/**
 * Ends the session (the customer's exit); afterwards there is no session (`Cobrowse.session` is
 * null).
 */
async function stop() {
  if (live() || starting) {
    exit();
    state.session = null;
  }
}
/**
 * The chat or call the session belongs to has ended: so does the session (reason
 * interaction_ended).
 */
async function endInteraction() {
  if (live()) send('interaction_end');
}

/** The customer's answer to a write-mode request (the built-in dialog, or the site's own UI). */
function answerControl(yes) {
  if (!state.pending || !live()) return false;
  state.pending = false;
  // The lock opens before the server hears it: nothing is replayed that this customer did not
  // allow.
  state.granted = !!yes;
  persist();
  send(yes ? 'control_grant' : 'control_deny');
  return true;
}
/** Takes write mode back at once: input already on its way is refused from this moment. */
function revokeControl() {
  const was = state.granted || state.mode === 'write';
  state.granted = false;
  persist();
  if (was && live()) send('control_revoke');
  return was;
}

let uiLoad = null,
  replayLoad = null,
  capLoad = null;
/** Capture (mutations, serializer, styles, events) is loaded once a session is live. */
const capture = () =>
  (capLoad ||= import('./mutations.js').then((m) => {
    m.ready();
    return m;
  }));
/** Loads the built-in UI once (never with disableBuiltInUI). */
function ui() {
  if (!state.ui) return null;
  return (uiLoad ||= import('./ui.js')
    .then((m) => m.mount(api, opts))
    .catch((e) => console.error('cobrowse: UI', e)));
}

/** Agent input: the server's AGENT_INPUT (src/protocol.rs), kept equal by tests/web_protocol.rs. */
const INPUT = [
  'click',
  'dblclick',
  'down',
  'move',
  'up',
  'key',
  'type',
  'select',
  'check',
  'set',
  'scroll',
  'navigate',
];
function input(m) {
  // in write mode the agent's pointer moves this way
  if (m.t === 'move') capture().then((c) => emit('agentPointer', c.locate(m)));
  if (!allowed()) return m.t === 'move' || refuse(m, 'not_allowed');
  // One chain: actions are replayed in the order the agent made them, even while replay.js loads.
  replayLoad = (replayLoad || import('./replay.js')).then((r) => {
    r.run(m);
    return r;
  });
}

const api = {
  v: 1,
  start,
  stop,
  configure,
  endInteraction,
  answerControl,
  revokeControl,
  /** Subscribes to sessionStarted, sessionResumed, agentJoined, agentLeft, modeChanged, controlRequested,
   *  controlAnswered, sessionEnded, maskedElement, agentPointer, agentMark, status; returns the
   * unsubscribe. */
  on: (ev, fn) => on(ev, fn),
  off,
  /** Shows the built-in start point: the session ID to read out (starts a session if needed). */
  showId: () => {
    const u = ui();
    u && u.then((x) => x && x.showId());
    return start();
  },
  get session() {
    return pub();
  },
  /** For plug-ins and tests: the shared state and id ↔ node lookups. */
  _: { state, on, emit, send, capture },
};

/** From the loader: replaces the stub, replays queued calls, resumes a saved session. */
export function init(origin, queue, script, scrolled) {
  state.origin = origin;
  state.scrolled = scrolled;
  guard(window); // password fields are noted from the start, before a type change can hide them
  window.Cobrowse = api;
  // The server says write mode, but this customer did not grant it (e.g. storage cleared): take it
  // back.
  /**
   * Applies the server's rules for `url`: content of that URL may be sent again (core.js `send`).
   * Whether the URL is another.
   */
  const rules = (r, url) => {
    const was = state.at;
    setRules((state.rules = r));
    state.at = url;
    return was !== url;
  };
  const takeBack = (m) => m.mode === 'write' && !state.granted && send('control_revoke');
  on('msg:session', (m) => {
    if (m.rules) rules(m.rules, state.sent); // those of the URL this connection started on
    if (m.origins) state.origins = m.origins;
    takeBack(m);
  });
  // Every tab hears `joined` (also after a resume while an agent watches: a new page, a new
  // socket); only the tab shown to the agent captures (`paused` until `resync`).
  on('msg:joined', (m) => {
    if (!state.paused) capture().then((c) => c.start());
    emit('agentJoined', { agent: m.agent, reconnect: !!m.reconnect });
  });
  on(
    'msg:presence',
    (m) =>
      m.role === 'agent' &&
      emit(m.connected ? 'agentJoined' : 'agentLeft', { agent: state.agent, reconnect: true }),
  );
  on('msg:mode', (m) => {
    takeBack(m);
    if (m.mode !== 'write' && replayLoad) replayLoad.then((r) => r.forget());
    emit('modeChanged', { mode: m.mode, cause: m.cause });
  });
  on('msg:control', (m) =>
    emit(m.state === 'requested' ? 'controlRequested' : 'controlAnswered', {
      state: m.state,
      expiresInMs: m.expires_in_ms || 0,
    }),
  );
  // A `pointer` message carries its element's size only when it changed: the last one is kept.
  let box = {};
  on('msg:pointer', (m) => {
    if (m.w) box = m;
    else if (box.i === m.i) [m.w, m.h] = [box.w, box.h];
    capture().then((c) => emit('agentPointer', c.locate(m)));
  });
  on('msg:mark', (m) => capture().then((c) => emit('agentMark', c.locate(m))));
  for (const t of INPUT) on('msg:' + t, input);
  on('ended', (e) => emit('sessionEnded', e));
  on('status', () => {
    if (!live()) return;
    capture();
    if (state.ui) ui();
  });

  // Site options first (queued `configure` calls, data- attributes), then the saved session.
  const d = (script && script.dataset) || {};
  if ('cobrowseLauncher' in d)
    opts.launcher = {
      side: d.cobrowseLauncher || 'right',
      chat: d.cobrowseChat,
      call: d.cobrowseCall,
    };
  if (d.cobrowseLang) opts.lang = d.cobrowseLang;
  if (d.cobrowseServers) state.servers = d.cobrowseServers.split(/[\s,]+/).filter(Boolean);
  if (d.cobrowsePosition) opts.position = d.cobrowsePosition;
  const s = saved();
  if (s && s.ui === 0) state.ui = false;
  for (const c of queue)
    if (c[0] === 'configure') {
      try {
        c[2](configure(...c[1]));
      } catch (e) {
        c[3](e);
      }
    }
  if (s && s.id && s.token) {
    state.token = s.token;
    state.granted = !!s.w;
    state.session = { id: String(s.id), spaced: String(s.id).replace(/(\d{3})(?=\d)/g, '$1 ') };
    starting = connect({ t: 'resume', id: s.id, token: s.token })
      .then(() => emit('sessionResumed', pub()))
      .finally(() => (starting = null));
    starting.catch(() => {});
  }
  for (const [name, args, res, rej] of queue) {
    if (name !== 'configure')
      try {
        res(api[name](...args));
      } catch (e) {
        rej(e);
      }
  }
  queue.length = 0;
  if (state.ui && (opts.launcher || starting)) ui();

  // Start points: any element with data-cobrowse-start shows the ID to read out.
  document.addEventListener(
    'click',
    (e) => {
      const el = /** @type {any} */ (e.target);
      const t = el && el.closest && el.closest('[data-cobrowse-start]');
      if (!t) return;
      e.preventDefault();
      api.showId().catch((err) => console.error('cobrowse: could not start', err));
    },
    true,
  );

  // URL and title changes are recorded and shown to the agent. A new URL (a single-page app's
  // route: history API, popstate, hashchange) may have other rules: nothing of it is sent
  // (core.js `send`) until the server's answer, `rules`, comes; then a fresh snapshot.
  let last = location.href + '\n' + document.title;
  const moved = () => {
    const now = location.href + '\n' + document.title;
    if (now === last || !live()) return;
    last = now;
    send('page', { url: location.href, title: document.title });
  };
  for (const f of ['pushState', 'replaceState']) {
    const o = history[f];
    history[f] = function (...a) {
      o.apply(this, a);
      moved();
    };
  }
  addEventListener('popstate', moved);
  addEventListener('hashchange', moved);
  setInterval(moved, 1000);
  on('msg:rules', (m) => {
    // The agent's view is rebuilt under the new rules (unless only the title changed); an
    // earlier URL's rules are left: the page has moved on.
    if (m.url === location.href && rules(m.rules, m.url) && state.capturing)
      capture().then((c) => c.start());
  });
  // Of several tabs, the one the customer looks at is shown; the others stay connected and quiet.
  const focus = () => live() && !document.hidden && send('tab');
  addEventListener('focus', focus);
  document.addEventListener('visibilitychange', focus);
}
