// DPoP (RFC 9449) at the token endpoint: proofs made by jose with ES256 and EdDSA keys
// generated here; DPoP-bound tokens (token_type DPoP, cnf.jkt), every refused proof, the
// single use of a proof's jti, clients that require DPoP, a tenant's nonces, introspection of a
// bound token, the admin API's and the CLI's dpop_bound_access_tokens.
// Requirement → test: tests/README.md.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import {
  assert, assertError, jose, runCli, testLogHygiene, useWorker, TestWorker,
} from './harness.mjs';
import { ROOT } from '../scripts/devstate.mjs';

const TENANTS = {
  default: { token_paths: ['/oauth2/token', '/oauth2/v2/token'] },
  nonced: { issuer_path: '/nonced', token_paths: ['/nonced/token'], dpop_nonce: true },
};
const w = useWorker({ tenants: TENANTS, tenant: 'default', adminToken: true });
/** The URL the requests come to (the harness addresses the Worker so). */
const urlOf = (path) => `http://127.0.0.1${path}`;
const URL_DEFAULT = urlOf('/oauth2/token');

/** A key pair of `alg`, with its public JWK and RFC 7638 thumbprint as jose computes them. */
async function keyOf(alg) {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  const jwk = await jose.exportJWK(publicKey);
  return { alg, privateKey, jwk, privateJwk: await jose.exportJWK(privateKey), jkt: await jose.calculateJwkThumbprint(jwk) };
}
const ES256 = await keyOf('ES256');
const EDDSA = await keyOf('EdDSA');

const now = () => Math.floor(Date.now() / 1000);

/** A proof signed by `key`; any claim or header member may be replaced (undefined: left out). */
async function proof({ key = ES256, header = {}, claims = {} } = {}) {
  const payload = { htm: 'POST', htu: URL_DEFAULT, iat: now(), jti: randomUUID(), ...claims };
  const protectedHeader = { alg: key.alg, typ: 'dpop+jwt', jwk: key.jwk, ...header };
  for (const o of [payload, protectedHeader]) for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  const jwt = await new jose.SignJWT(payload).setProtectedHeader(protectedHeader).sign(key.privateKey);
  w.sensitive.add(jwt);
  return jwt;
}

/** A token request by `client` with these DPoP header values (none: no header). */
function request(client, dpop, { path = '/oauth2/token', worker = w } = {}) {
  const headers = dpop === undefined ? {} : { DPoP: dpop };
  return worker.token({ auth: [client.id, client.secret], headers, path });
}

/** Asserts a DPoP-bound token for `client`, bound to `key`; answers its claims. */
async function assertBound(res, client, key, worker = w) {
  assert.equal(res.status, 200, `status (error ${res.json?.error})`);
  assert.equal(res.json.token_type, 'DPoP', 'token_type');
  const { payload } = await worker.verifyToken(res.json.access_token, client, { scope: 'read' });
  assert.deepEqual(payload.cnf, { jkt: key.jkt }, "cnf.jkt is the proof key's RFC 7638 thumbprint");
  return payload;
}

/** The log's reason of the latest token request's line. */
async function lastReason() {
  const lines = (await w.jsonLogLines()).filter((l) => l.route === 'token');
  return lines.at(-1)?.reason;
}

test('the metadata announces the DPoP algorithms', async () => {
  const res = await w.fetch('/.well-known/oauth-authorization-server');
  assert.deepEqual(res.json.dpop_signing_alg_values_supported, ['ES256', 'EdDSA']);
});

test('a valid ES256 or EdDSA proof gets a DPoP token bound to its key, verified with jose', async () => {
  const client = await w.seedClient();
  for (const key of [ES256, EDDSA]) {
    const res = await request(client, await proof({ key }));
    await assertBound(res, client, key);
  }
  // Another token path of the tenant: htu names the URL the request came to.
  const v2 = await proof({ claims: { htu: urlOf('/oauth2/v2/token') } });
  await assertBound(await request(client, v2, { path: '/oauth2/v2/token' }), client, ES256);
  // Without a proof the token stays a bearer token.
  const bearer = await request(client);
  assert.equal(bearer.json.token_type, 'Bearer');
  assert.equal(jose.decodeJwt(bearer.json.access_token).cnf, undefined, 'no cnf');
});

test('htu is compared after normalizing scheme and host case and the default port, without query or fragment', async () => {
  const client = await w.seedClient();
  const htu = 'HTTP://127.0.0.1:80/oauth2/token?x=1#frag';
  await assertBound(await request(client, await proof({ claims: { htu } })), client, ES256);
});

