// The agent console: sign-in (account or agent-desktop token), join by session ID, the live
// view of the customer's page, write-mode requests, exit, and plain words for every refusal
// and every end. Wire format: docs/protocol.md; page content: web/customer/FORMAT.md.

import { attachControl } from './control.js';
import { LIMITS, Mirror, Refused } from './mirror.js';
import { offerSignIns } from './sign-in-options.js';
import { Transport } from './transport.js';

const $ = (id) => document.getElementById(id);
/** @type {(id: string) => HTMLInputElement} */
const $input = (id) => /** @type {HTMLInputElement} */ ($(id));
/** @type {(id: string) => HTMLButtonElement} */
const $button = (id) => /** @type {HTMLButtonElement} */ ($(id));
const params = new URLSearchParams(location.search);
const fragment = new URLSearchParams(location.hash.slice(1));
const spaced = (id) => String(id).replace(/(\d{3})(?=\d)/g, '$1 ');

/** Everything the console knows about where it stands. */
const S = {
  /** @type {{name: string, role: string}|null} */ me: null,
  /** The session being joined or watched (nine digits), '' when none. */ id: '',
  /** The server accepted us into the session (a `session` message came). */ joined: false,
  ended: false,
  mode: 'pointer',
  /** Write-mode request: '' | 'pending'. */ control: '',
  customerIn: false,
};

// ---- words ----

/** Join refusals and connection closes (docs/protocol.md), by error code or close code. */
const REFUSALS = {
  no_such_session: (id) => [
    'No such session',
    `There is no live session ${spaced(id)}. Check the nine digits with the customer: an ID works only while their session is open, and an ended session cannot be joined again.`,
  ],
  session_has_agent: (id) => [
    'Another agent is in this session',
    `Session ${spaced(id)} already has an agent: one agent per session. If it should be you, ask your colleague to exit it.`,
  ],
  agent_in_other_session: () => [
    'You are in another session',
    'You are still in another co-browse session (perhaps in another tab or window). Exit that one first: one session per agent.',
  ],
  rate_limited: () => [
    'Too many attempts',
    'Too many join attempts in a short time. Wait a minute, then check the ID with the customer and try again.',
  ],
  unauthorized: () => [
    'Not signed in',
    'Your sign-in is missing, has expired or was refused. Sign in again.',
  ],
  malformed: () => [
    'Protocol error',
    'The server did not understand this console (a version mismatch?). Reload the page.',
  ],
  unavailable: () => [
    'Service unavailable',
    'The co-browse service cannot take the session right now. Try again in a moment.',
  ],
};
const CLOSE_CODES = {
  4001: 'unauthorized',
  4004: 'no_such_session',
  4009: 'session_has_agent',
  4029: 'rate_limited',
  4400: 'malformed',
  1001: 'unavailable',
};

/** Every end reason (server `ended`), with what the agent can do next. */
const ENDS = {
  customer_exit: ['The customer ended the session', 'They clicked exit in their co-browse bar.'],
  agent_exit: ['You left the session', 'The customer has been told.'],
  interaction_ended: [
    'The chat or call ended',
    'The session belonged to that interaction, so it ended with it.',
  ],
  inactivity: [
    'The session timed out',
    'Nothing happened for too long. Ask the customer to start again if you still need to see their page.',
  ],
  agent_gone: [
    'Your connection was lost',
    'The console was disconnected for longer than the grace period. Ask the customer to start a new session.',
  ],
  customer_gone: [
    'The customer left',
    'Their page was closed and did not come back in time. If they are still with you, ask them to start again and read you the new ID.',
  ],
  join_timeout: [
    'Nobody joined in time',
    'The session waited too long for an agent. Ask the customer to start again.',
  ],
  ended_by_api: [
    'Ended by the contact center',
    'An administrator or your agent desktop ended the session.',
  ],
  server_shutdown: [
    'The co-browse server shut down',
    'Ask the customer to start again in a moment.',
  ],
  gone_while_away: [
    'The session has ended',
    'It ended while this console was disconnected or closed: the agent grace period passed, or the customer left meanwhile.',
  ],
  lost: [
    'The session was lost',
    'The co-browse service restarted without it (its live-session store was emptied). Ask the customer to start a new session.',
  ],
};

