// Rate limits and brute-force throttling (docs/limits.md). Every loop is bounded in count.
// Requirement → test:
//   limits.md failed-auth throttling per address: 10 failures / 60 s block it, 429 + Retry-After,
//     before any credential check                  → "ten failed authentications from one address block it, even for the right secret"
//   limits.md IPv6 addresses count per /64          → "failures from one IPv6 /64 count together, and another /64 is not blocked"
//   limits.md issuance bucket per client, no overshoot, 429 + Retry-After + RateLimit headers
//                                                   → "a client over its rate_limit gets 429 with Retry-After and RateLimit headers"
//   limits.md per-client guard (imported secrets): 50 failures / 60 s; known addresses keep working, new ones get 429
//                                                   → "a client under attack keeps working from its known address while new addresses get 429"
//   issue 3: N parallel requests with burst B yield exactly B tokens and 429s for the rest
//                                                   → "thirty parallel requests against a burst of twelve yield exactly twelve tokens"
//   limits.md revocation faster than KV: the object's state wins over the KV record within 1 s
//                                                   → "a client disabled in its object is refused within a second although KV says enabled"
//                                                   → "a secret revoked in its object is refused within a second while the other works"
//   contract: no secret/token in logs, one line per token request → "the logs hold no secret, ..." (testLogHygiene)
import { test } from 'node:test';
import { assert, assertError, assertIssued, assertNoStore, oneGateWindow, testLogHygiene, useWorker } from './harness.mjs';

const w = useWorker();
const WRONG = 'wrong-secret-value';

/** A 429 answer in RFC 6749 §5.2 form with a Retry-After of 1..max seconds. */
function assertLimited(res, maxRetry) {
  assert.equal(res.status, 429, `status (body error: ${res.json?.error})`);
  assertNoStore(res);
  assert.equal(typeof res.json?.error, 'string', 'JSON error body');
  const retry = Number(res.headers.get('retry-after'));
  assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= maxRetry, `Retry-After in 1..${maxRetry}`);
}

test('ten failed authentications from one address block it, even for the right secret', async () => {
  const c = await w.seedClient();
  const ip = '203.0.113.7';
  await oneGateWindow();
  for (let i = 0; i < 10; i++) assertError(await w.token({ auth: [c.id, WRONG], ip }), 401, 'invalid_client');
  assertLimited(await w.token({ auth: [c.id, c.secret], ip }), 30);
  assertLimited(await w.token({ auth: ['no-such-client', WRONG], ip }), 30);
  await assertIssued(w, await w.token({ auth: [c.id, c.secret] }), c, { scope: 'read', echo: true });
});

test('failures from one IPv6 /64 count together, and another /64 is not blocked', async () => {
  const c = await w.seedClient();
  await oneGateWindow();
  for (let i = 1; i <= 10; i++) assertError(await w.token({ auth: [c.id, WRONG], ip: `2001:db8:1:2::${i.toString(16)}` }), 401, 'invalid_client');
  assertLimited(await w.token({ auth: [c.id, c.secret], ip: '2001:db8:1:2:ffff::1' }), 30);
  await assertIssued(w, await w.token({ auth: [c.id, c.secret], ip: '2001:db8:1:3::1' }), c, { scope: 'read', echo: true });
});

test('a client over its rate_limit gets 429 with Retry-After and RateLimit headers', async () => {
  const c = await w.seedClient({ rate_limit: { per_minute: 60, burst: 4 } });
  const started = Date.now();
  const answers = [];
  for (let i = 0; i < 12 && Date.now() - started < 5000; i++) answers.push(await w.token({ auth: [c.id, c.secret] }));
  const elapsed = (Date.now() - started) / 1000;
  const issued = answers.filter((r) => r.status === 200).length;
  assert.ok(issued >= 1 && issued <= 4 + Math.ceil(elapsed), `issued ${issued} of ${answers.length} in ${elapsed}s: at most burst + rate × time`);
  const limited = answers.filter((r) => r.status !== 200);
  assert.ok(limited.length > 0, 'some requests were limited');
  for (const res of limited) {
    assertLimited(res, 4);
    assert.equal(res.json.error, 'temporarily_unavailable', 'error code');
    assert.equal(res.headers.get('ratelimit-policy'), '"client";q=4;w=4', 'RateLimit-Policy');
    assert.match(res.headers.get('ratelimit') ?? '', /^"client";r=0;t=\d+$/, 'RateLimit');
  }
});

