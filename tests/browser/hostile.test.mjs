// Safety: a hostile page executes nothing in the agent's view (a sandbox without allow-scripts
// around it and every frame in it) and makes the agent's browser send no request to the
// customer's site: its resources come through our proxy.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { converge, diff, requirements, setup } from './harness.mjs';

const skip = requirements();
let h;
before(async () => {
  if (!skip) h = await setup();
});
after(async () => {
  if (h) await h.close();
});

test('hostile page: nothing runs in the agent view, nothing reaches the site from the agent', {
  skip,
}, async () => {
  const c = await h.customer('hostile.html');
  const id = await h.start(c);
  const a = await h.agent(id);
  const title = await a.title();
  const url = a.url();
  const before = await converge(c, a);
  assert.ok(before.equal, diff(before.customer, before.agent));
  await c.evaluate(() => window.fixtureChanges());
  const r = await converge(c, a);
  assert.ok(r.equal, diff(r.customer, r.agent));
  await new Promise((res) => setTimeout(res, 1500)); // let every load or navigation happen

  const state = await a.evaluate(() => {
    const d = window.cobrowseAgent.mirror.frame.contentDocument,
      all = [d, ...Array.from(d.querySelectorAll('iframe'), (f) => f.contentDocument)];
    return {
      pwned: window.pwned,
      framePwned: window.cobrowseAgent.mirror.frame.contentWindow.pwned,
      scripts: all.reduce((n, x) => n + (x ? x.querySelectorAll('script').length : 0), 0),
      handlers: all.reduce(
        (n, x) =>
          n +
          (x
            ? Array.from(x.querySelectorAll('*')).filter((e) =>
                Array.from(e.attributes).some((at) => /^on/i.test(at.name)),
              ).length
            : 0),
        0,
      ),
      jsUrls: all.reduce(
        (n, x) =>
          n +
          (x
            ? Array.from(x.querySelectorAll('*')).filter((e) =>
                Array.from(e.attributes).some(
                  (at) => !at.name.startsWith('data-cb-') && /^\s*javascript:/i.test(at.value),
                ),
              ).length
            : 0),
        0,
      ),
      srcdoc: d.querySelectorAll('[srcdoc]').length,
      refresh: d.querySelectorAll('meta[http-equiv]').length,
      formAction: d.querySelectorAll('form[action], [formaction], [target]').length,
      frameUrl: window.cobrowseAgent.mirror.frame.contentWindow.location.href,
    };
  });
  assert.equal(state.pwned, undefined, 'a script ran in the agent page');
  assert.equal(state.framePwned, undefined, 'a script ran in the view');
  assert.deepEqual(
    [state.scripts, state.handlers, state.jsUrls, state.srcdoc, state.refresh, state.formAction],
    [0, 0, 0, 0, 0, 0],
    JSON.stringify(state),
  );
  // The view and every frame in it are sandboxed without scripts, forms, pop-ups or navigation of
  // the agent's page; same origin only, so that the agent page can build the view's DOM.
  const sandboxes = await a.evaluate(() => {
    const f = window.cobrowseAgent.mirror.frame;
    return [f, ...f.contentDocument.querySelectorAll('iframe, frame')].map((x) =>
      x.getAttribute('sandbox'),
    );
  });
  assert.ok(sandboxes.length >= 2, `the view and the fixture's frame: ${sandboxes.length}`);
  for (const sb of sandboxes)
    assert.deepEqual(
      (sb ?? 'NOT SANDBOXED').trim().split(/\s+/),
      ['allow-same-origin'],
      `sandbox="${sb}"`,
    );
  assert.equal(await a.title(), title, 'the agent page title changed');
  assert.equal(a.url(), url, 'the agent page navigated');
  assert.ok(state.frameUrl.startsWith(h.server), 'the view navigated: ' + state.frameUrl);

  // No request from the agent's browser to the site (either of its origins)...
  const site = a.requests.filter((u) => u.startsWith(h.origin) || u.startsWith(h.other));
  assert.deepEqual(site, [], 'agent requests to the customer site');
  // ...and not because the CSP had to stop them: the rebuild rewrote every URL itself.
  const blocked = a.csp.filter((m) => m.includes(h.origin) || m.includes(h.other));
  assert.deepEqual(blocked, [], 'URLs left for the CSP to block');
  // Resources did come, through the proxy (which fetched them from the site).
  const proxied = a.requests.filter((u) => u.startsWith(h.server + '/proxy?'));
  for (const tag of [
    '?img',
    '?css',
    '?inline',
    '?svgimg',
    '?source',
    '?poster',
    '?crossorigin',
    '?import',
    '?late',
  ]) {
    assert.ok(
      proxied.some((u) => decodeURIComponent(u).includes(tag)),
      `${tag} not loaded through the proxy: ${proxied.map(decodeURIComponent).join('\n')}`,
    );
  }
  await c.evaluate(() => window.Cobrowse.stop());
  await c.context().close();
  await a.context().close();
});
