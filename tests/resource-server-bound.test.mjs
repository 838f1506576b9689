// Issue 12, "For resource servers": the example resource server (examples/resource-server)
// checking sender-constrained tokens. A certificate-bound token (RFC 8705 §3, cnf x5t#S256) is
// served only with the client certificate Cloudflare reports in request.cf.tlsClientAuth (its
// certFingerprintSHA256 in hex); a DPoP-bound token (RFC 9449 §7, cnf jkt) only with the DPoP
// scheme and a valid proof of that key. Proofs are made here with jose; certificates with
// scripts/certs.mjs. Certificate-bound and DPoP-bound tokens are the endpoint's own, asked over
// a connection that presented the certificate or with a proof of the key; the shapes the
// endpoint never issues (two keys, another confirmation method) are its tokens signed again
// with its key and such a cnf claim.
// Requirement → test:
//   x5t#S256: right certificate → 200 (CA-verified or not); other / revoked / none → 401        → "a certificate-bound token is served with its certificate, and refused with another one or none"
//   x5t#S256 presented with the DPoP scheme; cnf of two keys or another method → 401            → "a token bound otherwise than the request presents it, or to something this API cannot check, is refused"
//   DPoP: valid ES256 and EdDSA proofs → 200; htu without query; POST                            → "a DPoP-bound token is served with a fresh proof of its key, ES256 or EdDSA"
//   DPoP: a replayed proof → 401 invalid_dpop_proof                                               → "a DPoP proof is good once"
//   DPoP: wrong ath, htu, htm, stale or future iat, another key than cnf.jkt, private jwk, ...    → "a DPoP proof for another token, method or URL, too old, by another key or with a private key is refused"
//   DPoP: Bearer downgrade; unbound token with the DPoP scheme; bound token without its proof    → "a DPoP-bound token presented as a bearer token or without a proof, and an unbound token presented with the DPoP scheme, are refused"
//   DPoP end to end: a token the endpoint bound to a proof key, at the example                      → "a DPoP-bound token the token endpoint itself issued is served with a proof of its key, and refused as a bearer token"
//   the example's log names the reasons and never a token or proof                                → "the example logs why each bound token was refused, and never a token or a proof"
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { issue } from '../scripts/certs.mjs';
import { randomToken } from '../scripts/devstate.mjs';
import { assert, assertIssued, jose, testLogHygiene } from './harness.mjs';
import { API, loopbackEndpoint, startExample } from './resource-server-example.mjs';

const EXAMPLE = 'http://127.0.0.1'; // the origin the example's requests are addressed to
const ALGS = 'algs="ES256 EdDSA"';
const now = () => Math.floor(Date.now() / 1000);
const sha256 = (data) => createHash('sha256').update(data).digest();

const w = await loopbackEndpoint();
let example;
let exampleLog = '';
const proofs = new Set(); // every proof sent: none may reach the example's log

before(async () => {
  await w.start();
  example = await startExample(w, { onOutput: (chunk) => { exampleLog += chunk; } });
});
after(async () => {
  await example?.dispose();
  await w.dispose();
});

/** A self-signed certificate's DER (P-256). */
const certificate = () => issue([['CN', `client-${randomToken().slice(0, 6)}`]]).der;

/** request.cf as Cloudflare gives it for a request that presented the certificate `der`. */
function cfWith(der, { verified = 'SUCCESS', presented = '1' } = {}) {
  return {
    tlsClientAuth: {
      certPresented: presented, certVerified: verified,
      certFingerprintSHA256: sha256(der).toString('hex'),
      certSubjectDN: 'CN=client', certIssuerDN: 'CN=client', certSerial: '01',
    },
  };
}

/** A request to the example API; returns {status, challenge, json}. */
async function call(method, path, { authorization, dpop, cf } = {}) {
  const headers = {};
  if (authorization !== undefined) headers.Authorization = authorization;
  if (dpop !== undefined) headers.DPoP = dpop;
  const res = await example.dispatchFetch(`${EXAMPLE}${path}`, { method, headers, ...(cf ? { cf } : {}) });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, challenge: res.headers.get('www-authenticate'), json };
}

