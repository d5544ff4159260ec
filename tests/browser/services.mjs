// Services the cluster tests start for themselves: Redis and PostgreSQL on free loopback ports.
// Missing locally, they skip the tests that need them; missing under CI, they fail.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Why the tests needing Redis cannot run here, or false. */
export function redisMissing() {
  try {
    execFileSync('redis-server', ['--version']);
    return false;
  } catch {
    if (process.env.CI)
      throw new Error('redis-server is missing (CI): run scripts/test, which installs it');
    return 'redis-server is missing';
  }
}
/** The newest PostgreSQL's programs, if installed (Debian's layout). */
function postgresBin() {
  const root = '/usr/lib/postgresql';
  const bins = existsSync(root)
    ? readdirSync(root)
        .sort()
        .map((v) => path.join(root, v, 'bin'))
    : [];
  return bins.reverse().find((b) => existsSync(path.join(b, 'initdb'))) || null;
}
/** Why the tests needing PostgreSQL cannot run here, or false. */
export function postgresMissing() {
  if (postgresBin()) return false;
  if (process.env.CI)
    throw new Error('PostgreSQL is missing (CI): run scripts/test, which installs it');
  return 'PostgreSQL is missing';
}

/** A Redis on a free port, no persistence; `stop()` kills it. */
export async function startRedis(port) {
  const redis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  await waitPort(port);
  return { url: `redis://127.0.0.1:${port}/`, proc: redis, stop: () => redis.kill('SIGKILL') };
}

/**
 * A throwaway PostgreSQL on a free port: nodes share accounts, sign-ins and rule sets
 * through it, as a deployment of several nodes does. It refuses to run as root, so it
 * runs as `postgres` then.
 */
export async function startPostgres() {
  const bin = postgresBin();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cobrowse-pg-'));
  const data = path.join(dir, 'data');
  const root = process.getuid?.() === 0;
  /** @param {string} prog @param {string[]} args @returns {[string, string[]]} */
  const run = (prog, args) => {
    const exe = path.join(bin, prog);
    return root ? ['runuser', ['-u', 'postgres', '--', exe, ...args]] : [exe, args];
  };
  if (root) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  const init = ['-A', 'trust', '-U', 'cobrowse', '-E', 'UTF8', '-D', data];
  execFileSync(...run('initdb', init), { stdio: 'ignore' });
  const port = await freePort();
  const settings = ['-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-k', dir];
  const proc = spawn(...run('postgres', ['-D', data, '-p', String(port), ...settings]), {
    stdio: 'ignore',
  });
  await waitPort(port);
  const stop = () => {
    // SIGINT to the postmaster itself (not to runuser): PostgreSQL's fast shutdown.
    try {
      const pid = readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0];
      process.kill(Number(pid), 'SIGINT');
    } catch {
      proc.kill('SIGKILL');
    }
    setTimeout(() => rmSync(dir, { recursive: true, force: true }), 500).unref();
  };
  return { url: `postgres://cobrowse@127.0.0.1:${port}/postgres`, stop };
}

export const freePort = () =>
  new Promise((r) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => r(p));
    });
  });

export function waitPort(port, ms = 20000) {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tryOnce = () => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        resolve();
      });
      s.on('error', () =>
        Date.now() > end
          ? reject(new Error('port ' + port + ' never opened'))
          : setTimeout(tryOnce, 100),
      );
    };
    tryOnce();
  });
}
