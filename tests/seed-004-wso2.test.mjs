// Seed 004, WSO2 Identity Server (../shared/seeds/004_*.txt), under the tenant `wso2` of
// docs/seed-tenants.toml:
//   curl -v -X POST -H "Authorization: Basic <base64 encoded client id:client secret value>" -k
//        -d "grant_type=client_credentials" -H "Content-Type:application/x-www-form-urlencoded" .../oauth2/token
//                                        → "the document's first curl line (explicit Basic header) gets a token"
//   curl -u <client id>:<client secret> -k -d "grant_type=client_credentials" ... .../oauth2/token
//                                        → "the document's second curl line (curl -u) gets a token"
//   response {"token_type":"Bearer","expires_in":...,"access_token":...}; "Support for refresh token grant - No"
//                                        → the shape checks in both, and "the refresh_token grant is unsupported"
//   the same request (no scope) for a client without default scopes (omitted_scope = "none")
//                                        → "the document's request gets a client without default scopes a token without scope"
import { test } from 'node:test';
import { SEED_TENANTS, assert, assertError, assertIssued, testLogHygiene, useWorker } from './harness.mjs';

const w = useWorker({ tenants: SEED_TENANTS, tenant: 'wso2' });
const app = () => w.seedClient({ scopes: ['default'], defaultScopes: ['default'], ttl: 3600 });

function assertShape(res) {
  assert.equal(res.json.token_type, 'Bearer');
  assert.ok(Number.isInteger(res.json.expires_in) && res.json.expires_in > 0, 'expires_in');
  assert.equal(typeof res.json.access_token, 'string');
  assert.equal('refresh_token' in res.json, false, 'no refresh token');
}

test('the document\'s first curl line (explicit Basic header) gets a token', async () => {
  const c = await app();
  const basic = Buffer.from(`${c.id}:${c.secret}`).toString('base64');
  const res = await w.curl(['-X', 'POST', '-H', `Authorization: Basic ${basic}`, '-k', '-d', 'grant_type=client_credentials',
    '-H', 'Content-Type:application/x-www-form-urlencoded', '{HOST}/oauth2/token']);
  assertShape(res);
  await assertIssued(w, res, c, { scope: 'default', echo: true });
});

test('the document\'s second curl line (curl -u) gets a token', async () => {
  const c = await app();
  const res = await w.curl(['-u', `${c.id}:${c.secret}`, '-k', '-d', 'grant_type=client_credentials',
    '-H', 'Content-Type:application/x-www-form-urlencoded', '{HOST}/oauth2/token']);
  assertShape(res);
  const { payload } = await assertIssued(w, res, c, { scope: 'default', echo: true });
  assert.equal(payload.iss, 'https://issuer.test');
});

test('the document\'s request gets a client without default scopes a token without scope', async () => {
  const c = await w.seedClient({ scopes: ['orders:read'], defaultScopes: [], ttl: 3600 });
  const res = await w.curl(['-u', `${c.id}:${c.secret}`, '-k', '-d', 'grant_type=client_credentials',
    '-H', 'Content-Type:application/x-www-form-urlencoded', '{HOST}/oauth2/token']);
  assertShape(res);
  const { payload } = await assertIssued(w, res, c, { echo: false });
  assert.equal('scope' in payload, false, 'no scope claim');
});

test('the refresh_token grant is unsupported', async () => {
  const c = await app();
  const res = await w.token({ auth: [c.id, c.secret], params: { grant_type: 'refresh_token', refresh_token: 'anything-at-all' } });
  assertError(res, 400, 'unsupported_grant_type');
});

test('a wrong secret with curl -u is a 401 with a Basic challenge', async () => {
  const c = await app();
  const res = await w.curl(['-u', `${c.id}:wrong-${c.secret.slice(0, 4)}`, '-d', 'grant_type=client_credentials', '{HOST}/oauth2/token']);
  assertError(res, 401, 'invalid_client');
});

testLogHygiene(w);
