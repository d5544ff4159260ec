// Every way a session ends, as the customer sees it: a notice in plain words for each end
// reason (the server's timeouts are short here: the inactivity notice says how long), and the
// agent is told too.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { requirements, setup, waitFor } from './harness.mjs';

const skip = requirements();
let h, key;
before(async () => {
  if (skip) return;
  h = await setup({
    env: {
      COBROWSE_TIMEOUTS__JOIN: '5s',
      COBROWSE_TIMEOUTS__INACTIVITY: '5s',
      COBROWSE_TIMEOUTS__AGENT_GRACE: '2s',
      COBROWSE_TIMEOUTS__CUSTOMER_GRACE: '2s',
    },
  });
  key = h.cli(['apikey', 'create', 'browser-tests']);
});
after(async () => {
  if (h) await h.close();
});

/** Waits for the customer's "session ended" notice and returns its reason and words. */
async function endNotice(c, ms = 10000) {
  return waitFor(
    c,
    () => {
      const n = document
        .querySelector('[data-cobrowse-ui]')
        ?.shadowRoot.querySelector('.n[data-reason]');
      const s = window.Cobrowse.session; // null after the customer's own stop()
      return (
        n && (!s || s.state === 'ended') && [n.dataset.reason, n.querySelector('span').textContent]
      );
    },
    null,
    ms,
  );
}
const api = (p) =>
  fetch(h.server + '/api/v1' + p, { method: 'POST', headers: { authorization: 'Bearer ' + key } });
const agentEnded = (a) =>
  waitFor(
    a,
    () =>
      document.getElementById('state').dataset.state === 'ended' &&
      document.getElementById('notice-h').textContent,
    null,
    10000,
  );

const WORDS = {
  customer_exit: /You ended co-browsing/,
  agent_exit: /The agent left the session/,
  interaction_ended: /Your chat or call ended/,
  ended_by_api: /The support team ended co-browsing/,
  inactivity: /^Co-browsing timed out after 5 seconds of inactivity\.$/,
  agent_gone: /agent’s connection was lost/,
  join_timeout: /No agent joined in time/,
  customer_gone: /^You were away from this site too long, so co-browsing stopped\.$/,
  server_shutdown: /service restarted/,
};

/** A customer with a session, and (unless `agent: false`) an agent in it. */
async function session(opts = {}) {
  const c = await h.customer(opts.page || 'control.html');
  const id = await c.evaluate((o) => window.Cobrowse.start(o).then((s) => s.id), opts.start || {});
  const a = opts.agent === false ? null : await h.agent(id);
  if (a) await waitFor(c, () => window.Cobrowse.session.state === 'active');
  return { c, a, id };
}
const close = async (...pages) => {
  for (const p of pages)
    if (p)
      await p
        .context()
        .close()
        .catch(() => {});
};

test('ends by someone: customer exit, agent exit, the interaction ended (API), ended by the API', {
  skip,
}, async () => {
  let { c, a } = await session();
  await c.locator('[data-cobrowse-ui]').locator('button[aria-label="End co-browsing"]').click();
  assert.deepEqual((await endNotice(c))[0], 'customer_exit');
  assert.match((await endNotice(c))[1], WORDS.customer_exit);
  assert.match(await agentEnded(a), /customer ended/i);
  await close(c, a);

  ({ c, a } = await session());
  await a.click('#exit');
  const [r, words] = await endNotice(c);
  assert.equal(r, 'agent_exit');
  assert.match(words, WORDS.agent_exit);
  await close(c, a);

  ({ c, a } = await session({ start: { interaction: { id: 'call-7', channel: 'call' } } }));
  assert.equal((await api('/interactions/call-7/end')).status < 300, true);
  const [r2, w2] = await endNotice(c);
  assert.equal(r2, 'interaction_ended');
  assert.match(w2, WORDS.interaction_ended);
  assert.match(await agentEnded(a), /chat or call/i);
  await close(c, a);

  const s = await session();
  ({ c, a } = s);
  const id = s.id;
  assert.equal((await api('/sessions/' + id + '/end')).status < 300, true);
  const [r3, w3] = await endNotice(c);
  assert.equal(r3, 'ended_by_api');
  assert.match(w3, WORDS.ended_by_api);
  await close(c, a);
});

