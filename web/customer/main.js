// The page's JS API (window.Cobrowse) and the session's life across pages.
import { state, on, emit, connect, saved, exit, send } from './core.js';
import { realm } from './mutations.js';
import { nodeOf, idOf } from './serialize.js';

/** @type {Promise<import('./core.js').Session>|null} */
let starting = null;
const pub = () => state.session && { id: state.session.id, spaced: state.session.spaced };
const live = () => state.session && state.status !== 'ended' && state.status !== 'off';

/**
 * Starts a session (or returns the live one, e.g. resumed from the previous page).
 * @param {{interaction?: {id: string, channel?: string}}} [opts]
 * @returns {Promise<{id: string, spaced: string}>}
 */
async function start(opts = {}) {
  if (starting) { try { await starting; } catch {} }
  if (live()) return pub();
  starting = connect({ t: 'create', ...(opts.interaction ? { interaction: opts.interaction } : {}) });
  try { await starting; } finally { starting = null; }
  emit('sessionStarted', pub());
  return pub();
}

/** Ends the session (the customer's exit). */
async function stop() { if (live() || starting) exit(); }

/** From the loader: replaces the stub, replays queued calls, resumes a saved session. */
export function init(origin, queue) {
  state.origin = origin;
  realm(window);
  const api = {
    v: 1, start, stop,
    /** Subscribes to sessionStarted, agentJoined, modeChanged, sessionEnded, maskedElement, status… */
    on: (ev, fn) => on(ev, fn),
    get session() { return pub(); },
    /** For plug-ins (control replay, toolbar): the shared state and id ↔ node lookups. */
    _: { state, on, emit, send, nodeOf, idOf },
  };
  window.Cobrowse = api;
  on('msg:joined', (m) => emit('agentJoined', { agent: m.agent, reconnect: !!m.reconnect }));
  on('msg:mode', (m) => emit('modeChanged', { mode: m.mode, cause: m.cause }));
  on('ended', (e) => emit('sessionEnded', e));
  const s = saved();
  if (s && s.id && s.token) (state.token = s.token), (starting = connect({ t: 'resume', id: s.id, token: s.token }).finally(() => (starting = null)));
  starting && starting.catch(() => {});
  for (const [name, args, res, rej] of queue) { try { res(api[name](...args)); } catch (e) { rej(e); } }
  queue.length = 0;
  // URL/title changes (history API, SPA routes) are recorded and shown to the agent.
  let last = location.href + '\n' + document.title;
  setInterval(() => {
    const now = location.href + '\n' + document.title;
    if (now !== last && live()) { last = now; send('page', { url: location.href, title: document.title }); }
  }, 1000);
  // Of several tabs, the one the customer looks at is shown.
  const focus = () => live() && !document.hidden && send('tab');
  addEventListener('focus', focus);
  document.addEventListener('visibilitychange', focus);
}