/** A client of the example API; `record`: members its record has beside the defaults. */
const shop = (record = {}) => w.seedClient({ scopes: ['orders:read', 'orders:write'], defaultScopes: ['orders:read'], audience: [API], record });

/**
 * A client whose record asks for certificate-bound tokens, and the endpoint's token for it,
 * asked over a connection that presented the certificate `der`: checked with jose, its
 * cnf x5t#S256 the base64url SHA-256 of `der` computed here.
 */
async function certBound(der, scope = 'orders:read') {
  const client = await shop({ tls_client_certificate_bound_access_tokens: true });
  const res = await w.token({
    auth: [client.id, client.secret], params: [['grant_type', 'client_credentials'], ['scope', scope]], cf: cfWith(der),
  });
  assert.equal(res.status, 200, `token: status (body error: ${res.json?.error})`);
  assert.equal(res.json.token_type, 'Bearer', 'token_type');
  const { payload } = await w.verifyToken(res.json.access_token, client, { scope, audience: [API] });
  assert.deepEqual(payload.cnf, { 'x5t#S256': jose.base64url.encode(sha256(der)) }, "cnf: the certificate's x5t#S256");
  w.sensitive.add(res.json.access_token);
  return { client, token: res.json.access_token };
}

/** The endpoint's token for `client`, asked with a DPoP proof by `key`: checked with jose, bound to the key. */
async function dpopBound(client, key, scope = 'orders:read') {
  const res = await w.token({
    auth: [client.id, client.secret], params: [['grant_type', 'client_credentials'], ['scope', scope]],
    headers: { DPoP: await proof(key, undefined, { htm: 'POST', htu: `${EXAMPLE}${w.tokenPath}` }) },
  });
  assert.equal(res.status, 200, `token: status (body error: ${res.json?.error})`);
  assert.equal(res.json.token_type, 'DPoP', 'token_type');
  const { payload } = await w.verifyToken(res.json.access_token, client, { scope, audience: [API] });
  assert.deepEqual(payload.cnf, { jkt: key.jkt }, "cnf.jkt: the proof key's thumbprint");
  return res.json.access_token;
}

/** The endpoint's token for `client` (checked with jose), signed again by the endpoint's key with `cnf` added. */
async function boundToken(client, cnf, scope = 'orders:read') {
  const res = await w.token({
    auth: [client.id, client.secret], params: [['grant_type', 'client_credentials'], ['scope', scope]],
  });
  const { token } = await assertIssued(w, res, client, { scope, echo: false, audience: [API] });
  if (cnf === undefined) return token;
  const { alg, typ, kid } = jose.decodeProtectedHeader(token);
  const bound = await new jose.SignJWT({ ...jose.decodeJwt(token), cnf }).setProtectedHeader({ alg, typ, kid })
    .sign(await jose.importJWK(w.keys[0], 'EdDSA'));
  w.sensitive.add(bound);
  return bound;
}

/** A DPoP key pair: {alg, privateKey, jwk (public), jkt (its RFC 7638 thumbprint)}. */
async function dpopKey(alg = 'ES256') {
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true });
  const jwk = await jose.exportJWK(publicKey);
  return { alg, privateKey, jwk, jkt: await jose.calculateJwkThumbprint(jwk, 'sha256') };
}

/** A DPoP proof by `key` for `token` (none: no ath) on `htm` `htu`; `header`/`claims` change or add members. */
async function proof(key, token, { htm = 'GET', htu = `${EXAMPLE}/orders`, iat = now(), header = {}, claims = {} } = {}) {
  const ath = token === undefined ? {} : { ath: jose.base64url.encode(sha256(token)) };
  const payload = { jti: randomToken(), htm, htu, iat, ...ath, ...claims };
  const jws = await new jose.SignJWT(payload)
    .setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk, ...header })
    .sign(key.privateKey);
  proofs.add(jws);
  return jws;
}

