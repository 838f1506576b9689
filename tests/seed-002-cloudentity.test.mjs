// Seed 002, SecureAuth / Cloudentity (../shared/seeds/002_*.txt), under the tenant
// `acme-default` of docs/seed-tenants.toml (their tenant `acme`, workspace `default`). Also the
// isolation of tenants, which that URL scheme is about:
//   the document's curl (client_secret_post to /$TENANT_ID/$WORKSPACE_ID/oauth2/token)
//                                        → "the document's curl line gets a token with the tenant's issuer"
//   the same curl line for a client without default scopes (omitted_scope = "none")
//                                        → "the document's curl line gets a client without default scopes a token without scope"
//   "Limit the scope the client application can access"
//                                        → "a scope beyond the client's is refused (strict policy)"
//   another workspace is another tenant  → "a workspace that is not configured is not found"
//   tenant isolation                     → "a client of one tenant is unknown at another tenant's path",
//                                          "the same client id in two tenants is two clients"
//   RFC 8414 metadata per tenant (path insertion) → "each tenant serves its own metadata and JWKS"
import { test } from 'node:test';
import { SEED_TENANTS, assert, assertError, assertIssued, formEncode, testLogHygiene, useWorker } from './harness.mjs';

const PATH = '/acme/default/oauth2/token';
const w = useWorker({ tenants: SEED_TENANTS, tenant: 'acme-default' });

test('the document\'s curl line gets a token with the tenant\'s issuer', async () => {
  const c = await w.seedClient({ scopes: ['orders.read', 'orders.write'], defaultScopes: ['orders.read'] });
  // curl -X POST https://$TENANT_ID.$REGION_ID.authz.cloudentity.io/$TENANT_ID/$WORKSPACE_ID/oauth2/token \
  //   --header "Content-Type: application/x-www-form-urlencoded" \
  //   --data-raw "grant_type=client_credentials&client_id=$CLIENT_ID&client_secret=$CLIENT_SECRET"
  const res = await w.curl(['-X', 'POST', `{HOST}${PATH}`,
    '--header', 'Content-Type: application/x-www-form-urlencoded',
    '--data-raw', `grant_type=client_credentials&client_id=${formEncode(c.id)}&client_secret=${formEncode(c.secret)}`]);
  const { payload } = await assertIssued(w, res, c, { scope: 'orders.read', echo: true });
  assert.equal(payload.iss, 'https://issuer.test/acme/default');
});

test('the document\'s curl line gets a client without default scopes a token without scope', async () => {
  const c = await w.seedClient({ scopes: ['orders.read'], defaultScopes: [] });
  const res = await w.curl(['-X', 'POST', `{HOST}${PATH}`,
    '--header', 'Content-Type: application/x-www-form-urlencoded',
    '--data-raw', `grant_type=client_credentials&client_id=${formEncode(c.id)}&client_secret=${formEncode(c.secret)}`]);
  const { payload } = await assertIssued(w, res, c, { echo: false });
  assert.equal('scope' in payload, false, 'no scope claim');
  assert.equal(payload.iss, 'https://issuer.test/acme/default');
});

test('a scope beyond the client\'s is refused (strict policy)', async () => {
  const c = await w.seedClient({ scopes: ['orders.read'], defaultScopes: ['orders.read'] });
  const params = { grant_type: 'client_credentials', client_id: c.id, client_secret: c.secret, scope: 'orders.read orders.write' };
  assertError(await w.token({ params }), 400, 'invalid_scope');
});

test('a workspace that is not configured is not found', async () => {
  const c = await w.seedClient();
  const res = await w.token({ params: { grant_type: 'client_credentials', client_id: c.id, client_secret: c.secret }, path: '/acme/other/oauth2/token' });
  assert.equal(res.status, 404);
});

test('a client of one tenant is unknown at another tenant\'s path', async () => {
  const c = await w.seedClient();
  const params = { grant_type: 'client_credentials', client_id: c.id, client_secret: c.secret };
  for (const path of ['/oauth2/token', '/oAuth/rest/v2/Token', '/oauth2/access_token']) {
    const res = await w.token({ params, path });
    assert.equal(res.json?.error, 'invalid_client', path);
  }
  await assertIssued(w, await w.token({ params }), c, { scope: 'read', echo: true });
});

test('the same client id in two tenants is two clients, each with its own secret and issuer', async () => {
  const here = await w.seedClient({ id: 'shared-id' });
  const there = await w.seedClient({ id: 'shared-id', tenant: 'wso2' });
  assert.notEqual(here.secret, there.secret);
  const at = (client, path) => w.token({ auth: [client.id, client.secret], path });
  assertError(await at(there, PATH), 401, 'invalid_client');
  assertError(await at(here, '/oauth2/token'), 401, 'invalid_client');
  const a = await assertIssued(w, await at(here, PATH), here, { scope: 'read', echo: true });
  const b = await assertIssued(w, await at(there, '/oauth2/token'), there, { scope: 'read', echo: true });
  assert.equal(a.payload.iss, 'https://issuer.test/acme/default');
  assert.equal(b.payload.iss, 'https://issuer.test');
});

test('each tenant serves its own metadata and JWKS (RFC 8414 §3 path insertion)', async () => {
  for (const [name, tenant] of Object.entries(SEED_TENANTS)) {
    const issuer = `https://issuer.test${tenant.issuer_path ?? ''}`;
    const res = await w.fetch(`/.well-known/oauth-authorization-server${tenant.issuer_path ?? ''}`);
    assert.equal(res.status, 200, name);
    assert.equal(res.json.issuer, issuer, `${name}: issuer`);
    assert.equal(res.json.token_endpoint, `https://issuer.test${tenant.token_paths[0]}`, `${name}: token_endpoint`);
    const jwksPath = new URL(res.json.jwks_uri).pathname;
    const jwks = await w.fetch(jwksPath);
    assert.equal(jwks.status, 200, `${name}: jwks_uri answers`);
    assert.ok(jwks.json.keys.length >= 1 && jwks.json.keys.every((k) => !('d' in k)), `${name}: public keys only`);
  }
});

testLogHygiene(w);
