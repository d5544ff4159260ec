// The agent console embedded in an agent desktop of another site, over HTTPS: the server serves
// TLS with a certificate made here (openssl), the desktop is https://localhost:PORT (another site
// than https://127.0.0.1:PORT), and Chromium blocks third-party cookies. The console signs in with
// the desktop's token and joins inside the frame (its cookie is partitioned, CHIPS), a desktop not
// in agent_origins cannot frame it, and administrators' cookies never become cross-site.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { cli, requirements, setup, startServer, waitFor } from './harness.mjs';

const PASSWORD = 'correct horse battery';

/**
 * Whether openssl (to make the test certificate) is here; missing fails under CI, as Chromium does.
 */
function opensslMissing() {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return false;
  } catch {}
  if (process.env.CI) throw new Error('openssl is missing (CI): install the openssl package');
  return 'openssl is missing';
}
const skip = requirements() || opensslMissing();

/**
 * A self-signed certificate for 127.0.0.1 and localhost, and the flag that makes Chromium trust
 * exactly its key (not every certificate: `--ignore-certificate-errors-spki-list`).
 */
function certificate(dir) {
  const cert = path.join(dir, 'cert.pem'),
    key = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-keyout',
      key,
      '-out',
      cert,
      '-subj',
      '/CN=cobrowse-test',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  const pem = readFileSync(cert);
  const spki = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return {
    cert,
    key,
    pem,
    keyPem: readFileSync(key),
    trust:
      '--ignore-certificate-errors-spki-list=' + createHash('sha256').update(spki).digest('base64'),
  };
}

/** An agent desktop over HTTPS on localhost: a page that frames `?src=`. */
async function desktop(tls) {
  const srv = https.createServer({ cert: tls.pem, key: tls.keyPem }, (req, res) => {
    const src = new URL(req.url, 'https://x').searchParams.get('src') || '';
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(
      `<!DOCTYPE html><title>Agent desktop</title><h1>Desk</h1><iframe id="cb" style="width:1000px;height:700px" src="${src.replace(/"/g, '&quot;')}"></iframe>`,
    );
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { origin: `https://localhost:${srv.address().port}`, close: () => srv.close() };
}

/** A request to an HTTPS server of ours, checked against the test certificate. */
function request(tls, url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ca: tls.pem }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const postJson = (tls, url, data, origin) =>
  request(tls, url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin },
    body: JSON.stringify(data),
  });