/** Asserts a 401 with `challenge` and the body's `error`. */
function assertRefused(res, challenge, error, what) {
  assert.equal(res.status, 401, `${what}: status (${res.json?.error})`);
  assert.equal(res.challenge, challenge, `${what}: challenge`);
  assert.equal(res.json?.error, error, `${what}: body`);
}

const CERT_NONE = 'Bearer realm="api", error="invalid_token", error_description="the access token is bound to a client certificate, and none was presented"';
const CERT_OTHER = 'Bearer realm="api", error="invalid_token", error_description="the access token is bound to another client certificate than the one presented"';
const BAD_PROOF = `DPoP realm="api", error="invalid_dpop_proof", error_description="the DPoP proof is not valid", ${ALGS}`;
const DOWNGRADE = `DPoP realm="api", error="invalid_token", error_description="the access token is DPoP-bound: present it with the DPoP scheme and a proof", ${ALGS}`;
const NOT_DPOP = `DPoP realm="api", error="invalid_token", error_description="the access token is not DPoP-bound: present it with the Bearer scheme", ${ALGS}`;

test('a certificate-bound token is served with its certificate, and refused with another one or none', async () => {
  const der = certificate();
  // x5t#S256 as RFC 8705 §3.1 has it, from the DER; Cloudflare reports the same hash in hex.
  const { client: c, token } = await certBound(der);
  const authorization = `Bearer ${token}`;
  const served = await call('GET', '/orders', { authorization, cf: cfWith(der) });
  assert.equal(served.status, 200, `its certificate, CA-verified (${served.json?.error})`);
  assert.deepEqual(served.json, { route: 'GET /orders', client_id: c.id }, 'the answer');
  // A self-signed client's certificate does not verify against a CA: the binding is the key.
  const selfSigned = cfWith(der, { verified: 'FAILED:self signed certificate' });
  assert.equal((await call('GET', '/orders', { authorization, cf: selfSigned })).status, 200, 'its certificate, not CA-verified');
  const upper = cfWith(der);
  upper.tlsClientAuth.certFingerprintSHA256 = upper.tlsClientAuth.certFingerprintSHA256.toUpperCase();
  assert.equal((await call('GET', '/orders', { authorization, cf: upper })).status, 200, 'the fingerprint in upper case');

  assertRefused(await call('GET', '/orders', { authorization, cf: cfWith(certificate()) }), CERT_OTHER, 'invalid_token', 'another certificate');
  const revoked = { tlsClientAuth: { ...cfWith(der).tlsClientAuth, certRevoked: '1' } };
  assertRefused(await call('GET', '/orders', { authorization, cf: revoked }),
    'Bearer realm="api", error="invalid_token", error_description="the client certificate the access token is bound to is revoked"', 'invalid_token', 'its certificate, revoked');
  const cases = {
    'no tlsClientAuth (an edge without mTLS)': {},
    'certPresented 0': cfWith(der, { presented: '0', verified: 'NONE' }),
    'no fingerprint': { tlsClientAuth: { certPresented: '1', certVerified: 'SUCCESS' } },
    'an empty fingerprint': { tlsClientAuth: { ...cfWith(der).tlsClientAuth, certFingerprintSHA256: '' } },
  };
  for (const [what, cf] of Object.entries(cases)) {
    assertRefused(await call('GET', '/orders', { authorization, cf }), CERT_NONE, 'invalid_token', what);
  }
  assertRefused(await call('GET', '/orders', { authorization }), CERT_NONE, 'invalid_token', 'no cf object given');
  const truncated = cfWith(der);
  truncated.tlsClientAuth.certFingerprintSHA256 = truncated.tlsClientAuth.certFingerprintSHA256.slice(0, 62);
  assertRefused(await call('GET', '/orders', { authorization, cf: truncated }), CERT_OTHER, 'invalid_token', 'a truncated fingerprint');
  // The checks before the binding still come first: another scope is 403 only with the certificate.
  const res = await call('POST', '/orders', { authorization, cf: cfWith(der) });
  assert.equal(res.status, 403, 'insufficient_scope with the certificate');
});

