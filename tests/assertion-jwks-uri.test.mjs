// private_key_jwt with a `jwks_uri` (issue 11): the client's public keys are served by a local
// JWKS server on 127.0.0.1 (closed in `after`), fetched by the Worker and cached per isolate
// (core/jwks_cache.rs): a rotation is picked up on an unknown kid at most once a minute per URL,
// a cached set answers while its URL is down, a URL never fetched is 503 with Retry-After, and
// neither a redirect nor an oversized set is followed or read. Tokens verified with `jose`.
// Requirement → test: tests/README.md ("private_key_jwt").
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { assert, assertError, assertIssued, testLogHygiene, useWorker } from './harness.mjs';
import { assertion, keyPair, lastReason, present } from './jwt-clients.mjs';

const w = useWorker();

// The JWKS server: per path, the keys it serves, how it answers (`ok`, `down`: the connection
// is dropped, `redirect`, `huge`: a set over 64 KiB) and how many requests it got.
const paths = new Map();
const server = createServer((req, res) => {
  const entry = paths.get(req.url);
  if (!entry) { res.statusCode = 404; res.end(); return; }
  entry.fetched++;
  if (entry.mode === 'down') { req.socket.destroy(); return; }
  if (entry.mode === 'redirect') {
    res.writeHead(302, { location: `${base()}${entry.target}` });
    res.end();
    return;
  }
  const body = { keys: entry.keys.map((k) => k.jwk) };
  if (entry.mode === 'huge') body.pad = 'x'.repeat(70 * 1024);
  res.setHeader('content-type', 'application/jwk-set+json');
  res.end(JSON.stringify(body));
});
const base = () => `http://127.0.0.1:${server.address().port}`;
before(() => new Promise((resolve) => server.listen(0, '127.0.0.1', resolve)));
after(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }));

/** A client whose keys (`keys`, default one new EdDSA key) are served at its own URL. */
async function uriClient({ keys, mode = 'ok', alg = 'EdDSA' } = {}) {
  const pairs = keys ?? [await keyPair(alg)];
  const path = `/jwks/${randomUUID()}`;
  const entry = { keys: pairs, mode, fetched: 0 };
  paths.set(path, entry);
  const c = await w.seedClient({
    secrets: [],
    record: {
      token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: alg,
      jwks_uri: `${base()}${path}`,
    },
  });
  return { ...c, keys: pairs, server: entry, path };
}

const issued = (c, res) => assertIssued(w, res, c, { scope: 'read', echo: true });

test('a client with a jwks_uri gets a token; its set is fetched once and then served from the cache', async () => {
  for (const alg of ['EdDSA', 'ES256']) {
    const c = await uriClient({ alg });
    await issued(c, await present(w, await assertion(w, c)));
    await issued(c, await present(w, await assertion(w, c)));
    assert.equal(c.server.fetched, 1, `${alg}: one fetch for two assertions`);
  }
});

test('a key rotation is picked up on an unknown kid, and made-up kids refetch at most once a minute', async () => {
  const c = await uriClient();
  await issued(c, await present(w, await assertion(w, c)));
  // The client publishes a second key and signs with it at once.
  const next = await keyPair('EdDSA');
  c.server.keys = [...c.keys, next];
  await issued(c, await present(w, await assertion(w, c, { key: next })));
  assert.equal(c.server.fetched, 2, 'the unknown kid fetched the set again');
  // A third key within the minute: not fetched, refused as an unknown kid.
  const third = await keyPair('EdDSA');
  c.server.keys = [...c.server.keys, third];
  for (let i = 0; i < 3; i++) {
    assertError(await present(w, await assertion(w, c, { key: third })), 401, 'invalid_client');
    assert.equal(await lastReason(w), 'unknown_kid');
  }
  assertError(await present(w, await assertion(w, c, { header: { kid: 'made-up' } })), 401, 'invalid_client');
  assert.equal(c.server.fetched, 2, 'no fetch within the minute');
  // The keys already known still work.
  await issued(c, await present(w, await assertion(w, c, { key: next })));
});

test('with its URL down, a cached set still answers and a URL never fetched is 503 with Retry-After', async () => {
  const cachedClient = await uriClient();
  await issued(cachedClient, await present(w, await assertion(w, cachedClient)));
  cachedClient.server.mode = 'down';
  await issued(cachedClient, await present(w, await assertion(w, cachedClient)));
  // An unknown kid while down: the refetch fails, the cached set answers (no 503).
  const stranger = await keyPair('EdDSA');
  assertError(await present(w, await assertion(w, cachedClient, { key: stranger })), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'unknown_kid');
  assert.equal(cachedClient.server.fetched, 2, 'the unknown kid tried once');

  const never = await uriClient({ mode: 'down' });
  const res = await present(w, await assertion(w, never));
  assertError(res, 503, 'temporarily_unavailable');
  const retry = Number(res.headers.get('retry-after'));
  assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
  assert.equal(await lastReason(w, 503), 'jwks_unavailable');
  // Within the minute the URL is not asked again, even once it is back.
  never.server.mode = 'ok';
  assertError(await present(w, await assertion(w, never)), 503, 'temporarily_unavailable');
  assert.equal(never.server.fetched, 1, 'one attempt a minute');
});

test('a redirect is not followed and a set over 64 KiB is not read', async () => {
  const target = await uriClient();
  const redirected = await uriClient({ keys: target.keys, mode: 'redirect' });
  redirected.server.target = target.path;
  assertError(await present(w, await assertion(w, redirected)), 503, 'temporarily_unavailable');
  assert.equal(target.server.fetched, 0, 'the redirect target was not fetched');
  const huge = await uriClient({ mode: 'huge' });
  assertError(await present(w, await assertion(w, huge)), 503, 'temporarily_unavailable');
  assert.equal(huge.server.fetched, 1);
});

test('a jwks_uri over plain http to a host other than loopback breaks the record: a 500, nothing fetched', async () => {
  const pair = await keyPair('EdDSA');
  const c = await w.seedClient({
    secrets: [],
    record: { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://keys.example/jwks.json' },
  });
  assertError(await present(w, await assertion(w, { ...c, keys: [pair] })), 500, 'server_error');
});

testLogHygiene(w);
