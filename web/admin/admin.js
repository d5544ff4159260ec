// The administration console: live sessions, history, DOM restrictions (form, JSON, versions,
// visual editor), accounts, API keys and webhooks. Plain ES module, no build step. Everything
// it shows comes from /api/v1 (see /api/v1/openapi.json); the server decides who may do what.

import { offerSignIns } from '../agent/sign-in-options.js';

/** The element with this id: an input, a table, a dialog… as the caller knows. @returns {any} */
const $ = (id) => document.getElementById(id);
const spaced = (id) => String(id).replace(/(\d{3})(?=\d)/g, '$1 ');

/**
 * `h('td', {class: 'x', onclick}, 'text', child…)`: a small DOM builder (text is never parsed as
 * HTML).
 */
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat())
    if (k !== null && k !== undefined && k !== false) el.append(k instanceof Node ? k : String(k));
  return el;
}

const REASONS = {
  customer_exit: 'Customer exited',
  agent_exit: 'Agent exited',
  interaction_ended: 'Chat or call ended',
  inactivity: 'Inactivity timeout',
  agent_gone: 'Agent connection lost',
  customer_gone: 'Customer left',
  join_timeout: 'No agent joined in time',
  ended_by_api: 'Ended by an administrator or the API',
  server_shutdown: 'Server shut down',
};
const LISTS = { mask: 'Mask', disable: 'Disable control', block: 'Block' };

/** A long address that may wrap after its slashes and question marks. */
const url = (u) => {
  const f = document.createDocumentFragment();
  String(u || '')
    .split(/(?<=[/?&])/)
    .forEach((part, i) => {
      if (i) f.append(document.createElement('wbr'));
      f.append(part);
    });
  return f;
};
const when = (ms) =>
  ms ? new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }) : '—';
const time = (ms) => (ms ? new Date(ms).toLocaleTimeString() : '—');
function duration(ms) {
  if (ms === null || ms === undefined || ms < 0) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return s + ' s';
  const m = Math.floor(s / 60);
  if (m < 60) return m + ' min ' + (s % 60) + ' s';
  return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
}

let me = null;

/** Calls the API; 401 means the sign-in is gone: back to the sign-in form. */
async function api(method, path, body) {
  let r;
  try {
    r = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return { ok: false, status: 0, data: null, message: 'The server could not be reached.' };
  }
  let data = null;
  try {
    data = await r.json();
  } catch {}
  const e = data && data.error;
  const res = {
    ok: r.ok,
    status: r.status,
    data,
    error: e,
    message: e ? e.message : r.ok ? '' : 'The server answered ' + r.status + '.',
  };
  if (r.status === 401 && me && !path.startsWith('/auth/')) {
    me = null;
    screen('signin');
    showError('signin-error', 'Your sign-in has expired: sign in again.');
  }
  return res;
}

function showError(id, message) {
  const e = $(id);
  e.hidden = !message;
  e.textContent = message ? message.charAt(0).toUpperCase() + message.slice(1) : '';
}
let toastTimer = 0;
function toast(text) {
  const t = $('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), 4000);
}

/** A modal question; resolves with true (or the typed value) or null. */
function ask({ title, text, ok = 'OK', danger = true, input = null, check = null }) {
  const d = $('confirm');
  $('confirm-h').textContent = title;
  $('confirm-p').textContent = text || '';
  const extra = $('confirm-extra');
  extra.replaceChildren();
  let field = null;
  if (input) {
    field = h('input', {
      id: 'confirm-input',
      type: input.type || 'text',
      autocomplete: input.autocomplete || 'off',
    });
    extra.append(h('label', { for: 'confirm-input' }, input.label), field);
  }
  showError('confirm-error', '');
  $('confirm-ok').textContent = ok;
  $('confirm-ok').className = 'btn ' + (danger ? 'btn-danger' : 'btn-primary');
  d.showModal();
  (field || $('confirm-cancel')).focus();
  return new Promise((resolve) => {
    const done = (v) => {
      d.close();
      $('confirm-ok').onclick = $('confirm-cancel').onclick = d.oncancel = null;
      resolve(v);
    };
    $('confirm-ok').onclick = async () => {
      const v = field ? field.value : true;
      if (check) {
        const problem = await check(v);
        if (problem) return showError('confirm-error', problem);
      }
      done(v);
    };
    $('confirm-cancel').onclick = () => done(null);
    d.oncancel = () => done(null);
    if (field)
      field.onkeydown = (e) => {
        if (e.key === 'Enter') {
          e.preventDefault();
          $('confirm-ok').click();
        }
      };
  });
}

// ---- screens and tabs ----

function screen(name) {
  document.body.dataset.screen = name;
  $('signin').hidden = name !== 'signin';
  $('forbidden').hidden = name !== 'forbidden';
  $('nav').hidden = name !== 'app';
  $('who').hidden = !me;
  const panels = /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('[data-panel]'));
  for (const p of panels) {
    p.hidden = name !== 'app' || p.dataset.panel !== current;
  }
  if (name === 'signin') {
    offerSignIns('admin', $('signin-providers'), $('signin-form'));
    setTimeout(() => $('signin-name').focus());
  }
}