// ---- screens ----

const ui = {
  state(s, text) {
    $('state').dataset.state = document.body.dataset.state = s;
    $('state').textContent = text;
  },
  notice(h, p) {
    $('notice').hidden = !h;
    $('notice-h').textContent = h || '';
    $('notice-p').textContent = p || '';
  },
  clear() {
    ui.notice('');
  },
  screen(name) {
    document.body.dataset.screen = name;
    $('signin').hidden = name !== 'signin';
    $('join').hidden = name !== 'join';
    const inSession = name === 'session';
    $('info').hidden = !inSession;
    $('exit').hidden = !inSession;
    $('request').hidden = !inSession;
    $('who').hidden = !S.me || inSession;
    if (!inSession) {
      $('wrap').hidden = true;
      $('waiting').hidden = true;
      $('mode').textContent = '';
      $('mode').dataset.mode = '';
      $('control-note').textContent = '';
      $('control-note').hidden = true;
    }
  },
  /** The customer's URL and title: their own words, so text only, and not without end. */
  page(url, title) {
    if (url !== undefined) {
      const u = String(url).slice(0, 2000);
      $('url').textContent = u;
      $('url').title = u;
    }
    if (title !== undefined) $('title').textContent = String(title || '(untitled)').slice(0, 300);
  },
  /** The customer's viewport, from numbers only (a hostile page could send words instead). */
  viewport(w, h) {
    if (Number.isInteger(w) && Number.isInteger(h) && w > 0 && h > 0)
      $('vp').textContent = w + ' × ' + h;
  },
  field(id, message) {
    const e = $(id);
    e.hidden = !message;
    e.textContent = message || '';
  },
};

function showSignin(error) {
  ui.screen('signin');
  offerSignIns('agent', $('signin-providers'), $('signin-form'));
  ui.field('signin-error', error);
  $('sid').textContent = S.id ? spaced(S.id) : '';
  setTimeout(() =>
    (error && $input('signin-name').value ? $('signin-password') : $('signin-name')).focus(),
  );
}

function showJoin(error) {
  ui.screen('join');
  $('sid').textContent = '';
  ui.field('join-error', error);
  $('join-id').setAttribute('aria-invalid', error ? 'true' : 'false');
  $button('join-submit').disabled = false;
  setTimeout(() => {
    $('join-id').focus();
    $input('join-id').select();
  });
}

// ---- sign-in ----

async function post(url, body) {
  try {
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
    });
    let data = null;
    try {
      data = await r.json();
    } catch {}
    return { ok: r.ok, status: r.status, data };
  } catch {
    return { ok: false, status: 0, data: null };
  }
}

function signedIn(me) {
  S.me = me;
  $('who-name').textContent = me.name;
}

function signInError(r, what) {
  if (r.status === 0)
    return 'The co-browse server could not be reached. Check your network and try again.';
  if (r.status === 429) return 'Too many sign-in attempts: wait a minute.';
  const code = r.data && r.data.error && r.data.error.code;
  if (code === 'disabled') return 'This account is disabled. Ask an administrator.';
  if (code === 'forbidden_origin')
    return 'Sign-in from this page is not allowed (its origin is not in agent_origins).';
  if (what === 'token')
    return 'The sign-in token from your agent desktop was refused (invalid or expired). Reopen the console from the desktop, or sign in with your account.';
  return r.status === 401
    ? 'Wrong name or password.'
    : 'Sign-in failed (the server answered ' + r.status + ').';
}

$('signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = $input('signin-name').value.trim(),
    password = $input('signin-password').value;
  if (!name || !password) return ui.field('signin-error', 'Enter your name and password.');
  $button('signin-submit').disabled = true;
  const r = await post('/auth/login', { name, password });
  $button('signin-submit').disabled = false;
  if (!r.ok) {
    $input('signin-password').value = '';
    return showSignin(signInError(r, 'password'));
  }
  $input('signin-password').value = '';
  signedIn(r.data);
  ui.clear();
  afterSignIn();
});

$('signout').addEventListener('click', async () => {
  const r = await post('/auth/logout', {});
  if (r.data?.provider_logout) return location.assign(r.data.provider_logout);
  S.me = null;
  ui.clear();
  ui.state('signin', 'Signed out');
  showSignin();
});