let h, tls, dir, desk, otherDesk;
before(async () => {
  if (skip) return;
  dir = mkdtempSync(path.join(tmpdir(), 'cobrowse-tls-'));
  tls = certificate(dir);
  desk = await desktop(tls);
  otherDesk = await desktop(tls);
  h = await setup({
    env: {
      COBROWSE_TLS__CERT: tls.cert,
      COBROWSE_TLS__KEY: tls.key,
      COBROWSE_AGENT_ORIGINS: JSON.stringify([desk.origin]),
    },
    // Third-party cookies blocked, as more and more browsers do: only a partitioned cookie works in
    // the frame.
    browserArgs: [tls.trust, '--test-third-party-cookie-phaseout'],
  });
  h.cli(['agent', 'add', 'root', '--admin'], PASSWORD + '\n');
});
after(async () => {
  if (h) await h.close();
  for (const d of [desk, otherDesk]) if (d) d.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * Opens the desktop page framing `src`; returns the page and, once it has loaded, the console's
 * frame.
 */
async function framed(deskOrigin, src) {
  const ctx = await h.browser.newContext({ viewport: { width: 1200, height: 900 } });
  const d = await ctx.newPage();
  const csp = [];
  d.on('console', (m) => {
    if (/frame-ancestors/.test(m.text())) csp.push(m.text());
  });
  await d.goto(`${deskOrigin}/?src=${encodeURIComponent(src)}`);
  const inFrame = async () => {
    for (let i = 0; i < 50; i++) {
      const f = d
        .frames()
        .find((x) => x !== d.mainFrame() && x.url().startsWith(h.server + '/agent/'));
      if (f && (await f.evaluate(() => !!document.getElementById('state')).catch(() => false)))
        return f;
      await new Promise((r) => setTimeout(r, 100));
    }
    return null;
  };
  return { d, ctx, csp, inFrame };
}

test('embed: over HTTPS, an agent desktop of another site frames the console, which signs in and joins there (third-party cookies blocked)', {
  skip,
}, async () => {
  assert.ok(
    h.server.startsWith('https://127.0.0.1:') && desk.origin.startsWith('https://localhost:'),
    'two sites: 127.0.0.1 and localhost',
  );
  const page = await request(tls, h.server + '/agent/');
  assert.match(
    page.headers['content-security-policy'],
    new RegExp(`frame-ancestors 'self' ${desk.origin.replace(/[.]/g, '\\.')}(;|$)`),
  );
  const c = await h.customer('base.html');
  const id = await h.start(c);
  const {
    d,
    ctx,
    inFrame: find,
  } = await framed(desk.origin, `${h.server}/agent/?session=${id}#token=${h.token('desk-agent')}`);
  const f = await find();
  assert.ok(f, "the console loaded in the desktop's frame");
  await waitFor(f, () => document.getElementById('state').dataset.state === 'live', null, 15000);
  assert.equal(
    await f.evaluate(() => document.getElementById('who-name').textContent),
    'desk-agent',
  );
  await waitFor(
    c,
    () =>
      window.Cobrowse.session &&
      window.Cobrowse.session.state === 'active' &&
      window.Cobrowse.session.agent === 'desk-agent',
    null,
    5000,
  );
  // This browser keeps no ordinary third-party cookie in the frame: the sign-in works because it is
  // partitioned.
  const kept = await f.evaluate(() => {
    // biome-ignore lint/suspicious/noDocumentCookie: the test is whether document.cookie keeps them
    document.cookie = 'plain=1; Path=/; SameSite=None; Secure';
    // biome-ignore lint/suspicious/noDocumentCookie: as above
    document.cookie = 'chips=1; Path=/; SameSite=None; Secure; Partitioned';
    return document.cookie;
  });
  assert.equal(kept, 'chips=1', 'third-party cookies are blocked here, partitioned ones kept');
  const cookie = (await ctx.cookies(h.server)).find((x) => x.name === 'cobrowse_agent');
  assert.ok(cookie, 'the sign-in cookie is set');
  assert.deepEqual(
    {
      sameSite: cookie.sameSite,
      secure: cookie.secure,
      httpOnly: cookie.httpOnly,
      partitionKey: cookie.partitionKey,
    },
    { sameSite: 'None', secure: true, httpOnly: true, partitionKey: 'https://localhost' },
  );
  // Exit from inside the frame: the customer is told; signing out there removes the partitioned
  // cookie.
  const ended = c.evaluate(() => new Promise((r) => window.Cobrowse.on('sessionEnded', r)));
  await f.click('#exit');
  assert.equal((await ended).reason, 'agent_exit');
  await waitFor(f, () => !document.getElementById('join').hidden, null, 5000);
  await f.click('#signout');
  await waitFor(f, () => !document.getElementById('signin').hidden, null, 5000);
  assert.equal(
    (await ctx.cookies(h.server)).find((x) => x.name === 'cobrowse_agent'),
    undefined,
    'signed out: the cookie is gone',
  );
  await Promise.all([c.context().close(), d.context().close()]);
});

test('embed: a desktop not in agent_origins cannot frame the console', { skip }, async () => {
  const {
    d,
    csp,
    inFrame: find,
  } = await framed(otherDesk.origin, `${h.server}/agent/#token=${h.token('not-here')}`);
  assert.equal(await find(), null, 'frame-ancestors kept the console out');
  assert.ok(
    csp.some((m) =>
      /violates the following Content Security Policy directive: "frame-ancestors 'self' https:\/\/localhost:\d+"/.test(
        m,
      ),
    ),
    'Chromium says why: ' + csp.join(' | '),
  );
  await d.context().close();
});

/**
 * A `Set-Cookie` header's attributes, in a fixed order (the server's cookie library chooses its
 * own), with `Max-Age` reduced to whether it is zero.
 * @param {string} header
 */
function cookieAttributes(header) {
  const [, ...attributes] = header.split(/;\s*/);
  return attributes.map((a) => (/^Max-Age=[1-9]/i.test(a) ? 'Max-Age>0' : a)).sort();
}

test("embed: an administrator's cookie stays SameSite=Strict; without an embedding origin, every cookie does", {
  skip,
}, async () => {
  const admin = await postJson(
    tls,
    h.server + '/auth/login',
    { name: 'root', password: PASSWORD },
    h.server,
  );
  assert.equal(admin.status, 200, admin.text);
  assert.deepEqual(cookieAttributes(admin.headers['set-cookie'][0]), [
    'HttpOnly',
    'Max-Age>0',
    'Path=/',
    'SameSite=Strict',
    'Secure',
  ]);
  const agent = await postJson(
    tls,
    h.server + '/auth/token',
    { token: h.token('desk-2') },
    h.server,
  );
  assert.deepEqual(cookieAttributes(agent.headers['set-cookie'][0]), [
    'HttpOnly',
    'Max-Age>0',
    'Partitioned',
    'Path=/',
    'SameSite=None',
    'Secure',
  ]);
  // Signing out clears both forms (a partitioned cookie is only cleared by a partitioned
  // Set-Cookie).
  const out = await postJson(tls, h.server + '/auth/logout', {}, h.server);
  assert.deepEqual(
    out.headers['set-cookie'].map((x) => [x.split(';')[0], cookieAttributes(x)]),
    [
      ['cobrowse_agent=', ['HttpOnly', 'Max-Age=0', 'Path=/', 'SameSite=Strict', 'Secure']],
      [
        'cobrowse_agent=',
        ['HttpOnly', 'Max-Age=0', 'Partitioned', 'Path=/', 'SameSite=None', 'Secure'],
      ],
    ],
  );
  // A server that no desktop embeds: its agents' cookies stay SameSite=Strict too.
  const plain = await startServer({ ...h.env, COBROWSE_AGENT_ORIGINS: '[]' });
  try {
    const token = cli(plain.dataDir, h.env, ['token', 'agent', 'solo']);
    const r = await postJson(tls, plain.url + '/auth/token', { token }, plain.url);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(cookieAttributes(r.headers['set-cookie'][0]), [
      'HttpOnly',
      'Max-Age>0',
      'Path=/',
      'SameSite=Strict',
      'Secure',
    ]);
    assert.equal(r.headers['set-cookie'].length, 1);
  } finally {
    plain.proc.kill('SIGTERM');
    rmSync(plain.dataDir, { recursive: true, force: true });
  }
});