const TABS = {
  live: loadLive,
  history: loadHistory,
  restrictions: loadRuleSets,
  accounts: loadAccounts,
  keys: loadKeys,
  webhooks: loadWebhooks,
};
let current = 'live';
function route() {
  const tab = location.hash.slice(1).split('/')[0];
  current = TABS[tab] ? tab : 'live';
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('data-tab') === current) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (me && me.role === 'admin') {
    screen('app');
    TABS[current]();
  }
}
addEventListener('hashchange', route);

// ---- sign-in ----

$('signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = $('signin-name').value.trim(),
    password = $('signin-password').value;
  if (!name || !password) return showError('signin-error', 'Enter your name and password.');
  const r = await api('POST', '/auth/login', { name, password });
  $('signin-password').value = '';
  if (!r.ok) {
    const code = r.error && r.error.code;
    return showError(
      'signin-error',
      r.status === 401
        ? 'Wrong name or password.'
        : code === 'disabled'
          ? 'This account is disabled.'
          : r.status === 429
            ? 'Too many attempts: wait a minute.'
            : r.message,
    );
  }
  showError('signin-error', '');
  signedIn(r.data);
});

function signedIn(who) {
  me = who;
  $('who-name').textContent = who.name + (who.role === 'admin' ? '' : ' (agent)');
  if (who.role !== 'admin') return screen('forbidden');
  route();
}

async function signOut() {
  const r = await api('POST', '/auth/logout');
  if (r.data?.provider_logout) return location.assign(r.data.provider_logout);
  me = null;
  screen('signin');
}
$('signout').addEventListener('click', signOut);
$('forbidden-signout').addEventListener('click', signOut);

// ---- live sessions ----