/** Joins the session of the address, or shows the ID field. */
function afterSignIn() {
  if (S.id) return join(S.id);
  ui.state('idle', 'Ready');
  showJoin();
}

// ---- joining ----

/** Digits of what the agent typed: spaces, dashes and dots are the customer's way of reading it out. */
function parseId(text) {
  const digits = text.replace(/[\s.-]/g, '');
  if (!digits) return [null, 'Type the session ID the customer reads out to you.'];
  if (!/^\d+$/.test(digits))
    return [null, 'A session ID has digits only: “' + text.trim() + '” is not one.'];
  if (digits.length !== 9)
    return [
      null,
      `A session ID has nine digits; this has ${digits.length}. Ask the customer to read it again.`,
    ];
  return [digits, null];
}

$('join-form').addEventListener('submit', (e) => {
  e.preventDefault();
  if (transport.active) return; // a join is on its way
  const [id, error] = parseId($input('join-id').value);
  if (!id) return showJoin(error);
  join(id);
});
$('join-id').addEventListener('input', () => {
  ui.field('join-error', '');
  $('join-id').setAttribute('aria-invalid', 'false');
});

function join(id) {
  S.id = id;
  S.joined = false;
  S.ended = false;
  S.mode = 'pointer';
  S.control = '';
  history.replaceState(null, '', location.pathname + '?session=' + id);
  $input('join-id').value = spaced(id);
  $button('join-submit').disabled = true;
  ui.clear();
  ui.field('join-error', '');
  $('sid').textContent = spaced(id);
  ui.state('connecting', 'Joining…');
  transport.open(id);
}

/** Leaves the session view for the ID field, with the reason in the notice. */
function leave(state, stateText, heading, text) {
  remember('');
  clearView();
  S.id = '';
  S.joined = false;
  S.control = '';
  S.reconnecting = false;
  transport.close();
  history.replaceState(null, '', location.pathname);
  ui.state(state, stateText);
  showJoin();
  $input('join-id').value = '';
  ui.notice(heading, text);
}

/** The session this tab was last in, so that a reload can tell "it ended meanwhile" from "no such session". */
const IN = 'cobrowse-agent:in';
const remember = (id) => {
  try {
    id ? sessionStorage.setItem(IN, id) : sessionStorage.removeItem(IN);
  } catch {}
};
const wasIn = (id) => {
  try {
    return sessionStorage.getItem(IN) === id;
  } catch {
    return false;
  }
};

function refused(code, message) {
  const id = S.id;
  if (code === 'no_such_session' && id && wasIn(id)) return ended('gone_while_away');
  const words = (
    REFUSALS[code] || (() => ['Cannot join', message || 'The server refused to let you join.'])
  )(id);
  if (code === 'unauthorized') {
    S.me = null;
    ui.state('error', 'Not signed in');
    ui.notice(
      words[0],
      message ? message.charAt(0).toUpperCase() + message.slice(1) + '. Sign in again.' : words[1],
    );
    return showSignin();
  }
  remember('');
  clearView();
  S.joined = false;
  S.reconnecting = false;
  history.replaceState(null, '', location.pathname);
  ui.state('error', words[0]);
  showJoin();
  ui.notice(words[0], words[1]);
  S.id = '';
}

/** Shows an end; `afterMs` (inactivity) says how long nothing happened, as the customer is told too. */
function ended(reason, message, afterMs) {
  const [h, p] = ENDS[reason] || ['The session has ended', ''];
  if (afterMs) message = `Nothing happened for ${howLong(afterMs)}.`;
  const text = [message, p].filter(Boolean).join(' ');
  leave('ended', 'Ended', h, text);
}
/** "3 seconds", "10 minutes", "1 hour". */
function howLong(ms) {
  const s = Math.round(ms / 1000);
  const [n, unit] = s % 60 ? [s, 'second'] : s % 3600 ? [s / 60, 'minute'] : [s / 3600, 'hour'];
  return new Intl.NumberFormat('en', { style: 'unit', unit, unitDisplay: 'long' }).format(n);
}

// ---- the connection ----

