// Mutual TLS (RFC 8705; issue 12): clients that authenticate with their TLS client
// certificate (tls_client_auth: a CA-issued certificate of a subject DN; self_signed_
// tls_client_auth: a certificate by its SHA-256), and tokens bound to that certificate
// (`cnf.x5t#S256`). The Worker reads what Cloudflare's edge says of the certificate,
// `request.cf.tlsClientAuth`: here each request carries the `cf` object the edge would send,
// made from certificates generated in this file (scripts/certs.mjs, node:crypto) and a test CA.
// Tokens verified with `jose`; `x5t#S256` compared with the SHA-256 of the DER computed here.
// Requirement → test: tests/README.md.
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assert, assertError, jose, oneGateWindow, runCli, testLogHygiene, useWorker } from './harness.mjs';
import { lastReason } from './jwt-clients.mjs';
import { NO_CERTIFICATE, issue, tlsClientAuth } from '../scripts/certs.mjs';

const w = useWorker({ adminToken: true });
const GRANT = { grant_type: 'client_credentials' };

const ca = issue([['O', 'Test CA'], ['CN', 'edge-token test CA']], { ca: true });
const svc = issue([['C', 'DE'], ['O', 'Example'], ['CN', 'svc']], { issuer: ca });
const other = issue([['C', 'DE'], ['O', 'Example'], ['CN', 'other']], { issuer: ca });
const selfSigned = issue([['CN', 'self-signed svc']]);
const selfSignedNext = issue([['CN', 'self-signed svc, next']]);

/** The `x5t#S256` a token bound to `cert` must carry: base64url of its DER's SHA-256, computed here. */
const x5t = (cert) => createHash('sha256').update(cert.der).digest('base64url');
/** The edge's report of `cert` presented on a connection (verified against the test CA). */
const edge = (cert, extra = {}) => ({ tlsClientAuth: { ...tlsClientAuth(cert.der, ca), ...extra } });

/** Seeds a client of `method` (its record's members in `record`), no secret. */
const mtlsClient = (method, record, rest = {}) => w.seedClient({
  secrets: [], ...rest, record: { token_endpoint_auth_method: method, ...record },
});
const byDn = (dn = svc.dn, extra = {}) => mtlsClient('tls_client_auth', { tls_client_auth_subject_dn: dn, ...extra });
const bySha = (certs, extra = {}) => mtlsClient('self_signed_tls_client_auth', { tls_client_certificate_sha256: certs.map((c) => c.sha256), ...extra });

/** A token request naming `client` in the body and nothing else, over a connection the edge describes as `cf`. */
const ask = (client, cf, opts = {}) => w.token({ params: { ...GRANT, client_id: client.id }, ...(cf ? { cf } : {}), ...opts });

/** Verifies an issued token with jose; returns its payload. */
async function issued(res, client) {
  assert.equal(res.status, 200, `status (body error: ${res.json?.error})`);
  assert.equal(res.json.token_type, 'Bearer', 'a certificate-bound token is still a Bearer token (RFC 8705 §3)');
  return (await w.verifyToken(res.json.access_token, client)).payload;
}

test('the metadata announces both mutual-TLS methods and certificate-bound tokens', async () => {
  const res = await w.fetch('/.well-known/oauth-authorization-server');
  assert.equal(res.status, 200);
  for (const method of ['tls_client_auth', 'self_signed_tls_client_auth']) {
    assert.ok(res.json.token_endpoint_auth_methods_supported.includes(method), method);
    assert.ok(res.json.introspection_endpoint_auth_methods_supported.includes(method), method);
  }
  assert.equal(res.json.tls_client_certificate_bound_access_tokens, true);
});

test('a tls_client_auth client with a verified certificate of its subject DN gets a token bound to that certificate', async () => {
  const c = await byDn(svc.dn, { tls_client_certificate_bound_access_tokens: true });
  const payload = await issued(await ask(c, edge(svc)), c);
  assert.deepEqual(payload.cnf, { 'x5t#S256': x5t(svc) }, 'cnf names the SHA-256 of the DER, base64url');
  assert.equal(svc.sha256, tlsClientAuth(svc.der, ca).certFingerprintSHA256, 'the edge reports the same fingerprint in hex');
});

test('without the certificate-bound flag a mutual-TLS client gets an unbound token', async () => {
  const c = await byDn();
  const payload = await issued(await ask(c, edge(svc)), c);
  assert.equal(payload.cnf, undefined, 'no cnf');
});