test('a token bound otherwise than the request presents it, or to something this API cannot check, is refused', async () => {
  const c = await shop();
  const der = certificate();
  const x5t = jose.base64url.encode(sha256(der));
  const key = await dpopKey();
  const { token: bound } = await certBound(der);
  assertRefused(await call('GET', '/orders', { authorization: `DPoP ${bound}`, dpop: await proof(key, bound), cf: cfWith(der) }),
    NOT_DPOP, 'invalid_token', 'a certificate-bound token with the DPoP scheme');
  const unknown = 'Bearer realm="api", error="invalid_token", error_description="the access token has a confirmation this API cannot check"';
  const cases = {
    'both keys': { 'x5t#S256': x5t, jkt: key.jkt },
    'another confirmation method': { jwk: key.jwk },
    'an empty cnf': {},
    'x5t#S256 not a string': { 'x5t#S256': 1 },
  };
  for (const [what, cnf] of Object.entries(cases)) {
    const token = await boundToken(c, cnf);
    assertRefused(await call('GET', '/orders', { authorization: `Bearer ${token}`, cf: cfWith(der) }), unknown, 'invalid_token', what);
  }
  const notObject = await boundToken(c, 'x5t');
  assertRefused(await call('GET', '/orders', { authorization: `Bearer ${notObject}`, cf: cfWith(der) }),
    'Bearer realm="api", error="invalid_token"', 'invalid_token', 'a cnf that is not an object');
});

test('a DPoP-bound token is served with a fresh proof of its key, ES256 or EdDSA', async () => {
  const c = await shop();
  for (const alg of ['ES256', 'EdDSA']) {
    const key = await dpopKey(alg);
    const token = await dpopBound(c, key);
    const res = await call('GET', '/orders', { authorization: `DPoP ${token}`, dpop: await proof(key, token) });
    assert.equal(res.status, 200, `${alg}: status (${res.json?.error})`);
    assert.deepEqual(res.json, { route: 'GET /orders', client_id: c.id }, `${alg}: the answer`);
    const again = await call('GET', '/orders', { authorization: `dpop ${token}`, dpop: await proof(key, token) });
    assert.equal(again.status, 200, `${alg}: a new proof, the scheme in any case`);
    // htu leaves the query out (RFC 9449 §4.3); the scheme and host compared as URLs.
    const query = await call('GET', '/orders?page=2', { authorization: `DPoP ${token}`, dpop: await proof(key, token) });
    assert.equal(query.status, 200, `${alg}: a request with a query`);
    const upper = await call('GET', '/orders', { authorization: `DPoP ${token}`, dpop: await proof(key, token, { htu: 'HTTP://127.0.0.1:80/orders' }) });
    assert.equal(upper.status, 200, `${alg}: htu with the scheme in upper case and the default port`);
  }
  const key = await dpopKey();
  const write = await dpopBound(c, key, 'orders:read orders:write');
  const post = await call('POST', '/orders', { authorization: `DPoP ${write}`, dpop: await proof(key, write, { htm: 'POST' }) });
  assert.equal(post.status, 200, 'POST with htm POST');
  const read = await dpopBound(c, key);
  const scope = await call('POST', '/orders', { authorization: `DPoP ${read}`, dpop: await proof(key, read, { htm: 'POST' }) });
  assert.equal(scope.status, 403, 'a good proof does not make up for the scope');
  assert.equal(scope.challenge, `DPoP realm="api", error="insufficient_scope", scope="orders:write", ${ALGS}`, 'in the DPoP scheme');
});

