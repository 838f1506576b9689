// Malformed requests, other methods and paths, and operator faults.
// Requirement → test:
//   RFC 6749 §4.4.2 form body only                       → "a JSON body is refused with invalid_request", "a request without Content-Type ..."
//   RFC 6749 §4.4.2 grant_type REQUIRED                  → "an empty body is refused ...", "a body without grant_type ...", "an empty grant_type counts as missing ..."
//   RFC 6749 §5.2 unsupported_grant_type                 → "another grant_type is refused with unsupported_grant_type"
//   RFC 6749 §3.2 parameters MUST NOT repeat             → "a repeated grant_type, scope, client_id or client_secret is refused with invalid_request"
//   contract: body ≤ 8 KiB                               → "a body over 8 KiB is refused with invalid_request", "... streamed without Content-Length ..."
//   contract: bad percent-encoding → invalid_request     → "a bad percent-encoding in a parameter is refused with invalid_request"
//   RFC 6749 §2.3.1 no credentials in the URI: any query → invalid_request
//                                                        → "credentials or any other query in the request URI are refused with invalid_request, even with a valid request"
//   RFC 6749 §3.2 POST only; RFC 9110 §15.5.6 405 + Allow → "GET, PUT, DELETE and PATCH on the token path get 405 ...",
//                                                          "a browser's GET on the token path is told the endpoint accepts only POST ..."
//   RFC 6749 §5.1 no-store on every token-path answer   → assertError (harness), used by every refusal
//   contract: unknown path → 404                         → "an unknown path gets 404"
//   a 404 is no-store, without CORS                      → "a 404 is neither cacheable nor shared with other origins"
//   storage-schema: bad record → 500, never 4xx          → "a client record that is not JSON ...", "... unknown schema version ...",
//                                                          "a client record whose client_id differs from its key ..."
//   storage-schema: a record breaking a rule → 500    → "a client record that breaks a rule of the schema gives 500 server_error"
//   storage-schema: pepper ≥ 32 characters → else 500 → "a CLIENT_SECRET_PEPPER shorter than 32 characters gives 500 server_error"
//   storage-schema: bad SIGNING_KEYS → 500               → "malformed SIGNING_KEYS give 500 server_error, and a good set works again"
//   tenants.md: bad TENANTS → 500, the log names the field; object or JSON text → "a TENANTS that breaks a rule gives 500 and a log line naming the tenant and field; JSON text works too"
//   contract: no secret/token in logs                    → "the logs hold no secret, ..." (testLogHygiene)
import { test } from 'node:test';
import { FORM, assert, assertError, assertIssued, assertNoStore, form, generateSigningKey, kvKey, testLogHygiene, useWorker } from './harness.mjs';

const w = useWorker();
const GRANT = { grant_type: 'client_credentials' };
const pairs = (...p) => p; // readability for [name, value] lists

test('a JSON body is refused with invalid_request', async () => {
  const c = await w.seedClient();
  const res = await w.token({ auth: [c.id, c.secret], contentType: 'application/json', body: JSON.stringify(GRANT) });
  assertError(res, 400, 'invalid_request');
});

test('a request without Content-Type, or with text/plain, is refused with invalid_request', async () => {
  const c = await w.seedClient();
  for (const contentType of [null, 'text/plain', 'multipart/form-data; boundary=x']) {
    // a Blob body carries no type, so workerd adds none when contentType is null
    const res = await w.token({ auth: [c.id, c.secret], contentType, body: new Blob([form(GRANT)]) });
    assertError(res, 400, 'invalid_request');
  }
});

test('an empty body is refused with invalid_request', async () => {
  const c = await w.seedClient();
  assertError(await w.token({ auth: [c.id, c.secret], body: '' }), 400, 'invalid_request');
});

test('a body without grant_type is refused with invalid_request', async () => {
  const c = await w.seedClient();
  assertError(await w.token({ auth: [c.id, c.secret], params: { scope: 'read' } }), 400, 'invalid_request');
});

test('an empty grant_type counts as missing and is refused with invalid_request', async () => {
  const c = await w.seedClient();
  assertError(await w.token({ auth: [c.id, c.secret], params: { grant_type: '' } }), 400, 'invalid_request');
});

