// Seed 001, Applixure AAS (../shared/seeds/001_*.txt), under the tenant `applixure` of
// docs/seed-tenants.toml. The document's parameter tables, example payload and answers:
//   example payload, Basic ("should always be favoured")  → "the document's example payload with Basic gets the requested scopes"
//   key id and secret as body parameters (allowed)        → "body credentials work too"
//   scope "Yes, if no default scopes are defined"         → "without scope, a client with default scopes gets them" and
//                                                           "without scope, a client without default scopes gets invalid_scope"
//   "granted scopes may be a subset of the scopes requested" → "a partly allowed request is granted the allowed part, named in scope"
//                                                           and "a request with nothing allowed is invalid_scope"
//   response: access_token, expires_in (3600), scope, token_type bearer; no refresh token
//                                                         → assertIssued in each success (token_type "Bearer": RFC 6749 §5.1 makes it case-insensitive)
//   400 per RFC 6749 §5.2                                 → "an unsupported grant type is a 400 in RFC 6749 §5.2 form"
//   500 temporary error / 503 temporarily offline         → "a broken record is a 500, retryable" and "an unreachable guard object is a 503 with Retry-After"
import { test } from 'node:test';
import { SEED_TENANTS, assert, assertError, assertIssued, testLogHygiene, useWorker } from './harness.mjs';

const PATH = '/applixure/oauth2/token';
const w = useWorker({ tenants: SEED_TENANTS, tenant: 'applixure' });
const broken = useWorker({ tenants: SEED_TENANTS, tenant: 'applixure', guardFault: 'throw' });
const SCOPES = ['account-all:read', 'account-data:manage', 'account-data:read'];
const keypair = (worker = w, opts = {}) => worker.seedClient({ scopes: SCOPES, defaultScopes: ['account-all:read'], ttl: 3600, ...opts });

test('the document\'s example payload with Basic gets the requested scopes, named in scope', async () => {
  const c = await keypair();
  const res = await w.token({ auth: [c.id, c.secret], path: PATH, body: 'grant_type=client_credentials&scope=account-all%3Aread+account-data%3Amanage' });
  await assertIssued(w, res, c, { scope: 'account-all:read account-data:manage', echo: true });
  assert.equal(res.json.scope, 'account-all:read account-data:manage', 'scope is always in the answer');
  assert.equal(res.json.expires_in, 3600);
  assert.equal(res.json.token_type.toLowerCase(), 'bearer');
});

test('body credentials work too', async () => {
  const c = await keypair();
  const res = await w.token({ path: PATH, params: { grant_type: 'client_credentials', client_id: c.id, client_secret: c.secret, scope: 'account-data:read' } });
  await assertIssued(w, res, c, { scope: 'account-data:read', echo: true });
});

test('without scope, a client with default scopes gets them', async () => {
  const c = await keypair();
  await assertIssued(w, await w.token({ auth: [c.id, c.secret], path: PATH }), c, { scope: 'account-all:read', echo: true });
});

test('without scope, a client without default scopes gets invalid_scope', async () => {
  const c = await keypair(w, { defaultScopes: [] });
  assertError(await w.token({ auth: [c.id, c.secret], path: PATH }), 400, 'invalid_scope');
});

test('a partly allowed request is granted the allowed part, named in scope', async () => {
  const c = await keypair();
  const res = await w.token({ auth: [c.id, c.secret], path: PATH, params: { grant_type: 'client_credentials', scope: 'account-data:manage billing:write' } });
  await assertIssued(w, res, c, { scope: 'account-data:manage', echo: true });
});

test('a request with nothing allowed is invalid_scope', async () => {
  const c = await keypair();
  const res = await w.token({ auth: [c.id, c.secret], path: PATH, params: { grant_type: 'client_credentials', scope: 'billing:write' } });
  assertError(res, 400, 'invalid_scope');
});

test('an unsupported grant type is a 400 in RFC 6749 §5.2 form', async () => {
  const c = await keypair();
  assertError(await w.token({ auth: [c.id, c.secret], path: PATH, params: { grant_type: 'password' } }), 400, 'unsupported_grant_type');
});

test('a broken record is a 500, retryable', async () => {
  const c = await keypair(w, { record: { token_ttl: 0 } });
  assertError(await w.token({ auth: [c.id, c.secret], path: PATH }), 500, 'server_error');
});

test('an unreachable guard object is a 503 with Retry-After', async () => {
  const c = await keypair(broken);
  const res = await broken.token({ auth: [c.id, c.secret], path: PATH });
  assertError(res, 503, 'temporarily_unavailable');
  assert.match(res.headers.get('retry-after') ?? '', /^\d+$/, 'Retry-After in seconds');
});

testLogHygiene(w);
testLogHygiene(broken, ' (guard fault)');
