// What the customer's page sends, frame by frame as CDP sees it leave the browser: nothing of
// the page while no agent has joined (then all of it); nothing from the document of a frame
// that was removed (its observer is let go); and canvas pictures at most twice a second
// however fast the canvas changes.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { converge, diff, requirements, setup, tap, waitFor } from './harness.mjs';

const skip = requirements();
let h;
before(async () => {
  if (!skip) h = await setup();
});
after(async () => {
  if (h) await h.close();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** A fixture page as the customer, with its frames tapped from the first byte. */
async function tapped(fixture) {
  let wire;
  const c = await h.customer(fixture, {
    onPage: async (p) => {
      wire = await tap(p);
    },
  });
  return { c, wire };
}
/** The same page in a session an agent watches. */
async function watched(fixture) {
  const t = await tapped(fixture);
  return { ...t, a: await h.agent(await h.start(t.c)) };
}
/** Ends the session and closes both sides. */
async function end(c, a) {
  await c.evaluate(() => window.Cobrowse.stop()).catch(() => {});
  for (const p of [c, a])
    await p
      .context()
      .close()
      .catch(() => {});
}
/** Kind of a sent frame: `bin:<kind>` for binary, else the message type. */
const kind = (f) =>
  f.opcode === 1 ? JSON.parse(f.payloadData).t : 'bin:' + Buffer.from(f.payloadData, 'base64')[1];

test('idle: nothing of the page is sent before an agent joins, all of it once one has', {
  skip,
}, async () => {
  const { c, wire } = await tapped('forms.html');
  const id = await h.start(c);
  // The customer goes on using the page while waiting for the agent.
  await c.click('#t');
  await c.keyboard.type(' typed-while-idle');
  await c.evaluate(() => {
    document.getElementById('ta').value = 'set-by-code-while-idle';
    document.body.insertAdjacentHTML('beforeend', '<p id="later">added-while-idle</p>');
    document.getElementById('cb2').checked = true;
  });
  await c.mouse.move(200, 200);
  await c.mouse.move(300, 250);
  await c.mouse.wheel(0, 200);
  await sleep(1500); // past every timer of the capture (styles, canvases: 500 ms)
  const idle = wire.frames.slice();
  // Only the session's own messages: create (with the URL and title the server records),
  // keep-alives, tab focus.
  const kinds = idle.map(kind);
  assert.deepEqual(
    kinds.filter((k) => !['create', 'ping', 'tab', 'page'].includes(k)),
    [],
    `sent while idle: ${kinds.join(', ')}`,
  );
  for (const t of wire.texts())
    for (const s of [
      'typed-while-idle',
      'set-by-code-while-idle',
      'added-while-idle',
      'initial',
      'default text',
    ]) {
      assert.ok(!t.includes(s), `"${s}" left the page before an agent joined: ${t.slice(0, 200)}`);
    }

  const a = await h.agent(id);
  try {
    const r = await converge(c, a);
    assert.ok(r.equal, diff(r.customer, r.agent));
    const joined = wire.frames.slice(idle.length).map(kind);
    assert.ok(
      joined.includes('bin:1') && joined.includes('snapshot'),
      `sent once joined: ${joined.join(', ')}`,
    );
    const snapshot = wire.texts().find((t) => t.startsWith('{"d":'));
    for (const s of ['typed-while-idle', 'set-by-code-while-idle', 'added-while-idle'])
      assert.ok(snapshot.includes(s), `the snapshot has "${s}"`);
  } finally {
    await end(c, a);
  }
});

test('frames: a removed frame is let go, so changes in its document send nothing', {
  skip,
}, async () => {
  const { c, wire, a } = await watched('iframes.html');
  try {
    // A frame there from the start (f1) and one added while the agent watches (f3).
    await c.evaluate(async () => {
      const f = document.createElement('iframe');
      f.id = 'f3';
      f.src = 'frame-child.html?later';
      const loaded = new Promise((r) => f.addEventListener('load', r));
      document.body.append(f);
      await loaded;
    });
    let r = await converge(c, a);
    assert.ok(r.equal, diff(r.customer, r.agent));
    assert.ok(r.agent.includes('frame-child.html?later'), 'the frame added later is mirrored');
    // Each frame's document is kept by the page, the frames are removed.
    await c.evaluate(() => {
      window.kept = ['f1', 'f3'].map((id) => document.getElementById(id).contentDocument);
      for (const id of ['f1', 'f3']) document.getElementById(id).remove();
    });
    r = await converge(c, a);
    assert.ok(r.equal, diff(r.customer, r.agent));
    await sleep(300);
    const from = wire.frames.length;
    // Changes in the removed frames' documents: children, text, attributes, a field's value.
    await c.evaluate(() => {
      for (const d of window.kept) {
        d.body.insertAdjacentHTML('beforeend', '<p>added after removal</p><input id="late">');
        d.getElementById('p').textContent = 'changed after removal';
        d.body.setAttribute('class', 'changed');
        d.getElementById('late').value = 'typed after removal';
      }
    });
    await sleep(1200);
    const after = wire.frames
      .slice(from)
      .map(kind)
      .filter((k) => k !== 'ping');
    assert.deepEqual(after, [], 'frames sent for changes in removed frames');
    // The capture itself goes on: a change in the page is sent.
    await c.evaluate(() => document.body.insertAdjacentHTML('beforeend', '<p>still mirrored</p>'));
    r = await converge(c, a);
    assert.ok(r.equal && r.agent.includes('still mirrored'), diff(r.customer, r.agent));
  } finally {
    await end(c, a);
  }
});

test('canvas: pictures are sent at most twice a second while the canvas changes every frame', {
  skip,
}, async () => {
  const { c, wire, a } = await watched('canvas.html');
  try {
    // the first picture is shown
    await waitFor(a, () => window.cobrowseAgent.mirror.pics.size > 0, null, 5000);
    const from = wire.frames.length;
    const drawn = await c.evaluate(async () => {
      const cv = document.getElementById('cv'),
        g = cv.getContext('2d');
      let k = 0;
      const end = performance.now() + 3000;
      await new Promise((done) => {
        const step = () => {
          g.fillStyle = `hsl(${(k * 7) % 360} 70% 50%)`;
          g.fillRect(0, 0, 300, 150);
          g.fillStyle = '#000';
          g.fillText('frame ' + k++, 20, 80);
          if (performance.now() < end) requestAnimationFrame(step);
          else done();
        };
        step();
      });
      return k;
    });
    await sleep(300); // a picture started in the window may still be encoding
    const pictures = wire.frames
      .slice(from)
      .map(kind)
      .filter((k) => k === 'bin:2').length;
    console.log(`# canvas: ${drawn} drawings in 3 s, ${pictures} pictures sent`);
    assert.ok(drawn >= 60, `the canvas changed every frame (${drawn} drawings)`);
    assert.ok(pictures >= 2, `the changing canvas is shown (${pictures} pictures)`);
    assert.ok(pictures <= 7, `at most two pictures a second: ${pictures} in 3 s`);
  } finally {
    await end(c, a);
  }
});
