// Tokens shaped for the APIs that receive them (issue 13): audience by request, scopes per
// resource server, static claims, and what an omitted scope gets, per tenant.
// Requirement → test:
//   RFC 8707 resource selects audiences; scopes per resource server → "a resource parameter selects one of the client's audiences, and the token carries only its scopes"
//   audience parameter (space-separated or repeated); both → union  → "the audience parameter selects too, space-separated or repeated, and beside resource the union"
//   RFC 8707 §2 invalid_target, only after authentication          → "an audience the client may not have, or a resource that is not an absolute URI, is invalid_target"
//   default_audience; absent = every audience                        → "a request without audience gets the client's default audiences, or all of them"
//   no resource servers: scopes are not bound to audiences           → "under a tenant without resource servers an audience keeps every scope"
//   static claims per tenant and client, the client's winning        → "the tenant's and the client's static claims are in the token, the client's winning"
//   reserved claims refused: admin API 400, TENANTS 500, record 500  → "claims the token sets itself are refused by the admin API, in TENANTS and in a stored record"
//   omitted_scope defaults / none / error                            → "an omitted scope gets what the tenant's omitted_scope says: …"
//   the admin API says which scope a first request must name         → "a new client's answer names the scope its first request needs only where the tenant requires one"
//   RFC 8414 scopes_supported from the resource servers               → "the metadata lists the resource servers' scopes"
//   contract: no secret/token in logs                                → testLogHygiene
import { test } from 'node:test';
import { assert, assertError, assertIssued, testLogHygiene, useWorker } from './harness.mjs';

const A = 'https://orders.example/api';
const B = 'https://billing.example';
const LEGACY = 'urn:example:legacy';
const TENANTS = {
  apis: {
    token_paths: ['/oauth2/token'],
    claims: { tenant_id: 'acme', tier: 'gold' },
    resource_servers: [
      { identifier: A, scopes: ['orders:read', 'orders:write'] },
      { identifier: B, scopes: ['billing:read'] },
    ],
  },
  plain: { issuer_path: '/plain', token_paths: ['/plain/token'] },
  none: { issuer_path: '/none', token_paths: ['/none/token'], omitted_scope: 'none' },
  error: { issuer_path: '/error', token_paths: ['/error/token'], omitted_scope: 'error' },
};
const w = useWorker({ tenants: TENANTS, tenant: 'apis', adminToken: true });
const GRANT = ['grant_type', 'client_credentials'];
const ask = (c, ...pairs) => w.token({ auth: [c.id, c.secret], params: [GRANT, ...pairs], path: TENANTS[c.tenant].token_paths[0] });
const shop = () => w.seedClient({
  scopes: ['orders:read', 'orders:write', 'billing:read', 'openid'],
  defaultScopes: ['orders:read', 'billing:read'],
  audience: [A, B, LEGACY],
});

test("a resource parameter selects one of the client's audiences, and the token carries only its scopes", async () => {
  const c = await shop();
  await assertIssued(w, await ask(c, ['resource', A]), c, { scope: 'orders:read', echo: true, audience: [A] });
  await assertIssued(w, await ask(c, ['resource', B], ['scope', 'billing:read']), c, { scope: 'billing:read', echo: false, audience: [B] });
  // A scope no resource server defines goes with any audience; another server's does not.
  await assertIssued(w, await ask(c, ['resource', A], ['scope', 'orders:write openid']), c,
    { scope: 'orders:write openid', echo: false, audience: [A] });
  assertError(await ask(c, ['resource', A], ['scope', 'billing:read']), 400, 'invalid_scope');
  // An audience that is no resource server carries only the unbound scopes.
  await assertIssued(w, await ask(c, ['resource', LEGACY], ['scope', 'openid']), c, { scope: 'openid', echo: false, audience: [LEGACY] });
  assertError(await ask(c, ['resource', LEGACY]), 400, 'invalid_scope'); // its defaults are all bound elsewhere
});

test('the audience parameter selects too, space-separated or repeated, and beside resource the union', async () => {
  const c = await shop();
  await assertIssued(w, await ask(c, ['audience', B]), c, { scope: 'billing:read', echo: true, audience: [B] });
  await assertIssued(w, await ask(c, ['audience', `${A} ${B}`]), c, { scope: 'orders:read billing:read', echo: true, audience: [A, B] });
  await assertIssued(w, await ask(c, ['audience', A], ['audience', B]), c, { scope: 'orders:read billing:read', echo: true, audience: [A, B] });
  const union = await assertIssued(w, await ask(c, ['resource', B], ['audience', A], ['resource', A]), c,
    { scope: 'orders:read billing:read', echo: true, audience: [B, A] });
  assert.deepEqual(union.payload.aud, [B, A], 'aud in the order named, each once');
  // RFC 6749 §3.2: other parameters still may not repeat.
  assertError(await ask(c, ['resource', A], ['scope', 'openid'], ['scope', 'openid']), 400, 'invalid_request');
});

