// Introspection (RFC 7662) and revocation (RFC 7009), docs/introspection.md: the paths derived
// from each tenant's issuer, client authentication as at the token endpoint, the `introspect`
// permission, every kind of inactive token, revocation seen by introspection at once, the bound
// on revoked tokens, bad input, and one log line per request without the token.
// Requirement → test: tests/README.md.
import { test } from 'node:test';
import {
  assert, assertError, assertIssued, assertNoStore, generateSigningKey, jose, runCli, testLogHygiene, useWorker, within,
} from './harness.mjs';

const TENANTS = {
  default: { token_paths: ['/oauth2/token'] },
  acme: { issuer_path: '/acme', token_paths: ['/acme/token', '/acme/realms/root/access_token'] },
};
const w = useWorker({ tenants: TENANTS, tenant: 'default', adminToken: true });
const INTROSPECT = '/oauth2/introspect';
const REVOKE = '/oauth2/revoke';
const API = '/admin/v1/tenants/default/clients';
/** Revoked live tokens a client's object keeps (MAX_REVOKED_TOKENS). */
const MAX_REVOKED = 1024;
/** Introspection and revocation requests sent, to match against the log. */
let sent = 0;

/** A request to the introspection or revocation endpoint (`path`), authenticated as `caller`. */
function call(path, caller, params, options = {}) {
  sent++;
  return w.token({ auth: [caller.id, caller.secret], params, path, ...options });
}
const introspect = (caller, token, extra = {}) => call(INTROSPECT, caller, { token, ...extra });
const revoke = (caller, token, extra = {}) => call(REVOKE, caller, { token, ...extra });

/** A resource server: a client that may introspect. */
const resourceServer = (extra = {}) => w.seedClient({ introspect: true, ...extra });

/** A token issued to `client` (seedClient's), verified with jose. */
async function issued(client) {
  const res = await w.token({ auth: [client.id, client.secret], path: TENANTS[client.tenant ?? 'default'].token_paths[0] });
  return (await assertIssued(w, res, client, { scope: 'read', echo: true })).token;
}

/** A token signed with `key` (the tenant's own, by default) with these claims over a good token's. */
async function signed(claims, { key = w.keys[0], typ = 'at+jwt' } = {}) {
  const kid = await jose.calculateJwkThumbprint({ kty: key.kty, crv: key.crv, x: key.x });
  const now = Math.floor(Date.now() / 1000);
  const token = await new jose.SignJWT({
    iss: w.issuer, sub: 'svc', client_id: 'svc', aud: 'https://api.example.com', scope: 'read',
    iat: now, exp: now + 600, jti: `j${Math.random().toString(36).slice(2)}aaaaaaaaaaaaaa`, ...claims,
  }).setProtectedHeader({ alg: 'EdDSA', typ, kid }).sign(await jose.importJWK(key, 'EdDSA'));
  w.sensitive.add(token);
  return token;
}

/** Asserts an introspection answer of exactly {"active": false}. */
function assertInactive(res, what) {
  assert.equal(res.status, 200, `${what}: status (error ${res.json?.error})`);
  assertNoStore(res);
  assert.deepEqual(res.json, { active: false }, `${what}: active false and nothing else`);
}

test('the metadata announces introspection and revocation at paths derived from the issuer, also for a tenant with several token paths', async () => {
  for (const [tenant, path] of [['default', ''], ['acme', '/acme']]) {
    const m = (await w.fetch(`/.well-known/oauth-authorization-server${path}`)).json;
    assert.equal(m.introspection_endpoint, `${w.issuerOf(tenant)}/oauth2/introspect`, tenant);
    assert.equal(m.revocation_endpoint, `${w.issuerOf(tenant)}/oauth2/revoke`, tenant);
    for (const member of ['introspection_endpoint_auth_methods_supported', 'revocation_endpoint_auth_methods_supported']) {
      assert.deepEqual(m[member], m.token_endpoint_auth_methods_supported, `${tenant} ${member}`);
    }
  }
  // The acme tenant's endpoints answer at its paths (here: no credentials, so 401).
  for (const path of ['/acme/oauth2/introspect', '/acme/oauth2/revoke']) {
    sent++;
    assertError(await w.token({ path, params: { token: 'x' } }), 401, 'invalid_client');
  }
});

