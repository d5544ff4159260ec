// Large pages: a 50,000-node page is captured without any main-thread task over 50 ms
// (the snapshot is serialized in slices), sent deflated in binary chunks of at most 64 KiB
// (a small fraction of the raw text), looks the same in the agent's view, and stays
// consistent while the page keeps changing during the capture.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import {
  converge,
  diff,
  keepShots,
  requirements,
  screensMatch,
  setup,
  tap,
  waitFor,
} from './harness.mjs';

const skip = requirements();
let h;
before(async () => {
  if (!skip) h = await setup();
});
after(async () => {
  if (h) await h.close();
});

/**
 * Snapshots in the frames a page sent (harness `tap`): for each `snapshot` message, its `n`,
 * `z` and the payloads of the binary chunks (kind 1) sent since the previous one.
 */
function snapshots(frames) {
  const out = [];
  let chunks = [];
  for (const f of frames) {
    if (f.opcode === 2) {
      const b = Buffer.from(f.payloadData, 'base64');
      if (b[1] === 1) chunks.push(b.subarray(6));
    } else {
      const m = JSON.parse(f.payloadData);
      if (m.t === 'snapshot') {
        out.push({ n: m.n, z: m.z, chunks });
        chunks = [];
      }
    }
  }
  return out;
}

/** Starts recording long tasks, and long animation frames' script entries from our modules. */
const watch = () => {
  window.longTasks = [];
  window.ourScripts = [];
  window.frames = 0;
  for (const o of window.obs || []) o.disconnect();
  const a = new PerformanceObserver((l) =>
    window.longTasks.push(...l.getEntries().map((e) => Math.round(e.duration))),
  );
  const b = new PerformanceObserver((l) => {
    for (const e of l.getEntries()) {
      window.frames++;
      for (const s of e.scripts) {
        if (/\/customer\/\w+\.js/.test(s.sourceURL)) window.ourScripts.push(Math.round(s.duration));
      }
    }
  });
  a.observe({ type: 'longtask' });
  b.observe({ type: 'long-animation-frame' });
  window.obs = [a, b];
};

