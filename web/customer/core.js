// Session state, emitter and transport: every other part (capture, masking, later control
// replay and toolbar) plugs in here. Wire: docs/protocol.md; content: FORMAT.md.

/** @typedef {{id:string, spaced?:string, state?:string, mode?:string}} Session */

/** Shared state. `status`: off | connecting | idle | active | ended. */
export const state = {
  /** @type {string} the server's origin, from the loader's script URL */
  origin: '',
  // servers (string[], set only by data-cobrowse-servers): the nodes to connect to, in turn.
  /** @type {Session|null} */
  session: null,
  token: '',
  status: 'off',
  mode: 'pointer',
  capturing: false,
  /** Write mode as this customer granted it (the second lock), kept across pages. */
  granted: false,
  /** A write-mode request awaits an answer; this tab is not the one shown; built-in UI on. */
  pending: false,
  paused: false,
  ui: true,
  agent: '',
  agentIn: false,
  /** @type {{mask:string[], disable:string[], block:string[]}} */
  rules: {
    mask: [],
    disable: [],
    block: [],
  },
  /**
   * @type {string[]} other origins write-mode navigation may go to (the site's allowed origins,
   *   the server's)
   */
  origins: [],
  tab: '',
  /**
   * @type {WeakSet<EventTarget>|null} elements scrolled since the loader ran; null: not known
   *   (any may be)
   */
  scrolled: null,
  /** The URL whose rules are applied: content is sent only while the page is there. */
  at: '',
  /** The URL last told to the server in `create`/`resume`. */
  sent: '',
};

/** @type {Record<string, Function[]>} */
const subs = {};
/** Subscribes; returns the unsubscribe function. */
export const on = (ev, fn) => {
  (subs[ev] ||= []).push(fn);
  return () => off(ev, fn);
};
export const off = (ev, fn) => {
  const l = subs[ev] || [],
    i = l.lastIndexOf(fn);
  if (i >= 0) l.splice(i, 1);
};
/** Emits; a throwing subscriber never breaks capture. */
export const emit = (ev, data) =>
  (subs[ev] || []).slice().forEach((fn) => {
    try {
      fn(data);
    } catch (e) {
      console.error(e);
    }
  });

const KEY = 'cobrowse:session',
  TABKEY = 'cobrowse:tab';
const store = (() => {
  try {
    return localStorage;
  } catch {
    return null;
  }
})();
/** {id, token} kept so that a reload or the next page resumes. */
export const saved = () => {
  try {
    return JSON.parse(store.getItem(KEY) || 'null');
  } catch {
    return null;
  }
};
const save = (v) => {
  try {
    v ? store.setItem(KEY, JSON.stringify(v)) : store.removeItem(KEY);
  } catch {}
};
/**
 * Keeps what the next page needs: the session, whether this customer granted write mode, the UI
 * choice.
 */
export const persist = () =>
  state.session &&
  state.status !== 'ended' &&
  save({ id: state.session.id, token: state.token, w: +state.granted, ui: +state.ui });
try {
  state.tab = sessionStorage.getItem(TABKEY) || '';
} catch {}
if (!state.tab) {
  state.tab = Math.random().toString(36).slice(2, 10);
  try {
    sessionStorage.setItem(TABKEY, state.tab);
  } catch {}
}

/** @type {WebSocket|null} */ let ws = null;
let seq = 0,
  tries = 0,
  timer = 0,
  closing = false,
  pick = Date.now(),
  was = '';
/** Content held during a snapshot: nothing may refer to ids the agent lacks. */
let held = null;
let first = null,
  onSession = null;

/**
 * Relayed messages carry `s`; control ones do not (they would make gaps). `page` and the server's
 * CUSTOMER_CONTENT (src/protocol.rs), kept equal by tests/web_protocol.rs.
 */
const RELAYED = new Set([
  'page',
  'snapshot',
  'mutation',
  'input',
  'scroll',
  'viewport',
  'focus',
  'hover',
  'style',
  'canvas',
  'media',
  'selection',
  'notice',
  'applied',
  'pointer',
]);