let liveTimer = 0;
async function loadLive() {
  clearTimeout(liveTimer);
  const r = await api('GET', '/api/v1/sessions');
  if (current !== 'live') return;
  liveTimer = setTimeout(() => current === 'live' && !document.hidden && loadLive(), 3000);
  if (!r.ok) return toast('Live sessions: ' + r.message);
  const now = Date.now(),
    list = r.data.sessions;
  $('live-updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  $('live-empty').hidden = list.length > 0;
  $('live-table').hidden = list.length === 0;
  $('live-table').tBodies[0].replaceChildren(
    ...list.map((s) =>
      h(
        'tr',
        { 'data-session': s.id },
        h('td', { class: 'mono' }, spaced(s.id)),
        h(
          'td',
          {},
          h(
            'span',
            { class: 'badge ' + s.state },
            s.state === 'active' ? 'active' : 'waiting for agent',
          ),
          s.customer_connected
            ? ''
            : h(
                'span',
                { class: 'badge away', title: 'The customer page is reloading or changing' },
                'customer away',
              ),
        ),
        h('td', {}, s.agent || '—'),
        h(
          'td',
          { class: 'page' },
          h('div', {}, s.title || '(untitled)'),
          h('div', { class: 'url' }, url(s.url)),
        ),
        h('td', {}, s.state === 'active' ? (s.mode === 'write' ? 'write' : 'pointer') : '—'),
        h('td', {}, duration(now - s.created_at)),
        h(
          'td',
          {},
          h(
            'button',
            {
              class: 'btn btn-small btn-danger-outline',
              type: 'button',
              'data-end': s.id,
              onclick: () => endSession(s),
            },
            'End',
          ),
        ),
      ),
    ),
  );
}
$('live-refresh').addEventListener('click', loadLive);

async function endSession(s) {
  const ok = await ask({
    title: `End session ${spaced(s.id)}?`,
    text: `The customer${s.agent ? ' and ' + s.agent : ''} will be told the session was ended by the contact center.`,
    ok: 'End session',
  });
  if (!ok) return;
  const r = await api('POST', `/api/v1/sessions/${s.id}/end`);
  toast(r.ok ? `Session ${spaced(s.id)} ended.` : 'Could not end it: ' + r.message);
  loadLive();
}

// ---- history ----

$('h-reason').append(...Object.entries(REASONS).map(([k, v]) => h('option', { value: k }, v)));
function dayStart(value, plusDays = 0) {
  const [y, m, d] = value.split('-').map(Number);
  return new Date(y, m - 1, d + plusDays).getTime();
}
async function loadHistory() {
  const q = new URLSearchParams({ limit: '200' });
  if ($('h-from').value) q.set('from', String(dayStart($('h-from').value)));
  if ($('h-to').value) q.set('to', String(dayStart($('h-to').value, 1)));
  if ($('h-agent').value.trim()) q.set('agent', $('h-agent').value.trim());
  if ($('h-reason').value) q.set('reason', $('h-reason').value);
  const r = await api('GET', '/api/v1/history?' + q);
  if (!r.ok) return showError('history-error', r.message);
  showError('history-error', '');
  const list = r.data.sessions;
  $('history-empty').hidden = list.length > 0;
  $('history-table').tBodies[0].replaceChildren(
    ...list.map((s) =>
      h(
        'tr',
        { 'data-key': s.key },
        h(
          'td',
          {},
          h(
            'button',
            {
              class: 'link mono',
              type: 'button',
              onclick: () => showDetail(s.key),
              'aria-label': 'Details of session ' + spaced(s.session_id),
            },
            spaced(s.session_id),
          ),
        ),
        h('td', {}, when(s.created_at)),
        h(
          'td',
          {},
          s.ended_at
            ? duration(s.ended_at - s.created_at)
            : h('span', { class: 'badge active' }, 'live'),
        ),
        h('td', {}, s.agent || '—'),
        h(
          'td',
          {},
          s.end_reason
            ? h(
                'span',
                { class: 'reason', title: s.end_reason },
                REASONS[s.end_reason] || s.end_reason,
              )
            : '—',
        ),
        h('td', { class: 'url' }, url(s.first_url)),
      ),
    ),
  );
}
$('history-filter').addEventListener('submit', (e) => {
  e.preventDefault();
  loadHistory();
});
$('h-clear').addEventListener('click', () => {
  $('history-filter').reset();
  loadHistory();
});

async function showDetail(key) {
  const r = await api('GET', '/api/v1/history/' + encodeURIComponent(key));
  const box = $('history-detail');
  box.hidden = false;
  for (const t of document.querySelectorAll('#history-table tr.selected')) {
    t.classList.remove('selected');
  }
  const row = document.querySelector(`#history-table tr[data-key="${CSS.escape(key)}"]`);
  if (row) row.classList.add('selected');
  if (!r.ok) return box.replaceChildren(h('p', { class: 'error' }, r.message));
  const d = r.data;
  const item = (label, value) => [h('dt', {}, label), h('dd', {}, value)];
  const mode = (e) =>
    e.kind === 'mode_changed'
      ? e.mode === 'write'
        ? 'Write mode (' + e.cause + ')'
        : 'Pointer mode (' + e.cause + ')'
      : 'Control ' + e.outcome.replace('_', ' ');
  box.replaceChildren(
    h(
      'div',
      { class: 'head' },
      h('h2', {}, 'Session ', h('span', { class: 'mono' }, spaced(d.session_id))),
      h('span', { class: 'spacer' }),
      h(
        'button',
        { class: 'btn btn-small', type: 'button', onclick: () => (box.hidden = true) },
        'Close',
      ),
    ),
    h(
      'dl',
      {},
      item('Started', when(d.created_at)),
      item(
        'Agent joined',
        d.activated_at ? when(d.activated_at) + (d.agent ? ' — ' + d.agent : '') : 'never',
      ),
      item('Ended', d.ended_at ? when(d.ended_at) : 'still live'),
      item('Duration', d.ended_at ? duration(d.ended_at - d.created_at) : '—'),
      item(
        'End reason',
        d.end_reason ? (REASONS[d.end_reason] || d.end_reason) + ' (' + d.end_reason + ')' : '—',
      ),
      d.interaction_id
        ? item('Interaction', d.interaction_id + (d.channel ? ' (' + d.channel + ')' : ''))
        : null,
    ),
    h('h3', {}, 'Pages visited'),
    h(
      'ol',
      { class: 'timeline', id: 'detail-pages' },
      d.pages.map((p) =>
        h(
          'li',
          {},
          h('time', {}, time(p.at)),
          h(
            'span',
            {},
            p.title ? h('strong', {}, p.title + ' ') : '',
            h('span', { class: 'url' }, p.url),
          ),
        ),
      ),
    ),
    h('h3', {}, 'Mode changes'),
    d.mode_changes.length
      ? h(
          'ol',
          { class: 'timeline', id: 'detail-modes' },
          d.mode_changes.map((m) => h('li', {}, h('time', {}, time(m.at)), mode(m))),
        )
      : h('p', { class: 'muted' }, 'Pointer mode throughout.'),
    h(
      'details',
      {},
      h('summary', {}, 'All events (' + d.events.length + ')'),
      h(
        'ol',
        { class: 'timeline' },
        d.events.map((e) =>
          h(
            'li',
            {},
            h('time', {}, time(e.at)),
            e.kind.replace('_', ' '),
            ' ',
            h(
              'span',
              { class: 'muted' },
              JSON.stringify(
                Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'at' && k !== 'kind')),
              ),
            ),
          ),
        ),
      ),
    ),
  );
  box.focus && box.setAttribute('tabindex', '-1');
  box.focus();
  showTrail(d);
}

