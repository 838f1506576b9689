// The private_key_jwt load of `npm run bench` (scenario `jwt`) and of `bench/compare.mjs
// --scenario jwt`: clients with an Ed25519 key each, and a fresh assertion (new jti) per request.
// Each jti is spent in its client's guard object, which keeps at most 2 048 live ones (until
// exp + 30 s skew): with assertions living 10 s, a client takes ~50 a second, so the load spreads
// over a pool of clients wide enough never to fill one.
import { generateKeyPairSync, randomUUID, sign as cryptoSign } from 'node:crypto';
import { clientRecord } from '../scripts/devstate.mjs';

const JWT_CLIENTS = 128;
const JWT_TTL_S = 10;
const ASSERTION_TYPE = encodeURIComponent('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');

/** A JSON value as a JWS part (base64url of its JSON). */
export const b64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** `JWT_CLIENTS` key clients' records (public keys, `audience` theirs) and their private keys, made here. */
export function jwtClients(pepper, audience) {
  return Array.from({ length: JWT_CLIENTS }, (_, i) => {
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