test('a replayed proof is refused, a fresh proof of the same key is not', async () => {
  const client = await w.seedClient();
  const once = await proof();
  await assertBound(await request(client, once), client, ES256);
  assertError(await request(client, once), 400, 'invalid_dpop_proof');
  assert.equal(await lastReason(), 'dpop_replay');
  await assertBound(await request(client, await proof()), client, ES256);
});

test('every bad proof is refused with invalid_dpop_proof, and the log names the check', async () => {
  const client = await w.seedClient();
  const unsigned = (header, claims) => [header, claims].map((o) => jose.base64url.encode(JSON.stringify(o))).join('.');
  const claims = () => ({ htm: 'POST', htu: URL_DEFAULT, iat: now(), jti: randomUUID() });
  const good = await proof();
  const [h, p, s] = good.split('.');
  const flipped = s.slice(0, 10) + (s[10] === 'A' ? 'B' : 'A') + s.slice(11);
  const hmacKey = new TextEncoder().encode('a-shared-secret-of-32-bytes-long');
  const hs256 = await new jose.SignJWT(claims())
    .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: ES256.jwk }).sign(hmacKey);
  const cases = [
    ['wrong htu', await proof({ claims: { htu: urlOf('/other/token') } }), 'dpop_htu'],
    ['htu of another host', await proof({ claims: { htu: 'https://evil.example/oauth2/token' } }), 'dpop_htu'],
    ['wrong htm', await proof({ claims: { htm: 'GET' } }), 'dpop_htm'],
    ['stale iat', await proof({ claims: { iat: now() - 120 } }), 'dpop_iat'],
    ['future iat', await proof({ claims: { iat: now() + 60 } }), 'dpop_iat'],
    ['no jti', await proof({ claims: { jti: undefined } }), 'dpop_jti'],
    ['private key in jwk', await proof({ header: { jwk: ES256.privateJwk } }), 'dpop_private_key'],
    ['wrong typ', await proof({ header: { typ: 'JWT' } }), 'dpop_typ'],
    ['alg none', `${unsigned({ alg: 'none', typ: 'dpop+jwt', jwk: ES256.jwk }, claims())}.`, 'dpop_alg'],
    ['alg HS256', hs256, 'dpop_alg'],
    ['jwk of another key', await proof({ header: { jwk: EDDSA.jwk, alg: 'ES256' } }), 'dpop_jwk'],
    ['bad signature', `${h}.${p}.${flipped}`, 'dpop_signature'],
    ['two DPoP headers', `${good}, ${await proof()}`, 'dpop_malformed'],
    ['not a JWS', 'not-a-proof', 'dpop_malformed'],
  ];
  for (const [what, dpop, reason] of cases) {
    w.sensitive.add(dpop);
    const res = await request(client, dpop);
    assertError(res, 400, 'invalid_dpop_proof');
    assert.ok(!res.text.includes(reason), `${what}: the answer never names the check`);
    assert.equal(await lastReason(), reason, what);
  }
});

test('a bad proof with a wrong secret is answered as a wrong secret: client authentication comes first', async () => {
  const client = await w.seedClient();
  const res = await w.token({ auth: [client.id, 'wrong-secret'], headers: { DPoP: 'not-a-proof' } });
  assertError(res, 401, 'invalid_client');
});

test('a client whose record requires DPoP is refused without a proof and bound with one', async () => {
  const client = await w.seedClient({ dpop_bound_access_tokens: true });
  assertError(await request(client), 400, 'invalid_dpop_proof');
  assert.equal(await lastReason(), 'dpop_required');
  await assertBound(await request(client, await proof({ key: EDDSA })), client, EDDSA);
});

test('a tenant with dpop_nonce asks for its nonce with use_dpop_nonce, then accepts the proof that carries it', async () => {
  const client = await w.seedClient({ tenant: 'nonced' });
  const htu = urlOf('/nonced/token');
  const first = await request(client, await proof({ claims: { htu } }), { path: '/nonced/token' });
  assertError(first, 400, 'use_dpop_nonce');
  const nonce = first.headers.get('dpop-nonce');
  assert.match(nonce ?? '', /^[A-Za-z0-9_-]{22}$/, 'DPoP-Nonce header');
  const wrong = await request(client, await proof({ claims: { htu, nonce: 'A'.repeat(22) } }), { path: '/nonced/token' });
  assertError(wrong, 400, 'use_dpop_nonce');
  const ok = await request(client, await proof({ claims: { htu, nonce } }), { path: '/nonced/token' });
  await assertBound(ok, client, ES256);
  assert.equal(ok.headers.get('dpop-nonce'), nonce, 'a fresh nonce on the success too');
  // The default tenant asks for none, and hands none out.
  const plain = await request(await w.seedClient(), await proof());
  assert.equal(plain.status, 200);
  assert.equal(plain.headers.get('dpop-nonce'), null);
});

