// Client authentication: the two methods, their encodings, secret rotation and every refusal.
// Requirement → test:
//   RFC 6749 §2.3.1 form-encoding of id/secret in Basic → "an id and a secret with %, +, : and space work over Basic when form-encoded"
//   RFC 6749 §2.3.1 the same in the body                → "... work in the body when form-encoded"
//   RFC 6749 §2.3.1 raw '+' decodes to a space          → "a raw + in the secret, not form-encoded, is refused with invalid_client"
//   contract: bad %-escape in Basic → invalid_request   → "a raw % before non-hex characters in the Basic credentials is refused with invalid_request"
//   contract: bad %-escape in body → invalid_request    → "a raw % before non-hex characters in the body is refused with invalid_request"
//   contract: malformed Basic → invalid_request         → "a malformed Basic header is refused with invalid_request"
//   RFC 6749 §2.3 one method only                       → "Basic credentials together with a body client_secret are refused with invalid_request"
//   contract: body client_id ≠ Basic id                 → "a body client_id that differs from the Basic id is refused with invalid_request"
//   RFC 6749 §5.2 invalid_client 401 + WWW-Authenticate → "a request without credentials ...", "... another scheme ...",
//                                                         "an unknown client ...", "a wrong secret ...", "a client_id in the body without client_secret ..."
//   no client enumeration: identical answers            → "an unknown client and a wrong secret get byte-identical answers and headers"
//   storage-schema secrets[] rotation overlap           → "during a secret rotation both secrets of a client are accepted"
//   storage-schema secrets[].expires_at                 → "an expired secret is refused with invalid_client ...", "a secret that expires in the future is accepted"
//   RFC 6749 §5.2 unauthorized_client                   → "a client whose grant_types lack client_credentials ...", "a disabled client ..."
//   authentication before authorization                 → "a disabled client with a wrong secret gets invalid_client, not unauthorized_client"
//   contract: a secret in the id position is never logged → "a secret sent in the id position (a swapped pair) is logged only as a keyed tag"
//   contract: no secret/token in logs                   → "the logs hold no secret, ..." (testLogHygiene)
import { test } from 'node:test';
import { assert, assertError, assertIssued, basicRaw, form, formEncode, testLogHygiene, useWorker } from './harness.mjs';
import { randomBytes } from 'node:crypto';

const w = useWorker();
const GRANT = { grant_type: 'client_credentials' };
const now = () => Math.floor(Date.now() / 1000);

test('an id and a secret with %, +, : and space work over Basic when form-encoded', async () => {
  const c = await w.seedClient({ id: 'svc:a+b %x', secret: 'p%40ss+w:rd 100%' });
  await assertIssued(w, await w.token({ auth: [c.id, c.secret] }), c, { scope: 'read', echo: true });
});

test('an id and a secret with %, +, : and space work in the body when form-encoded', async () => {
  const c = await w.seedClient({ id: 'svc:c+d %y', secret: 'q%41ss+w:rd 200%' });
  const res = await w.token({ params: { ...GRANT, client_id: c.id, client_secret: c.secret } });
  await assertIssued(w, res, c, { scope: 'read', echo: true });
});

test('a raw + in the secret, not form-encoded, is refused with invalid_client', async () => {
  const c = await w.seedClient({ secret: 'plus+secret+value' });
  assertError(await w.token({ auth: basicRaw(`${c.id}:${c.secret}`) }), 401, 'invalid_client');
  assertError(await w.token({ body: `${form(GRANT)}&client_id=${c.id}&client_secret=${c.secret}` }), 401, 'invalid_client');
});

test('a raw % before non-hex characters in the Basic credentials is refused with invalid_request', async () => {
  const c = await w.seedClient({ id: 'pct-basic', secret: 'secret%zz-value' });
  assertError(await w.token({ auth: basicRaw(`${c.id}:${c.secret}`) }), 400, 'invalid_request');
  assertError(await w.token({ auth: basicRaw(`pct%g1:${formEncode(c.secret)}`) }), 400, 'invalid_request');
});

test('a raw % before non-hex characters in the body is refused with invalid_request', async () => {
  const c = await w.seedClient({ id: 'pct-body', secret: 'secret%zz-value' });
  assertError(await w.token({ body: `${form(GRANT)}&client_id=${c.id}&client_secret=${c.secret}` }), 400, 'invalid_request');
  assertError(await w.token({ body: `${form(GRANT)}&client_id=${c.id}&client_secret=secret%2` }), 400, 'invalid_request');
});

test('a malformed Basic header is refused with invalid_request', async () => {
  const c = await w.seedClient();
  for (const auth of ['Basic !!!not-base64!!!', 'Basic', basicRaw(`${c.id}${c.secret}`), basicRaw('')]) {
    assertError(await w.token({ auth }), 400, 'invalid_request');
  }
});

test('Basic credentials together with a body client_secret are refused with invalid_request', async () => {
  const c = await w.seedClient();
  const res = await w.token({ auth: [c.id, c.secret], params: { ...GRANT, client_id: c.id, client_secret: c.secret } });
  assertError(res, 400, 'invalid_request');
});

test('a body client_id that differs from the Basic id is refused with invalid_request', async () => {
  const c = await w.seedClient();
  const other = await w.seedClient();
  assertError(await w.token({ auth: [c.id, c.secret], params: { ...GRANT, client_id: other.id } }), 400, 'invalid_request');
});

test('a request without credentials is refused with invalid_client and a Basic challenge', async () => {
  assertError(await w.token(), 401, 'invalid_client');
});

test('an Authorization header of another scheme (Bearer) is refused with invalid_client', async () => {
  assertError(await w.token({ auth: 'Bearer some-opaque-token-value' }), 401, 'invalid_client');
});

