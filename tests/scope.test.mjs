// Scope: what is granted, when the answer echoes it, and what is refused.
// Requirement → test:
//   RFC 6749 §3.3, §5.1 scope omitted from the answer when identical → "a requested subset of the allowed scopes is granted, and scope is not echoed"
//                                                                  → "all allowed scopes requested at once are granted as requested"
//   RFC 6749 §3.3 default scopes when omitted, echoed              → "an omitted scope grants the client's default scopes and echoes them"
//   contract: empty parameter counts as omitted                   → "an empty scope parameter counts as omitted"
//   RFC 6749 §5.2 invalid_scope: outside the client's policy      → "a scope outside the client's scopes is refused with invalid_scope"
//   RFC 6749 §3.3 scope syntax                                    → "a malformed scope is refused with invalid_scope"
//   storage-schema: empty default_scopes = scope required        → "an omitted scope for a client without default scopes is refused with invalid_scope"
//   contract: no secret/token in logs                             → "the logs hold no secret, ..." (testLogHygiene)
import { before, test } from 'node:test';
import { assertError, assertIssued, testLogHygiene, useWorker } from './harness.mjs';

const w = useWorker();
const GRANT = { grant_type: 'client_credentials' };
const scopes = ['orders:read', 'orders:write', 'admin'];
let c;
before(async () => { c = await w.seedClient({ scopes, defaultScopes: ['orders:read', 'orders:write'] }); });
const request = (params, client = c) => w.token({ auth: [client.id, client.secret], params: { ...GRANT, ...params } });

test('a requested subset of the allowed scopes is granted, and scope is not echoed', async () => {
  await assertIssued(w, await request({ scope: 'orders:write' }), c, { scope: 'orders:write', echo: false });
  await assertIssued(w, await request({ scope: 'admin orders:read' }), c, { scope: 'admin orders:read', echo: false });
});

test('all allowed scopes requested at once are granted as requested', async () => {
  const all = scopes.join(' ');
  await assertIssued(w, await request({ scope: all }), c, { scope: all, echo: false });
});

test("an omitted scope grants the client's default scopes and echoes them", async () => {
  await assertIssued(w, await request({}), c, { scope: 'orders:read orders:write', echo: true });
});

test('an empty scope parameter counts as omitted', async () => {
  await assertIssued(w, await request({ scope: '' }), c, { scope: 'orders:read orders:write', echo: true });
});

test("a scope outside the client's scopes is refused with invalid_scope", async () => {
  for (const scope of ['orders:delete', 'orders:read orders:delete', 'ORDERS:READ', 'orders']) {
    assertError(await request({ scope }), 400, 'invalid_scope');
  }
});

test('a malformed scope is refused with invalid_scope', async () => {
  // double space, leading/trailing space, a quote, a backslash, a tab, a non-ASCII character
  for (const scope of ['orders:read  admin', ' admin', 'admin ', '"admin"', 'adm\\in', 'admin\torders:read', 'ädmin']) {
    assertError(await request({ scope }), 400, 'invalid_scope');
  }
});

test('an omitted scope for a client without default scopes is refused with invalid_scope', async () => {
  const d = await w.seedClient({ scopes, defaultScopes: [] });
  assertError(await request({}, d), 400, 'invalid_scope');
  await assertIssued(w, await request({ scope: 'admin' }, d), d, { scope: 'admin', echo: false });
});

testLogHygiene(w);
