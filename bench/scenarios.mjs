// Token loads shared by the benchmarks: `npm run bench`'s private_key_jwt clients, and the
// `--scenario token|jwt` of bench/profile.mjs and bench/compare.mjs.
//
// private_key_jwt: clients with an Ed25519 key each, and a fresh assertion (new jti) per request.
// Each jti is spent in its client's guard object, which keeps at most 2 048 live ones (until
// exp + 30 s skew): with assertions living 10 s, a client takes ~50 a second, so the load spreads
// over a pool of clients wide enough never to fill one.
import { generateKeyPairSync, randomUUID, sign as cryptoSign } from 'node:crypto';
import { clientRecord, randomToken } from '../scripts/devstate.mjs';

const JWT_CLIENTS = 128;
const JWT_TTL_S = 10;
const ASSERTION_TYPE = encodeURIComponent('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');

/** A JSON value as a JWS part (base64url of its JSON). */
export const b64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** `count` key clients' records (public keys, `audience` theirs) and their private keys, made here. */
export function jwtClients(pepper, audience, count = JWT_CLIENTS) {
  return Array.from({ length: count }, (_, i) => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const id = `bench-jwt-${i}`;
    const record = clientRecord({ id, secrets: [], pepper, scopes: ['read'], defaultScopes: ['read'], audience: [audience],
      rate_limit: { per_minute: 1_000_000, burst: 1_000_000 }, token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'EdDSA', jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'bench' }] } });
    return { id, record, privateKey };
  });
}

/** A function giving a token request body with a new EdDSA assertion (for `issuer`) of the pool's next client. */
export function assertionBody(clients, issuer) {
  const header = b64url({ alg: 'EdDSA', kid: 'bench' });
  let turn = 0;
  return () => {
    const c = clients[turn++ % clients.length];
    const t = Math.floor(Date.now() / 1000);
    const input = `${header}.${b64url({ iss: c.id, sub: c.id, aud: issuer, iat: t, exp: t + JWT_TTL_S, jti: randomUUID() })}`;
    const jwt = `${input}.${cryptoSign(null, Buffer.from(input), c.privateKey).toString('base64url')}`;
    return `grant_type=client_credentials&client_assertion_type=${ASSERTION_TYPE}&client_assertion=${jwt}`;
  };
}

const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

/**
 * A load of valid token requests at `path` of an endpoint with issuer `issuer`: `token`, one
 * client_secret_basic client; `jwt`, private_key_jwt over the pool above (`jwtClients` clients,
 * 128 unless given). Gives the clients (id and KV record, for the endpoint's KV), the autocannon
 * request (a fresh body per private_key_jwt request) and `once()`, a fetch init for one more.
 */
export function tokenLoad(scenario, pepper, { issuer, audience, path, jwtClients: count = JWT_CLIENTS }) {
  if (scenario === 'jwt') {
    const clients = jwtClients(pepper, audience, count), next = assertionBody(clients, issuer);
    const headers = { ...FORM, 'CF-Connecting-IP': '10.255.255.253' };
    return { clients, request: { method: 'POST', path, headers, setupRequest: (req) => { req.body = next(); return req; } },
      once: () => ({ method: 'POST', headers, body: next() }) };
  }
  if (scenario !== 'token') throw new Error(`scenario ${scenario}: token or jwt`);
  const id = 'bench-client', secret = randomToken();
  const record = clientRecord({ id, secrets: [secret], pepper, scopes: ['read'], defaultScopes: ['read'],
    rate_limit: { per_minute: 1_000_000, burst: 1_000_000 } });
  const init = { method: 'POST', body: 'grant_type=client_credentials',
    headers: { ...FORM, Authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`, 'CF-Connecting-IP': '10.255.255.254' } };
  return { clients: [{ id, record }], request: { ...init, path }, once: () => init };
}