test('a DPoP proof is good once', async () => {
  const c = await shop();
  const key = await dpopKey('EdDSA');
  const token = await dpopBound(c, key);
  const dpop = await proof(key, token);
  assert.equal((await call('GET', '/orders', { authorization: `DPoP ${token}`, dpop })).status, 200, 'first use');
  assertRefused(await call('GET', '/orders', { authorization: `DPoP ${token}`, dpop }), BAD_PROOF, 'invalid_dpop_proof', 'replayed');
  const jti = jose.decodeJwt(dpop).jti;
  assertRefused(await call('GET', '/orders', { authorization: `DPoP ${token}`, dpop: await proof(key, token, { claims: { jti } }) }),
    BAD_PROOF, 'invalid_dpop_proof', 'a new proof with a spent jti');
  assert.equal((await call('GET', '/orders', { authorization: `DPoP ${token}`, dpop: await proof(key, token) })).status, 200, 'a new proof');
});

test('a DPoP proof for another token, method or URL, too old, by another key or with a private key is refused', async () => {
  const c = await shop();
  const key = await dpopKey();
  const token = await dpopBound(c, key);
  const other = await dpopKey();
  const edKey = await dpopKey('EdDSA');
  const privateJwk = { ...key.jwk, d: (await jose.exportJWK(key.privateKey)).d };
  const good = await proof(key, token);
  const [h, p, s] = good.split('.');
  const cases = {
    'ath of another token': await proof(key, token, { claims: { ath: jose.base64url.encode(sha256(`${token}x`)) } }),
    'no ath': await proof(key, token, { claims: { ath: undefined } }),
    'htu of another path': await proof(key, token, { htu: `${EXAMPLE}/payments` }),
    'htu of another host': await proof(key, token, { htu: 'http://127.0.0.2/orders' }),
    'htu of another scheme': await proof(key, token, { htu: 'https://127.0.0.1/orders' }),
    'htu not a URL': await proof(key, token, { htu: '/orders' }),
    'htm POST on a GET': await proof(key, token, { htm: 'POST' }),
    'htm in lower case': await proof(key, token, { htm: 'get' }),
    'iat two minutes old': await proof(key, token, { iat: now() - 120 }),
    'iat a minute ahead': await proof(key, token, { iat: now() + 60 }),
    'another key than cnf.jkt': await proof(other, token),
    'an EdDSA key than cnf.jkt': await proof(edKey, token),
    'a private key in jwk': await proof(key, token, { header: { jwk: privateJwk } }),
    'typ JWT': await proof(key, token, { header: { typ: 'JWT' } }),
    'alg ES384 named': await proof(key, token, { header: { alg: 'ES384' } }).catch(() => `${jose.base64url.encode(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES384', jwk: key.jwk }))}.${p}.${s}`),
    'alg none': `${jose.base64url.encode(JSON.stringify({ typ: 'dpop+jwt', alg: 'none', jwk: key.jwk }))}.${p}.`,
    'a jwk of another curve': `${jose.base64url.encode(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: { ...key.jwk, crv: 'P-384' } }))}.${p}.${s}`,
    'a changed claim': `${h}.${jose.base64url.encode(JSON.stringify({ ...jose.decodeJwt(good), jti: randomToken() }))}.${s}`,
    'two proofs': `${good}, ${await proof(key, token)}`,
    'not a JWT': 'not-a-jwt',
  };
  for (const [what, dpop] of Object.entries(cases)) {
    assertRefused(await call('GET', '/orders', { authorization: `DPoP ${token}`, dpop }), BAD_PROOF, 'invalid_dpop_proof', what);
  }
  assertRefused(await call('GET', '/orders', { authorization: `DPoP ${token}` }), BAD_PROOF, 'invalid_dpop_proof', 'no proof');
  // The good proof itself was never used above: it is served.
  assert.equal((await call('GET', '/orders', { authorization: `DPoP ${token}`, dpop: good })).status, 200, 'the good proof');
  // Within the window: a proof 50 s old, and one 5 s ahead.
  for (const iat of [now() - 50, now() + 5]) {
    assert.equal((await call('GET', '/orders', { authorization: `DPoP ${token}`, dpop: await proof(key, token, { iat }) })).status, 200, `iat ${iat - now()} s`);
  }
});