const transport = new Transport({
  maxSnapshotBytes: LIMITS.bytes,
  wantsSnapshot: () => S.joined && S.customerIn,
});

const mirror = new Mirror(
  $('stage'),
  (u) =>
    location.origin +
    '/proxy?url=' +
    encodeURIComponent(u) +
    '&session=' +
    encodeURIComponent(S.id),
);

// Write mode: control.js turns the agent's clicks, typing and scrolling over the view into input
// messages and pointer-mode clicks into marks, drawing the agent's own ring.
const control = attachControl({ mirror, overlay: $('overlay'), transport });

/** The console as a page that embeds it (an agent desktop) or a debugger sees it: `window.cobrowseAgent`. */
const api = {
  /** The rebuilt view, and the last messages seen (debugging). */
  mirror,
  trace: transport.trace,
  /** Snapshots shown so far. */
  snapshots: 0,
  /** Why each refused snapshot or change was refused (debugging). */
  /** @type {string[]} */ refused: [],
  /** Asks the customer's page for a fresh snapshot now. */
  requestResync: () => transport.resyncNow('asked'),
  /** Asks the customer for write mode; false when not connected. */
  requestControl: () => transport.send('request_control'),
  /** The agent's hand on the view (control.js): its mode, notices, navigation. */
  control,
  /** Where the console stands (tests, the agent desktop). */
  get session() {
    return {
      id: S.id,
      joined: S.joined,
      mode: S.mode,
      control: S.control,
      customer: S.customerIn,
      agent: S.me && S.me.name,
    };
  },
};
Object.assign(window, { cobrowseAgent: api });

let work = Promise.resolve();
/** Keeps the order of application even when a step is asynchronous (decompression). */
const queue = (f) =>
  (work = work.then(f).catch((e) => {
    console.error(e);
    transport.resync(String(e));
  }));

mirror.onMissing = (e) => (e instanceof Refused ? refuse(e) : transport.resync(e.message));
transport.on('close', closed);
transport.on('oversize', (bytes) =>
  refuse(new Refused('snapshot too large: over ' + bytes + ' bytes compressed')),
);
transport.on('canvas', ({ id, bytes }) => queue(() => mirror.canvas(id, bytes)));
transport.on('snapshot', ({ m, parts }) => queue(() => build(parts, m)));

/** @param {import('./transport.js').Closed} e */
function closed(e) {
  if (S.ended || !S.id) return;
  const err = e.error;
  const code = (err && err.code && err.code !== 'not_allowed' && err.code) || CLOSE_CODES[e.code];
  if (!S.joined && !S.reconnecting) {
    if (code && code !== 'unavailable') return refused(code, err && err.message);
    if (transport.retry()) return;
    return refused('unavailable', 'The co-browse server could not be reached.');
  }
  // In the session: some closes are final, the rest are network trouble (reconnect; the agent grace period covers it).
  // Unknown while joined on this very socket: the service forgot it (Redis restarted empty).
  if (code === 'no_such_session' && S.joined) return ended('lost');
  if (e.code === 4000 || code === 'no_such_session') return ended('gone_while_away');
  if (code === 'unauthorized') return refused('unauthorized', err && err.message);
  if (e.code === 4009) {
    const why =
      err && err.message
        ? err.message.charAt(0).toUpperCase() + err.message.slice(1) + '.'
        : 'This session is now shown in another tab or window of your console; this one has let go of it.';
    return leave('error', 'Opened elsewhere', 'You are no longer in this session here', why);
  }
  if (e.code === 4400)
    return leave(
      'error',
      'Protocol error',
      'Protocol error',
      (err && err.message) || 'The server did not understand this console. Reload the page.',
    );
  S.joined = false;
  S.reconnecting = true;
  $('wrap').classList.add('stale');
  ui.state('connecting', e.code === 1001 ? 'Server restarting…' : 'Reconnecting…');
  $('presence').textContent = 'connection lost';
  transport.retry();
}

/**
 * The text of a snapshot's chunks, inflated a few KiB at a time and given up past
 * LIMITS.bytes: a hostile page can send a small "zip bomb" that would inflate to gigabytes and
 * take the console's tab down. (Fed whole, a DecompressionStream inflates a chunk at once: 64 KiB
 * can become 64 MiB before we could look.)
 * @param {Uint8Array<ArrayBuffer>[]} parts
 * @param {string|0} z
 */