test('an audience the client may not have, or a resource that is not an absolute URI, is invalid_target', async () => {
  const c = await shop();
  for (const pairs of [[['resource', 'https://elsewhere.example']], [['audience', 'https://elsewhere.example']],
    [['resource', A], ['audience', 'https://elsewhere.example']], [['resource', 'orders']], [['resource', `${A}#f`]],
    [['audience', `${A} ${A}x`]]]) {
    assertError(await ask(c, ...pairs), 400, 'invalid_target');
  }
  // `audience` takes any of the client's values; `resource` only an absolute URI.
  const local = await w.seedClient({ audience: ['orders'], scopes: ['read'], defaultScopes: ['read'] });
  await assertIssued(w, await ask(local, ['audience', 'orders']), local, { scope: 'read', echo: true });
  assertError(await ask(local, ['resource', 'orders']), 400, 'invalid_target');
  // Authentication comes first: a wrong secret is invalid_client whatever the audience.
  assertError(await ask({ ...c, secret: 'wrong-secret' }, ['resource', 'https://elsewhere.example']), 401, 'invalid_client');
});

test("a request without audience gets the client's default audiences, or all of them", async () => {
  const c = await w.seedClient({ scopes: ['orders:read', 'billing:read'], defaultScopes: ['orders:read', 'billing:read'],
    audience: [A, B], default_audience: [B] });
  await assertIssued(w, await ask(c), c, { scope: 'billing:read', echo: true, audience: [B] });
  await assertIssued(w, await ask(c, ['resource', A]), c, { scope: 'orders:read', echo: true, audience: [A] });
  const all = await shop();
  await assertIssued(w, await ask(all), all, { scope: 'orders:read billing:read', echo: true, audience: [A, B, LEGACY] });
});

test('under a tenant without resource servers an audience keeps every scope', async () => {
  const c = await w.seedClient({ tenant: 'plain', scopes: ['orders:read', 'billing:read'],
    defaultScopes: ['orders:read', 'billing:read'], audience: [A, B] });
  await assertIssued(w, await ask(c, ['resource', A]), c, { scope: 'orders:read billing:read', echo: true, audience: [A] });
  assertError(await ask(c, ['resource', LEGACY]), 400, 'invalid_target');
});

test("the tenant's and the client's static claims are in the token, the client's winning", async () => {
  const c = await w.seedClient({ audience: [A], scopes: ['orders:read'], defaultScopes: ['orders:read'],
    claims: { tier: 'silver', roles: ['reader', 'auditor'], limits: { daily: 1000 } } });
  const { payload } = await assertIssued(w, await ask(c), c, { scope: 'orders:read', echo: true });
  assert.equal(payload.tenant_id, 'acme', "the tenant's claim");
  assert.equal(payload.tier, 'silver', "the client's value wins over the tenant's");
  assert.deepEqual(payload.roles, ['reader', 'auditor']);
  assert.deepEqual(payload.limits, { daily: 1000 });
  const bare = await w.seedClient({ tenant: 'plain' });
  const plain = await assertIssued(w, await ask(bare), bare, { scope: 'read', echo: true });
  assert.deepEqual(Object.keys(plain.payload).sort(), ['aud', 'client_id', 'exp', 'iat', 'iss', 'jti', 'scope', 'sub'],
    'no claim beyond RFC 9068 where none is configured');
});