const raw = (m) => ws && ws.readyState === 1 && ws.send(m);
/**
 * Agent input is replayed only if this customer granted write mode itself (the server's lock is the
 * other).
 */
export const allowed = () =>
  state.granted && state.mode === 'write' && state.status === 'active' && !state.paused;
/**
 * Tells the agent why an action did nothing, by code: the console has the words
 * (web/agent/control.js).
 */
export const refuse = (m, code) => send('notice', { code, re: m.t, ...(m.i ? { i: m.i } : {}) });
/** Sends `{v, t, s?, ...o}` (`o` may be ready JSON members); content only while capturing. */
export function send(t, o = {}) {
  if (!RELAYED.has(t)) return raw(JSON.stringify({ v: 1, t, ...o }));
  // Nothing of a URL whose rules are not known yet leaves (main.js asks for them).
  if (t !== 'page' && (!state.capturing || location.href !== state.at)) return;
  if (held && t !== 'snapshot') return held.push([t, o]);
  if (!ws || ws.readyState !== 1) return;
  const h = '{"v":1,"t":"' + t + '","s":' + ++seq;
  raw(
    typeof o === 'string'
      ? h + (o && ',') + o + '}'
      : h +
          JSON.stringify(o)
            .replace(/^\{(?=.)/, ',')
            .replace(/^,\}$/, '}'),
  );
}
/** Binary `[1][kind][seq u32][payload]`: 1 snapshot chunk, 2 canvas; same counter. */
export function sendBinary(kind, payload) {
  if (
    !ws ||
    ws.readyState !== 1 ||
    !state.capturing ||
    (held && kind !== 1) ||
    location.href !== state.at
  )
    return false;
  const b = new Uint8Array(6 + payload.length);
  b[0] = 1;
  b[1] = kind;
  new DataView(b.buffer).setUint32(2, ++seq);
  b.set(payload, 6);
  ws.send(b);
  return true;
}
export const hold = () => {
  held = [];
};
/** Stops holding; `first()` (catch-up mutations) goes before the held messages. */
export const release = (first) => {
  const h = held;
  held = null;
  first && first();
  for (const [t, o] of h || []) send(t, o);
};

const page = () => ({ url: (state.sent = location.href), title: document.title });

/** Opens the socket with `create` or `resume`; resolves on `session`. */
export function connect(msg) {
  first = msg;
  closing = false;
  return new Promise((res, rej) => {
    onSession = [res, rej];
    open();
  });
}

function open() {
  clearTimeout(timer);
  status('connecting');
  // With a list of nodes (data-cobrowse-servers), each attempt goes to the next one, from a first
  // picked by time (spreads the load); without, to the script's own server.
  const l = state.servers,
    /** @type {WebSocket & {ka?: ReturnType<typeof setInterval>, in?: boolean}} */
    s = (ws = new WebSocket(
      (l ? l[(pick + tries) % l.length] : state.origin).replace(/^http/, 'ws') + '/ws/customer?v=1',
    ));
  s.binaryType = 'arraybuffer';
  seq = 0;
  s.onopen = () => raw(JSON.stringify({ v: 1, ...page(), tab: state.tab, ...first }));
  clearInterval(s.ka);
  // keeps idle connections through proxies
  s.ka = setInterval(() => raw('{"v":1,"t":"ping"}'), 25000);
  s.onmessage = (e) => {
    let m;
    try {
      m = JSON.parse(e.data);
    } catch {
      return;
    }
    s.in ||= m.t === 'session';
    receive(m);
  };
  s.onclose = (e) => {
    clearInterval(s.ka);
    if (ws === s) closed(e.code, e.reason, s.in);
  };
}

const status = (s) => emit('status', (state.status = s));