test('an unknown client is refused with invalid_client', async () => {
  assertError(await w.token({ auth: ['no-such-client', 'whatever-secret-1'] }), 401, 'invalid_client');
  const res = await w.token({ params: { ...GRANT, client_id: 'no-such-client', client_secret: 'whatever-secret-1' } });
  assertError(res, 401, 'invalid_client');
});

test('a wrong secret is refused with invalid_client, over Basic and in the body', async () => {
  const c = await w.seedClient();
  assertError(await w.token({ auth: [c.id, 'wrong-secret-value'] }), 401, 'invalid_client');
  assertError(await w.token({ params: { ...GRANT, client_id: c.id, client_secret: 'wrong-secret-value' } }), 401, 'invalid_client');
});

test('a client_id in the body without client_secret is refused with invalid_client', async () => {
  const c = await w.seedClient();
  assertError(await w.token({ params: { ...GRANT, client_id: c.id } }), 401, 'invalid_client');
  assertError(await w.token({ params: { ...GRANT, client_id: c.id, client_secret: '' } }), 401, 'invalid_client');
});

test('an unknown client and a wrong secret get byte-identical answers and headers', async () => {
  const c = await w.seedClient();
  const unknown = await w.token({ auth: ['no-such-client', 'wrong-secret-value'] });
  const wrong = await w.token({ auth: [c.id, 'wrong-secret-value'] });
  assertError(unknown, 401, 'invalid_client');
  assert.equal(wrong.text, unknown.text, 'bodies are byte-identical');
  const headers = (r) => [...r.headers].filter(([k]) => k !== 'date').sort();
  assert.deepEqual(headers(wrong), headers(unknown), 'headers are identical');
});

test('during a secret rotation both secrets of a client are accepted', async () => {
  const c = await w.seedClient({ secrets: ['old-secret-of-rotation', 'new-secret-of-rotation'] });
  for (const secret of ['old-secret-of-rotation', 'new-secret-of-rotation']) {
    await assertIssued(w, await w.token({ auth: [c.id, secret] }), c, { scope: 'read', echo: true });
  }
});

test("an expired secret is refused with invalid_client while the client's other secret works", async () => {
  const c = await w.seedClient({ secrets: [{ secret: 'expired-secret-value', expires_at: now() - 5 }, 'current-secret-value'] });
  assertError(await w.token({ auth: [c.id, 'expired-secret-value'] }), 401, 'invalid_client');
  await assertIssued(w, await w.token({ auth: [c.id, 'current-secret-value'] }), c, { scope: 'read', echo: true });
});

test('a secret that expires in the future is accepted', async () => {
  const c = await w.seedClient({ secrets: [{ secret: 'expiring-secret-value', expires_at: now() + 3600 }] });
  await assertIssued(w, await w.token({ auth: [c.id, c.secret] }), c, { scope: 'read', echo: true });
});

test('a client whose grant_types lack client_credentials is refused with unauthorized_client', async () => {
  for (const grant_types of [[], ['authorization_code']]) {
    const c = await w.seedClient({ grant_types });
    assertError(await w.token({ auth: [c.id, c.secret] }), 400, 'unauthorized_client');
  }
});

test('a disabled client is refused with unauthorized_client', async () => {
  const c = await w.seedClient({ disabled: true });
  const res = await w.token({ auth: [c.id, c.secret] });
  assertError(res, 400, 'unauthorized_client');
  assert.doesNotMatch(res.json.error_description, /not authorized to use this grant type/, 'a disabled client is not told its grant is missing');
  assert.match(res.json.error_description, /disabled/);
});

test('a disabled client with a wrong secret gets invalid_client, not unauthorized_client', async () => {
  const c = await w.seedClient({ disabled: true });
  assertError(await w.token({ auth: [c.id, 'wrong-secret-value'] }), 401, 'invalid_client');
});

/** A text of the shape of a generated secret: the prefix and 49 base62 characters. */
const secretShaped = () => `etcs_${Array.from(randomBytes(49), (b) => '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'[b % 62]).join('')}`;

test('a secret sent in the id position (a swapped pair) is logged only as a keyed tag', async () => {
  const c = await w.seedClient({ secret: secretShaped() });
  const before = (await w.jsonLogLines(w.tokenAnswers.length)).filter((l) => 'outcome' in l).length;
  assertError(await w.token({ auth: [c.secret, c.id] }), 401, 'invalid_client'); // curl -u SECRET:id
  assertError(await w.token({ auth: [c.secret, c.id] }), 401, 'invalid_client');
  assertError(await w.token({ params: { ...GRANT, client_id: `x${c.secret}`, client_secret: 'not-the-id-either' } }), 401, 'invalid_client');
  assertError(await w.token({ auth: ['plain-unknown-id', 'some-wrong-secret'] }), 401, 'invalid_client');
  const lines = (await w.jsonLogLines(w.tokenAnswers.length)).filter((l) => 'outcome' in l).slice(before);
  assert.equal(lines.length, 4, 'one line per request');
  for (const line of lines.slice(0, 3)) {
    assert.equal(line.client_id, undefined, 'no client_id');
    assert.match(line.client_tag ?? '', /^[A-Za-z0-9_-]{11}$/, 'a short tag');
  }
  assert.equal(lines[0].client_tag, lines[1].client_tag, 'the same text gets the same tag');
  assert.notEqual(lines[0].client_tag, lines[2].client_tag, 'another text, another tag');
  assert.equal(lines[3].client_id, 'plain-unknown-id', 'an ordinary id is logged as it is');
  assert.equal(w.stdio.includes(c.secret.slice(5, 25)), false, 'no part of the secret in the output');
});

testLogHygiene(w);