test('a client under attack keeps working from its known address while new addresses get 429', async () => {
  const c = await w.seedClient();
  const home = '192.0.2.10';
  await assertIssued(w, await w.token({ auth: [c.id, c.secret], ip: home }), c, { scope: 'read', echo: true });
  // The fiftieth failure puts the client under guard, and is answered so already.
  for (let i = 1; i < 50; i++) assertError(await w.token({ auth: [c.id, WRONG] }), 401, 'invalid_client');
  assertLimited(await w.token({ auth: [c.id, WRONG] }), 60);
  assertLimited(await w.token({ auth: [c.id, c.secret] }), 60);
  await assertIssued(w, await w.token({ auth: [c.id, c.secret], ip: home }), c, { scope: 'read', echo: true });
});

test('thirty parallel requests against a burst of twelve yield exactly twelve tokens', async () => {
  // One token a minute: no refill during the test, so the bucket's burst is the whole budget.
  const c = await w.seedClient({ rate_limit: { per_minute: 1, burst: 12 } });
  const parallel = await Promise.all(Array.from({ length: 30 }, () => w.token({ auth: [c.id, c.secret] })));
  // Tokens leased to this isolate but not yet spent stay with it: spend them, bounded.
  const after = [];
  for (let i = 0; i < 15; i++) {
    const res = await w.token({ auth: [c.id, c.secret] });
    after.push(res);
    if (res.status !== 200) break;
  }
  const answers = [...parallel, ...after];
  const issued = answers.filter((r) => r.status === 200);
  assert.equal(issued.length, 12, 'exactly the burst is issued');
  for (const res of issued) await assertIssued(w, res, c, { scope: 'read', echo: true });
  const limited = answers.filter((r) => r.status !== 200);
  assert.ok(limited.length >= 18, 'every other request is refused');
  for (const res of limited) {
    assertLimited(res, 60);
    assert.equal(res.json.error, 'temporarily_unavailable');
    assert.equal(res.headers.get('ratelimit-policy'), '"client";q=12;w=720', 'RateLimit-Policy');
    assert.equal(res.headers.get('ratelimit'), `"client";r=0;t=${res.headers.get('retry-after')}`, 'RateLimit');
  }
});

/** Waits out the time an isolate may trust a revocation view (docs/limits.md: 1 s). */
const viewExpiry = () => new Promise((resolve) => setTimeout(resolve, 1100));

test('a client disabled in its object is refused within a second although KV says enabled', async () => {
  const c = await w.seedClient();
  await assertIssued(w, await w.token({ auth: [c.id, c.secret] }), c, { scope: 'read', echo: true });
  assert.equal(c.record.disabled, false, 'the KV record says enabled');
  await w.guardCommand(c.id, { op: 'disable' });
  await viewExpiry();
  assertError(await w.token({ auth: [c.id, c.secret] }), 400, 'unauthorized_client');
  await w.guardCommand(c.id, { op: 'enable' });
  await viewExpiry();
  await assertIssued(w, await w.token({ auth: [c.id, c.secret] }), c, { scope: 'read', echo: true });
});

test('a secret revoked in its object is refused within a second while the other works', async () => {
  const c = await w.seedClient({ secrets: ['old-secret-value', 'new-secret-value'] });
  await assertIssued(w, await w.token({ auth: [c.id, 'old-secret-value'] }), c, { scope: 'read', echo: true });
  await w.guardCommand(c.id, { op: 'revoke_secret', hash: c.record.secrets[0].hash });
  await viewExpiry();
  assertError(await w.token({ auth: [c.id, 'old-secret-value'] }), 401, 'invalid_client');
  await assertIssued(w, await w.token({ auth: [c.id, 'new-secret-value'] }), c, { scope: 'read', echo: true });
});

testLogHygiene(w);