/** Server messages; every one is also emitted as `msg:<t>`. */
function receive(m) {
  switch (m.t) {
    case 'session': {
      tries = 0;
      state.session = { id: String(m.id), spaced: m.spaced, state: m.state, mode: m.mode };
      if (m.token) state.token = m.token;
      state.mode = m.mode || 'pointer';
      state.status = m.state === 'active' ? 'active' : 'idle';
      state.agent = m.agent || '';
      state.agentIn = !!m.agent_connected;
      state.pending = !!m.control_pending;
      state.paused = false;
      if (state.mode !== 'write') state.granted = false;
      persist();
      first = { t: 'resume', id: state.session.id, token: state.token };
      if (onSession) {
        onSession[0](state.session);
        onSession = null;
      }
      status(state.status);
      break;
    }
    case 'joined':
      state.agent = m.agent || state.agent;
      state.agentIn = true;
      status('active');
      break;
    case 'presence':
      if (m.role === 'agent') state.agentIn = !!m.connected;
      break;
    case 'mode':
      state.mode = m.mode;
      state.pending = false;
      if (m.mode !== 'write') state.granted = false;
      persist();
      break;
    case 'control':
      state.pending = m.state === 'requested';
      break;
    case 'paused':
      state.paused = true;
      break;
    case 'resync':
      state.paused = false;
      break;
    case 'ended':
      end(m.reason, m.message, m.after_ms);
      break;
    // Redis away (several nodes): shown as connecting until the service is back.
    case 'service':
      if (m.available) status(was || state.status);
      else {
        was = state.status;
        status('connecting');
      }
      break;
  }
  emit('msg:' + m.t, m);
}

/**
 * The session is over: `afterMs` is the timeout that ran out (inactivity), for the customer's
 * words.
 */
function end(reason, message, afterMs) {
  if (state.status === 'ended') return;
  state.ended = { reason, message, ...(afterMs ? { afterMs } : {}) };
  closing = true;
  save(null);
  clearTimeout(timer);
  status('ended');
  emit('ended', state.ended);
  if (onSession) {
    onSession[1](new Error(message || reason));
    onSession = null;
  }
  try {
    ws && ws.close();
  } catch {}
  ws = null;
}

/**
 * 4000, 4001, 4004 are final; anything else is retried with backoff. A 4004 on a socket the
 * session was `live` on: the service lost it (Redis restarted empty). Otherwise it answers a
 * resume the server no longer knows even by its tombstone (an end over an hour ago, told with
 * its reason before that): the customer was away long, so customer_gone.
 */
function closed(code, reason, live) {
  emit('disconnected', code);
  if (closing || state.status === 'ended') return;
  if (code === 4004)
    return live
      ? end('server_shutdown', reason)
      : end(
          'customer_gone',
          'You were away from the site too long: the co-browse session has ended.',
        );
  if (code === 4000 || code === 4001 || (!state.session && tries > 2)) {
    return end(
      code === 4000 ? 'ended' : 'refused',
      reason || 'The co-browse session could not continue (' + code + ').',
    );
  }
  status('connecting');
  const delay = Math.min(15000, 500 * 2 ** tries++) * (0.75 + Math.random() / 2);
  timer = setTimeout(open, delay);
}

/** The customer's exit: the server ends the session and tells the agent. */
export function exit() {
  raw('{"v":1,"t":"exit"}');
  end('customer_exit', 'You ended the session.');
}

/** Where a window's viewport starts in the top window's, `[x, y]` (through same-origin frames). */
export function frameXY(w) {
  let x = 0,
    y = 0;
  try {
    for (; w && w !== w.parent && w.frameElement; w = w.parent) {
      const f = w.frameElement,
        b = f.getBoundingClientRect();
      x += b.left + f.clientLeft;
      y += b.top + f.clientTop;
    }
  } catch {}
  return [x, y];
}
/** An element's box in the top window's viewport. */
export function rectOf(el) {
  const r = el.getBoundingClientRect(),
    [x, y] = frameXY(el.ownerDocument.defaultView);
  return { left: r.left + x, top: r.top + y, width: r.width, height: r.height };
}
