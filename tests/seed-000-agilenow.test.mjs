// Seed 000, Agile.Now identity platform (../shared/seeds/000_*.txt), under the tenant
// `agilenow` of docs/seed-tenants.toml. The document's request, its parameter table and its
// answers, with only the host replaced:
//   POST /oAuth/rest/v2/Token, form body client_id, scope, client_secret, grant_type
//                                                     → "the document's request with body credentials gets a token"
//   "The Basic auth pattern ... is also supported"    → "Basic credentials work too"
//   client_secret "must be URL-encoded"               → "a secret with reserved characters works URL-encoded, and not raw"
//   scope optional, default "openid profile name"     → "an omitted scope gets the client's default scopes"
//   "* - gives users all her/his scopes"              → "scope=* grants all of the client's scopes"
//   error answer 400, "Client authentication failed." → "failed client authentication is a 400 invalid_client ..."
//   the path, in this case exactly                    → "only the exact path answers"
//   no refresh token from this grant (RFC 6749 §4.4.3)→ checked by assertIssued on every success
import { test } from 'node:test';
import { SEED_TENANTS, assert, assertError, assertIssued, form, testLogHygiene, useWorker } from './harness.mjs';

const PATH = '/oAuth/rest/v2/Token';
const w = useWorker({ tenants: SEED_TENANTS, tenant: 'agilenow' });
const app = (opts = {}) => w.seedClient({
  scopes: ['openid', 'profile', 'name', 'orders:read'], defaultScopes: ['openid', 'profile', 'name'], ttl: 3599, ...opts,
});

test('the document\'s request with body credentials gets a token', async () => {
  const c = await app();
  const res = await w.fetch(PATH, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: form({ client_id: c.id, scope: 'openid profile', client_secret: c.secret, grant_type: 'client_credentials' }),
  });
  await assertIssued(w, res, c, { scope: 'openid profile', echo: false });
  assert.equal(res.json.expires_in, 3599);
});

test('Basic credentials work too', async () => {
  const c = await app();
  await assertIssued(w, await w.token({ auth: [c.id, c.secret], path: PATH }), c, { scope: 'openid profile name', echo: true });
});

test('a secret with reserved characters works URL-encoded, and not raw', async () => {
  const secret = 'a+b/c=d&e%f g';
  const c = await app({ secret });
  const encoded = `grant_type=client_credentials&client_id=${encodeURIComponent(c.id)}&client_secret=${encodeURIComponent(secret)}`;
  const ok = await w.fetch(PATH, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: encoded });
  await assertIssued(w, ok, c, { scope: 'openid profile name', echo: true });
  const raw = `grant_type=client_credentials&client_id=${c.id}&client_secret=${secret}`;
  const bad = await w.fetch(PATH, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: raw });
  assert.equal(bad.status, 400, 'a raw & splits the secret: the request is refused');
});

test('an omitted scope gets the client\'s default scopes, named in the answer', async () => {
  const c = await app();
  const res = await w.token({ params: { grant_type: 'client_credentials', client_id: c.id, client_secret: c.secret }, path: PATH });
  await assertIssued(w, res, c, { scope: 'openid profile name', echo: true });
});

test('scope=* grants all of the client\'s scopes', async () => {
  const c = await app();
  const res = await w.token({ params: { grant_type: 'client_credentials', client_id: c.id, client_secret: c.secret, scope: '*' }, path: PATH });
  await assertIssued(w, res, c, { scope: 'openid profile name orders:read', echo: true });
});

test('failed client authentication is a 400 invalid_client with a description; with Basic it is 401', async () => {
  const c = await app();
  const wrong = { grant_type: 'client_credentials', client_id: c.id, client_secret: 'not-the-secret' };
  const res = await w.token({ params: wrong, path: PATH });
  assertError(res, 400, 'invalid_client');
  assert.equal(res.json.error_description, 'Client authentication failed.');
  assert.equal(res.headers.get('www-authenticate'), null, 'no Basic challenge on a 400');
  const unknown = await w.token({ params: { ...wrong, client_id: 'nobody-here' }, path: PATH });
  assert.deepEqual([unknown.status, unknown.json], [res.status, res.json], 'an unknown client is answered alike');
  // RFC 6749 §5.2: a client that tried Basic must get 401 and a challenge.
  assertError(await w.token({ auth: [c.id, 'not-the-secret'], path: PATH }), 401, 'invalid_client');
});

test('only the exact path answers', async () => {
  const c = await app();
  for (const near of ['/oauth/rest/v2/token', '/OAUTH/REST/V2/TOKEN', '/oAuth/rest/v2/Token/', '/oAuth/rest/v2/token']) {
    const res = await w.token({ auth: [c.id, c.secret], path: near });
    assert.equal(res.status, 404, near);
  }
});

testLogHygiene(w);
