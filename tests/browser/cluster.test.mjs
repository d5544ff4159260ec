// Several nodes behind a load balancer, in real Chromium: the node holding both the
// customer and the agent is killed (SIGKILL); both reconnect through the balancer to
// another node, the session resumes, and the agent's view matches the customer's page
// again, including what the customer typed after the crash.

import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import {
  CUSTOMER_VIEWPORT,
  cli,
  converge,
  diff,
  requirements,
  startServer,
  waitFor,
} from './harness.mjs';
import { freePort, postgresMissing, redisMissing, startPostgres, startRedis } from './services.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SECRET = 'browser-cluster-secret-0123456789abcdef';

const skip = requirements() || redisMissing() || postgresMissing();

/** An ordinary TCP load balancer: each new connection goes to the first node that accepts it. */
function balancer(backends) {
  return net.createServer((client) => {
    client.pause();
    const attempt = (i) => {
      if (i >= backends.length) return client.destroy();
      const up = net.connect(backends[i], '127.0.0.1');
      let linked = false;
      up.once('connect', () => {
        linked = true;
        client.pipe(up);
        up.pipe(client);
        client.resume();
        up.on('close', () => client.destroy());
        client.on('close', () => up.destroy());
        client.on('error', () => up.destroy());
      });
      up.on('error', () => (linked ? client.destroy() : attempt(i + 1)));
    };
    attempt(0);
  });
}

let redis,
  restartRedis,
  postgres,
  nodes = [],
  lb,
  lbUrl,
  site,
  siteOrigin,
  browser,
  dirs = [];

async function startNode(env) {
  const { url, proc, dataDir } = await startServer(env);
  dirs.push(dataDir);
  return { proc, port: Number(new URL(url).port), dir: dataDir };
}
/** A signed-in agent token, made in `node`'s data directory (any node accepts it: one secret). */
const agentToken = (node, name) =>
  cli(node.dir, { ...process.env, COBROWSE_AUTH__JWT_SECRET: SECRET }, ['token', 'agent', name]);

before(async () => {
  if (skip) return;
  const redisPort = await freePort();
  restartRedis = async () => {
    redis = (await startRedis(redisPort)).proc;
  };
  await restartRedis();
  postgres = await startPostgres();
  // The customer's website, on its own origin.
  site = http.createServer((req, res) => {
    let body = readFileSync(path.join(ROOT, 'tests/browser/fixtures/forms.html'), 'utf8');
    // /forms.html?nodes=P,Q: the script tag names the nodes itself, no balancer.
    const nodes = new URL(req.url, 'http://x').searchParams.get('nodes');
    if (nodes)
      body = body.replace(
        'src="{{SERVER}}/cobrowse.js"',
        `src="{{SERVER}}/cobrowse.js" data-cobrowse-servers="${nodes
          .split(',')
          .map((p) => 'http://127.0.0.1:' + p)
          .join(' ')}"`,
      );
    body = body.replace(/\{\{SERVER\}\}/g, lbUrl);
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(body);
  });
  await new Promise((r) => site.listen(0, '127.0.0.1', r));
  siteOrigin = `http://127.0.0.1:${site.address().port}`;
  const lbPort = await freePort();
  lbUrl = `http://127.0.0.1:${lbPort}`;
  const env = {
    ...process.env,
    COBROWSE_REDIS: `redis://127.0.0.1:${redisPort}/`,
    COBROWSE_DATABASE: postgres.url,
    COBROWSE_AUTH__JWT_SECRET: SECRET,
    COBROWSE_ALLOWED_ORIGINS: JSON.stringify([siteOrigin]),
    COBROWSE_PROXY_ORIGINS: JSON.stringify([siteOrigin]),
    COBROWSE_DEMO: 'false',
    COBROWSE_LOG: 'warn',
  };
  for (let i = 0; i < 3; i++) nodes.push(await startNode(env));
  lb = balancer(nodes.map((n) => n.port));
  await new Promise((r) => lb.listen(lbPort, '127.0.0.1', r));
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-gpu',
    ],
  });
});