async function inflate(parts, z) {
  if (!z) {
    const n = parts.reduce((k, p) => k + p.length, 0);
    if (n > LIMITS.bytes) throw new Refused('snapshot too large: over ' + LIMITS.bytes + ' bytes');
    return new Blob(parts).text();
  }
  if (z !== 'deflate-raw')
    throw new Refused('snapshot in an unknown compression: ' + String(z).slice(0, 20));
  const ds = new DecompressionStream('deflate-raw');
  const writer = ds.writable.getWriter();
  const reader = ds.readable.getReader();
  const feed = (async () => {
    for (const p of parts) {
      for (let o = 0; o < p.length; o += 4096) await writer.write(p.subarray(o, o + 4096));
    }
    await writer.close();
  })();
  feed.catch(() => {}); // its failure shows in read() as well
  const out = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > LIMITS.bytes) {
      reader.cancel().catch(() => {});
      writer.abort().catch(() => {});
      throw new Refused('snapshot too large: over ' + LIMITS.bytes + ' bytes once inflated');
    }
    out.push(value);
  }
  return new Blob(out).text();
}

/**
 * A snapshot or change beyond the console's bounds: said in words, the view we have kept, and a
 * fresh snapshot asked for later (an honest page that only grew past the bound is not asked
 * again at once, and a hostile one gains nothing by sending more).
 * @param {Error} e
 */
function refuse(e) {
  console.warn('cobrowse: refused,', e.message);
  api.refused.push(e.message);
  if (api.refused.length > 20) api.refused.shift();
  const mib = Math.round(LIMITS.bytes / (1 << 20));
  ui.notice(
    "The customer's page could not be shown",
    `It sent more than this console accepts (over ${mib} MiB once unpacked, ${LIMITS.nodes.toLocaleString('en')} elements or ${LIMITS.depth} levels deep), so it was refused. The view shows the page as it last was; a fresh copy will be asked for in a little while.`,
  );
  transport.resync('refused: ' + e.message);
  transport.holdResync(25000);
}

/** Decodes a snapshot's chunks and replaces the view with it. */
async function build(parts, m) {
  let data;
  try {
    const text = await inflate(parts, m.z);
    data = JSON.parse(text);
    if (!S.joined) return;
    mirror.snapshot(data, m);
  } catch (e) {
    if (!S.joined) return;
    if (e instanceof Refused) return refuse(e);
    throw e;
  }
  api.snapshots++;
  $('wrap').hidden = false;
  $('wrap').classList.remove('stale');
  $('waiting').hidden = true;
  ui.clear();
  ui.state('live', 'Live');
  ui.page(m.url, m.title);
  ui.viewport(m.w, m.h);
  fit();
}

function setMode(mode) {
  S.mode = mode === 'write' ? 'write' : 'pointer';
  $('mode').dataset.mode = S.mode;
  $('mode').textContent = S.mode === 'write' ? 'Write mode' : 'Pointer mode';
  $('mode').title =
    S.mode === 'write'
      ? "You may click and type on the customer's page"
      : 'You can point; only the customer acts on the page';
  controlButton();
}

let countdown = 0;
function controlButton() {
  const b = $button('request');
  clearInterval(countdown);
  if (S.mode === 'write') {
    b.disabled = true;
    b.textContent = 'You have control';
    return;
  }
  if (S.control === 'pending') {
    const until = S.controlUntil || Date.now();
    const tick = () => {
      b.textContent = `Waiting for the customer… ${Math.max(0, Math.ceil((until - Date.now()) / 1000))} s`;
    };
    b.disabled = true;
    tick();
    countdown = setInterval(tick, 500);
    return;
  }
  b.disabled = !S.joined;
  b.textContent = 'Request control';
}
let noteTimer = 0;
/** Says what became of a write-mode request, for a few seconds (the mode badge stays). */
function controlNote(text, tone = '') {
  const n = $('control-note');
  n.textContent = text;
  n.dataset.tone = tone;
  n.hidden = !text;
  clearTimeout(noteTimer);
  if (text && S.control !== 'pending') noteTimer = setTimeout(() => (n.hidden = true), 6000);
}

