// Live state beside the DOM: the hovered element (with :hover rules emulated), focus, the
// customer's pointer, the viewport size (the view follows it), window and inner scroll.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { requirements, screensMatch, setup, waitFor } from './harness.mjs';

const skip = requirements();
let h;
before(async () => {
  if (!skip) h = await setup();
});
after(async () => {
  if (h) await h.close();
});

test('live: hover (with :hover rules), focus, pointer and viewport follow the customer', {
  skip,
}, async () => {
  const c = await h.customer('base.html');
  const id = await h.start(c);
  const a = await h.agent(id);
  // Hover: .hero:hover changes the background in the page's own sheet.
  await c.hover('h1.hero');
  const want = await c.evaluate(
    () => getComputedStyle(document.querySelector('h1.hero')).backgroundColor,
  );
  await waitFor(
    a,
    () => window.cobrowseAgent.mirror.frame.contentDocument.querySelector('h1[data-cb-hover]'),
    null,
    5000,
  );
  assert.ok(
    await a.evaluate(() =>
      window.cobrowseAgent.mirror.frame.contentDocument.body.hasAttribute('data-cb-hover'),
    ),
    'ancestors are marked too',
  );
  const got = await a.evaluate(() => {
    const d = window.cobrowseAgent.mirror.frame.contentDocument;
    return d.defaultView.getComputedStyle(d.querySelector('h1.hero')).backgroundColor;
  });
  assert.equal(got, want, ':hover emulated');
  const s = await screensMatch(c, a);
  assert.ok(s.ratio <= 0.005, `hovered screens differ on ${(s.ratio * 100).toFixed(2)}%`);
  // Pointer: the labelled cursor sits where the customer's mouse is.
  await c.mouse.move(200, 150);
  await waitFor(
    a,
    () =>
      !document.getElementById('cursor').hidden &&
      /translate\(200px, ?150px\)/.test(document.getElementById('cursor').style.transform),
    null,
    5000,
  );
  // Focus.
  await c.evaluate(() => {
    const i = document.createElement('input');
    i.id = 'fi';
    document.body.append(i);
    i.focus();
  });
  await waitFor(
    a,
    () => {
      const d = window.cobrowseAgent.mirror.frame.contentDocument;
      return d.querySelector('#fi[data-cb-focus]');
    },
    null,
    5000,
  );
  // Viewport: the view's frame takes the customer's new size.
  await c.setViewportSize({ width: 640, height: 480 });
  await waitFor(
    a,
    () => {
      const f = window.cobrowseAgent.mirror.frame;
      return f.offsetWidth === 640 && f.offsetHeight === 480;
    },
    null,
    5000,
  );
  await c.evaluate(() => window.Cobrowse.stop());
  await c.context().close();
  await a.context().close();
});

test('live: the view is scaled to fit a smaller agent window', { skip }, async () => {
  const c = await h.customer('base.html');
  const id = await h.start(c);
  const a = await h.agent(id);
  await a.setViewportSize({ width: 500, height: 500 });
  await waitFor(
    a,
    () => /scale\(0\.[0-9]+\)/.test(document.getElementById('wrap').style.transform),
    null,
    5000,
  );
  const box = await a.locator('#wrap').boundingBox();
  assert.ok(box.width <= 500 && box.height <= 456 + 1, `scaled view fits: ${JSON.stringify(box)}`);
  await c.evaluate(() => window.Cobrowse.stop());
  await c.context().close();
  await a.context().close();
});