after(async () => {
  await browser?.close().catch(() => {});
  for (const n of nodes) n.proc.kill('SIGKILL');
  redis?.kill('SIGKILL');
  postgres?.stop();
  lb?.close();
  site?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('cluster: kill -9 of the node holding both parties; the session resumes and nothing typed is lost', {
  skip,
}, async () => {
  const cctx = await browser.newContext({ viewport: CUSTOMER_VIEWPORT, deviceScaleFactor: 1 });
  const c = await cctx.newPage();
  await c.goto(siteOrigin + '/forms.html');
  await waitFor(c, () => window.Cobrowse && window.Cobrowse.v === 1, null, 10000);
  const id = await c.evaluate(() => window.Cobrowse.start().then((s) => s.id));
  const token = agentToken(nodes[0], 'cluster-agent');
  const actx = await browser.newContext({
    viewport: { width: 1000, height: 800 },
    deviceScaleFactor: 1,
  });
  const a = await actx.newPage();
  await a.goto(`${lbUrl}/agent/?session=${id}#token=${token}`);
  await waitFor(a, () => document.getElementById('state').dataset.state === 'live', null, 15000);
  let r = await converge(c, a);
  assert.ok(r.equal, diff(r.customer, r.agent));
  const before = await a.evaluate(() => window.cobrowseAgent.snapshots);

  // The balancer sent both parties to the first node: kill it without warning.
  nodes[0].proc.kill('SIGKILL');
  const killed = Date.now();
  // The customer keeps typing while the connection is down and after.
  await c.locator('#e').pressSequentially('typed after the crash', { delay: 20 });
  await waitFor(
    a,
    (n) =>
      window.cobrowseAgent.snapshots > n &&
      document.getElementById('state').dataset.state === 'live',
    before,
    15000,
  );
  const resumedIn = Date.now() - killed;
  assert.ok(resumedIn < 5000, `the session resumed in ${resumedIn} ms`);
  console.log(`# resumed on another node ${resumedIn} ms after the kill`);
  await c.locator('#ta').fill('and more, on the new node');
  r = await converge(c, a, 8000);
  assert.ok(r.equal, diff(r.customer, r.agent));
  assert.match(r.agent, /typed after the crash/);
  assert.match(r.agent, /and more, on the new node/);
  await cctx.close();
  await actx.close();
});

test('cluster: a customer naming the nodes itself (no balancer) and an agent on another node; its node dies, it moves to the next; Redis away then back empty: both told', {
  skip,
}, async () => {
  const [n1, n2] = [nodes[1], nodes[2]];
  const cctx = await browser.newContext({ viewport: CUSTOMER_VIEWPORT, deviceScaleFactor: 1 });
  const c = await cctx.newPage();
  // Which node the script picked first (at random) is known from the sockets it opens.
  await c.addInitScript(() => {
    const Native = window.WebSocket;
    window.__sockets = [];
    window.WebSocket = class extends Native {
      constructor(u, p) {
        super(u, p);
        window.__sockets.push(String(u));
      }
    };
  });
  await c.goto(`${siteOrigin}/forms.html?nodes=${n1.port},${n2.port}`);
  await waitFor(c, () => window.Cobrowse && window.Cobrowse.v === 1, null, 10000);
  const id = await c.evaluate(() => window.Cobrowse.start().then((s) => s.id));
  const port = await c.evaluate(() => Number(new URL(window.__sockets.at(-1)).port));
  const [mine, other] = port === n1.port ? [n1, n2] : [n2, n1];
  assert.ok([n1.port, n2.port].includes(port), `the customer is on a listed node (${port})`);
  const token = agentToken(other, 'list-agent');
  const actx = await browser.newContext({
    viewport: { width: 1000, height: 800 },
    deviceScaleFactor: 1,
  });
  const a = await actx.newPage();
  // The agent on the other node: every frame between them crosses Redis.
  await a.goto(`http://127.0.0.1:${other.port}/agent/?session=${id}#token=${token}`);
  await waitFor(a, () => document.getElementById('state').dataset.state === 'live', null, 15000);
  await c.locator('#e').fill('before');
  let r = await converge(c, a);
  assert.ok(r.equal, diff(r.customer, r.agent));

  mine.proc.kill('SIGKILL');
  const killed = Date.now();
  await c.locator('#e').pressSequentially(' and after', { delay: 20 });
  await waitFor(
    c,
    (p) =>
      window.Cobrowse.session.state === 'active' &&
      Number(new URL(window.__sockets.at(-1)).port) === p,
    other.port,
    10000,
  );
  console.log(
    `# the customer moved to the next listed node ${Date.now() - killed} ms after the kill`,
  );
  assert.ok(Date.now() - killed < 5000, 'resumed within 5 s');
  r = await converge(c, a, 8000);
  assert.ok(r.equal, diff(r.customer, r.agent));
  assert.match(r.agent, /before and after/);

  // Redis goes away: both sides are told; it comes back empty (no persistence): the session is
  // gone, and both are told so rather than left in a session no rule covers.
  redis.kill('SIGKILL');
  await waitFor(c, () => window.Cobrowse.session.state === 'connecting', null, 10000);
  await waitFor(
    a,
    () => /interrupted|trouble/i.test(document.getElementById('control-note').textContent),
    null,
    10000,
  );
  await restartRedis();
  const ended = await waitFor(
    c,
    () => window.Cobrowse.session.state === 'ended' && window.Cobrowse.session,
    null,
    15000,
  );
  assert.ok(ended);
  await waitFor(
    a,
    () => document.getElementById('notice-h').textContent === 'The session was lost',
    null,
    15000,
  );
  assert.equal(await a.evaluate(() => document.getElementById('state').dataset.state), 'ended');
  const words = await c.evaluate(
    () => document.querySelector('[data-cobrowse-ui]').shadowRoot.textContent,
  );
  assert.match(words, /co-browse service restarted/i);
  // A new session works on the healed cluster.
  const again = await c.evaluate(() => window.Cobrowse.start().then((s) => s.id));
  assert.match(again, /^\d{9}$/);
  await cctx.close();
  await actx.close();
});
