// Issuing tokens: the success path of the client credentials grant.
// Requirement → test:
//   RFC 6749 §4.4.2-4.4.3, §5.1 success answer (token_type Bearer, expires_in, no refresh_token,
//     Cache-Control no-store, Pragma no-cache)          → "a client authenticated with HTTP Basic ..."
//   RFC 6749 §2.3.1 client_secret_basic                → "a client authenticated with HTTP Basic ..."
//   RFC 6749 §2.3.1 client_secret_post                 → "a client that sends client_id and client_secret in the body ..."
//   RFC 9068 §2.1-2.2 JWT access token header + claims   → verifyToken (harness), used by every test here
//   RFC 7519 §4.1.7 jti unique, ≥ 128 bits              → "two tokens for the same client carry different jti values"
//   RFC 9068 §2.2 aud string vs array                   → "a client with two audiences gets aud as an array of both"
//   storage-schema token_ttl → expires_in, exp - iat    → "expires_in and exp - iat follow the client's token_ttl"
//   RFC 6749 §3.2 / §2.3.1: form encoding, charset      → "a Content-Type with a charset parameter is accepted"
//   RFC 9110 §8.3.1, §11.1 case-insensitive media type and auth scheme → "the media type and the Basic scheme name are matched case-insensitively"
//   RFC 6749 §3.2 unknown parameters ignored            → "unknown parameters are ignored"
//   contract: empty parameters count as omitted         → "an empty client_secret in the body next to Basic counts as omitted"
//   contract: Basic id repeated as body client_id       → "Basic credentials with the same client_id in the body are accepted"
//   contract: body limit 8 KiB inclusive                → "a body of exactly 8 KiB is accepted, with or without Content-Length"
//   contract: no secret/token in logs, one line each    → "the logs hold no secret, ..." (testLogHygiene)
import { test } from 'node:test';
import { FORM, assert, assertIssued, basic, form, testLogHygiene, useWorker } from './harness.mjs';

const w = useWorker();
const GRANT = { grant_type: 'client_credentials' };

test('a client authenticated with HTTP Basic gets a Bearer access token that verifies against the JWKS', async () => {
  const c = await w.seedClient({ scopes: ['read', 'write'], defaultScopes: ['read'] });
  const res = await w.token({ auth: [c.id, c.secret], params: { ...GRANT, scope: 'read write' } });
  await assertIssued(w, res, c, { scope: 'read write', echo: false });
});

test('a client that sends client_id and client_secret in the body gets a token that verifies', async () => {
  const c = await w.seedClient();
  const res = await w.token({ params: { ...GRANT, client_id: c.id, client_secret: c.secret, scope: 'write' } });
  await assertIssued(w, res, c, { scope: 'write', echo: false });
});

test('Basic credentials with the same client_id in the body are accepted', async () => {
  const c = await w.seedClient();
  const res = await w.token({ auth: [c.id, c.secret], params: { ...GRANT, client_id: c.id } });
  await assertIssued(w, res, c, { scope: 'read', echo: true });
});

test('a token request\'s log line carries its CF-Ray and the country of its source, when they are plain values', async () => {
  const c = await w.seedClient();
  const before = (await w.jsonLogLines(w.tokenAnswers.length)).filter((l) => l.route === 'token').length;
  await w.token({ auth: [c.id, c.secret], headers: { 'CF-Ray': '8e9f0a1b2c3d4e5f-AMS' }, cf: { country: 'NL' } });
  await w.token({ auth: [c.id, 'wrong'], headers: { 'CF-Ray': 'not a ray\ttoken' }, cf: { country: 'Netherlands' } });
  const [issued, refused] = (await w.jsonLogLines(w.tokenAnswers.length)).filter((l) => l.route === 'token').slice(before);
  assert.equal(issued.outcome, 'issued');
  assert.equal(issued.ray, '8e9f0a1b2c3d4e5f-AMS');
  assert.equal(issued.country, 'NL');
  assert.equal(refused.outcome, 'refused');
  assert.ok(!('ray' in refused) && !('country' in refused), JSON.stringify(refused));
});

test('two tokens for the same client carry different jti values', async () => {
  const c = await w.seedClient();
  const jtis = [];
  for (let i = 0; i < 2; i++) {
    const { payload } = await assertIssued(w, await w.token({ auth: [c.id, c.secret] }), c, { scope: 'read', echo: true });
    jtis.push(payload.jti);
  }
  assert.ok(jtis[0] !== jtis[1], 'jti differs between two tokens');
});

test('a client with two audiences gets aud as an array of both', async () => {
  const c = await w.seedClient({ audience: ['https://a.example', 'https://b.example'] });
  const { payload } = await assertIssued(w, await w.token({ auth: [c.id, c.secret] }), c, { scope: 'read', echo: true });
  assert.deepEqual(payload.aud, ['https://a.example', 'https://b.example']);
});

test("expires_in and exp - iat follow the client's token_ttl", async () => {
  const c = await w.seedClient({ ttl: 120 });
  const res = await w.token({ auth: [c.id, c.secret] });
  await assertIssued(w, res, c, { scope: 'read', echo: true }); // checks expires_in and exp = iat + 120
  assert.equal(res.json.expires_in, 120);
});

test('a Content-Type with a charset parameter is accepted', async () => {
  const c = await w.seedClient();
  const res = await w.token({ auth: [c.id, c.secret], contentType: `${FORM}; charset=UTF-8` });
  await assertIssued(w, res, c, { scope: 'read', echo: true });
});

test('the media type and the Basic scheme name are matched case-insensitively', async () => {
  const c = await w.seedClient();
  const auth = basic(c.id, c.secret).replace('Basic', 'bAsIc');
  const res = await w.token({ auth, contentType: 'Application/X-WWW-Form-URLEncoded' });
  await assertIssued(w, res, c, { scope: 'read', echo: true });
});

test('unknown parameters are ignored', async () => {
  const c = await w.seedClient();
  const res = await w.token({ auth: [c.id, c.secret], params: [['grant_type', 'client_credentials'], ['foo', 'bar'], ['foo', 'baz'], ['realm', 'x']] });
  await assertIssued(w, res, c, { scope: 'read', echo: true });
});

test('an empty client_secret in the body next to Basic counts as omitted', async () => {
  const c = await w.seedClient();
  const res = await w.token({ auth: [c.id, c.secret], params: { ...GRANT, client_secret: '' } });
  await assertIssued(w, res, c, { scope: 'read', echo: true });
});

test('a body of exactly 8 KiB is accepted, with or without Content-Length', async () => {
  const c = await w.seedClient();
  const body = `${form(GRANT)}&pad=`;
  for (const stream of [false, true]) {
    const res = await w.token({ auth: [c.id, c.secret], body, pad: 8192 - body.length, stream });
    await assertIssued(w, res, c, { scope: 'read', echo: true });
  }
});

testLogHygiene(w);