test('ends by time: inactivity, the agent gone past grace, nobody joined, the customer gone past grace (told on return)', {
  skip,
}, async () => {
  // One after the other (a join must come within the join timeout), then all wait at once. The
  // agent's browser closes as soon as it joined: its grace (2 s) runs out before inactivity (5 s).
  const idle = await session(),
    gone = await session();
  await close(gone.a);
  const away = await session(),
    lonely = await session({ agent: false });
  await away.c.goto('about:blank'); // the customer leaves the site
  const results = await Promise.all([
    endNotice(idle.c, 15000),
    endNotice(gone.c, 15000),
    endNotice(lonely.c, 15000),
  ]);
  assert.deepEqual(
    results.map((x) => x[0]),
    ['inactivity', 'agent_gone', 'join_timeout'],
  );
  assert.match(results[0][1], WORDS.inactivity);
  assert.match(results[1][1], WORDS.agent_gone);
  assert.match(results[2][1], WORDS.join_timeout);
  assert.match(await agentEnded(idle.a), /timed out/i);
  assert.match(await agentEnded(away.a), /customer left/i);
  await away.c.goto(h.origin + '/control.html');
  const [r, w] = await endNotice(away.c);
  assert.equal(r, 'customer_gone');
  assert.match(w, WORDS.customer_gone);
  await close(idle.c, idle.a, gone.c, lonely.c, away.c, away.a);
});

test('the agent leaves while the customer is between pages: the next page says the agent left, not that the customer was away', {
  skip,
}, async () => {
  const s = await session();
  await s.c.goto('about:blank'); // between pages: the session waits out the customer grace period
  await s.a.click('#exit');
  await agentEnded(s.a);
  await s.c.goto(h.origin + '/control.html');
  const [r, w] = await endNotice(s.c);
  assert.equal(r, 'agent_exit');
  assert.match(w, WORDS.agent_exit);
  await close(s.c, s.a);
});

test("inactivity says how long in every built-in language; the sessionEnded event carries it (the server's after_ms)", {
  skip,
}, async () => {
  const pages = {
    'control.html': 'Co-browsing timed out after 5 seconds of inactivity.',
    'customer-fr.html': 'La co-navigation s’est arrêtée après 5 secondes d’inactivité.',
    'customer-es.html': 'La navegación compartida terminó tras 5 segundos de inactividad.',
    'customer-de-attr.html': 'Das Co-Browsing wurde nach 5 Sekunden Inaktivität beendet.',
  };
  const all = [];
  for (const page of Object.keys(pages)) {
    // joined one after the other (each idles from its join on)
    const s = await session({ page });
    await s.c.evaluate(() =>
      window.Cobrowse.on('sessionEnded', (e) => {
        window.ended = e;
      }),
    );
    all.push(s);
  }
  // Intl puts a no-break space between number and unit.
  const words = (await Promise.all(all.map(({ c }) => endNotice(c, 15000)))).map(([r, w]) => [
    r,
    w.replace(/[\u00a0\u202f]/g, ' '),
  ]);
  assert.deepEqual(
    words,
    Object.values(pages).map((w) => ['inactivity', w]),
  );
  for (const { c } of all)
    assert.deepEqual(
      await c.evaluate(() => [window.ended.reason, window.ended.afterMs]),
      ['inactivity', 5000],
      "from the server's ended message",
    );
  await close(...all.flatMap(({ c, a }) => [c, a]));
});

test("ends by the server shutting down (last: it stops this file's server)", { skip }, async () => {
  const { c, a } = await session();
  h.proc.kill('SIGTERM');
  const [r, w] = await endNotice(c);
  assert.equal(r, 'server_shutdown');
  assert.match(w, WORDS.server_shutdown);
  await close(c, a);
});
