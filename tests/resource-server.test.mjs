// The other half (issue 13, "For resource servers"): the example resource-server Worker
// (examples/resource-server) and the README's Node and Python snippets, each checking the
// endpoint's own tokens. The endpoint listens on a loopback port that is also its issuer, so
// the example and the snippets fetch its JWKS over HTTP as they would in production; the
// example runs in a Miniflare of its own, whose outgoing requests pass through a counter here,
// so that restarting the endpoint (a key rotation) leaves the example's per-isolate key cache
// alone.
// Requirement → test:
//   valid token with the route's scope → 200; JWKS fetched once     → "a token for this API carrying the route's scope is served, and the keys are fetched once"
//   RFC 6750 §3.1: no token → 401, bare Bearer and DPoP challenges   → "a request without a bearer token gets 401 and a challenge without an error code"
//   wrong aud / expired / nbf / iss / typ / alg / signature → 401  → "a token for another audience, expired, not yet valid, of another issuer or type, or badly signed gets 401 invalid_token"
//   missing scope → 403 insufficient_scope naming the scope          → "a valid token without the route's scope gets 403 insufficient_scope naming the scope"
//   key rotation; unknown kid refetch bounded per interval           → "a key the issuer starts signing with is picked up by one JWKS fetch, and unknown kids fetch at most once per interval"
//   high-value route: introspection asked, fail closed               → "a high-value route asks the issuer's introspection and refuses with 503 when it cannot be asked"
//   high-value route: active → 200; client disabled / token revoked → 401 → "a high-value route serves a token the issuer says is active, and refuses it once its client is disabled or the token revoked"
//   README Node snippet (jose), bound tokens refused                  → "the README's Node snippet serves the endpoint's token and refuses the others"
//   README Python snippet (PyJWT), bound tokens refused               → "the README's Python snippet serves the endpoint's token and refuses the others"
//   no token in the example's log                                     → "the example logs one line per request and never a token"
//   contract: no secret/token in the endpoint's logs                  → testLogHygiene
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { Response, fetch as forward } from 'miniflare';
import { ROOT, randomToken } from '../scripts/devstate.mjs';
import {
  FORM, assert, assertIssued, basic, form, generateSigningKey, jose, testLogHygiene,
} from './harness.mjs';
import { API, loopbackEndpoint, startExample } from './resource-server-example.mjs';

const OTHER = 'https://billing.example';
const REFETCH_SECONDS = 2; // the example's JWKS_REFETCH_SECONDS here (60 by default)
const INTROSPECTOR = { id: 'resource-server', secret: randomToken() }; // the example's own client
const SNIPPETS_DIR = join(ROOT, 'build', 'snippets');
const PYTHON = join(ROOT, '.venv', 'bin', 'python');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => Math.floor(Date.now() / 1000);

const w = await loopbackEndpoint();

// What the example Worker fetched (through `outbound` below), and a switch that makes the
// introspection endpoint unreachable for it.
const seen = { jwks: 0, introspection: 0 };
let introspectionDown = false;
let exampleLog = '';
let example;

before(async () => {
  await w.start();
  // The client the example introspects as (INTROSPECTION_CLIENT_ID and _SECRET).
  await w.seedClient({ ...INTROSPECTOR, introspect: true, scopes: [], defaultScopes: [] });
  example = await startExample(w, {
    bindings: {
      JWKS_REFETCH_SECONDS: String(REFETCH_SECONDS),
      INTROSPECTION_CLIENT_ID: INTROSPECTOR.id,
      INTROSPECTION_CLIENT_SECRET: INTROSPECTOR.secret,
    },
    outboundService: async (request) => {
      const { pathname } = new URL(request.url);
      if (pathname === '/.well-known/jwks.json') seen.jwks++;
      if (pathname === '/oauth2/introspect') {
        seen.introspection++;
        if (introspectionDown) return new Response('unavailable', { status: 503 });
      }
      return forward(request);
    },
    onOutput: (chunk) => { exampleLog += chunk; },
  });
});
after(async () => {
  await example?.dispose();
  await w.dispose();
});

/** A request to the example API; returns {status, challenge, json}. */
async function call(method, path, authorization) {
  const headers = authorization === undefined ? {} : { Authorization: authorization };
  const res = await example.dispatchFetch(`http://127.0.0.1${path}`, { method, headers });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, challenge: res.headers.get('www-authenticate'), json, headers: res.headers };
}

/** A client allowed on the example API and on another one. */
const shop = () => w.seedClient({
  scopes: ['orders:read', 'orders:write', 'payments:write'], defaultScopes: ['orders:read'], audience: [API, OTHER],
});