function customerPresence(connected) {
  S.customerIn = connected;
  $('presence').textContent = connected ? 'connected' : 'away (reloading or changing page)';
  if (!connected) {
    hideCursor();
    ui.state('waiting', 'Customer away');
    if ($('wrap').hidden)
      waitingFor("The customer's page is not connected right now (reloading or changing page)…");
    else $('wrap').classList.add('stale');
  } else {
    transport.expectSnapshot();
    ui.state('waiting', 'Waiting for page…');
    if ($('wrap').hidden) waitingFor("Waiting for the customer's page…");
  }
}
function waitingFor(text) {
  $('waiting').hidden = false;
  $('waiting-p').textContent = text;
}

/** Messages of the server itself. @param {import('./transport.js').Message} m */
function receive(m) {
  switch (m.t) {
    case 'session': {
      S.joined = true;
      remember(S.id);
      const again = S.reconnecting;
      S.reconnecting = false;
      ui.screen('session');
      ui.clear();
      $('sid').textContent = m.spaced || spaced(S.id);
      if (m.page) ui.page(m.page.url, m.page.title);
      S.control = m.control_pending ? 'pending' : '';
      S.controlUntil = Date.now() + 30000;
      setMode(m.mode);
      if (!again) controlNote('');
      customerPresence(!!m.customer_connected);
      break;
    }
    case 'presence':
      if (m.role === 'customer') customerPresence(!!m.connected);
      break;
    case 'control':
      if (m.state === 'requested') {
        S.control = 'pending';
        S.controlUntil = Date.now() + (m.expires_in_ms || 30000);
        controlNote('Request sent: the customer is asked to allow or deny.', 'info');
      } else if (m.state === 'denied') {
        S.control = '';
        controlNote('The customer declined your request for control.', 'bad');
      } else if (m.state === 'timed_out') {
        S.control = '';
        controlNote('The customer did not answer in time: request declined.', 'bad');
      }
      controlButton();
      break;
    case 'mode':
      S.control = '';
      setMode(m.mode);
      if (m.mode === 'write')
        controlNote('The customer gave you control: you can click and type on their page.', 'good');
      else if (m.cause === 'revoked')
        controlNote('The customer took control back: pointer mode.', 'bad');
      else controlNote('Pointer mode.');
      break;
    case 'ended':
      S.ended = true;
      ended(m.reason, m.message, m.after_ms);
      break;
    case 'service':
      if (!m.available)
        controlNote(
          m.message || 'The co-browse service is interrupted: the view may pause.',
          'bad',
        );
      else controlNote('');
      break;
    case 'error':
      console.warn('cobrowse server error', m);
      if (S.joined && m.code !== 'not_allowed') controlNote(m.message || m.code, 'bad');
      else if (S.joined && m.code === 'not_allowed' && S.mode === 'pointer')
        controlNote(
          'Only the customer can act on the page in pointer mode: request control first.',
          'bad',
        );
      break;
  }
}

for (const t of ['session', 'presence', 'control', 'mode', 'ended', 'service', 'error'])
  transport.on(t, receive);

transport.on('page', (m) => ui.page(m.url, m.title));
// A change of the customer's page, in sequence.
transport.on('change', (/** @type {import('./transport.js').Message} */ m) => {
  queue(() => {
    switch (m.t) {
      case 'mutation':
        mirror.mutate(m);
        break;
      case 'style':
        mirror.style(m);
        break;
      case 'input':
        mirror.input(m.l);
        break;
      case 'scroll':
        mirror.scroll(m.l);
        break;
      case 'viewport':
        mirror.size(m.w, m.h);
        ui.viewport(m.w, m.h);
        fit();
        break;
      case 'focus':
        mirror.focus(m.i, m.fv === 1);
        break;
      case 'hover':
        mirror.hover(m.i);
        break;
      case 'selection':
        mirror.select(m);
        break;
      case 'media':
        mirror.media(m.l);
        break;
      case 'pointer':
        pointer(m);
        break;
    }
  });
});

// ---- the view: scaled to fit, the customer's pointer, the agent's pointer and marks ----

