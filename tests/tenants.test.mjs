// Tenants with their own signing keys (docs/tenants.md).
// Requirement → test:
//   a tenant's own key set: its tokens verify against its JWKS only → "a tenant with its own keys signs with them and publishes only them"
//   a named key secret that is missing → 500, the log names it      → "a tenant whose key secret is missing makes the deployment answer 500, naming the secret"
//   contract: no secret/token in logs                               → "the logs hold no secret, ..." (testLogHygiene)
import { test } from 'node:test';
import { assert, assertError, assertIssued, generateSigningKey, jose, testLogHygiene, useWorker } from './harness.mjs';
import { signingKeysJson } from '../scripts/devstate.mjs';

const TENANTS = {
  main: { token_paths: ['/oauth2/token'] },
  acme: { issuer_path: '/acme', token_paths: ['/acme/token'], signing_keys: 'ACME_KEYS' },
};
const w = useWorker({ tenants: TENANTS });
const acmeKey = generateSigningKey();

test('a tenant with its own keys signs with them and publishes only them', async () => {
  w.sensitive.add(acmeKey.d);
  await w.reconfigure({ bindings: { ACME_KEYS: signingKeysJson([acmeKey]) } });
  const c = await w.seedClient({ tenant: 'acme' });
  const { token, protectedHeader } = await assertIssued(w, await w.token({ auth: [c.id, c.secret], path: '/acme/token' }), c, { scope: 'read', echo: true });
  const main = await w.jwks('main');
  const acme = await w.jwks('acme');
  assert.deepEqual(acme.keys.map((k) => k.kid), [protectedHeader.kid], 'acme publishes its one key');
  assert.ok(!main.keys.some((k) => k.kid === protectedHeader.kid), 'main does not publish it');
  await assert.rejects(jose.jwtVerify(token, jose.createLocalJWKSet(main)), 'an acme token does not verify against main keys');
  const m = await w.seedClient({ tenant: 'main' });
  await assertIssued(w, await w.token({ auth: [m.id, m.secret] }), m, { scope: 'read', echo: true });
});

test('a tenant whose key secret is missing makes the deployment answer 500, naming the secret', async () => {
  await w.reconfigure(); // no ACME_KEYS
  const c = await w.seedClient({ tenant: 'main' });
  assertError(await w.token({ auth: [c.id, c.secret] }), 500, 'server_error');
  const lines = await w.jsonLogLines();
  assert.ok(lines.some((l) => l.route === 'startup' && l.detail?.includes('ACME_KEYS')), 'the log names the secret');
});

testLogHygiene(w);