/** A token from the endpoint for `resource` with `scope`, checked with jose. */
async function tokenFor(client, { resource = API, scope = 'orders:read' } = {}) {
  const res = await w.token({
    auth: [client.id, client.secret],
    params: [['grant_type', 'client_credentials'], ['resource', resource], ['scope', scope]],
  });
  return (await assertIssued(w, res, client, { scope, echo: false, audience: [resource] })).token;
}

/** `token` signed again (by default with the endpoint's own key) after changing its header or claims. */
async function resign(token, { header = {}, claims = {}, key = w.keys[0] } = {}) {
  const { alg, typ, kid } = jose.decodeProtectedHeader(token);
  const payload = { ...jose.decodeJwt(token), ...claims };
  return new jose.SignJWT(payload).setProtectedHeader({ alg, typ, kid, ...header })
    .sign(await jose.importJWK(key, 'EdDSA'));
}

const INVALID = 'Bearer realm="api", error="invalid_token"';

test("a token for this API carrying the route's scope is served, and the keys are fetched once", async () => {
  const c = await shop();
  const read = await tokenFor(c);
  for (let i = 0; i < 3; i++) {
    const res = await call('GET', '/orders', `Bearer ${read}`);
    assert.equal(res.status, 200, `status (reason in the example's log; ${res.json?.error})`);
    assert.deepEqual(res.json, { route: 'GET /orders', client_id: c.id }, 'the answer names the route and the client');
  }
  const write = await tokenFor(c, { scope: 'orders:read orders:write' });
  assert.equal((await call('POST', '/orders', `bearer ${write}`)).status, 200, 'the scheme in any case');
  assert.equal(seen.jwks, 1, 'one JWKS fetch for all of them');
  assert.equal((await call('GET', '/nowhere', `Bearer ${read}`)).status, 404, 'an unknown route');
});

test('a request without a bearer token gets 401 and a challenge without an error code', async () => {
  for (const authorization of [undefined, 'Basic ZGVtbzpzZWNyZXQ=', 'Bearer', '']) {
    const res = await call('GET', '/orders', authorization);
    assert.equal(res.status, 401, 'status');
    assert.equal(res.challenge, 'Bearer realm="api", DPoP realm="api", algs="ES256 EdDSA"',
      'RFC 6750 §3.1, RFC 9449 §7.1: both schemes, no error code without a token');
    assert.equal(res.json?.error, undefined, 'no error code in the body either');
    assert.equal(res.headers.get('cache-control'), 'no-store', 'Cache-Control');
  }
});

test('a token for another audience, expired, not yet valid, of another issuer or type, or badly signed gets 401 invalid_token', async () => {
  const c = await shop();
  const good = await tokenFor(c);
  const [header, payload] = good.split('.');
  const otherKey = generateSigningKey();
  const cases = {
    'another audience': await tokenFor(c, { resource: OTHER }),
    'expired past the skew': await resign(good, { claims: { iat: now() - 600, exp: now() - 31 } }),
    'not valid for another minute': await resign(good, { claims: { nbf: now() + 60 } }),
    'another issuer': await resign(good, { claims: { iss: 'https://elsewhere.test' } }),
    'typ JWT': await resign(good, { header: { typ: 'JWT' } }),
    'no kid': await resign(good, { header: { kid: undefined } }),
    "another key under the issuer's kid": await resign(good, { key: otherKey }),
    'a changed payload': `${header}.${jose.base64url.encode(JSON.stringify({ ...jose.decodeJwt(good), scope: 'orders:write' }))}.${good.split('.')[2]}`,
    'the signature of another token': `${header}.${payload}.${(await tokenFor(c)).split('.')[2]}`,
    'alg HS256': await new jose.SignJWT(jose.decodeJwt(good)).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: jose.decodeProtectedHeader(good).kid }).sign(new Uint8Array(32)),
    'alg none': `${jose.base64url.encode('{"alg":"none","typ":"at+jwt"}')}.${payload}.`,
    'not a JWT': 'not-a-jwt',
  };
  for (const [what, token] of Object.entries(cases)) {
    const res = await call('GET', '/orders', `Bearer ${token}`);
    assert.equal(res.status, 401, `${what}: status`);
    assert.equal(res.challenge, INVALID, `${what}: challenge`);
    assert.equal(res.json?.error, 'invalid_token', `${what}: body`);
  }
  // The clock skew: 30 s past exp is still served.
  const justExpired = await resign(good, { claims: { iat: now() - 600, exp: now() - 5 } });
  assert.equal((await call('GET', '/orders', `Bearer ${justExpired}`)).status, 200, 'within the skew');
  assert.equal((await call('GET', '/orders', `Bearer ${good}`)).status, 200, 'the token itself is good');
});

test("a valid token without the route's scope gets 403 insufficient_scope naming the scope", async () => {
  const c = await shop();
  const read = await tokenFor(c);
  const res = await call('POST', '/orders', `Bearer ${read}`);
  assert.equal(res.status, 403, 'status');
  assert.equal(res.challenge, 'Bearer realm="api", error="insufficient_scope", scope="orders:write"', 'challenge');
  assert.equal(res.json?.error, 'insufficient_scope', 'body');
});

