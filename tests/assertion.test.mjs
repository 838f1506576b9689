// private_key_jwt client authentication (RFC 7523 §2.2, §3; RFC 7521 §4.2), issue 11: a client
// with public keys and no secret signs an assertion; every check refuses with the same
// invalid_client as a wrong secret, and the log names the check, never the assertion.
// Assertions are made and tokens verified with `jose`. Requirement → test: tests/README.md.
import { createServer } from 'node:http';
import { describe, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { assert, assertError, assertIssued, basic, jose, oneGateWindow, testLogHygiene, useWorker } from './harness.mjs';
import { assertion, b64, keyClient, keyPair, lastReason, now, present } from './jwt-clients.mjs';

const w = useWorker();

test('a client with an EdDSA key and no secret gets a token with a signed assertion', async () => {
  const c = await keyClient(w);
  await assertIssued(w, await present(w, await assertion(w, c)), c, { scope: 'read', echo: true });
});

for (const alg of ['ES256', 'RS256', 'PS256']) {
  test(`a client pinned to ${alg} gets a token with an assertion verified by WebCrypto`, async () => {
    const c = await keyClient(w, { alg });
    await assertIssued(w, await present(w, await assertion(w, c)), c, { scope: 'read', echo: true });
  });
}

test('an assertion addressed to the token endpoint URL, alone or among others, is accepted', async () => {
  const c = await keyClient(w);
  const endpoint = `${w.origin}${w.tokenPath}`;
  for (const aud of [endpoint, ['https://elsewhere.example', endpoint]]) {
    await assertIssued(w, await present(w, await assertion(w, c, { claims: { aud } })), c, { scope: 'read', echo: true });
  }
});

test('a replayed assertion is refused with invalid_client and logged as assertion_replayed', async () => {
  const c = await keyClient(w);
  const jwt = await assertion(w, c);
  assert.equal((await present(w, jwt)).status, 200, 'first use');
  assertError(await present(w, jwt), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'assertion_replayed');
  // The same jti in a new assertion is a replay too.
  const { jti } = jose.decodeJwt(jwt);
  assertError(await present(w, await assertion(w, c, { claims: { jti } })), 401, 'invalid_client');
});

/** The isolate's guard object requests so far, from the log line of a GET on the token path (405, no storage). */
async function objectRequests() {
  await w.fetch(w.tokenPath, { method: 'GET' });
  const lines = (await w.jsonLogLines(w.tokenAnswers.length)).filter((l) => l.isolate);
  return lines.at(-1).isolate.object_requests;
}

test('a token whose view is stale costs one guard object request: its jti spent and its lease together', async () => {
  const c = await keyClient(w);
  // No view of the client yet, then one older than its 1 s life.
  for (const wait of [0, 1_200]) {
    await new Promise((resolve) => setTimeout(resolve, wait));
    const before = await objectRequests();
    await assertIssued(w, await present(w, await assertion(w, c)), c, { scope: 'read', echo: true });
    assert.equal(await objectRequests() - before, 1, 'was 2: the spend, then the view and lease');
  }
});

test('each failed claim check is the same invalid_client as a wrong secret, and the log names the check', async () => {
  const c = await keyClient(w);
  const t = now();
  const cases = [
    [{ iss: 'someone-else' }, 'assertion_issuer'],
    [{ sub: 'someone-else' }, 'assertion_subject', { client_id: c.id }], // else looked up by sub
    [{ aud: 'https://issuer.test/other' }, 'assertion_audience'],
    [{ aud: [] }, 'assertion_audience'],
    [{ exp: undefined }, 'assertion_no_exp'],
    [{ exp: t - 120, iat: t - 180 }, 'assertion_expired'],
    [{ exp: t + 900 }, 'assertion_lifetime'],
    [{ iat: t - 600, exp: t + 30 }, 'assertion_lifetime'],
    [{ nbf: t + 120 }, 'assertion_not_yet_valid'],
    [{ iat: t + 120, exp: t + 180 }, 'assertion_issued_in_future'],
    [{ jti: undefined }, 'assertion_no_jti'],
  ];
  const wrongSecret = await w.token({ auth: ['no-such-client', 'wrong-secret-value'] });
  for (const [claims, reason, extra] of cases) {
    const res = await present(w, await assertion(w, c, { claims }), extra);
    assertError(res, 401, 'invalid_client');
    assert.equal(res.text, wrongSecret.text, `${reason}: the body of a wrong secret`);
    assert.equal(res.headers.get('www-authenticate'), wrongSecret.headers.get('www-authenticate'), `${reason}: its challenge`);
    assert.equal(await lastReason(w), reason);
  }
});

test('a body client_id must equal the assertion sub', async () => {
  const c = await keyClient(w);
  const other = await keyClient(w);
  await assertIssued(w, await present(w, await assertion(w, c), { client_id: c.id }), c, { scope: 'read', echo: true });
  // Signed by the body's client, about another one.
  assertError(await present(w, await assertion(w, other, { claims: { sub: c.id } }), { client_id: other.id }), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'assertion_subject');
});

test('the alg is pinned per client: another algorithm, none or HMAC is refused', async () => {
  const c = await keyClient(w);
  const es = await keyPair('ES256', c.keys[0].kid);
  assertError(await present(w, await assertion(w, c, { key: es })), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'assertion_alg');
  const claims = { iss: c.id, sub: c.id, aud: w.issuer, iat: now(), exp: now() + 60, jti: randomUUID() };
  const unsigned = `${b64({ alg: 'none', kid: c.keys[0].kid })}.${b64(claims)}.`;
  assertError(await present(w, unsigned), 401, 'invalid_client');
  const hmac = await new jose.SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: c.keys[0].kid })
    .sign(Buffer.from(c.keys[0].jwk.x, 'base64url'));
  assertError(await present(w, hmac), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'assertion_alg');
});