test('introspection answers a DPoP-bound token with token_type DPoP and its cnf', async () => {
  const client = await w.seedClient();
  const rs = await w.seedClient({ introspect: true });
  const res = await request(client, await proof());
  const payload = await assertBound(res, client, ES256);
  const answer = await w.token({ auth: [rs.id, rs.secret], params: { token: res.json.access_token }, path: '/oauth2/introspect' });
  assert.equal(answer.status, 200);
  assert.equal(answer.json.active, true);
  assert.equal(answer.json.token_type, 'DPoP');
  assert.deepEqual(answer.json.cnf, payload.cnf);
});

test('the admin API and the CLI set and show dpop_bound_access_tokens, and the token path follows it', async () => {
  const api = '/admin/v1/tenants/default/clients';
  const body = { scopes: ['read'], default_scopes: ['read'], audience: ['https://api.example.com'] };
  const required = await w.admin(api, { method: 'POST', body: { ...body, dpop_bound_access_tokens: true } });
  assert.equal(required.status, 201, required.text);
  assert.equal(required.json.client.dpop_bound_access_tokens, true);
  const first = { id: required.json.client.client_id, secret: required.json.client_secret };
  assertError(await request(first), 400, 'invalid_dpop_proof');
  const made = await w.admin(api, { method: 'POST', body });
  assert.equal(made.json.client.dpop_bound_access_tokens, false, 'false by default');
  const client = { id: made.json.client.client_id, secret: made.json.client_secret };
  assert.equal((await request(client)).json.token_type, 'Bearer');
  const cli = (args) => runCli(['--json', ...args, '--url', w.adminUrl], { env: { EDGE_TOKEN_ADMIN_TOKEN: w.adminToken } });
  const on = cli(['client', 'update', client.id, '--dpop-bound']);
  assert.equal(on.code, 0, on.stderr);
  assert.equal(on.json.dpop_bound_access_tokens, true);
  // (The token path reads the updated record as any update: when KV serves it and the
  // isolate's 10 s record cache lapses, docs/admin-api.md.)
  const shown = await w.admin(`${api}/${client.id}`);
  assert.equal(shown.json.dpop_bound_access_tokens, true);
  const off = cli(['client', 'update', client.id, '--no-dpop-bound']);
  assert.equal(off.json.dpop_bound_access_tokens, false);
});

test('the README example script gets a DPoP-bound token, also from a tenant that asks for nonces', async () => {
  for (const [tenant, path] of [['default', '/oauth2/token'], ['nonced', '/nonced/token']]) {
    const client = await w.seedClient({ tenant });
    const run = spawnSync(process.execPath, ['examples/dpop-token.mjs', client.id, client.secret, `${w.url}${path}`],
      { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 0, `${tenant}: exit 0 (stderr: ${run.stderr.slice(0, 300)})`);
    const jkt = run.stdout.match(/cnf\.jkt\): (\S+)/)?.[1];
    const body = JSON.parse(run.stdout.slice(0, run.stdout.lastIndexOf('}') + 1));
    w.sensitive.add(body.access_token);
    assert.equal(body.token_type, 'DPoP', tenant);
    const { payload } = await w.verifyToken(body.access_token, client, { scope: 'read' });
    assert.deepEqual(payload.cnf, { jkt }, `${tenant}: bound to the printed thumbprint`);
    // Its requests, for the log's count: the nonced tenant's first asks for the nonce.
    if (tenant === 'nonced') w.tokenAnswers.push({ error: 'use_dpop_nonce' });
    w.tokenAnswers.push({ error: null, clientId: client.id });
  }
});

testLogHygiene(w);

// Kept apart: proves a nonce is per deployment, not guessable from the tenant alone.
test('another deployment (another pepper) hands out other nonces', async () => {
  const other = new TestWorker({ tenants: TENANTS, tenant: 'nonced' });
  await other.start();
  try {
    const client = await other.seedClient();
    const first = await request(client, 'x', { path: '/nonced/token', worker: other });
    const mine = await request(await w.seedClient({ tenant: 'nonced' }), 'x', { path: '/nonced/token' });
    assert.ok(first.headers.get('dpop-nonce') && mine.headers.get('dpop-nonce'));
    assert.notEqual(first.headers.get('dpop-nonce'), mine.headers.get('dpop-nonce'));
  } finally {
    await other.dispose();
  }
});
