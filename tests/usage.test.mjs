// Usage per client (issue 14): every token request, issued or refused, writes one Workers
// Analytics Engine data point (docs/operating.md, "Usage data points"). The dataset binding
// (USAGE) is bound here to a recorder Worker (harness USAGE_RECORDER) whose points are read back.
// Requirement → test:
//   one point per issued token: tenant, client, outcome, latency  → "an issued token writes one data point ..."
//   one point per refusal, with reason and error code             → "a wrong secret writes one data point ..."
//   never a secret: an id that may not be logged counts as its tag → "a client id that looks like a secret ..."
//   requests refused before a client is known are counted too     → "a request refused before any client is known ..."
//   points and log lines agree, request for request               → "every token request's data point matches its log line"
//   an absent binding (older deployments) is skipped              → "without the USAGE binding the Worker issues and refuses as before"
//   contract: no secret/token in logs, one line each              → "the logs hold no secret, ..." (testLogHygiene)
import { test } from 'node:test';
import { TestWorker, assert, assertError, assertIssued, testLogHygiene, useWorker } from './harness.mjs';

const w = useWorker();
const BLOBS = ['tenant', 'client', 'outcome', 'reason', 'error', 'client_kind', 'country'];

/** A data point's blobs as an object named as docs/operating.md names them. */
const named = (point) => Object.fromEntries(BLOBS.map((name, i) => [name, point.blobs[i]]));

/** The data points written by the requests that `send` makes (it returns how many it made). */
async function pointsOf(send) {
  const before = (await w.usagePoints()).length;
  const made = await send();
  const points = await w.usagePoints(before + made);
  assert.equal(points.length, before + made, 'one data point per token request');
  return points.slice(before);
}

test('an issued token writes one data point with its tenant, client, outcome, status and latency', async () => {
  const c = await w.seedClient();
  const [point] = await pointsOf(async () => {
    await assertIssued(w, await w.token({ auth: [c.id, c.secret], cf: { country: 'NL' } }), c, { scope: 'read', echo: true });
    return 1;
  });
  assert.deepEqual(named(point), {
    tenant: w.tenant, client: c.id, outcome: 'issued', reason: '', error: '', client_kind: 'id', country: 'NL',
  });
  assert.equal(point.doubles.length, 3, 'doubles: count, latency, status');
  assert.equal(point.doubles[0], 1, 'double1 counts the request');
  assert.ok(point.doubles[1] >= 0 && point.doubles[1] < 10_000, `double2 is the latency in ms (${point.doubles[1]})`);
  assert.equal(point.doubles[2], 200, 'double3 is the status');
  assert.deepEqual(point.indexes, [c.id], 'indexed (sampled) by client');
});

test('a wrong secret writes one data point with the refusal reason and the error code', async () => {
  const c = await w.seedClient();
  const [point] = await pointsOf(async () => {
    assertError(await w.token({ auth: [c.id, 'not-the-secret'], cf: { country: 'FR' } }), 401, 'invalid_client');
    return 1;
  });
  assert.deepEqual(named(point), {
    tenant: w.tenant, client: c.id, outcome: 'refused', reason: 'wrong_secret', error: 'invalid_client', client_kind: 'id', country: 'FR',
  });
  assert.equal(point.doubles[2], 401, 'double3 is the status');
});

test('a client id that looks like a secret is counted under its log tag, never as itself', async () => {
  const swapped = `etcs_${'A1b2C3d4'.repeat(6)}X`; // a secret sent in the id position
  const [point] = await pointsOf(async () => {
    assertError(await w.token({ auth: [swapped, 'some-client-id'] }), 401, 'invalid_client');
    return 1;
  });
  const p = named(point);
  assert.equal(p.client_kind, 'tag');
  assert.ok(p.client.length > 0 && !p.client.includes('etcs_'), 'the tag, not the id');
  assert.ok(!JSON.stringify(point).includes(swapped), 'the presented id is nowhere in the point');
  const lines = (await w.jsonLogLines(w.tokenAnswers.length)).filter((l) => l.route === 'token');
  assert.equal(lines.at(-1).client_tag, p.client, "the same tag as the request's log line");
});

test('a request refused before any client is known is counted under its tenant, without an index', async () => {
  const [point] = await pointsOf(async () => {
    assert.equal((await w.fetch(w.tokenPath, { method: 'GET' })).status, 405);
    return 1;
  });
  const p = named(point);
  assert.deepEqual([p.tenant, p.client, p.outcome, p.reason, p.client_kind], [w.tenant, '', 'refused', 'method_not_allowed', '']);
  assert.deepEqual(point.indexes, [], 'no index: the empty one');
});

test("every token request's data point matches its log line", async () => {
  const lines = (await w.jsonLogLines(w.tokenAnswers.length)).filter((l) => l.route === 'token');
  const points = await w.usagePoints(lines.length);
  assert.equal(points.length, lines.length, 'as many points as token log lines');
  const fromLine = (l) => [l.tenant, l.client_id ?? l.client_tag ?? '', l.outcome, l.reason ?? '', l.error ?? '', String(l.status)].join(' ');
  const fromPoint = (p) => [...p.blobs.slice(0, 5), String(p.doubles[2])].join(' ');
  assert.deepEqual(points.map(fromPoint).sort(), lines.map(fromLine).sort());
});

test('without the USAGE binding the Worker issues and refuses as before', async () => {
  const bare = await new TestWorker({ usage: false }).start();
  try {
    const c = await bare.seedClient();
    await assertIssued(bare, await bare.token({ auth: [c.id, c.secret] }), c, { scope: 'read', echo: true });
    assertError(await bare.token({ auth: [c.id, 'wrong'] }), 401, 'invalid_client');
    const lines = (await bare.jsonLogLines(2)).filter((l) => l.route === 'token');
    assert.deepEqual(lines.map((l) => l.outcome), ['issued', 'refused'], 'one log line each');
  } finally {
    await bare.dispose();
  }
});

testLogHygiene(w);
