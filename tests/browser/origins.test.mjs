// Write-mode navigation stays on the site's allowed origins: the server tells the
// customer's script the configured `allowed_origins` (and its own origin) with the session,
// and the script lets an agent's link click or navigation go to the page's own origin or one
// of those, and refuses any other (and javascript: URLs), telling the agent why. The fixture
// server answers as both http://127.0.0.1:PORT (the page's origin) and http://localhost:PORT.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { agentClick, collectNotes, writeMode } from './control-helpers.mjs';
import { requirements, setup, waitFor } from './harness.mjs';

const skip = requirements();
let h;
before(async () => {
  if (!skip)
    h = await setup({
      env: ({ origin, other }) => ({ COBROWSE_ALLOWED_ORIGINS: JSON.stringify([origin, other]) }),
    });
});
after(async () => {
  if (h) await h.close();
});

const THIRD = 'http://third.invalid';

/** A customer on control.html in write mode, with the agent's console. */
async function inWriteMode() {
  const c = await h.customer('control.html');
  const id = await h.start(c);
  const a = await h.agent(id);
  a.customer = c;
  await collectNotes(a);
  await writeMode(c, a);
  return { c, a };
}
/**
 * The agent leaves (the customer's page has gone to another origin, where the session does not
 * follow).
 */
const leave = async (c, a) => {
  await a.evaluate(() => document.getElementById('exit').click());
  await c.context().close();
  await a.context().close();
};

test('navigation: an allowed origin (localhost) is followed; a third origin and javascript: are refused, the agent told why', {
  skip,
}, async () => {
  const { c, a } = await inWriteMode();
  assert.deepEqual(
    await c.evaluate(() => window.Cobrowse._.state.origins),
    [h.origin, h.other, h.server],
    "the session tells the script the allowed origins and the server's",
  );
  await c.evaluate((u) => {
    const l = document.createElement('a');
    l.id = 'third';
    l.href = u + '/control2.html';
    l.textContent = 'third site';
    document.body.prepend(l);
  }, THIRD);
  await waitFor(
    a,
    () => window.cobrowseAgent.mirror.frame.contentDocument.getElementById('third'),
    null,
    5000,
  );
  await agentClick(a, '#third');
  await agentClick(a, '#js');
  await a.evaluate((u) => window.cobrowseAgent.control.navigate(u + '/control2.html'), THIRD);
  await waitFor(a, () => window.notes.filter((n) => n === 'origin').length === 3, null, 5000);
  assert.deepEqual(await a.evaluate(() => window.notes), ['origin', 'origin', 'origin']);
  assert.match(
    await a.locator('.cbc-toasts').textContent(),
    /leaves the site: only the customer can follow it/,
  );
  assert.equal(
    await c.evaluate(() => [location.href, document.title].join()),
    h.origin + '/control.html,Control',
    'the page stayed',
  );
  // localhost is in allowed_origins: the agent's click on the link takes the customer there.
  await agentClick(a, '#off');
  await c.waitForURL(h.other + '/control2.html');
  assert.ok(
    h.fixtureHits.some((x) => x.host.startsWith('localhost') && x.path === '/control2.html'),
  );
  assert.deepEqual(
    await a.evaluate(() => window.notes),
    ['origin', 'origin', 'origin'],
    'no refusal for the allowed origin',
  );
  await leave(c, a);
});

test("navigation: the server's own origin is always allowed (navigate by URL)", {
  skip,
}, async () => {
  const { c, a } = await inWriteMode();
  assert.equal(
    await a.evaluate((u) => window.cobrowseAgent.control.navigate(u + '/demo/'), h.server),
    true,
  );
  await c.waitForURL(h.server + '/demo/');
  assert.deepEqual(await a.evaluate(() => window.notes), []);
  await leave(c, a);
});
