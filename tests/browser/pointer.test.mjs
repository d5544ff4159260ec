// Both pointers: each side's pointer is placed on the other side by element and
// offset, so it lands on the same thing even when the customer's page and the agent's view
// differ in scroll position and viewport size; both are labelled; the customer's pointer is
// sent at most once per animation frame and the console draws it at most once per frame.

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

/**
 * The customer page's drawing of the agent's pointer: position (from its transform), label, shown.
 */
const agentPtr = (c) =>
  c.evaluate(() => {
    const p = document.querySelector('[data-cobrowse-ui]').shadowRoot.querySelector('.ptr');
    const m = /translate\(([-\d.]+)px, ?([-\d.]+)px\)/.exec(p.style.transform);
    return {
      shown: !p.hidden,
      label: p.textContent.trim(),
      x: m ? +m[1] : NaN,
      y: m ? +m[2] : NaN,
    };
  });
/** The console's drawing of the customer's pointer, in the view's own (unscaled) pixels. */
const customerCursor = (a) =>
  a.evaluate(() => {
    const c = document.getElementById('cursor'),
      m = /translate\(([-\d.]+)px, ?([-\d.]+)px\)/.exec(c.style.transform);
    return {
      shown: !c.hidden,
      label: c.textContent.trim(),
      x: m ? +m[1] : NaN,
      y: m ? +m[2] : NaN,
    };
  });
/** Reads `read()` until `ok(value)` (5 s at most); returns the last value read. */
async function settle(read, ok) {
  let v;
  for (let i = 0; i < 50 && !ok((v = await read())); i++)
    await new Promise((r) => setTimeout(r, 100));
  return v;
}
/** Within 2 px of the wanted point. */
const near = (p, x, y) => p.shown && Math.abs(p.x - x) <= 2 && Math.abs(p.y - y) <= 2;
/** #target's box on the customer's page. */
const customerBox = (c) =>
  c.evaluate(() => {
    const r = document.getElementById('target').getBoundingClientRect();
    return { left: r.left, top: r.top, width: r.width, height: r.height };
  });
/**
 * #target's box in the agent's view (frame pixels), and how the view is scaled and placed on the
 * agent's screen.
 */
const viewBox = (a) =>
  a.evaluate(() => {
    const f = window.cobrowseAgent.mirror.frame,
      r = f.contentDocument.getElementById('target').getBoundingClientRect(),
      fr = f.getBoundingClientRect();
    return {
      left: r.left,
      top: r.top,
      width: r.width,
      height: r.height,
      frameLeft: fr.left,
      frameTop: fr.top,
      k: fr.width / f.offsetWidth,
    };
  });

/**
 * A session on pointer.html in which the agent's view has fallen out of step: the customer has
 * scrolled to 300, the view shows 150 and is narrower (600 × 450 instead of 800 × 600), and
 * the agent's window is smaller than the view (scaled down). Raw x/y would miss #target both ways.
 */
async function outOfStep() {
  const c = await h.customer('pointer.html');
  const id = await h.start(c);
  const a = await h.agent(id);
  await a.setViewportSize({ width: 560, height: 480 });
  await c.evaluate(() => window.scrollTo(0, 300));
  await waitFor(
    a,
    () => window.cobrowseAgent.mirror.frame.contentWindow.scrollY === 300,
    null,
    5000,
  );
  await a.evaluate(() => {
    const m = window.cobrowseAgent.mirror;
    m.applyScroll = () => {}; // the view stops following the customer's scroll, as if it lagged
    m.size(600, 450);
    m.frame.contentWindow.scrollTo(0, 150);
    window.dispatchEvent(new Event('resize')); // the console fits the view again
  });
  const cb = await customerBox(c),
    vb = await viewBox(a);
  assert.ok(vb.k < 1, 'the view is scaled down');
  assert.ok(
    Math.abs(cb.top - vb.top) > 100 && cb.width - vb.width > 50,
    `the two sides differ: ${JSON.stringify({ cb, vb })}`,
  );
  return { c, a };
}