test('a resource server with the introspect permission learns an active token\'s claims, exactly as jose reads them', async () => {
  const rs = await resourceServer();
  const client = await w.seedClient();
  const token = await issued(client);
  const { payload } = await w.verifyToken(token, client, { scope: 'read' });
  const res = await introspect(rs, token, { token_type_hint: 'access_token' });
  assert.equal(res.status, 200, res.json?.error);
  assertNoStore(res);
  const { iss, sub, aud, client_id, scope, iat, exp, jti } = payload;
  assert.deepEqual(res.json, { active: true, scope, client_id, token_type: 'Bearer', exp, iat, sub, aud, iss, jti });
  // client_secret_post works as at the token endpoint.
  sent++;
  const post = await w.token({ path: INTROSPECT, params: { client_id: rs.id, client_secret: rs.secret, token } });
  assert.equal(post.json?.active, true, 'client_secret_post');
});

test('a client created through the admin API with introspect: true may introspect', async () => {
  const created = await w.admin(API, { method: 'POST', body: { scopes: ['a'], audience: ['https://api.example.com'], introspect: true } });
  assert.equal(created.status, 201, created.text.slice(0, 200));
  assert.equal(created.json.client.introspect, true, 'shown');
  const rs = { id: created.json.client.client_id, secret: created.json.client_secret };
  const token = await issued(await w.seedClient());
  assert.equal((await introspect(rs, token)).json?.active, true);
  const off = await w.admin(`${API}/${rs.id}`, { method: 'PATCH', body: { introspect: false } });
  assert.equal(off.json?.introspect, false, 'updated');
});

test('client create --introspect makes a client that may introspect, client show says so, and update --no-introspect takes it away', async () => {
  const cli = (args) => {
    const r = runCli(['--json', ...args, '--url', w.adminUrl], { env: { EDGE_TOKEN_ADMIN_TOKEN: w.adminToken } });
    if (r.json?.client_secret) w.sensitive.add(r.json.client_secret);
    assert.equal(r.code, 0, `exit 0 (stderr: ${r.stderr.slice(0, 300)})`);
    return r.json;
  };
  const created = cli(['client', 'create', '--scopes', 'a', '--audience', 'https://api.example.com', '--introspect']);
  assert.equal(created.client.introspect, true);
  const rs = { id: created.client.client_id, secret: created.client_secret };
  const token = await issued(await w.seedClient());
  assert.equal((await introspect(rs, token)).json?.active, true);
  assert.equal(cli(['client', 'show', rs.id]).introspect, true, 'client show');
  assert.equal(cli(['client', 'update', rs.id, '--no-introspect']).introspect, false, 'updated');
  const plain = cli(['client', 'create', '--scopes', 'a', '--audience', 'https://api.example.com']);
  assert.equal(plain.client.introspect, false, 'off by default');
});

test('a client without the introspect permission is refused 403 unauthorized_client whatever the token, and a wrong secret 401 as at the token endpoint', async () => {
  const client = await w.seedClient();
  const token = await issued(client);
  assertError(await introspect(client, token), 403, 'unauthorized_client');
  assertError(await introspect(client, 'garbage'), 403, 'unauthorized_client');
  const rs = await resourceServer();
  assertError(await introspect({ id: rs.id, secret: 'wrong-secret-value' }, token), 401, 'invalid_client');
  assertError(await introspect({ id: 'nobody', secret: 'wrong-secret-value' }, token), 401, 'invalid_client');
  const disabled = await resourceServer({ disabled: true });
  assertError(await introspect(disabled, token), 400, 'unauthorized_client');
});

