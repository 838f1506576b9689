// Seed 003, ForgeRock Access Management (../shared/seeds/003_*.txt), under the tenants
// `openam` (top-level realm), `openam-customers` and `openam-customers-emea`
// (subrealms) of docs/seed-tenants.toml:
//   the document's curl (myClient / forgerock, scope=write, .../openam/oauth2/realms/root/access_token)
//                                     → "the document's curl line gets the documented answer"
//   /oauth2/access_token              → "the top-level realm answers at /oauth2/access_token too"
//   subrealm /oauth2/realms/root/realms/customers/access_token, nested realms
//                                     → "a subrealm is its own tenant" and "a nested subrealm answers at its path"
//   "Scopes are not required, since they can be configured by default"
//                                     → "without scope, the client's default scope is granted and named"
//   the client must have the Client Credentials grant type
//                                     → "a client without the client credentials grant is unauthorized_client"
import { test } from 'node:test';
import { SEED_TENANTS, assert, assertError, assertIssued, testLogHygiene, useWorker } from './harness.mjs';

const w = useWorker({ tenants: SEED_TENANTS, tenant: 'openam' });
const CUSTOMERS = '/oauth2/realms/root/realms/customers/access_token';
// The document's client: secret `forgerock`, scope `write`. A migrated client keeps its
// secret; only its keyed hash is stored.
const myClient = (opts = {}) => w.seedClient({ id: 'myClient', secret: 'forgerock', scopes: ['write'], defaultScopes: ['write'], ttl: 3599, ...opts });

test('the document\'s curl line gets the documented answer', async () => {
  const c = await myClient();
  // curl --request POST --data "grant_type=client_credentials" --data "client_id=myClient" \
  //   --data "client_secret=forgerock" --data "scope=write" \
  //   "https://openam.example.com:8443/openam/oauth2/realms/root/access_token"
  const res = await w.curl(['--request', 'POST', '--data', 'grant_type=client_credentials', '--data', 'client_id=myClient',
    '--data', 'client_secret=forgerock', '--data', 'scope=write', '{HOST}/openam/oauth2/realms/root/access_token']);
  const { payload } = await assertIssued(w, res, c, { scope: 'write', echo: true });
  assert.deepEqual(Object.keys(res.json).sort(), ['access_token', 'expires_in', 'scope', 'token_type']);
  assert.equal(res.json.scope, 'write', 'scope in the answer although it equals the request');
  assert.equal(res.json.expires_in, 3599);
  assert.equal(payload.iss, 'https://issuer.test/openam/oauth2');
});

test('the top-level realm answers at /oauth2/access_token too', async () => {
  const c = await myClient();
  for (const path of ['/oauth2/access_token', '/oauth2/realms/root/access_token', '/openam/oauth2/access_token']) {
    const res = await w.token({ path, params: { grant_type: 'client_credentials', client_id: c.id, client_secret: c.secret, scope: 'write' } });
    await assertIssued(w, res, c, { scope: 'write', echo: true });
  }
});

test('a subrealm is its own tenant', async () => {
  await myClient();
  // Both registered before the first request: an isolate remembers an unknown id for 30 s
  // (docs/limits.md), as KV remembers a missing key, so a client is created before it is used.
  const c = await myClient({ tenant: 'openam-customers', secret: 'customers-secret' });
  const params = { grant_type: 'client_credentials', client_id: 'myClient', client_secret: 'forgerock' };
  assertError(await w.token({ path: CUSTOMERS, params }), 401, 'invalid_client');
  const res = await w.token({ path: CUSTOMERS, params: { ...params, client_secret: c.secret } });
  const { payload } = await assertIssued(w, res, c, { scope: 'write', echo: true });
  assert.equal(payload.iss, 'https://issuer.test/openam/oauth2/realms/root/realms/customers');
});

test('a nested subrealm answers at its path', async () => {
  const c = await w.seedClient({ tenant: 'openam-customers-emea', scopes: ['write'], defaultScopes: ['write'] });
  for (const path of SEED_TENANTS['openam-customers-emea'].token_paths) {
    const res = await w.token({ path, auth: [c.id, c.secret] });
    const { payload } = await assertIssued(w, res, c, { scope: 'write', echo: true });
    assert.equal(payload.iss, 'https://issuer.test/openam/oauth2/realms/root/realms/customers/realms/emea');
  }
  const res = await w.token({ path: '/oauth2/realms/root/realms/emea/access_token', auth: [c.id, c.secret] });
  assert.equal(res.status, 404, 'a realm is found only under its parent');
});

test('without scope, the client\'s default scope is granted and named', async () => {
  const c = await myClient();
  const res = await w.token({ path: '/oauth2/access_token', params: { grant_type: 'client_credentials', client_id: c.id, client_secret: c.secret } });
  await assertIssued(w, res, c, { scope: 'write', echo: true });
});

test('a client without the client credentials grant is unauthorized_client', async () => {
  const c = await w.seedClient({ grant_types: ['authorization_code'], scopes: ['write'], defaultScopes: ['write'] });
  const res = await w.token({ path: '/oauth2/access_token', params: { grant_type: 'client_credentials', client_id: c.id, client_secret: c.secret } });
  assertError(res, 400, 'unauthorized_client');
});

testLogHygiene(w);