test('large page: 50k nodes, no long task, chunked and compressed, consistent under churn', {
  skip,
}, async () => {
  const c = await h.customer('large.html');
  const nodes = await c.evaluate(() => window.countNodes());
  assert.ok(nodes >= 50000, `the page has ${nodes} nodes`);
  const wire = await tap(c);
  const id = await h.start(c);
  // let the page settle: only the capture runs from here
  await new Promise((r) => setTimeout(r, 300));
  await c.evaluate(watch);
  const a = await h.agent(id);
  await new Promise((r) => setTimeout(r, 300));
  // Our modules' script time in any long frame stays under 50 ms. (Raw long tasks are
  // printed too: on a loaded machine other processes can stretch a task now and then.)
  const quiet = await c.evaluate(() => [window.longTasks, window.ourScripts]);
  assert.deepEqual(
    quiet[1].filter((d) => d > 50),
    [],
    `our tasks over 50 ms while capturing a quiet page: ${quiet[1]}`,
  );
  console.log(`# quiet page: long tasks during capture: ${quiet[0].join(', ') || 'none'}`);
  const snap = snapshots(wire.frames)[0];
  assert.equal(snap.z, 'deflate-raw', 'the snapshot is deflated (CompressionStream)');
  assert.ok(
    snap.chunks.length === snap.n && snap.chunks.every((b) => b.length <= 64 * 1024),
    `${snap.n} chunks announced, sent: ${snap.chunks.map((b) => b.length)}`,
  );
  const sent = snap.chunks.reduce((n, b) => n + b.length, 0),
    raw = inflateRawSync(Buffer.concat(snap.chunks)).length;
  console.log(
    `# snapshot: ${raw} bytes of text sent as ${sent} bytes in ${snap.n} binary chunk(s), ${((sent / raw) * 100).toFixed(1)} %`,
  );
  assert.ok(raw > 8 * 64 * 1024, `the raw snapshot would need several chunks (${raw} bytes)`);
  assert.ok(sent < raw / 10, `${sent} bytes sent for ${raw} bytes of snapshot`);
  let r = await converge(c, a, 20000);
  assert.ok(r.equal, diff(r.customer, r.agent));
  const shots = await screensMatch(c, a, { timeout: 10000 });
  if (shots.ratio > 0.005) keepShots('large', shots);
  assert.ok(
    shots.ratio <= 0.005,
    `the agent's view differs from the customer's viewport on ${(shots.ratio * 100).toFixed(2)} % of pixels ${shots.why || ''} (see /tmp/cobrowse-shots)`,
  );

  // A fresh snapshot while the page changes every 3 ms. The page's own layout work makes
  // long frames then, so only the tasks of our modules are held to the 50 ms bound.
  await c.evaluate(watch);
  await c.evaluate(() => window.churn(true));
  await a.evaluate(() => window.cobrowseAgent.requestResync());
  await waitFor(a, () => window.cobrowseAgent.snapshots >= 2, null, 20000);
  await new Promise((r) => setTimeout(r, 500));
  await c.evaluate(() => window.churn(false));
  const ours = await c.evaluate(() => window.ourScripts);
  assert.deepEqual(
    ours.filter((d) => d > 50),
    [],
    `our tasks over 50 ms: ${ours}`,
  );
  r = await converge(c, a, 20000);
  assert.ok(r.equal, diff(r.customer, r.agent));

  // The instruments work: a deliberate 80 ms task is seen.
  await c.evaluate(() =>
    setTimeout(() => {
      const t = performance.now();
      while (performance.now() - t < 80);
    }),
  );
  await new Promise((res) => setTimeout(res, 300));
  assert.ok(
    (await c.evaluate(() => window.longTasks)).some((d) => d >= 80),
    'the long-task observer saw the deliberate long task',
  );
  // The long-animation-frame observer, whose entries hold our modules' times, was on all along
  // (the churn alone may or may not make a long frame, depending on the machine).
  assert.ok(
    (await c.evaluate(() => window.frames)) > 0,
    'the long-animation-frame observer saw the deliberate long task',
  );
  console.log(`# ${nodes} nodes; our scripts in long frames: ${ours.join(', ') || 'none'}`);
  await c.evaluate(() => window.Cobrowse.stop());
  await c.context().close();
  await a.context().close();
});

test('a snapshot in many chunks (a browser without CompressionStream sends it raw) is rebuilt the same', {
  skip,
}, async () => {
  let wire;
  const c = await h.customer('large.html', {
    onPage: async (p) => {
      await p.addInitScript(() => {
        delete window.CompressionStream;
      });
      wire = await tap(p);
    },
  });
  const id = await h.start(c);
  const a = await h.agent(id);
  const snap = snapshots(wire.frames)[0];
  assert.equal(snap.z, 0, 'sent raw');
  assert.ok(
    snap.n > 4 && snap.chunks.length === snap.n && snap.chunks.every((b) => b.length <= 64 * 1024),
    `${snap.n} chunks announced, sent: ${snap.chunks.map((b) => b.length)}`,
  );
  const r = await converge(c, a, 20000);
  assert.ok(r.equal, diff(r.customer, r.agent));
  await c.context().close();
  await a.context().close();
});

test('a browser whose CompressionStream has no deflate-raw (Chromium before 103) sends the snapshot raw', {
  skip,
}, async () => {
  let wire;
  const older = () => {
    const C = window.CompressionStream;
    window.CompressionStream = (format) => {
      if (format === 'deflate-raw')
        throw new TypeError(`Unsupported compression format: '${format}'`);
      return new C(format);
    };
  };
  const c = await h.customer('base.html', {
    onPage: async (p) => {
      await p.addInitScript(older);
      wire = await tap(p);
    },
  });
  const id = await h.start(c);
  const a = await h.agent(id);
  assert.equal(snapshots(wire.frames)[0].z, 0, 'sent raw');
  const r = await converge(c, a);
  assert.ok(r.equal, diff(r.customer, r.agent));
  await c.context().close();
  await a.context().close();
});
