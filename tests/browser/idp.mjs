// A real OpenID provider for the sign-in tests: `oidc-provider` (the certified Node
// implementation) on 127.0.0.1, behind a small man in the middle the tests steer to play the
// attacker on the provider's answers (a tampered or replayed ID token).
//
// People are made up on the spot: any login name signs in with any password (the provider's
// development sign-in form), and `groups` says which groups each belongs to.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

export const CLIENT_ID = 'cobrowse';
export const CLIENT_SECRET = randomBytes(24).toString('hex');

/** @typedef {'none' | 'tamper' | 'replay'} Attack */

/** A fresh RSA signing key, as a private JWK with its own key id. */
function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' };
}

/** @param {string} text @returns {string} */
function b64(text) {
  return Buffer.from(text).toString('base64url');
}

/**
 * Starts the provider. `redirectUris` may be given later (`idp.register`), once the servers
 * that will receive the answers listen.
 * @param {{ idTokenTtl?: number }} [opts] ID token lifetime in seconds (default 60)
 */
export async function startIdp(opts = {}) {
  /** @type {Map<string, string[]>} */
  const groups = new Map();
  const front = http.createServer();
  await new Promise((r) => front.listen(0, '127.0.0.1', () => r(undefined)));
  const address = /** @type {import('node:net').AddressInfo} */ (front.address());
  const issuer = `http://127.0.0.1:${address.port}`;
  /** @type {string[]} */
  let redirects = [];
  /** @type {(req: http.IncomingMessage, res: http.ServerResponse) => void} */
  let handle = () => {};
  /** @type {Attack} */
  let attack = 'none';
  let idTokenTtl = opts.idTokenTtl ?? 60;
  /** How old a replayed token is at least, in ms. */
  let replayAge = 0;
  /** ID tokens the provider issued, oldest first, with when. */
  /** @type {{ token: string, at: number }[]} */
  const issued = [];
  const seen = { jwks: 0 };

  const tokenLifetime = () => idTokenTtl;

  /** A provider with a new signing key; sign-ins it knows of are forgotten. */
  function rotate() {
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          redirect_uris: redirects,
          post_logout_redirect_uris: redirects.map((r) => new URL('/agent/', r).href),
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
        },
      ],
      claims: {
        openid: ['sub'],
        email: ['email', 'email_verified'],
        profile: ['preferred_username'],
        groups: ['groups'],
      },
      scopes: ['openid', 'email', 'profile', 'groups'],
      conformIdTokenClaims: false,
      pkce: { required: () => true },
      features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
      jwks: { keys: [signingKey()] },
      ttl: { IdToken: tokenLifetime },
      cookies: { keys: [randomBytes(16).toString('hex')] },
      findAccount: (_ctx, id) => ({
        accountId: id,
        claims: () => ({
          sub: id,
          email: `${id}@example.com`,
          email_verified: true,
          preferred_username: id,
          groups: groups.get(id) ?? [],
        }),
      }),
      // Every sign-in can be refreshed, so that the server can ask about its person again.
      issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
      // The people here have agreed to share who they are with cobrowse already.
      loadExistingGrant: async (ctx) => {
        const { Grant } = ctx.oidc.provider;
        const grant = new Grant({
          clientId: ctx.oidc.client.clientId,
          accountId: ctx.oidc.session.accountId,
        });
        grant.addOIDCScope('openid email profile groups');
        await grant.save();
        return grant;
      },
    });
    handle = provider.callback();
  }

  /**
   * What the man in the middle does to the token endpoint's answer.
   * @param {string} body
   */
  function tokenAnswer(body) {
    const answer = JSON.parse(body);
    if (!answer.id_token) return body;
    const genuine = answer.id_token;
    if (attack === 'tamper') {
      const [head, payload, sig] = genuine.split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
      claims.groups = ['admins'];
      answer.id_token = [head, b64(JSON.stringify(claims)), sig].join('.');
    } else if (attack === 'replay') {
      const old = issued.filter((t) => Date.now() - t.at >= replayAge);
      if (old.length) answer.id_token = old[old.length - 1].token;
    }
    issued.push({ token: genuine, at: Date.now() });
    return JSON.stringify(answer);
  }

  /** Answers kept from the browser (`hold`): the URLs it would have been sent back to. */
  /** @type {string[]} */
  const held = [];
  let hold = false;

  front.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    if (url.pathname === '/jwks') seen.jwks += 1;
    // Sees each answer whole before it leaves: the provider writes it in one piece.
    const end = res.end.bind(res);
    /** @type {any} */ (res).end = (/** @type {any} */ chunk, /** @type {any[]} */ ...rest) => {
      let body = Buffer.from(chunk ?? '').toString();
      const location = String(res.getHeader('location') ?? '');
      if (url.pathname === '/token') body = tokenAnswer(body);
      else if (hold && redirects.some((r) => location.startsWith(r))) {
        held.push(location);
        res.statusCode = 200;
        res.removeHeader('location');
        res.setHeader('content-type', 'text/plain');
        body = 'held';
      }
      if (!res.headersSent) res.setHeader('content-length', Buffer.byteLength(body));
      return end(body, ...rest);
    };
    handle(req, res);
  });

  rotate();
  return {
    issuer,
    groups,
    seen,
    issued,
    /** @param {string[]} uris the servers' callback URLs */
    register(uris) {
      redirects = uris;
      rotate();
    },
    rotate,
    held,
    /** @param {boolean} on whether answers to the servers are kept from the browser */
    hold(on) {
      hold = on;
    },
    /** @param {number} seconds how long the ID tokens issued from now on live */
    ttl(seconds) {
      idTokenTtl = seconds;
    },
    /**
     * @param {Attack} a
     * @param {number} [age] for `replay`: the newest token issued at least this long ago (ms)
     */
    attack(a, age = 0) {
      attack = a;
      replayAge = age;
    },
    close: () => new Promise((r) => front.close(() => r(undefined))),
  };
}

/**
 * The settings a cobrowse server needs for this provider (as `COBROWSE_OIDC`).
 * @param {string} issuer
 * @param {Record<string, string>} [extra] more settings, as TOML values
 */
export function oidcSetting(issuer, extra = {}) {
  const fields = {
    id: '"test"',
    name: '"Test IdP"',
    issuer: JSON.stringify(issuer),
    client_id: JSON.stringify(CLIENT_ID),
    client_secret: JSON.stringify(CLIENT_SECRET),
    scopes: '["openid", "email", "profile", "groups"]',
    roles_claim: '"groups"',
    agent_values: '["agents"]',
    admin_values: '["admins"]',
    clock_skew: '"1s"',
    ...extra,
  };
  const body = Object.entries(fields)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return `[{${body}}]`;
}