test('pointers: each lands on the same element and offset on the other side despite other scroll and viewport, labelled', {
  skip,
}, async () => {
  const { c, a } = await outOfStep();

  // The agent points 40 px right and 20 px down into #target in the view.
  const vb = await viewBox(a);
  await a.mouse.move(vb.frameLeft + (vb.left + 40) * vb.k, vb.frameTop + (vb.top + 20) * vb.k);
  const cb = await customerBox(c),
    wantX = cb.left + (40 * cb.width) / vb.width,
    wantY = cb.top + 20;
  const p = await settle(
    () => agentPtr(c),
    (v) => near(v, wantX, wantY),
  );
  assert.ok(
    near(p, wantX, wantY),
    `agent pointer at ${p.x},${p.y} (shown: ${p.shown}); want ${wantX},${wantY}`,
  );
  assert.equal(
    await c.evaluate((q) => document.elementFromPoint(q.x, q.y).id, p),
    'target',
    'on the customer page the agent points at #target',
  );
  assert.equal(p.label, 'Agent');

  // The customer points 100 px right and 30 px down into #target on the page.
  await c.mouse.move(cb.left + 100, cb.top + 30);
  const wantVX = vb.left + (100 * vb.width) / cb.width,
    wantVY = vb.top + 30;
  const q = await settle(
    () => customerCursor(a),
    (v) => near(v, wantVX, wantVY),
  );
  assert.ok(
    near(q, wantVX, wantVY),
    `customer cursor at ${q.x},${q.y} (shown: ${q.shown}); want ${wantVX},${wantVY}`,
  );
  // The cursor sits in the overlay, which covers the view's frame: the same point of the frame is
  // #target.
  const under = await a.evaluate((pt) => {
    const f = window.cobrowseAgent.mirror.frame,
      o = document.getElementById('overlay').getBoundingClientRect(),
      fr = f.getBoundingClientRect(),
      k = fr.width / f.offsetWidth;
    return f.contentDocument.elementFromPoint(
      (o.left + pt.x * k - fr.left) / k,
      (o.top + pt.y * k - fr.top) / k,
    ).id;
  }, q);
  assert.equal(under, 'target', 'in the agent view the customer points at #target');
  assert.equal(q.label, 'Customer');
  await c.evaluate(() => window.Cobrowse.stop());
  await c.context().close();
  await a.context().close();
});

test("pointers: the customer's goes at most once per animation frame, and the console draws it at most once per frame", {
  skip,
}, async () => {
  const c = await h.customer('pointer.html');
  const id = await h.start(c);
  const a = await h.agent(id);

  // Customer side: the pointer messages leaving the page, stamped with the frame they left in.
  await c.evaluate(() => {
    window.sent = [];
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (d) {
      if (typeof d === 'string' && d.includes('"t":"pointer"'))
        window.sent.push(document.timeline.currentTime);
      return send.call(this, d);
    };
  });
  // Five moves in each of 20 frames (and never a move outside a frame).
  const frames = await c.evaluate(
    () =>
      new Promise((done) => {
        const el = document.getElementById('target');
        let n = 0;
        const step = () => {
          for (let i = 0; i < 5; i++)
            el.dispatchEvent(
              new MouseEvent('mousemove', {
                bubbles: true,
                composed: true,
                view: window,
                clientX: 100 + n * 5 + i,
                clientY: 420,
              }),
            );
          if (++n < 20) requestAnimationFrame(step);
          else requestAnimationFrame(() => requestAnimationFrame(() => done(n)));
        };
        requestAnimationFrame(step);
      }),
  );
  const sent = await c.evaluate(() => window.sent);
  assert.equal(new Set(sent).size, sent.length, `never two pointer messages in one frame: ${sent}`);
  assert.ok(
    sent.length >= frames - 2 && sent.length <= frames + 1,
    `one pointer message per frame with moves: ${sent.length} for ${frames} frames`,
  );

  // Console side: 30 pointer messages as fast as the customer can send them; each draw is stamped
  // with its frame.
  await waitFor(a, () => !document.getElementById('cursor').hidden, null, 5000);
  await a.evaluate(() => {
    window.draws = [];
    new MutationObserver((l) => {
      for (const r of l)
        if (r.attributeName === 'style') window.draws.push(document.timeline.currentTime);
    }).observe(document.getElementById('cursor'), { attributes: true });
  });
  await c.evaluate(() => {
    for (let i = 1; i <= 30; i++) window.Cobrowse._.send('pointer', { x: i, y: 2 * i });
  });
  await waitFor(
    a,
    () => /translate\(30px, ?60px\)/.test(document.getElementById('cursor').style.transform),
    null,
    5000,
  );
  const draws = await a.evaluate(() => window.draws);
  assert.equal(new Set(draws).size, draws.length, `never two draws in one frame: ${draws}`);
  assert.ok(draws.length < 30, `fewer draws than messages: ${draws.length}`);
  await c.evaluate(() => window.Cobrowse.stop());
  await c.context().close();
  await a.context().close();
});