/** What the audit trail's kinds say to a person; the consent moments are highlighted. */
const AUDIT_KINDS = {
  'session.created': 'Session started',
  'agent.joined': 'Agent joined',
  'agent.reconnected': 'Agent reconnected',
  'presence.gone': 'Connection lost',
  'presence.back': 'Connection back',
  'control.requested': 'Agent asked for control',
  'control.allowed': 'Customer allowed control',
  'control.denied': 'Customer denied control',
  'control.timed_out': 'Control request timed out',
  'control.revoked': 'Customer took control back',
  'page.visited': 'Page visited',
  'agent.action': 'Agent action',
  'agent.action_refused': 'Agent action refused',
  'session.ended': 'Session ended',
};

/**
 * A session's audit trail under its detail: who did what, consent moments highlighted, and
 * whether the server's signed checkpoints vouch that nothing was edited.
 * @param {{session_id: string, created_at: number, ended_at?: number | null}} d
 */
async function showTrail(d) {
  const q = new URLSearchParams({ session: d.session_id, from: String(d.created_at) });
  if (d.ended_at) q.set('to', String(d.ended_at));
  const r = await api('GET', '/api/v1/audit?' + q);
  const box = $('history-detail');
  if (!r.ok) return box.append(h('p', { class: 'error' }, r.message));
  const v = r.data.verification;
  const mark = v.verified
    ? h(
        'span',
        { class: 'badge on', id: 'audit-verified', title: 'Hash chains and signatures check out' },
        '✓ verified',
      )
    : h('span', { class: 'badge away', id: 'audit-verified', title: v.failure }, '✗ not verified');
  box.append(
    h('h3', {}, 'Audit trail ', mark),
    v.failure ? h('p', { class: 'error' }, v.failure) : null,
    h(
      'ol',
      { class: 'timeline', id: 'detail-audit' },
      r.data.records.map((e) =>
        h(
          'li',
          { class: e.kind.startsWith('control.') ? 'consent' : null, 'data-kind': e.kind },
          h('time', {}, time(e.at)),
          AUDIT_KINDS[e.kind] || e.kind,
          ' ',
          h('span', { class: 'muted' }, e.actor + ' ' + JSON.stringify(e.detail)),
        ),
      ),
    ),
  );
}

// ---- DOM restrictions ----

let ruleSets = [];
/** The set in the edit pane: null for a new one. */
let editing = null;

async function loadRuleSets() {
  const r = await api('GET', '/api/v1/admin/rule-sets');
  if (!r.ok) return toast('Rule sets: ' + r.message);
  ruleSets = r.data.rule_sets;
  $('rs-empty').hidden = ruleSets.length > 0;
  $('rs-table').hidden = ruleSets.length === 0;
  $('rs-table').tBodies[0].replaceChildren(
    ...ruleSets.map((s) =>
      h(
        'tr',
        { 'data-rule-set': s.name, class: editing && editing.id === s.id ? 'selected' : '' },
        h(
          'td',
          {},
          h('button', { class: 'link', type: 'button', onclick: () => openRuleSet(s) }, s.name),
        ),
        h('td', { class: 'url' }, url(s.url_pattern)),
        h('td', { class: 'num' }, s.rules.mask.length),
        h('td', { class: 'num' }, s.rules.disable.length),
        h('td', { class: 'num' }, s.rules.block.length),
        h(
          'td',
          {},
          'v' + s.version,
          h('div', { class: 'muted small' }, s.updated_by + ', ' + when(s.updated_at)),
        ),
      ),
    ),
  );
  const sel = $('ed-set'),
    keep = sel.value;
  sel.replaceChildren(
    h('option', { value: '' }, 'A new rule set named after the page'),
    ...ruleSets.map((s) => h('option', { value: s.name }, s.name + ' — ' + s.url_pattern)),
  );
  sel.value = ruleSets.some((s) => s.name === keep) ? keep : '';
}

const lines = (id) =>
  $(id)
    .value.split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
