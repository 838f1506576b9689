// Shared by the black-box tests of clients without secrets (issue 11): key pairs made with
// `jose`, private_key_jwt clients seeded into KV, signed assertions, and the log's reason of a
// refusal. Not a test file itself (node --test runs only *.test.mjs here).
import { randomUUID } from 'node:crypto';
import { jose } from './harness.mjs';

export const TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
export const GRANT = { grant_type: 'client_credentials' };
export const now = () => Math.floor(Date.now() / 1000);
export const b64 = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A key pair for `alg`, its public JWK carrying `kid`. */
export async function keyPair(alg, kid = `k-${randomUUID().slice(0, 8)}`) {
  const options = alg === 'EdDSA' ? { crv: 'Ed25519', extractable: true } : { extractable: true };
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, options);
  return { alg, kid, privateKey, jwk: { ...(await jose.exportJWK(publicKey)), kid } };
}

/**
 * Seeds a private_key_jwt client with the public keys `keys` (default: one new EdDSA key) and
 * returns seedClient's result with the keys.
 */
export async function keyClient(w, { alg = 'EdDSA', keys, record = {}, ...rest } = {}) {
  const pairs = keys ?? [await keyPair(alg)];
  const c = await w.seedClient({
    secrets: [], ...rest,
    record: {
      token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: alg,
      jwks: { keys: pairs.map((p) => p.jwk) }, ...record,
    },
  });
  return { ...c, keys: pairs };
}

/**
 * A signed assertion for `client` by its first key: the RFC 7523 claims, `claims` merged over
 * them (undefined removes one), `header` over the protected header. Marked sensitive.
 */
export async function assertion(w, client, { claims = {}, header = {}, key = client.keys[0] } = {}) {
  const t = now();
  const payload = { iss: client.id, sub: client.id, aud: w.issuer, iat: t, exp: t + 60, jti: randomUUID(), ...claims };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  const jwt = await new jose.SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header }).sign(key.privateKey);
  w.sensitive.add(jwt);
  return jwt;
}

/** A token request authenticated by `jwt`; `extra` parameters are added (or replace). */
export function present(w, jwt, extra = {}, opts = {}) {
  w.sensitive.add(jwt);
  return w.token({ params: { ...GRANT, client_assertion_type: TYPE, client_assertion: jwt, ...extra }, ...opts });
}

/** The `reason` of the log line of the latest refused request with `status`. */
export async function lastReason(w, status = 401) {
  const lines = (await w.jsonLogLines(w.tokenAnswers.length)).filter((l) => l.route === 'token' && l.status === status);
  return lines.at(-1)?.reason;
}