test('a DPoP-bound token presented as a bearer token or without a proof, and an unbound token presented with the DPoP scheme, are refused', async () => {
  const c = await shop();
  const key = await dpopKey();
  const token = await dpopBound(c, key);
  // RFC 9449 §7.2: no downgrade, with or without a proof beside it.
  assertRefused(await call('GET', '/orders', { authorization: `Bearer ${token}` }), DOWNGRADE, 'invalid_token', 'as Bearer');
  assertRefused(await call('GET', '/orders', { authorization: `Bearer ${token}`, dpop: await proof(key, token) }), DOWNGRADE, 'invalid_token', 'as Bearer with a proof');
  const unbound = await boundToken(c);
  assertRefused(await call('GET', '/orders', { authorization: `DPoP ${unbound}`, dpop: await proof(key, unbound) }), NOT_DPOP, 'invalid_token', 'an unbound token as DPoP');
  assert.equal((await call('GET', '/orders', { authorization: `Bearer ${unbound}`, dpop: await proof(key, unbound) })).status, 200,
    'an unbound token as Bearer, a proof beside it ignored');
  // A bad token in the DPoP scheme is answered in that scheme, without saying why.
  assertRefused(await call('GET', '/orders', { authorization: 'DPoP not-a-jwt', dpop: await proof(key, 'not-a-jwt') }),
    `DPoP realm="api", error="invalid_token", ${ALGS}`, 'invalid_token', 'a malformed token as DPoP');
});

test('a DPoP-bound token the token endpoint itself issued is served with a proof of its key, and refused as a bearer token', async () => {
  const c = await shop();
  const key = await dpopKey('EdDSA');
  const tokenProof = await new jose.SignJWT({ jti: randomToken(), htm: 'POST', htu: `${EXAMPLE}${w.tokenPath}`, iat: now() })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk }).sign(key.privateKey);
  proofs.add(tokenProof);
  const res = await w.token({ auth: [c.id, c.secret], headers: { DPoP: tokenProof } });
  assert.equal(res.status, 200, `token: status (${res.json?.error})`);
  assert.equal(res.json.token_type, 'DPoP');
  const token = res.json.access_token;
  assert.deepEqual(jose.decodeJwt(token).cnf, { jkt: key.jkt }, 'bound to the proof key');
  const served = await call('GET', '/orders', { authorization: `DPoP ${token}`, dpop: await proof(key, token) });
  assert.equal(served.status, 200, `served: status (${served.json?.error})`);
  assertRefused(await call('GET', '/orders', { authorization: `Bearer ${token}` }), DOWNGRADE, 'invalid_token', 'as a bearer token');
});

test('the example logs why each bound token was refused, and never a token or a proof', async () => {
  await new Promise((r) => setTimeout(r, 200));
  const reasons = new Set(exampleLog.split('\n').flatMap((l) => {
    try { return [JSON.parse(l.trim()).reason]; } catch { return []; }
  }));
  for (const reason of ['no_certificate', 'other_certificate', 'revoked_certificate', 'dpop_required', 'not_dpop_bound', 'unknown_binding',
    'replay', 'ath', 'htu', 'htm', 'iat', 'other_key', 'private_key', 'no_proof', 'signature']) {
    assert.ok(reasons.has(reason), `reason ${reason} logged`);
  }
  let leaks = 0;
  for (const s of [...w.sensitive, ...proofs]) if (s.length >= 8 && exampleLog.includes(s)) leaks++;
  assert.equal(leaks, 0, `${leaks} token(s), proof(s) or secret(s) in the example's output`);
  assert.equal(/eyJ[A-Za-z0-9_-]{10,}\./.test(exampleLog), false, "a JWT's shape in the example's output");
});

testLogHygiene(w, ' (endpoint beside the example)');