let scale = 1;
/** Scales the customer-sized frame to the space we have (never above 100%) and centres it. */
function fit() {
  const box = $('main'),
    w = mirror.w || 1,
    h = mirror.h || 1,
    pad = 12;
  scale = Math.min(1, (box.clientWidth - 2 * pad) / w, (box.clientHeight - 2 * pad) / h);
  if (!(scale > 0)) scale = 0.01;
  const wrap = $('wrap');
  wrap.style.width = w + 'px';
  wrap.style.height = h + 'px';
  wrap.style.left = Math.max(0, Math.round((box.clientWidth - w * scale) / 2)) + 'px';
  wrap.style.top = Math.max(0, Math.round((box.clientHeight - h * scale) / 2)) + 'px';
  wrap.style.transform = `scale(${scale})`;
}
addEventListener('resize', fit);

function clearView() {
  if (mirror.frame) {
    mirror.frame.remove();
    mirror.frame = null;
  }
  $('wrap').hidden = true;
  $('wrap').classList.remove('stale');
  hideCursor();
  $('waiting').hidden = true;
}

/** The customer's latest `pointer` message not drawn yet, and the frame that will draw it. */
let ptrMsg = null;
let ptrFrame = 0;
/** The last `pointer` message that carried its element's box size (sent only when it changes). */
let ptrBox = null;
/**
 * Draws the customer's pointer once per animation frame, at the latest position: messages can
 * come faster than frames, and placing one reads layout. (The agent's own pointer: control.js.)
 */
function pointer(m) {
  if (m.w !== undefined) ptrBox = m;
  else if (ptrBox && ptrBox.i === m.i) m = { ...m, w: ptrBox.w, h: ptrBox.h };
  // The element under the customer's pointer is the one hovered (no `hover` message follows).
  if (m.i) mirror.hover(m.i);
  ptrMsg = m;
  if (ptrFrame) return;
  ptrFrame = requestAnimationFrame(() => {
    ptrFrame = 0;
    if (!ptrMsg) return;
    const p = control.place(ptrMsg),
      c = $('cursor');
    ptrMsg = null;
    c.hidden = false;
    c.style.transform = `translate(${p.x}px,${p.y}px)`;
  });
}
/** Hides the customer's pointer, with any position still waiting for its frame. */
function hideCursor() {
  ptrMsg = null;
  $('cursor').hidden = true;
}

// ---- session buttons ----

$('request').addEventListener('click', () => {
  if (S.mode === 'write' || S.control === 'pending') return;
  const sent = api.requestControl();
  if (!sent) return controlNote('Not connected: try again when the connection is back.', 'bad');
  controlNote('Asking the customer…', 'info');
});

$('exit').addEventListener('click', () => {
  // The server ends the session and answers `ended` (agent_exit); without a connection we let go here.
  if (!transport.send('exit')) {
    S.ended = true;
    ended(
      'agent_exit',
      'You left the session. The customer will be told when the connection grace period has passed.',
    );
  }
});

// ---- start ----

async function start() {
  const token = fragment.get('token');
  const wanted = params.get('session');
  if (wanted) {
    const [id, error] = parseId(wanted);
    if (id) S.id = id;
    else {
      ui.notice('Not a session ID', error);
      history.replaceState(null, '', location.pathname);
    }
  }
  if (token) {
    history.replaceState(null, '', location.pathname + location.search); // the token must not linger in the address bar
    ui.state('connecting', 'Signing in…');
    const r = await post('/auth/token', { token });
    if (!r.ok) {
      ui.state('error', 'Not signed in');
      ui.notice('Sign-in failed', signInError(r, 'token'));
      return showSignin();
    }
    signedIn(r.data);
    return afterSignIn();
  }
  let me = null;
  try {
    const r = await fetch('/auth/me', { credentials: 'same-origin' });
    if (r.ok) me = await r.json();
  } catch {}
  if (me) {
    signedIn(me);
    return afterSignIn();
  }
  if (S.id) {
    ui.state('error', 'Not signed in');
    ui.notice('Not signed in', `Sign in to join session ${spaced(S.id)}.`);
  } else ui.state('signin', 'Not signed in');
  showSignin();
}

start();