function formValue() {
  return {
    name: $('rs-name').value.trim(),
    url_pattern: $('rs-pattern').value.trim(),
    rules: { mask: lines('rs-mask'), disable: lines('rs-disable'), block: lines('rs-block') },
  };
}
function fillForm(v) {
  $('rs-name').value = v.name || '';
  $('rs-pattern').value = v.url_pattern || '';
  for (const k of Object.keys(LISTS)) $('rs-' + k).value = ((v.rules || {})[k] || []).join('\n');
}
let asJson = false;
function setView(json) {
  if (json === asJson) return true;
  if (json) $('rs-json').value = JSON.stringify(formValue(), null, 2);
  else {
    let v;
    try {
      v = JSON.parse($('rs-json').value);
    } catch (e) {
      showError('rs-error', 'The JSON does not parse: ' + e.message);
      return false;
    }
    fillForm(v);
  }
  showError('rs-error', '');
  asJson = json;
  $('rs-form').hidden = json;
  $('rs-json-box').hidden = !json;
  $('rs-as-form').setAttribute('aria-selected', String(!json));
  $('rs-as-json').setAttribute('aria-selected', String(json));
  return true;
}
$('rs-as-form').addEventListener('click', () => setView(false));
$('rs-as-json').addEventListener('click', () => setView(true));

function openRuleSet(set) {
  editing = set ? { id: set.id, version: set.version, name: set.name } : null;
  $('rs-edit').hidden = false;
  $('rs-edit-h').textContent = set ? set.name : 'New rule set';
  $('rs-delete').hidden = !set;
  asJson = false;
  $('rs-form').hidden = false;
  $('rs-json-box').hidden = true;
  $('rs-as-form').setAttribute('aria-selected', 'true');
  $('rs-as-json').setAttribute('aria-selected', 'false');
  fillForm(set || { name: '', url_pattern: '', rules: {} });
  showError('rs-error', '');
  const rows = /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('#rs-table tr'));
  for (const t of rows) {
    t.classList.toggle('selected', !!set && t.dataset.ruleSet === set.name);
  }
  for (const id of ['rs-mask', 'rs-disable', 'rs-block', 'rs-name', 'rs-pattern'])
    $(id).removeAttribute('aria-invalid');
  $('rs-versions').replaceChildren();
  if (set) loadVersions(set.id);
  $('rs-name').focus();
}
$('rs-new').addEventListener('click', () => openRuleSet(null));
$('rs-cancel').addEventListener('click', () => {
  $('rs-edit').hidden = true;
  editing = null;
  loadRuleSets();
});

/** Points at the selector the server refused: its list, its line. */
function markInvalid(err) {
  const m = /^(mask|disable|block)\[(\d+)\]$/.exec(err.field || '');
  const target = m
    ? 'rs-' + m[1]
    : err.field === 'name'
      ? 'rs-name'
      : err.field === 'url_pattern'
        ? 'rs-pattern'
        : null;
  if (!target) return;
  if (asJson) return;
  const el = $(target);
  el.setAttribute('aria-invalid', 'true');
  el.focus();
  if (m) {
    const all = el.value.split('\n');
    let seen = -1,
      start = 0;
    for (let i = 0; i < all.length; i++) {
      if (all[i].trim()) seen++;
      if (seen === +m[2]) {
        el.setSelectionRange(start, start + all[i].length);
        break;
      }
      start += all[i].length + 1;
    }
  }
}

$('rs-save').addEventListener('click', async () => {
  for (const id of ['rs-mask', 'rs-disable', 'rs-block', 'rs-name', 'rs-pattern'])
    $(id).removeAttribute('aria-invalid');
  let v;
  if (asJson) {
    try {
      v = JSON.parse($('rs-json').value);
    } catch (e) {
      return showError('rs-error', 'The JSON does not parse: ' + e.message);
    }
  } else v = formValue();
  const body = { name: v.name, url_pattern: v.url_pattern, rules: v.rules || {} };
  const r = editing
    ? await api('PUT', '/api/v1/admin/rule-sets/' + editing.id, {
        ...body,
        version: editing.version,
      })
    : await api('POST', '/api/v1/admin/rule-sets', body);
  if (!r.ok) {
    if (r.error && r.error.code === 'invalid_rule') {
      const where = /^(mask|disable|block)\[(\d+)\]$/.exec(r.error.field);
      const what = where
        ? `${LISTS[where[1]]}, line ${+where[2] + 1}: “${r.error.value}”`
        : r.error.field === 'url_pattern'
          ? 'URL pattern'
          : r.error.field === 'name'
            ? 'Name'
            : r.error.field;
      showError('rs-error', `Not saved. ${what} — ${r.error.why}`);
      return markInvalid(r.error);
    }
    return showError('rs-error', 'Not saved: ' + r.message);
  }
  showError('rs-error', '');
  const set = r.data.rule_set;
  toast(
    `Rule set “${set.name}” saved (version ${set.version}). It applies from the next session or page load.`,
  );
  await loadRuleSets();
  openRuleSet(set);
});

$('rs-delete').addEventListener('click', async () => {
  if (!editing) return;
  const ok = await ask({
    title: `Delete “${editing.name}”?`,
    text: 'Its rules stop applying from the next session or page load. Its versions are kept.',
    ok: 'Delete rule set',
  });
  if (!ok) return;
  const r = await api('DELETE', `/api/v1/admin/rule-sets/${editing.id}?version=${editing.version}`);
  if (!r.ok) return showError('rs-error', 'Not deleted: ' + r.message);
  toast(`Rule set “${editing.name}” deleted.`);
  $('rs-edit').hidden = true;
  editing = null;
  loadRuleSets();
});

