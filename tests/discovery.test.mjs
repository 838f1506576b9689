// Public metadata: the JWKS and the RFC 8414 authorization server metadata.
// Requirement → test:
//   RFC 7517 JWK Set, public parts only, RFC 7638 kid, cacheable → "the JWKS publishes each signing key's public part with its thumbprint as kid"
//   RFC 8414 §2-3 metadata document                             → "the metadata names the issuer, token endpoint, JWKS and the client credentials grant"
//   ISSUER and TENANTS come from the configuration             → "another token path moves the token endpoint and the metadata follows"
//   contract: no secret/token in logs                           → "the logs hold no secret, ..." (testLogHygiene)
import { test } from 'node:test';
import { assert, assertIssued, generateSigningKey, jose, testLogHygiene, useWorker } from './harness.mjs';

const w = useWorker();
const custom = useWorker({ tenants: { default: { token_paths: ['/token'] } }, issuer: 'https://auth.example.org' });

test("the JWKS publishes each signing key's public part with its thumbprint as kid", async () => {
  await w.reconfigure({ keys: [w.keys[0], generateSigningKey()] });
  const res = await w.fetch('/.well-known/jwks.json');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/(jwk-set\+)?json\b/, 'Content-Type');
  assert.equal(res.headers.get('cache-control'), 'public, max-age=300', 'Cache-Control');
  assert.equal(res.json.keys.length, 2, 'both keys published');
  assert.ok(!res.text.includes('"d"'), 'no private part anywhere');
  for (const [i, key] of res.json.keys.entries()) {
    const { kty, crv, x } = w.keys[i];
    assert.deepEqual(key, { kty, crv, x, kid: await jose.calculateJwkThumbprint({ kty, crv, x }), alg: 'EdDSA', use: 'sig' }, `key ${i}`);
  }
});

test('the metadata names the issuer, token endpoint, JWKS and the client credentials grant', async () => {
  const res = await w.fetch('/.well-known/oauth-authorization-server');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/, 'Content-Type');
  const m = res.json;
  assert.equal(m.issuer, w.issuer);
  assert.equal(m.token_endpoint, `${w.issuer}/oauth2/token`);
  assert.equal(m.jwks_uri, `${w.issuer}/.well-known/jwks.json`);
  assert.deepEqual(m.grant_types_supported, ['client_credentials']);
  assert.deepEqual([...m.token_endpoint_auth_methods_supported].sort(), ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'self_signed_tls_client_auth', 'tls_client_auth']);
  assert.deepEqual(m.token_endpoint_auth_signing_alg_values_supported, ['EdDSA', 'ES256', 'RS256', 'PS256']);
  assert.deepEqual(m.response_types_supported, []);
});

test('another token path moves the token endpoint and the metadata follows', async () => {
  const m = (await custom.fetch('/.well-known/oauth-authorization-server')).json;
  assert.equal(m.issuer, 'https://auth.example.org');
  assert.equal(m.token_endpoint, 'https://auth.example.org/token');
  assert.equal(m.jwks_uri, 'https://auth.example.org/.well-known/jwks.json');
  const c = await custom.seedClient();
  await assertIssued(custom, await custom.token({ auth: [c.id, c.secret] }), c, { scope: 'read', echo: true });
  assert.equal((await custom.fetch('/oauth2/token', { method: 'POST' })).status, 404, 'the default path is not served');
});

testLogHygiene(w);
testLogHygiene(custom, ' (custom token path)');