test('an unverified, revoked or missing certificate, or no tlsClientAuth at all, is invalid_client for a tls_client_auth client', async () => {
  const c = await byDn();
  const cases = [
    [edge(svc, { certVerified: 'FAILED:unable to get local issuer certificate' }), 'certificate_unverified'],
    [{ tlsClientAuth: tlsClientAuth(selfSigned.der, ca) }, 'certificate_unverified'], // not issued by the CA
    [edge(svc, { certRevoked: '1' }), 'certificate_revoked'],
    [{ tlsClientAuth: NO_CERTIFICATE }, 'certificate_missing'],
    [{ tlsClientAuth: { ...tlsClientAuth(svc.der, ca), certPresented: '0' } }, 'certificate_missing'],
    [{ tlsClientAuth: { ...tlsClientAuth(svc.der, ca), certFingerprintSHA256: 'not-hex' } }, 'certificate_missing'],
    [{ country: 'DE' }, 'certificate_missing'], // a cf object without tlsClientAuth
    [undefined, 'certificate_missing'], // no cf at all: a hostname without mTLS, never taken as verified
  ];
  for (const [cf, reason] of cases) {
    assertError(await ask(c, cf), 401, 'invalid_client');
    assert.equal(await lastReason(w), reason);
  }
});

test("another subject's certificate, even verified, is invalid_client for a tls_client_auth client", async () => {
  const c = await byDn();
  assertError(await ask(c, edge(other)), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'certificate_mismatch');
  // The DN is compared exactly, as the edge renders it (RFC 2253): no case folding.
  const folded = await byDn(svc.dn.toLowerCase());
  assertError(await ask(folded, edge(svc)), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'certificate_mismatch');
});

test('a self_signed_tls_client_auth client is known by its fingerprint, verified or not, and bound to it', async () => {
  const c = await bySha([selfSigned, selfSignedNext], { tls_client_certificate_bound_access_tokens: true });
  for (const cert of [selfSigned, selfSignedNext]) {
    const cf = { tlsClientAuth: tlsClientAuth(cert.der, ca) };
    assert.match(cf.tlsClientAuth.certVerified, /^FAILED:/, 'the edge cannot verify a self-signed certificate');
    const payload = await issued(await ask(c, cf), c);
    assert.deepEqual(payload.cnf, { 'x5t#S256': x5t(cert) });
  }
  assertError(await ask(c, edge(svc)), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'certificate_mismatch');
  assertError(await ask(c, { tlsClientAuth: NO_CERTIFICATE }), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'certificate_missing');
});

test('a secret client asking for certificate-bound tokens gets one over a certificate and is refused without one', async () => {
  const c = await w.seedClient({ record: { tls_client_certificate_bound_access_tokens: true } });
  // Any presented certificate binds the token, self-signed included: the handshake proved its key.
  const payload = await issued(await w.token({ auth: [c.id, c.secret], cf: { tlsClientAuth: tlsClientAuth(selfSigned.der, ca) } }), c);
  assert.deepEqual(payload.cnf, { 'x5t#S256': x5t(selfSigned) });
  for (const cf of [undefined, { tlsClientAuth: NO_CERTIFICATE }]) {
    const res = await w.token({ auth: [c.id, c.secret], ...(cf ? { cf } : {}) });
    assertError(res, 400, 'invalid_request');
    assert.equal(await lastReason(w, 400), 'certificate_required');
  }
  // A client without the flag is not bound, certificate or not.
  const plain = await w.seedClient();
  const unbound = await issued(await w.token({ auth: [plain.id, plain.secret], cf: edge(svc) }), plain);
  assert.equal(unbound.cnf, undefined);
});

test('a client id alone is no credential for a secret client, and a secret none for a mutual-TLS client', async () => {
  const secretClient = await w.seedClient();
  assertError(await ask(secretClient, edge(svc)), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'no_credentials');
  const c = await byDn();
  assertError(await w.token({ params: { ...GRANT, client_id: c.id, client_secret: 'a-guess-at-a-secret' }, cf: edge(svc) }), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'wrong_secret');
});

test('ten failed certificate authentications from one address block it, even with the right certificate', async () => {
  const c = await byDn();
  const ip = '203.0.113.77';
  await oneGateWindow();
  for (let i = 0; i < 10; i++) assertError(await ask(c, edge(other), { ip }), 401, 'invalid_client');
  const res = await ask(c, edge(svc), { ip });
  assert.equal(res.status, 429, 'the address is blocked, as after ten wrong secrets');
  await issued(await ask(c, edge(svc)), c);
});

test('a mutual-TLS resource server introspects a certificate-bound token and learns its cnf', async () => {
  const client = await bySha([selfSigned], { tls_client_certificate_bound_access_tokens: true });
  const token = (await ask(client, { tlsClientAuth: tlsClientAuth(selfSigned.der, ca) })).json.access_token;
  const rs = await byDn(other.dn, { introspect: true });
  const call = (cf) => w.fetch('/oauth2/introspect', {
    method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: rs.id, token }).toString(), ...(cf ? { cf } : {}),
  });
  const res = await call(edge(other));
  assert.equal(res.status, 200, `status (body error: ${res.json?.error})`);
  assert.equal(res.json.active, true);
  assert.deepEqual(res.json.cnf, { 'x5t#S256': x5t(selfSigned) });
  assert.equal(res.json.token_type, 'Bearer');
  assertError(await call(undefined), 401, 'invalid_client');
  assertError(await call(edge(svc)), 401, 'invalid_client');
});