test('each kind of token that is not good is answered active:false and nothing else: expired, bad signature, another tenant\'s, not an access token, not a JWT, another key\'s, its client disabled or deleted (also once its id is created again)', async () => {
  const rs = await resourceServer();
  const good = await signed({});
  assert.equal((await introspect(rs, good)).json?.active, true, 'a token signed with the tenant key is ours');
  const now = Math.floor(Date.now() / 1000);
  const [head, body, sig] = good.split('.');
  const other = await w.seedClient({ tenant: 'acme' });
  const otherToken = await issued(other);
  const cases = {
    expired: await signed({ iat: now - 700, exp: now - 100 }),
    'expiring this second': await signed({ exp: now }),
    'bad signature': `${head}.${body}.${sig.slice(0, -4)}AAAA`,
    'claims changed': `${head}.${Buffer.from(JSON.stringify({ ...jose.decodeJwt(good), scope: 'admin' })).toString('base64url')}.${sig}`,
    "another tenant's": otherToken,
    'another issuer': await signed({ iss: 'https://evil.example' }),
    'not an access token (typ JWT)': await signed({}, { typ: 'JWT' }),
    'signed by a key not published': await signed({}, { key: generateSigningKey() }),
    'not a JWT': 'not-a-token',
    'a huge token': 'a'.repeat(7000),
  };
  for (const [what, token] of Object.entries(cases)) assertInactive(await introspect(rs, token), what);

  // The client of a token disabled, then deleted, through its guard object (admin API).
  const created = await w.admin(API, { method: 'POST', body: { scopes: ['a'], default_scopes: ['a'], audience: ['https://api.example.com'] } });
  const id = created.json.client.client_id;
  const res = await w.token({ auth: [id, created.json.client_secret] });
  assert.equal(res.status, 200);
  const token = res.json.access_token;
  assert.equal((await introspect(rs, token)).json?.active, true, 'before the disable');
  assert.equal((await w.admin(`${API}/${id}/disable`, { method: 'POST' })).status, 200);
  assertInactive(await introspect(rs, token), 'its client disabled (the very next introspection)');
  assert.equal((await w.admin(`${API}/${id}/enable`, { method: 'POST' })).status, 200);
  assert.equal((await introspect(rs, token)).json?.active, true, 'enabled again');
  assert.equal((await w.admin(`${API}/${id}`, { method: 'DELETE' })).status, 200);
  assertInactive(await introspect(rs, token), 'its client deleted');
  // Created again with the same id (the object outlives the client, and is enabled again): the
  // deleted client's token stays inactive, the new client's tokens are active. Tokens carry
  // `iat` to the second: the creation comes in a later second than the old token's.
  const { iat } = jose.decodeJwt(token);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, (iat + 1) * 1000 - Date.now())));
  const again = await w.admin(API, { method: 'POST', body: { client_id: id, scopes: ['a'], default_scopes: ['a'], audience: ['https://api.example.com'] } });
  assert.equal(again.status, 201, 'the id is created again');
  assertInactive(await introspect(rs, token), "the deleted client's token, after the id is created again");
  let fresh;
  for (let i = 0; i < 30 && fresh?.status !== 200; i++) {
    fresh = await w.token({ auth: [id, again.json.client_secret] });
    if (fresh.status !== 200) await new Promise((resolve) => setTimeout(resolve, 500));
  }
  assert.equal(fresh.status, 200, 'the new client gets a token once the isolate reads its record');
  assert.equal((await introspect(rs, fresh.json.access_token)).json?.active, true, "the new client's token is active");
});

test('a revoked token is inactive at the very next introspection (within a second everywhere), revoking again is fine, and other tokens of the client stay active', async () => {
  const rs = await resourceServer();
  const client = await w.seedClient();
  const [token, kept] = [await issued(client), await issued(client)];
  assert.equal((await introspect(rs, token)).json?.active, true, 'before');
  const started = Date.now();
  const res = await revoke(client, token, { token_type_hint: 'access_token' });
  assert.equal(res.status, 200, res.json?.error);
  assertNoStore(res);
  const took = await within(1000, 'inactive after the revocation', async () => (await introspect(rs, token)).json?.active === false);
  console.log(`revocation: inactive ${took} ms after the revocation answer (${Date.now() - started} ms in all)`);
  assert.equal(took, 0, 'the first introspection after the answer already sees it');
  assert.equal((await revoke(client, token)).status, 200, 'revoking twice');
  assertInactive(await introspect(rs, token), 'still revoked');
  assert.equal((await introspect(rs, kept)).json?.active, true, 'another token of the client');
});

