// The admin API's writes, one at a time per client through its guard object
// (docs/admin-api.md, "One write at a time"), against the admin Worker beside the token Worker.
// Requirement → test:
//   two creates of one id: one 201, one 409; the created secret works → "two concurrent creates of one chosen id …"
//   a change based on a stale read gets 409 and writes nothing        → "a change based on a stale read of KV …"
//   delete + re-create does not revive the old secret where a stale
//   record is still read (an isolate's 10 s record cache)              → "a deleted and re-created client refuses the old secret …"
//   the same for a private_key_jwt client's old key (no secret to
//   revoke: the object's floor, the version of the latest creation)   → "a deleted and re-created private_key_jwt client refuses …"
//   each change gives the record a new version, shown as `version`     → the three tests above
//   no admin token, secret or hash in the logs                         → testLogHygiene
import { createHmac, randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { assert, assertError, jose, kvKey, testLogHygiene, useWorker, within } from './harness.mjs';

const w = useWorker({ adminToken: true });
const API = '/admin/v1/tenants/default';
const admin = (path, opts) => w.admin(`${API}${path}`, opts);
const NEW = { scopes: ['orders:read'], default_scopes: ['orders:read'], audience: ['https://api.example.com'] };
const create = (body) => admin('/clients', { method: 'POST', body: { ...NEW, ...body } });
const kv = () => w.mf.getKVNamespace('CLIENTS');
/** A client as the harness's verifyToken wants it, from an admin answer. */
const asClient = (info) => ({ id: info.client_id, record: { token_ttl: info.token_ttl, audience: info.audience } });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test('two concurrent creates of one chosen id: exactly one 201 and one 409, and the created secret works', async () => {
  // Five rounds, each with an id of its own: before creates went through the client's object,
  // most rounds gave two 201s (the second secret overwrote the first).
  for (const id of ['twice-a', 'twice-b', 'twice-c', 'twice-d', 'twice-e']) {
    const answers = await Promise.all([1, 2].map(() => create({ client_id: id })));
    assert.deepEqual(answers.map((a) => a.status).sort(), [201, 409], `creates of ${id}`);
    const made = answers.find((a) => a.status === 201).json;
    for (const refused of answers.filter((a) => a.status === 409)) {
      assert.equal(refused.json.error, 'conflict');
      assert.match(refused.json.message, /already exists/);
    }
    const stored = JSON.parse(await (await kv()).get(kvKey(id)));
    assert.deepEqual(stored.secrets.map((s) => s.hash), [createHmac('sha256', w.pepper).update(made.client_secret).digest('base64url')],
      "KV holds the 201's secret, and only it");
    const token = await w.token({ auth: [id, made.client_secret] });
    assert.equal(token.status, 200, "the 201's secret gets a token");
    await w.verifyToken(token.json.access_token, asClient(made.client), { scope: 'orders:read' });
    assert.ok(made.client.version >= 1, 'a created record has a version');
    assert.equal(stored.version, made.client.version, 'KV holds the version shown');
  }
});

test('a change based on a stale read of KV gets 409 and writes nothing; once KV has caught up it succeeds', async () => {
  const { client } = (await create({})).json;
  const id = client.client_id;
  const key = kvKey(id);
  const previous = await (await kv()).get(key);
  const updated = await admin(`/clients/${id}`, { method: 'PATCH', body: { token_ttl: 120 } });
  assert.equal(updated.status, 200);
  const current = await (await kv()).get(key);
  // A replica that has not seen the update yet serves the previous record.
  await w.putRaw(key, previous);
  for (const [method, path, body] of [['PATCH', '', { token_ttl: 300 }], ['POST', '/disable'], ['POST', '/secrets', {}]]) {
    const stale = await admin(`/clients/${id}${path}`, { method, body });
    assert.equal(stale.status, 409, `${method} ${path || id} on a stale read`);
    assert.equal(stale.json.error, 'conflict');
    assert.match(stale.json.message, /changed since it was read; nothing was changed/);
    assert.equal(await (await kv()).get(key), previous, 'KV still holds the stale record, unchanged');
  }
  assert.equal((await admin(`/clients/${id}`)).json.disabled, false, 'the refused disable is not in force at the object');
  await w.putRaw(key, current);
  const caughtUp = await admin(`/clients/${id}`, { method: 'PATCH', body: { token_ttl: 300 } });
  assert.equal(caughtUp.status, 200, caughtUp.text.slice(0, 200));
  assert.equal(updated.json.version, client.version + 1, 'each change gives a new version');
  assert.equal(caughtUp.json.version, client.version + 2);
  const stored = JSON.parse(await (await kv()).get(key));
  assert.equal(stored.token_ttl, 300);
  assert.equal(stored.version, client.version + 2);
});

test('a deleted and re-created client refuses the old secret although an isolate still holds the old record', async () => {
  const id = 'reborn';
  const first = await create({ client_id: id });
  assert.equal(first.status, 201);
  const oldSecret = first.json.client_secret;
  const readAt = Date.now();
  // The token Worker's isolate reads the record now and keeps it for 10 s (RECORD_TTL_MS).
  const token = await w.token({ auth: [id, oldSecret] });
  assert.equal(token.status, 200, 'the first secret works');
  await w.verifyToken(token.json.access_token, asClient(first.json.client), { scope: 'orders:read' });
  assert.equal((await admin(`/clients/${id}`, { method: 'DELETE' })).status, 200);
  const second = await create({ client_id: id });
  assert.equal(second.status, 201, 'the id can be used again');
  await within(1500, 'the old secret refused', async () => (await w.token({ auth: [id, oldSecret] })).status === 401);
  assertError(await w.token({ auth: [id, oldSecret] }), 401, 'invalid_client');
  assert.ok(Date.now() - readAt < 9_000, 'refused while the isolate still holds the old record');
  // The new secret works once the isolate reads the new record; tried twice a second, so that
  // its refusals meanwhile stay far below every failure threshold.
  let served;
  for (let i = 0; i < 30 && served?.status !== 200; i++) {
    served = await w.token({ auth: [id, second.json.client_secret] });
    if (served.status !== 200) await sleep(500);
  }
  assert.equal(served.status, 200, 'the new secret works within 15 s');
  await w.verifyToken(served.json.access_token, asClient(second.json.client), { scope: 'orders:read' });
  assertError(await w.token({ auth: [id, oldSecret] }), 401, 'invalid_client');
  assert.ok(second.json.client.version > first.json.client.version, 'versions grow across delete and re-create');
});

/** A new Ed25519 key pair: its private key and its public JWK (with a `kid`). */
async function keyPair() {
  const { publicKey, privateKey } = await jose.generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  return { privateKey, jwk: { ...(await jose.exportJWK(publicKey)), kid: `k-${randomUUID().slice(0, 8)}` } };
}

/** A token request of client `id` with a fresh RFC 7523 assertion signed by `key`. */
async function withAssertion(id, key) {
  const t = Math.floor(Date.now() / 1000);
  const jwt = await new jose.SignJWT({ iss: id, sub: id, aud: w.issuer, iat: t, exp: t + 60, jti: randomUUID() })
    .setProtectedHeader({ alg: 'EdDSA', kid: key.jwk.kid }).sign(key.privateKey);
  w.sensitive.add(jwt);
  return w.token({ params: {
    grant_type: 'client_credentials', client_assertion: jwt,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
  } });
}

test('a deleted and re-created private_key_jwt client refuses the old key although an isolate still holds the old record', async () => {
  // Such a client has no secret whose hash a delete could revoke: the stale record's key would
  // pass its own check. The object's floor (the latest creation's version) refuses the record.
  const id = 'reborn-keys';
  const [oldKey, newKey] = [await keyPair(), await keyPair()];
  const keyed = (key) => create({ client_id: id, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.jwk] } });
  const first = await keyed(oldKey);
  assert.equal(first.status, 201, first.text.slice(0, 200));
  const readAt = Date.now();
  const token = await withAssertion(id, oldKey);
  assert.equal(token.status, 200, 'the first key works');
  await w.verifyToken(token.json.access_token, asClient(first.json.client), { scope: 'orders:read' });
  assert.equal((await admin(`/clients/${id}`, { method: 'DELETE' })).status, 200);
  const second = await keyed(newKey);
  assert.equal(second.status, 201, 'the id can be used again');
  await within(1500, 'the old key refused', async () => (await withAssertion(id, oldKey)).status === 401);
  assertError(await withAssertion(id, oldKey), 401, 'invalid_client');
  assert.ok(Date.now() - readAt < 9_000, 'refused while the isolate still holds the old record');
  const lines = (await w.jsonLogLines(w.tokenAnswers.length)).filter((l) => l.route === 'token' && l.status === 401);
  assert.equal(lines.at(-1)?.reason, 'stale_record', 'the log names why');
  let served;
  for (let i = 0; i < 30 && served?.status !== 200; i++) {
    served = await withAssertion(id, newKey);
    if (served.status !== 200) await sleep(500);
  }
  assert.equal(served.status, 200, 'the new key works within 15 s');
  await w.verifyToken(served.json.access_token, asClient(second.json.client), { scope: 'orders:read' });
  assertError(await withAssertion(id, oldKey), 401, 'invalid_client');
});

testLogHygiene(w);