test('the admin API and the CLI create mutual-TLS clients and refuse malformed certificate members', async () => {
  const api = '/admin/v1/tenants/default/clients';
  const base = { scopes: ['read'], audience: ['https://api.example.com'] };
  const made = await w.admin(api, { method: 'POST', body: { ...base, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: svc.dn, tls_client_certificate_bound_access_tokens: true } });
  assert.equal(made.status, 201, made.text);
  assert.equal(made.json.client_secret, undefined, 'no secret');
  assert.equal(made.json.client.tls_client_auth_subject_dn, svc.dn);
  const client = { id: made.json.client.client_id, record: { token_ttl: made.json.client.token_ttl, audience: base.audience } };
  const payload = await issued(await ask(client, edge(svc), { params: { ...GRANT, client_id: client.id, scope: 'read' } }), client);
  assert.deepEqual(payload.cnf, { 'x5t#S256': x5t(svc) });
  for (const [body, words] of [
    [{ ...base, token_endpoint_auth_method: 'self_signed_tls_client_auth', tls_client_certificate_sha256: ['abc'] }, '64 hex digits'],
    [{ ...base, token_endpoint_auth_method: 'tls_client_auth' }, 'subject DN'],
    [{ ...base, tls_client_auth_subject_dn: svc.dn }, 'need token_endpoint_auth_method'],
    [{ ...base, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'x'.repeat(1025) }, 'RFC 4514'],
  ]) {
    const res = await w.admin(api, { method: 'POST', body });
    assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
    assert.ok(res.json.message.includes(words), res.json.message);
  }
  // The CLI: a self-signed client from its PEM file, whose fingerprint it computes.
  const dir = mkdtempSync(join(tmpdir(), 'mtls-cli-'));
  writeFileSync(join(dir, 'client.pem'), selfSignedNext.pem);
  const r = runCli(['--json', 'client', 'create', '--url', w.adminUrl, '--scopes', 'read', '--audience', 'https://api.example.com',
    '--cert', join(dir, 'client.pem'), '--certificate-bound'], { env: { EDGE_TOKEN_ADMIN_TOKEN: w.adminToken } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.client.token_endpoint_auth_method, 'self_signed_tls_client_auth');
  assert.deepEqual(r.json.client.tls_client_certificate_sha256, [selfSignedNext.sha256]);
  assert.equal(r.json.client.tls_client_certificate_bound_access_tokens, true);
  const human = runCli(['client', 'show', r.json.client.client_id, '--url', w.adminUrl], { env: { EDGE_TOKEN_ADMIN_TOKEN: w.adminToken } });
  assert.match(human.stdout, /self_signed_tls_client_auth: certificate SHA-256 [0-9a-f]{64}/);
  assert.match(human.stdout, /bound +to the client certificate/);
});

/** A DPoP proof (RFC 9449) of a fresh ES256 key for the default token path; returns {jwt, jkt}. */
async function dpopProof() {
  const { publicKey, privateKey } = await jose.generateKeyPair('ES256');
  const jwk = await jose.exportJWK(publicKey);
  const jwt = await new jose.SignJWT({ htm: 'POST', htu: `http://127.0.0.1${w.tokenPath}`, iat: Math.floor(Date.now() / 1000), jti: randomUUID() })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).sign(privateKey);
  w.sensitive.add(jwt);
  return { jwt, jkt: await jose.calculateJwkThumbprint(jwk) };
}

test('a token is bound to one key at most: never both flags, no DPoP proof for a certificate-bound client, DPoP for an mTLS client', async () => {
  const both = await w.admin('/admin/v1/tenants/default/clients', { method: 'POST', body: {
    scopes: ['read'], audience: ['https://api.example.com'], dpop_bound_access_tokens: true, tls_client_certificate_bound_access_tokens: true,
  } });
  assert.equal(both.status, 400, both.text);
  assert.match(both.json.message, /one key at most/);
  // A certificate-bound client sending a proof: refused before the proof is looked at.
  const bound = await byDn(svc.dn, { tls_client_certificate_bound_access_tokens: true });
  for (const header of [(await dpopProof()).jwt, 'not a proof']) {
    assertError(await ask(bound, edge(svc), { headers: { DPoP: header } }), 400, 'invalid_request');
    assert.equal(await lastReason(w, 400), 'two_bindings');
  }
  // An mTLS client without the flag authenticates with its certificate and binds with DPoP.
  const c = await byDn();
  const { jwt, jkt } = await dpopProof();
  const res = await ask(c, edge(svc), { headers: { DPoP: jwt } });
  assert.equal(res.status, 200, `status (body error: ${res.json?.error})`);
  assert.equal(res.json.token_type, 'DPoP');
  const { payload } = await w.verifyToken(res.json.access_token, c);
  assert.deepEqual(payload.cnf, { jkt }, 'bound to the DPoP key, not the certificate');
});

testLogHygiene(w);