/** What changed from one version to the next, in a line. */
function changes(v, prev) {
  if (v.deleted) return ['deleted'];
  if (!prev) return ['created' + (v.version > 1 ? ' again' : '')];
  const out = [];
  if (v.name !== prev.name) out.push(`renamed “${prev.name}” → “${v.name}”`);
  if (v.url_pattern !== prev.url_pattern)
    out.push(`pattern ${prev.url_pattern} → ${v.url_pattern}`);
  for (const k of Object.keys(LISTS)) {
    for (const s of v.rules[k]) if (!prev.rules[k].includes(s)) out.push(`+ ${k} ${s}`);
    for (const s of prev.rules[k]) if (!v.rules[k].includes(s)) out.push(`− ${k} ${s}`);
  }
  return out.length ? out : ['no change'];
}
async function loadVersions(id) {
  const r = await api('GET', `/api/v1/admin/rule-sets/${id}/versions`);
  if (!r.ok || !editing || editing.id !== id) return;
  const vs = r.data.versions;
  $('rs-versions').replaceChildren(
    h('h3', {}, 'Versions'),
    h(
      'ol',
      { class: 'versions', id: 'rs-version-list' },
      vs.map((v, i) => {
        const prev = vs.slice(i + 1).find((p) => !p.deleted);
        const after = vs[i + 1];
        return h(
          'li',
          { 'data-version': v.version },
          h(
            'div',
            { class: 'vhead' },
            h('strong', {}, 'v' + v.version),
            ' ',
            h('span', { class: 'by' }, v.changed_by),
            h('span', { class: 'muted' }, ' · ' + when(v.changed_at)),
            i > 0 && !v.deleted
              ? h(
                  'button',
                  {
                    class: 'link small',
                    type: 'button',
                    onclick: () => {
                      fillForm(v);
                      if (asJson) $('rs-json').value = JSON.stringify(formValue(), null, 2);
                      toast(`Version ${v.version} loaded into the form: save to restore it.`);
                    },
                  },
                  'Restore',
                )
              : '',
          ),
          h(
            'ul',
            { class: 'diff' },
            changes(v, after && after.deleted ? null : prev).map((c) =>
              h('li', { class: c[0] === '+' ? 'add' : c[0] === '−' ? 'del' : '' }, c),
            ),
          ),
        );
      }),
    ),
  );
}

$('preview-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const url = $('pv-url').value.trim();
  if (!url) return;
  const r = await api('GET', '/api/v1/admin/rule-sets?url=' + encodeURIComponent(url));
  const out = $('preview-out');
  if (!r.ok) return out.replaceChildren(h('p', { class: 'error' }, r.message));
  const { rule_sets: sets, rules } = r.data;
  out.replaceChildren(
    h(
      'p',
      {},
      sets.length
        ? 'Applies: ' + sets.map((s) => s.name).join(', ')
        : 'No rule set matches this address: only the built-in masking applies.',
    ),
    ...Object.entries(LISTS)
      .filter(([k]) => rules[k].length)
      .map(([k, label]) =>
        h('p', {}, h('strong', {}, label + ': '), h('code', {}, rules[k].join(', '))),
      ),
  );
});

$('editor-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  showError('editor-error', '');
  $('editor-ok').hidden = true;
  const url = $('ed-url').value.trim();
  if (!url) return showError('editor-error', 'Give the address of a page of your site.');
  // Opened now (while the click counts as the user's), pointed at the page once the server answers.
  const win = window.open('about:blank', '_blank');
  if (win) win.opener = null;
  const body = { url };
  if ($('ed-set').value) body.rule_set = $('ed-set').value;
  if ($('ed-pattern').value.trim()) body.url_pattern = $('ed-pattern').value.trim();
  const r = await api('POST', '/api/v1/admin/editor', body);
  if (!r.ok) {
    if (win) win.close();
    return showError(
      'editor-error',
      r.error && r.error.why ? `${r.error.field}: ${r.error.why}` : r.message,
    );
  }
  const d = r.data;
  if (win) win.location.href = d.open_url;
  const ok = $('editor-ok');
  ok.hidden = false;
  ok.replaceChildren(
    win ? 'The editor opened in a new tab. ' : 'Your browser blocked the new tab: ',
    h(
      'a',
      { href: d.open_url, target: '_blank', rel: 'noopener noreferrer', id: 'ed-link' },
      win ? 'Open it here if it did not' : 'open the editor',
    ),
    ` (once, before ${time(d.expires_at)}). It saves into “${d.rule_set}”, pattern ${d.url_pattern}.`,
    d.pattern_matches_page
      ? ''
      : h('strong', {}, ' Note: this pattern does not cover the page itself.'),
  );
});
$('ed-stop').addEventListener('click', async () => {
  const r = await api('DELETE', '/api/v1/admin/editor');
  toast(
    r.ok
      ? r.data.removed
        ? `Stopped ${r.data.removed} editor grant(s): open overlays can no longer save.`
        : 'No editor session was open.'
      : r.message,
  );
});