test('credentials or any other query in the request URI are refused with invalid_request, even with a valid request', async () => {
  const c = await w.seedClient();
  const queries = [
    `client_secret=${encodeURIComponent(c.secret)}`, `client_id=${c.id}&client_secret=${encodeURIComponent(c.secret)}`,
    'grant_type=client_credentials', 'scope=read', 'client_assertion_type=x&client_assertion=y', 'realm=other', 'x',
  ];
  for (const query of queries) {
    const res = await w.token({ auth: [c.id, c.secret], path: `${w.tokenPath}?${query}` });
    assertError(res, 400, 'invalid_request');
  }
  // Body credentials with the secret repeated in the URI: refused too.
  const post = { ...GRANT, client_id: c.id, client_secret: c.secret };
  assertError(await w.token({ params: post, path: `${w.tokenPath}?client_secret=${encodeURIComponent(c.secret)}` }), 400, 'invalid_request');
  // The same requests without the query are served, so the query alone made the difference.
  await assertIssued(w, await w.token({ auth: [c.id, c.secret] }), c, { scope: 'read', echo: true });
  await assertIssued(w, await w.token({ auth: [c.id, c.secret], path: `${w.tokenPath}?` }), c, { scope: 'read', echo: true });
});

test('another grant_type is refused with unsupported_grant_type', async () => {
  const c = await w.seedClient();
  for (const grant_type of ['password', 'authorization_code', 'refresh_token', 'Client_Credentials', 'client_credentials ']) {
    assertError(await w.token({ auth: [c.id, c.secret], params: { grant_type } }), 400, 'unsupported_grant_type');
  }
});

test('a repeated grant_type, scope, client_id or client_secret is refused with invalid_request, even when one is empty', async () => {
  const c = await w.seedClient();
  const basic = [
    pairs(['grant_type', 'client_credentials'], ['grant_type', 'client_credentials']),
    pairs(['grant_type', 'client_credentials'], ['grant_type', '']),
    pairs(['grant_type', 'client_credentials'], ['scope', 'read'], ['scope', 'read']),
    pairs(['grant_type', 'client_credentials'], ['scope', 'read'], ['scope', '']),
    pairs(['grant_type', 'client_credentials'], ['client_id', c.id], ['client_id', c.id]),
  ];
  for (const params of basic) assertError(await w.token({ auth: [c.id, c.secret], params }), 400, 'invalid_request');
  const post = [
    pairs(['grant_type', 'client_credentials'], ['client_id', c.id], ['client_id', c.id], ['client_secret', c.secret]),
    pairs(['grant_type', 'client_credentials'], ['client_id', c.id], ['client_secret', c.secret], ['client_secret', c.secret]),
    pairs(['grant_type', 'client_credentials'], ['client_id', c.id], ['client_secret', c.secret], ['client_secret', '']),
  ];
  for (const params of post) assertError(await w.token({ params }), 400, 'invalid_request');
});

test('a body over 8 KiB is refused with invalid_request', async () => {
  const c = await w.seedClient();
  const head = `${form(GRANT)}&pad=`;
  for (const size of [8193, 100 * 1024]) {
    assertError(await w.token({ auth: [c.id, c.secret], body: head, pad: size - head.length }), 400, 'invalid_request');
  }
});

test('a 100 KiB body streamed without Content-Length is refused with invalid_request', async () => {
  const c = await w.seedClient();
  const res = await w.token({ auth: [c.id, c.secret], body: `${form(GRANT)}&pad=`, pad: 100 * 1024, stream: true });
  assertError(res, 400, 'invalid_request');
});

test('a bad percent-encoding in a parameter is refused with invalid_request', async () => {
  const c = await w.seedClient();
  for (const body of ['grant_type=client_credentials&scope=read%', 'grant_type=client%2', 'grant_type=client_credentials&scope=%zzread']) {
    assertError(await w.token({ auth: [c.id, c.secret], body }), 400, 'invalid_request');
  }
});

test('GET, PUT, DELETE and PATCH on the token path get 405 with Allow: POST', async () => {
  for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
    const res = await w.fetch(w.tokenPath, { method, ...(method === 'GET' || method === 'DELETE' ? {} : { headers: { 'Content-Type': FORM }, body: form(GRANT) }) });
    assert.equal(res.status, 405, `${method} status`);
    assert.equal(res.headers.get('allow'), 'POST', 'Allow');
    assertNoStore(res);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/, 'Content-Type');
    assert.equal(typeof res.json?.error, 'string', 'JSON error body');
  }
});

