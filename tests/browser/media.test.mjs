// Media play state: an <audio> or <video> playing on the customer's page plays in the agent's
// view (muted there), and pauses when the customer pauses it; one already playing when the
// agent joins plays from the start.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { requirements, setup, waitFor } from './harness.mjs';

const skip = requirements();
let h;
before(async () => {
  if (!skip) h = await setup();
});
after(async () => {
  if (h) await h.close();
});

/** `{id: paused}` of the customer's media elements. */
const customerStates = (c) =>
  c.evaluate(() =>
    Object.fromEntries([...document.querySelectorAll('audio,video')].map((m) => [m.id, m.paused])),
  );
/** Waits until the agent view's media have the wanted play state (`{id: paused}`). */
const agentHas = (a, want) =>
  waitFor(
    a,
    (w) => {
      const d = window.cobrowseAgent.mirror.frame.contentDocument;
      return Object.keys(w).every((k) => {
        const m = d.getElementById(k);
        return m && m.paused === w[k];
      });
    },
    want,
    8000,
  ).catch(async (e) => {
    const got = await a.evaluate(() =>
      [...window.cobrowseAgent.mirror.frame.contentDocument.querySelectorAll('audio,video')].map(
        (m) => `${m.id} paused=${m.paused} t=${m.currentTime}`,
      ),
    );
    throw new Error(`${e.message}\nwanted ${JSON.stringify(want)}, agent view: ${got.join(', ')}`);
  });

test('media: play and pause on the customer side are followed in the agent view', {
  skip,
}, async () => {
  const c = await h.customer('media.html');
  await waitFor(c, () => !document.getElementById('clip').paused, null, 5000);
  const id = await h.start(c);
  const a = await h.agent(id);
  try {
    assert.deepEqual(await customerStates(c), { song: true, clip: false });
    await agentHas(a, { song: true, clip: false });
    assert.ok(
      await a.evaluate(() =>
        [
          ...window.cobrowseAgent.mirror.frame.contentDocument.querySelectorAll('audio,video'),
        ].every((m) => m.muted),
      ),
      'the agent never hears the page',
    );
    await c.evaluate(() => document.getElementById('song').play());
    await agentHas(a, { song: false, clip: false });
    await c.evaluate(() => {
      document.getElementById('song').pause();
      document.getElementById('clip').pause();
    });
    await agentHas(a, { song: true, clip: true });
    await c.evaluate(() => document.getElementById('clip').play());
    await agentHas(a, { song: true, clip: false });
  } finally {
    await c.evaluate(() => window.Cobrowse.stop()).catch(() => {});
    await c.context().close();
    await a.context().close();
  }
});