test('a key the issuer starts signing with is picked up by one JWKS fetch, and unknown kids fetch at most once per interval', async () => {
  const c = await shop();
  const [keyA, keyB] = [w.keys[0], generateSigningKey()];
  const tokenA = await tokenFor(c);
  assert.equal((await call('GET', '/orders', `Bearer ${tokenA}`)).status, 200, 'key A is known');
  const fetched = seen.jwks;
  // Past the interval, a token naming a kid the issuer never published makes one fetch; the
  // next ones, within the interval, none.
  await sleep(REFETCH_SECONDS * 1000 + 100);
  const unknown = await resign(tokenA, { header: { kid: 'made-up-kid' } });
  for (let i = 0; i < 5; i++) {
    assert.equal((await call('GET', '/orders', `Bearer ${unknown}`)).challenge, INVALID, 'an unknown kid is invalid_token');
  }
  assert.equal(seen.jwks - fetched, 1, 'five tokens with an unknown kid: one fetch');
  // The issuer rotates: key B signs, key A is still published.
  await w.reconfigure({ keys: [keyB, keyA] });
  const tokenB = await tokenFor(c);
  assert.notEqual(jose.decodeProtectedHeader(tokenB).kid, jose.decodeProtectedHeader(tokenA).kid, 'a new kid');
  await sleep(REFETCH_SECONDS * 1000 + 100);
  assert.equal((await call('GET', '/orders', `Bearer ${tokenB}`)).status, 200, "key B's token after one fetch");
  assert.equal(seen.jwks - fetched, 2, 'one more fetch for key B');
  assert.equal((await call('GET', '/orders', `Bearer ${tokenA}`)).status, 200, "key A's token still");
  assert.equal((await call('GET', '/orders', `Bearer ${tokenB}`)).status, 200, "key B's token again");
  assert.equal(seen.jwks - fetched, 2, 'no fetch for keys already held');
});

test("a high-value route asks the issuer's introspection and refuses with 503 when it cannot be asked", async () => {
  const c = await shop();
  const token = await tokenFor(c, { scope: 'payments:write' });
  introspectionDown = true;
  try {
    const asked = seen.introspection;
    const res = await call('POST', '/payments', `Bearer ${token}`);
    assert.equal(seen.introspection - asked, 1, 'introspection asked once');
    assert.equal(res.status, 503, 'fails closed');
    assert.equal(res.json?.error, 'temporarily_unavailable', 'body');
    assert.equal(res.headers.get('retry-after'), '5', 'Retry-After');
    // Local checks come first: a token without the scope never reaches introspection.
    const read = await tokenFor(c);
    assert.equal((await call('POST', '/payments', `Bearer ${read}`)).status, 403, 'insufficient_scope');
    assert.equal(seen.introspection - asked, 1, 'not asked for a token refused locally');
  } finally {
    introspectionDown = false;
  }
});

test("a high-value route serves a token the issuer says is active, and refuses it once its client is disabled or the token revoked", async () => {
  const c = await shop();
  const token = await tokenFor(c, { scope: 'payments:write' });
  const asked = seen.introspection;
  const res = await call('POST', '/payments', `Bearer ${token}`);
  assert.equal(res.status, 200, `status (${res.json?.error})`);
  assert.deepEqual(res.json, { route: 'POST /payments', client_id: c.id }, 'served');
  assert.equal(seen.introspection - asked, 1, 'introspection asked');
  const read = await tokenFor(c, { scope: 'orders:read' });
  assert.equal((await call('GET', '/orders', `Bearer ${read}`)).status, 200, 'a route that is not high-value');
  assert.equal(seen.introspection - asked, 1, 'is not introspected');
  // Its client disabled (its guard object): refused on the very next request, while the token
  // itself stays valid for a local check until it expires.
  await w.guardCommand(c.id, { op: 'disable' });
  const refused = await call('POST', '/payments', `Bearer ${token}`);
  assert.equal(refused.status, 401, 'status once the client is disabled');
  assert.equal(refused.challenge, INVALID, 'challenge');
  assert.equal((await call('GET', '/orders', `Bearer ${read}`)).status, 200, 'the local check alone still passes it');
  // A token its client revoked (RFC 7009).
  const other = await shop();
  const revoked = await tokenFor(other, { scope: 'payments:write' });
  assert.equal((await call('POST', '/payments', `Bearer ${revoked}`)).status, 200, 'before the revocation');
  const revocation = await w.fetch('/oauth2/revoke', {
    method: 'POST', headers: { Authorization: basic(other.id, other.secret), 'Content-Type': FORM }, body: form({ token: revoked }),
  });
  assert.equal(revocation.status, 200, 'revoked');
  assert.equal((await call('POST', '/payments', `Bearer ${revoked}`)).challenge, INVALID, 'refused once revoked');
});