test('a signature by another key, an unknown kid and a crit header are refused', async () => {
  const c = await keyClient(w);
  const stranger = await keyPair('EdDSA', c.keys[0].kid);
  assertError(await present(w, await assertion(w, c, { key: stranger })), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'assertion_signature');
  assertError(await present(w, await assertion(w, c, { header: { kid: 'no-such-kid' } })), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'unknown_kid');
  // jose will not sign a crit it does not understand either: the header is made by hand.
  const crit = `${b64({ alg: 'EdDSA', kid: c.keys[0].kid, crit: ['x'], x: 1 })}.${b64({ sub: c.id })}.${b64('sig')}`;
  assertError(await present(w, crit), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'assertion_crit');
});

test('with two keys the kid chooses, and a key rotation keeps both working', async () => {
  const keys = [await keyPair('EdDSA'), await keyPair('EdDSA')];
  const c = await keyClient(w, { keys });
  for (const key of keys) {
    await assertIssued(w, await present(w, await assertion(w, c, { key })), c, { scope: 'read', echo: true });
  }
  assertError(await present(w, await assertion(w, c, { header: { kid: undefined } })), 401, 'invalid_client');
});

test('jku and x5u headers are ignored and never fetched', async () => {
  let fetched = 0;
  const server = createServer((req, res) => { fetched++; res.end('{"keys":[]}'); });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${server.address().port}/jwks`;
    const c = await keyClient(w);
    const jwt = await assertion(w, c, { header: { jku: url, x5u: url } });
    await assertIssued(w, await present(w, jwt), c, { scope: 'read', echo: true });
    assert.equal(fetched, 0, 'nothing fetched');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a malformed assertion is refused with invalid_client, one over 8 KiB with invalid_request', async () => {
  const c = await keyClient(w);
  const good = await assertion(w, c);
  const [h, , s] = good.split('.');
  const duplicated = `{"iss":"${c.id}","sub":"${c.id}","sub":"${c.id}","aud":"${w.issuer}","exp":${now() + 60},"jti":"d"}`;
  for (const [bad, what] of [
    [good.split('.').slice(0, 2).join('.'), 'two parts'],
    [`${good}.x`, 'four parts'],
    [`${h}.!!not-base64!!.${s}`, 'not base64url'],
    [`${h}.${b64('not json')}.${s}`, 'not JSON'],
    [`${h}.${b64(duplicated)}.${s}`, 'a repeated claim'],
  ]) {
    assertError(await present(w, bad), 401, 'invalid_client');
    assert.equal(await lastReason(w), 'assertion_malformed', what);
  }
  // The padding lengthens the last parameter, the assertion, past 8 KiB (and the body with it).
  assertError(await present(w, await assertion(w, c), {}, { pad: 9 * 1024 }), 400, 'invalid_request');
});

test('one method per client: a secret for a key client and an assertion for a secret client are refused', async () => {
  const keyed = await keyClient(w);
  assertError(await w.token({ auth: [keyed.id, 'any-secret-value'] }), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'auth_method_mismatch');
  const secret = await w.seedClient();
  const pair = await keyPair('EdDSA');
  assertError(await present(w, await assertion(w, { ...secret, keys: [pair] })), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'auth_method_mismatch');
});

test('an assertion with Basic or a client_secret is invalid_request; a wrong assertion type is invalid_client', async () => {
  const c = await keyClient(w);
  const jwt = await assertion(w, c);
  assertError(await present(w, jwt, {}, { auth: basic(c.id, 'some-secret') }), 400, 'invalid_request');
  assertError(await present(w, jwt, { client_secret: 'some-secret' }), 400, 'invalid_request');
  assertError(await present(w, jwt, { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' }), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'assertion_type_unsupported');
  // None of these spent the assertion.
  assert.equal((await present(w, jwt)).status, 200);
});

test('failed assertions count toward the failure throttling of the address', async () => {
  const c = await keyClient(w);
  const ip = '100.72.1.1';
  await oneGateWindow();
  for (let i = 0; i < 10; i++) {
    assertError(await present(w, await assertion(w, c, { header: { kid: 'nope' } }), {}, { ip }), 401, 'invalid_client');
  }
  await new Promise((resolve) => setTimeout(resolve, 150));
  const res = await present(w, await assertion(w, c), {}, { ip });
  assert.equal(res.status, 429, `status (body error: ${res.json?.error})`);
  await assertIssued(w, await present(w, await assertion(w, c)), c, { scope: 'read', echo: true });
});

test('the metadata names private_key_jwt and the signing algorithms', async () => {
  const res = await w.fetch('/.well-known/oauth-authorization-server');
  assert.ok(res.json.token_endpoint_auth_methods_supported.includes('private_key_jwt'));
  assert.deepEqual(res.json.token_endpoint_auth_signing_alg_values_supported, ['EdDSA', 'ES256', 'RS256', 'PS256']);
});

test('a record with a private key in its jwks is a fault of the record, not a token', async () => {
  const { privateKey } = await jose.generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = { ...(await jose.exportJWK(privateKey)), kid: 'leaked' };
  w.sensitive.add(jwk.d);
  const c = await keyClient(w, { record: { jwks: { keys: [jwk] } } });
  const pair = { alg: 'EdDSA', kid: 'leaked', privateKey, jwk };
  assertError(await present(w, await assertion(w, { ...c, keys: [pair] })), 500, 'server_error');
});

testLogHygiene(w);

describe('a guard object that cannot be reached', () => {
  const broken = useWorker({ guardFault: 'throw' });

  test('a valid assertion is answered 503 with Retry-After, never accepted unchecked', async () => {
    const c = await keyClient(broken);
    const res = await present(broken, await assertion(broken, c));
    assertError(res, 503, 'temporarily_unavailable');
    assert.equal(res.headers.get('retry-after'), '1');
  });

  testLogHygiene(broken, ' (guard unreachable)');
});