test('claims the token sets itself are refused by the admin API, in TENANTS and in a stored record', async () => {
  const base = { scopes: ['orders:read'], audience: [A] };
  for (const name of ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'client_id', 'scope', 'cnf']) {
    const res = await w.admin('/admin/v1/tenants/apis/clients', { method: 'POST', body: { ...base, claims: { [name]: 'x' } } });
    assert.equal(res.status, 400, name);
    assert.match(res.json.message, new RegExp(`"${name}" is set by the token itself`));
  }
  const big = await w.admin('/admin/v1/tenants/apis/clients', { method: 'POST', body: { ...base, claims: { big: 'x'.repeat(3000) } } });
  assert.equal(big.status, 400, 'claims over 2 KiB');
  const made = await w.admin('/admin/v1/tenants/apis/clients', { method: 'POST', body: { ...base, claims: { tier: 'x' } } });
  assert.equal(made.status, 201);
  w.sensitive.add(made.json.client_secret);
  const id = made.json.client.client_id;
  const patch = await w.admin(`/admin/v1/tenants/apis/clients/${id}`, { method: 'PATCH', body: { claims: { jti: 'fixed' } } });
  assert.equal(patch.status, 400);
  const shown = await w.admin(`/admin/v1/tenants/apis/clients/${id}`);
  assert.deepEqual(shown.json.claims, { tier: 'x' }, 'a refused change writes nothing');
  // A record written by hand with a reserved claim is the operator's fault: 500, no token.
  const forged = await w.seedClient({ audience: [A], claims: { sub: 'admin' } });
  assertError(await ask(forged), 500, 'server_error');
  // A tenant that sets one cannot load: every request is 500 and the log names the field.
  const c = await w.seedClient({ audience: [A], scopes: ['orders:read'], defaultScopes: ['orders:read'] });
  await w.reconfigure({ bindings: { TENANTS: { ...TENANTS, apis: { ...TENANTS.apis, claims: { iss: 'https://evil.example' } } } } });
  assertError(await ask(c), 500, 'server_error');
  const lines = await w.jsonLogLines();
  assert.ok(lines.some((l) => l.route === 'startup' && l.detail?.includes('TENANTS.apis.claims')), 'the log names the field');
  await w.reconfigure();
  await assertIssued(w, await ask(c), c, { scope: 'orders:read', echo: true });
});

test('an omitted scope gets what the tenant\'s omitted_scope says: defaults, none (a token without scope) or error', async () => {
  const pair = async (tenant) => [
    await w.seedClient({ tenant, scopes: ['a', 'b'], defaultScopes: ['a'] }),
    await w.seedClient({ tenant, scopes: ['a', 'b'], defaultScopes: [] }),
  ];
  const [dWith, dWithout] = await pair('plain');
  await assertIssued(w, await ask(dWith), dWith, { scope: 'a', echo: true });
  assertError(await ask(dWithout), 400, 'invalid_scope');

  const [nWith, nWithout] = await pair('none');
  await assertIssued(w, await ask(nWith), nWith, { scope: 'a', echo: true });
  const res = await ask(nWithout);
  const { payload } = await assertIssued(w, res, nWithout, { echo: false });
  assert.equal('scope' in payload, false, 'a token without scope has no scope claim');
  await assertIssued(w, await ask(nWithout, ['scope', 'b']), nWithout, { scope: 'b', echo: false });

  const [eWith, eWithout] = await pair('error');
  assertError(await ask(eWith), 400, 'invalid_scope');
  assertError(await ask(eWithout), 400, 'invalid_scope');
  await assertIssued(w, await ask(eWith, ['scope', 'a b']), eWith, { scope: 'a b', echo: false });
});

test('a new client\'s answer names the scope its first request needs only where the tenant requires one', async () => {
  const create = async (tenant, body) => {
    const res = await w.admin(`/admin/v1/tenants/${tenant}/clients`, { method: 'POST', body: { audience: [A], ...body } });
    assert.equal(res.status, 201, `${tenant}: ${res.json?.message}`);
    w.sensitive.add(res.json.client_secret);
    return res.json;
  };
  assert.equal((await create('plain', { scopes: ['a', 'b'] })).try_scope, 'a b');
  assert.equal('try_scope' in (await create('plain', { scopes: ['a', 'b'], default_scopes: ['a'] })), false);
  assert.equal('try_scope' in (await create('none', { scopes: ['a', 'b'] })), false);
  assert.equal((await create('error', { scopes: ['a', 'b'], default_scopes: ['a'] })).try_scope, 'a b');
  // Under resource servers, the scopes its default audience may carry.
  const made = await create('apis', { scopes: ['orders:read', 'billing:read'], audience: [A, B], default_audience: [B] });
  assert.equal(made.try_scope, 'billing:read');
  const c = { id: made.client.client_id, secret: made.client_secret, tenant: 'apis', record: { token_ttl: made.client.token_ttl, audience: [A, B] } };
  await assertIssued(w, await ask(c, ['scope', made.try_scope]), c, { scope: 'billing:read', echo: false, audience: [B] });
});

test("the metadata lists the resource servers' scopes", async () => {
  const res = await w.fetch('/.well-known/oauth-authorization-server');
  assert.equal(res.status, 200);
  assert.deepEqual(res.json.scopes_supported, ['orders:read', 'orders:write', 'billing:read']);
  const plain = await w.fetch('/.well-known/oauth-authorization-server/plain');
  assert.equal('scopes_supported' in plain.json, false);
});

testLogHygiene(w);