// ---- accounts ----

async function loadAccounts() {
  const r = await api('GET', '/api/v1/admin/accounts');
  if (!r.ok) return toast('Accounts: ' + r.message);
  $('acc-table').tBodies[0].replaceChildren(
    ...r.data.accounts.map((a) =>
      h(
        'tr',
        { 'data-account': a.name },
        h(
          'td',
          {},
          h('strong', {}, a.name),
          a.name === me.name ? h('span', { class: 'muted' }, ' (you)') : '',
        ),
        h(
          'td',
          {},
          a.role === 'admin' ? 'Administrator' : 'Agent',
          a.sso_provider ? h('span', { class: 'muted' }, ` · signs in with ${a.sso_provider}`) : '',
        ),
        h(
          'td',
          {},
          h(
            'span',
            { class: 'badge ' + (a.disabled ? 'off' : 'on') },
            a.disabled ? 'disabled' : 'active',
          ),
        ),
        h('td', {}, when(a.created_at)),
        h(
          'td',
          { class: 'actions-cell' },
          // The provider says who may sign in as them: a password would get around it.
          a.sso_provider
            ? ''
            : h(
                'button',
                {
                  class: 'btn btn-small',
                  type: 'button',
                  'data-action': 'password',
                  onclick: () => resetPassword(a),
                },
                'Reset password',
              ),
          h(
            'button',
            {
              class: 'btn btn-small ' + (a.disabled ? '' : 'btn-danger-outline'),
              type: 'button',
              'data-action': a.disabled ? 'enable' : 'disable',
              disabled: a.name === me.name && !a.disabled,
              title: a.name === me.name ? 'You cannot disable your own account' : null,
              onclick: () => toggle(a),
            },
            a.disabled ? 'Enable' : 'Disable',
          ),
        ),
      ),
    ),
  );
}
async function toggle(a) {
  if (!a.disabled) {
    const ok = await ask({
      title: `Disable ${a.name}?`,
      text: 'They can no longer sign in or join sessions; their current sign-in stops working.',
      ok: 'Disable',
    });
    if (!ok) return;
  }
  const r = await api(
    'POST',
    `/api/v1/admin/accounts/${encodeURIComponent(a.name)}/${a.disabled ? 'enable' : 'disable'}`,
  );
  toast(r.ok ? `${a.name} ${a.disabled ? 'enabled' : 'disabled'}.` : r.message);
  loadAccounts();
}
async function resetPassword(a) {
  const pw = await ask({
    title: `New password for ${a.name}`,
    text: 'At least 8 characters. Tell it to them by a safe channel.',
    ok: 'Set password',
    danger: false,
    input: { label: 'New password', type: 'password', autocomplete: 'new-password' },
    check: async (v) => {
      const r = await api('POST', `/api/v1/admin/accounts/${encodeURIComponent(a.name)}/password`, {
        password: v,
      });
      return r.ok ? null : r.message;
    },
  });
  if (pw) toast(`Password of ${a.name} changed.`);
}
$('acc-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const r = await api('POST', '/api/v1/admin/accounts', {
    name: $('acc-name').value.trim(),
    role: $('acc-role').value,
    password: $('acc-password').value,
  });
  if (!r.ok) return showError('acc-error', r.message);
  showError('acc-error', '');
  $('acc-form').reset();
  toast(
    `${r.data.account.role === 'admin' ? 'Administrator' : 'Agent'} ${r.data.account.name} added.`,
  );
  loadAccounts();
});

// ---- API keys ----

