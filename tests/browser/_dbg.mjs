import { setup, waitFor, tap, screensMatch } from './harness.mjs';
import { plant, typeWhileIdle, exercise } from './secrets.mjs';
const h = await setup();
try {
  let wire;
  const c = await h.customer('base.html', { onPage: async (p) => { wire = await tap(p); } });
  await c.evaluate(plant);
  await typeWhileIdle(c);
  const id = await h.start(c);
  const a = await h.agent(id);
  await new Promise((r) => setTimeout(r, 500));
  const n0 = wire.frames.length;
  await screensMatch(c, a, {timeout: 0});
  await new Promise((r) => setTimeout(r, 500));
  console.log('after shot', wire.frames.slice(n0).map((f) => f.payloadData.slice(0, 300)).join('\n'));
  const n1 = wire.frames.length;
  await exercise(c);
  await new Promise((r) => setTimeout(r, 500));
  console.log('after exercise', wire.frames.slice(n1).map((f) => f.payloadData.slice(0, 300)).join('\n'));
} finally { await h.close(); }