/** The README's fenced block marked `readme-check=LANG` (exactly one). */
function snippet(lang) {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/^```\w+ readme-check=(\w+)\n([\s\S]*?)^```$/gm)].filter((m) => m[1] === lang);
  assert.equal(blocks.length, 1, `one block marked readme-check=${lang} in README.md`);
  mkdirSync(SNIPPETS_DIR, { recursive: true });
  return blocks[0][2];
}

/** [authorization, scope, expected status] cases every snippet must decide like the example. */
async function snippetCases() {
  const c = await shop();
  const good = await tokenFor(c);
  return {
    client: c,
    cases: [
      [`Bearer ${good}`, 'orders:read', 200],
      [`Bearer ${good}`, 'orders:write', 403],
      [`Bearer ${await tokenFor(c, { resource: OTHER })}`, 'orders:read', 401],
      [`Bearer ${await resign(good, { claims: { iat: now() - 600, exp: now() - 31 } })}`, 'orders:read', 401],
      [`Bearer ${await resign(good, { key: generateSigningKey() })}`, 'orders:read', 401],
      [`Bearer ${await resign(good, { header: { typ: 'JWT' } })}`, 'orders:read', 401],
      [`Bearer ${await resign(good, { claims: { cnf: { jkt: 'a'.repeat(43) } } })}`, 'orders:read', 401],
      [`Bearer ${await resign(good, { claims: { cnf: { 'x5t#S256': 'a'.repeat(43) } } })}`, 'orders:read', 401],
      [null, 'orders:read', 401],
    ],
  };
}

test("the README's Node snippet serves the endpoint's token and refuses the others", async () => {
  const file = join(SNIPPETS_DIR, 'readme-check.mjs');
  writeFileSync(file, snippet('node'));
  process.env.ISSUER = w.issuer;
  process.env.AUDIENCE = API;
  const { authorize } = await import(pathToFileURL(file));
  const { client, cases } = await snippetCases();
  for (const [i, [authorization, scope, expected]] of cases.entries()) {
    const [status, claims] = await authorize(authorization ?? undefined, scope);
    assert.equal(status, expected, `case ${i}: status`);
    if (status === 200) assert.equal(claims.client_id, client.id, `case ${i}: the claims`);
  }
});

test("the README's Python snippet serves the endpoint's token and refuses the others", async () => {
  assert.ok(existsSync(PYTHON), '.venv is missing: run scripts/setup.sh');
  writeFileSync(join(SNIPPETS_DIR, 'readme_check.py'), snippet('python'));
  const { client, cases } = await snippetCases();
  const driver = [
    'import json, sys',
    `sys.path.insert(0, ${JSON.stringify(SNIPPETS_DIR)})`,
    'from readme_check import authorize',
    'answers = [authorize(a, s) for a, s in json.load(sys.stdin)]',
    'print(json.dumps([[status, (claims or {}).get("client_id")] for status, claims in answers]))',
  ].join('\n');
  const run = spawnSync(PYTHON, ['-c', driver], {
    input: JSON.stringify(cases.map(([a, s]) => [a, s])), encoding: 'utf8', timeout: 60_000,
    env: { PATH: process.env.PATH, ISSUER: w.issuer, AUDIENCE: API },
  });
  assert.equal(run.status, 0, `python failed: ${(run.stderr ?? '').slice(-2000)}`);
  const answers = JSON.parse(run.stdout);
  for (const [i, [, , expected]] of cases.entries()) {
    assert.equal(answers[i][0], expected, `case ${i}: status`);
    if (expected === 200) assert.equal(answers[i][1], client.id, `case ${i}: the claims`);
  }
});

test('the example logs one line per request and never a token', async () => {
  await sleep(200);
  const lines = exampleLog.split('\n').flatMap((l) => {
    try { return [JSON.parse(l.trim())]; } catch { return []; }
  }).filter((l) => l && typeof l === 'object' && 'reason' in l);
  assert.ok(lines.length >= 20, `the example's log lines (${lines.length})`);
  assert.ok(lines.some((l) => l.reason === 'unknown_kid') && lines.some((l) => l.reason === 'audience'), 'reasons are logged');
  let leaks = 0;
  for (const s of w.sensitive) if (s.length >= 8 && exampleLog.includes(s)) leaks++;
  assert.equal(leaks, 0, `${leaks} token(s) or secret(s) in the example's output`);
  assert.equal(/eyJ[A-Za-z0-9_-]{10,}\./.test(exampleLog), false, "a JWT's shape in the example's output");
});

testLogHygiene(w, ' (endpoint beside the example)');