test("a browser's GET on the token path is told the endpoint accepts only POST, not that a parameter is missing", async () => {
  const res = await w.fetch(w.tokenPath);
  assert.equal(res.status, 405);
  assert.match(res.json.error_description, /only POST/);
  assert.doesNotMatch(res.json.error_description, /missing|parameter/);
});

test('an unknown path gets 404', async () => {
  for (const path of ['/', '/oauth2/token/x', '/oauth2/tokens', '/.well-known/jwks']) {
    assert.equal((await w.fetch(path, { method: 'POST', headers: { 'Content-Type': FORM }, body: form(GRANT) })).status, 404, path);
    assert.equal((await w.fetch(path)).status, 404, path);
  }
});

test('a 404 is neither cacheable nor shared with other origins', async () => {
  for (const path of ['/', '/favicon.ico', '/oauth2/tokens']) {
    const res = await w.fetch(path);
    assert.equal(res.status, 404, path);
    assert.equal(res.headers.get('cache-control'), 'no-store', `${path} Cache-Control`);
    assert.equal(res.headers.get('access-control-allow-origin'), null, `${path} CORS`);
  }
});

test('a client record that is not JSON gives 500 server_error', async () => {
  await w.putRaw(kvKey('broken-json'), '{"v":1,"client_id":"broken-json",');
  assertError(await w.token({ auth: ['broken-json', 'any-secret-value'] }), 500, 'server_error');
});

test('a client record of an unknown schema version gives 500 server_error', async () => {
  const c = await w.seedClient({ record: { v: 2 } });
  assertError(await w.token({ auth: [c.id, c.secret] }), 500, 'server_error');
});

test('a client record whose client_id differs from its key gives 500 server_error', async () => {
  const c = await w.seedClient({ record: { client_id: 'somebody-else' } });
  assertError(await w.token({ auth: [c.id, c.secret] }), 500, 'server_error');
});

test('a client record that breaks a rule of the schema gives 500 server_error', async () => {
  const breaks = [
    { token_ttl: 59 }, { token_ttl: 86401 }, { audience: [] }, { secrets: [] },
    { secrets: [{ hash: 'a'.repeat(43) }, { hash: 'b'.repeat(43) }, { hash: 'c'.repeat(43) }] },
    { default_scopes: ['not-allowed'] }, { scopes: ['bad"scope'] }, { disabled: 'no' },
  ];
  for (const [i, fields] of breaks.entries()) {
    const c = await w.seedClient({ id: `rule-${i}`, record: fields });
    assertError(await w.token({ auth: [c.id, c.secret] }), 500, 'server_error');
  }
});

test('a CLIENT_SECRET_PEPPER shorter than 32 characters gives 500 server_error', async () => {
  const c = await w.seedClient();
  await w.reconfigure({ bindings: { CLIENT_SECRET_PEPPER: 'too-short-pepper' } });
  assertError(await w.token({ auth: [c.id, c.secret] }), 500, 'server_error');
  await w.reconfigure();
});

test('malformed SIGNING_KEYS give 500 server_error, and a good set works again', async () => {
  const c = await w.seedClient();
  const { x } = generateSigningKey();
  for (const SIGNING_KEYS of ['not json', '{"keys":[]}', JSON.stringify({ keys: [{ kty: 'OKP', crv: 'Ed25519', x }] })]) {
    await w.reconfigure({ bindings: { SIGNING_KEYS } });
    assertError(await w.token({ auth: [c.id, c.secret] }), 500, 'server_error');
  }
  await w.reconfigure();
  await assertIssued(w, await w.token({ auth: [c.id, c.secret] }), c, { scope: 'read', echo: true });
});

test('a TENANTS that breaks a rule gives 500 and a log line naming the tenant and field; JSON text works too', async () => {
  const c = await w.seedClient();
  const bad = { default: { token_paths: ['/oauth2/token'], scope_policy: 'loose' } };
  await w.reconfigure({ bindings: { TENANTS: bad } });
  assertError(await w.token({ auth: [c.id, c.secret] }), 500, 'server_error');
  const lines = await w.jsonLogLines();
  assert.ok(lines.some((l) => l.route === 'startup' && l.detail?.includes('TENANTS.default.scope_policy')), 'the log names the field');
  await w.reconfigure({ bindings: { TENANTS: JSON.stringify(w.tenants) } });
  await assertIssued(w, await w.token({ auth: [c.id, c.secret] }), c, { scope: 'read', echo: true });
  await w.reconfigure();
});

testLogHygiene(w);