test('revocation answers 200 and does nothing for another client\'s, an unknown or a malformed token; refresh_token is unsupported_token_type', async () => {
  const rs = await resourceServer();
  const [owner, stranger] = [await w.seedClient(), await w.seedClient()];
  const token = await issued(owner);
  for (const t of [token, 'not-a-token', await signed({ client_id: stranger.id, sub: stranger.id, exp: 1 })]) {
    const res = await revoke(stranger, t);
    assert.equal(res.status, 200, res.json?.error);
    assert.deepEqual(res.json, {});
  }
  assert.equal((await introspect(rs, token)).json?.active, true, "another client's revocation did nothing");
  assertError(await revoke(owner, token, { token_type_hint: 'refresh_token' }), 400, 'unsupported_token_type');
  assert.equal((await introspect(rs, token)).json?.active, true, 'and revoked nothing');
  assertError(await revoke({ id: owner.id, secret: 'wrong-secret-value' }, token), 401, 'invalid_client');
});

test(`a client holds at most ${MAX_REVOKED} revoked live tokens: past that a revocation is refused 503 with Retry-After and the token stays active`, async () => {
  const rs = await resourceServer();
  const client = await w.seedClient({ rate_limit: { per_minute: 100000, burst: 5000 } });
  const own = { client_id: client.id, sub: client.id };
  let next = 0;
  const worker = async () => {
    while (next < MAX_REVOKED) {
      next++;
      const res = await revoke(client, await signed(own));
      assert.equal(res.status, 200, res.json?.error);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const last = await signed(own);
  const refused = await revoke(client, last);
  assertError(refused, 503, 'temporarily_unavailable');
  const retry = Number(refused.headers.get('retry-after'));
  assert.ok(retry >= 500 && retry <= 601, `Retry-After ${retry}: until the soonest revoked token expires`);
  assert.equal((await introspect(rs, last)).json?.active, true, 'the refused one stays active');
});

test('bad input gets the token endpoint\'s answers: no token, a repeated token, a body over 8 KiB, a query, another content type, GET', async () => {
  const rs = await resourceServer();
  for (const path of [INTROSPECT, REVOKE]) {
    assertError(await call(path, rs, {}), 400, 'invalid_request');
    assertError(await call(path, rs, [['token', 'a'], ['token', 'b']]), 400, 'invalid_request');
    assertError(await call(path, rs, { token: 'a' }, { pad: 9000 }), 400, 'invalid_request');
    assertError(await call(`${path}?token=a`, rs, { token: 'a' }), 400, 'invalid_request');
    assertError(await call(path, rs, { token: 'a' }, { contentType: 'application/json' }), 400, 'invalid_request');
    sent++;
    const get = await w.fetch(path, { method: 'GET' });
    assertError(get, 405, 'invalid_request');
    assert.equal(get.headers.get('allow'), 'POST');
  }
});

test('every introspection and revocation writes one log line with its route and outcome, and never the token', async () => {
  const lines = (await w.jsonLogLines()).filter((l) => ['introspect', 'revoke'].includes(l.route));
  assert.equal(lines.length, sent, 'one line per request');
  const outcomes = new Set(lines.map((l) => l.outcome));
  for (const o of ['active', 'inactive', 'revoked', 'ignored', 'refused']) assert.ok(outcomes.has(o), `an outcome ${o}`);
  assert.ok(lines.some((l) => l.reason === 'token_expired'), 'the reason of an inactive token');
  assert.ok(lines.every((l) => l.tenant && typeof l.status === 'number'), 'tenant and status');
});

test('a token signed by a retired key is inactive', async () => {
  const rs = await resourceServer();
  const client = await w.seedClient();
  const token = await issued(client);
  await w.reconfigure({ keys: [generateSigningKey()] });
  assertInactive(await introspect(rs, token), 'its key retired');
  // A token of the new key is active.
  assert.equal((await introspect(rs, await issued(client))).json?.active, true);
});

testLogHygiene(w);
