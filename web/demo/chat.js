// Support chat box: a scripted conversation with "Maya" from Northwind support.
// The conversation lives in sessionStorage, so it follows the customer from page to page.
// "Share my screen with the agent" starts co-browse bound to this chat (the primary
// interaction); "End chat" ends the interaction, which also ends its co-browse session.

const KEY = 'nw-chat';
const OPEN_KEY = 'nw-chat-open';
const REPLIES = [
  'Thanks! I can help with that.',
  'If it is easier, I can look at the page with you: press “Share my screen with the agent” below. ' +
    'I will only see this website, never your password or card details.',
  'Got it. Let me check that for you.',
];

const newChat = () => ({
  id: `chat-${Math.random().toString(36).slice(2, 10)}`,
  ended: false,
  replies: 0,
  sessionId: null,
  messages: [
    { from: 'agent', text: 'Hi, I’m Maya from Northwind support. How can I help you today?' },
  ],
});

function load() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY));
    if (s && typeof s.id === 'string' && Array.isArray(s.messages)) return s;
  } catch {
    /* fall through */
  }
  return newChat();
}

let state = load();
let open = sessionStorage.getItem(OPEN_KEY) === '1';
const save = () => {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(state));
    sessionStorage.setItem(OPEN_KEY, open ? '1' : '0');
  } catch {
    /* storage unavailable */
  }
};
save();

// "123456789" → "123 456 789"
const spaced = (id) =>
  String(id)
    .replace(/\D/g, '')
    .replace(/(\d{3})(?=\d)/g, '$1 ');

const root = document.createElement('section');
root.className = 'chat';
root.id = 'chat';
root.setAttribute('aria-label', 'Support chat');
root.innerHTML = `
  <div class="chat-panel" id="chat-panel" hidden>
    <header class="chat-head">
      <span class="chat-avatar" aria-hidden="true">M</span>
      <div><strong>Maya</strong><p>Northwind support · <span id="chat-state">online</span></p></div>
      <button type="button" class="icon-btn" id="chat-minimize" aria-label="Minimise chat">−</button>
    </header>
    <div class="chat-log" id="chat-log" role="log" aria-label="Conversation" tabindex="0"></div>
    <div class="chat-actions">
      <button type="button" class="btn btn-small" id="chat-share">Share my screen with the agent</button>
      <button type="button" class="btn btn-small btn-ghost" id="chat-end">End chat</button>
      <button type="button" class="btn btn-small" id="chat-new" hidden>Start a new chat</button>
    </div>
    <form class="chat-form" id="chat-form">
      <label class="visually-hidden" for="chat-input">Message</label>
      <input id="chat-input" name="message" autocomplete="off" placeholder="Type a message…">
      <button type="submit" class="btn btn-small" id="chat-send">Send</button>
    </form>
  </div>
  <button type="button" class="btn btn-accent chat-toggle" id="chat-toggle" aria-expanded="false"
    aria-controls="chat-panel">Chat with us</button>`;
document.body.append(root);

/** @returns {any} the element (a button, an input…) with this id in the chat box */
const el = (id) => root.querySelector(`#${id}`);
const [panel, log, toggle, input, share, end, again, form] = [
  'chat-panel',
  'chat-log',
  'chat-toggle',
  'chat-input',
  'chat-share',
  'chat-end',
  'chat-new',
  'chat-form',
].map(el);

function bubble(m) {
  const p = document.createElement('p');
  p.className = `msg ${m.from}`;
  const who = document.createElement('span');
  who.className = 'visually-hidden';
  who.textContent = { agent: 'Maya: ', me: 'You: ' }[m.from] || '';
  p.append(who, m.text);
  return p;
}

function render() {
  log.replaceChildren(...state.messages.map(bubble));
  log.scrollTop = log.scrollHeight;
  panel.hidden = !open;
  toggle.setAttribute('aria-expanded', String(open));
  toggle.textContent = open ? 'Hide chat' : 'Chat with us';
  el('chat-state').textContent = state.ended ? 'chat ended' : 'online';
  [input, el('chat-send')].forEach((c) => {
    c.disabled = state.ended;
  });
  share.hidden = end.hidden = state.ended;
  again.hidden = !state.ended;
}

function post(from, text) {
  const m = { from, text };
  state.messages.push(m);
  save();
  log.append(bubble(m));
  log.scrollTop = log.scrollHeight;
}

function agentSays(text, delay = 1000) {
  const chat = state.id;
  setTimeout(() => {
    if (state.id === chat && !state.ended) post('agent', text);
  }, delay);
}

function setOpen(value) {
  open = value;
  save();
  render();
  if (open && !state.ended) input.focus();
}

toggle.addEventListener('click', () => setOpen(!open));
el('chat-minimize').addEventListener('click', () => {
  setOpen(false);
  toggle.focus();
});
panel.addEventListener('keydown', (/** @type {KeyboardEvent} */ e) => {
  if (e.key === 'Escape') {
    setOpen(false);
    toggle.focus();
  }
});

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = input.value.trim();
  if (!text || state.ended) return;
  input.value = '';
  post('me', text);
  agentSays(REPLIES[Math.min(state.replies++, REPLIES.length - 1)]);
  save();
});

share.addEventListener('click', async () => {
  const cobrowse = window.Cobrowse;
  if (!cobrowse || typeof cobrowse.start !== 'function') {
    post('system', 'Screen sharing is not available right now.');
    return;
  }
  const chat = state.id;
  share.disabled = true;
  share.setAttribute('aria-busy', 'true');
  try {
    const session = await cobrowse.start({ interaction: { id: chat, channel: 'chat' } });
    if (session && session.id && state.id === chat && !state.ended) {
      state.sessionId = spaced(session.id);
      post('me', `My co-browse ID is ${state.sessionId}`);
      agentSays(
        `Thanks! I’m joining session ${state.sessionId} now. You will see a notice when I’m connected.`,
        1500,
      );
    }
  } catch (err) {
    post('system', `Screen sharing did not start${err && err.message ? `: ${err.message}` : '.'}`);
  } finally {
    share.disabled = false;
    share.removeAttribute('aria-busy');
  }
});

end.addEventListener('click', () => {
  post('agent', 'Thanks for chatting with Northwind. Have a great time outside!');
  post(
    'system',
    state.sessionId ? 'You ended the chat. Screen sharing has stopped.' : 'You ended the chat.',
  );
  state.ended = true;
  state.sessionId = null;
  save();
  render();
  // Ending the chat (the primary interaction) also ends its co-browse session.
  const cobrowse = window.Cobrowse;
  try {
    const result = cobrowse && cobrowse.endInteraction && cobrowse.endInteraction();
    if (result && typeof result.catch === 'function') result.catch(() => {});
  } catch {
    /* the chat has ended anyway */
  }
});

again.addEventListener('click', () => {
  state = newChat();
  save();
  render();
  input.focus();
});

if (window.Cobrowse && typeof window.Cobrowse.on === 'function') {
  // Leave room for the co-browse toolbar (bottom centre) while a session runs.
  const room = (on) => root.classList.toggle('cobrowsing', on);
  window.Cobrowse.on('sessionStarted', () => room(true));
  window.Cobrowse.on('sessionResumed', () => room(true));
  window.Cobrowse.on('sessionEnded', () => room(false));
  window.Cobrowse.on('sessionEnded', () => {
    if (!state.sessionId) return;
    state.sessionId = null;
    post('system', 'Screen sharing has ended.');
  });
}

render();