async function loadKeys() {
  const r = await api('GET', '/api/v1/admin/api-keys');
  if (!r.ok) return toast('API keys: ' + r.message);
  const keys = r.data.api_keys;
  $('keys-empty').hidden = keys.length > 0;
  $('keys-table').hidden = keys.length === 0;
  $('keys-table').tBodies[0].replaceChildren(
    ...keys.map((k) =>
      h(
        'tr',
        { 'data-key-id': k.id },
        h('td', {}, h('strong', {}, k.name)),
        h('td', { class: 'mono' }, k.prefix + '…'),
        h('td', {}, when(k.created_at)),
        h(
          'td',
          {},
          k.revoked_at
            ? h('span', { class: 'badge off' }, 'revoked ' + when(k.revoked_at))
            : h('span', { class: 'badge on' }, 'active'),
        ),
        h(
          'td',
          {},
          k.revoked_at
            ? ''
            : h(
                'button',
                {
                  class: 'btn btn-small btn-danger-outline',
                  type: 'button',
                  onclick: () => revokeKey(k),
                },
                'Revoke',
              ),
        ),
      ),
    ),
  );
}
async function revokeKey(k) {
  const ok = await ask({
    title: `Revoke the key “${k.name}”?`,
    text: 'Whatever uses it is refused from now on. This cannot be undone.',
    ok: 'Revoke key',
  });
  if (!ok) return;
  const r = await api('POST', `/api/v1/admin/api-keys/${k.id}/revoke`);
  toast(r.ok ? `Key “${k.name}” revoked.` : r.message);
  loadKeys();
}
function shownOnce(box, label, secret) {
  const b = $(box);
  b.hidden = false;
  const copy = h(
    'button',
    {
      class: 'btn btn-small',
      type: 'button',
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(secret);
          copy.textContent = 'Copied';
        } catch {
          copy.textContent = 'Select and copy';
        }
      },
    },
    'Copy',
  );
  b.replaceChildren(
    h(
      'p',
      {},
      h('strong', {}, label),
      ' Keep it now: it is stored hashed and will not be shown again.',
    ),
    h('div', { class: 'row' }, h('code', { class: 'secret-value' }, secret), copy),
  );
}
$('key-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const r = await api('POST', '/api/v1/admin/api-keys', { name: $('key-name').value.trim() });
  if (!r.ok) return showError('key-error', r.message);
  showError('key-error', '');
  $('key-form').reset();
  shownOnce('key-new', `New key “${r.data.api_key.name}”.`, r.data.key);
  loadKeys();
});

// ---- webhooks ----

async function loadWebhooks() {
  const [w, d] = await Promise.all([
    api('GET', '/api/v1/admin/webhooks'),
    api('GET', '/api/v1/admin/webhooks/deliveries?limit=50'),
  ]);
  if (!w.ok) return toast('Webhooks: ' + w.message);
  const rows = [
    ...w.data.configured.map((c) =>
      h(
        'tr',
        {},
        h('td', { class: 'url' }, c.url),
        h('td', {}, h('span', { class: 'muted' }, 'from the configuration file')),
        h('td', {}),
      ),
    ),
    ...w.data.webhooks.map((x) =>
      h(
        'tr',
        { 'data-webhook': x.id },
        h('td', { class: 'url' }, x.url),
        h('td', {}, when(x.created_at)),
        h(
          'td',
          {},
          h(
            'button',
            {
              class: 'btn btn-small btn-danger-outline',
              type: 'button',
              onclick: () => removeHook(x),
            },
            'Remove',
          ),
        ),
      ),
    ),
  ];
  $('wh-empty').hidden = rows.length > 0;
  $('wh-table').hidden = rows.length === 0;
  $('wh-table').tBodies[0].replaceChildren(...rows);
  const list = d.ok ? d.data.deliveries : [];
  $('dl-empty').hidden = list.length > 0;
  $('dl-table').hidden = list.length === 0;
  $('dl-table').tBodies[0].replaceChildren(
    ...list.map((x) =>
      h(
        'tr',
        {},
        h('td', {}, when(x.at)),
        h('td', { class: 'mono' }, x.event),
        h('td', { class: 'url' }, x.url),
        h(
          'td',
          {},
          h('span', { class: 'badge ' + (x.status === 'delivered' ? 'on' : 'off') }, x.status),
        ),
        h('td', { class: 'num' }, x.attempts),
        h('td', { class: 'muted' }, x.error || ''),
      ),
    ),
  );
}
async function removeHook(x) {
  const ok = await ask({
    title: 'Remove this webhook?',
    text: x.url + ' gets no more events.',
    ok: 'Remove',
  });
  if (!ok) return;
  const r = await api('DELETE', `/api/v1/admin/webhooks/${x.id}`);
  toast(r.ok ? 'Webhook removed.' : r.message);
  loadWebhooks();
}
$('wh-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = { url: $('wh-url').value.trim() };
  if ($('wh-secret').value) body.secret = $('wh-secret').value;
  const r = await api('POST', '/api/v1/admin/webhooks', body);
  if (!r.ok) return showError('wh-error', r.message);
  showError('wh-error', '');
  $('wh-form').reset();
  if (r.data.secret) shownOnce('wh-new', 'Signing secret of the new webhook.', r.data.secret);
  else {
    $('wh-new').hidden = true;
    toast('Webhook added.');
  }
  loadWebhooks();
});

// ---- start ----

(async () => {
  const r = await api('GET', '/auth/me');
  if (r.ok) signedIn(r.data);
  else screen('signin');
})();
