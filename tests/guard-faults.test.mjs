// A guard object that fails (docs/limits.md): revocation fails closed, so a client whose
// revocation view cannot be had is answered 503 temporarily_unavailable with Retry-After: 1,
// never a token, a 4xx or a crash; a failure that needs no object still gets its own answer.
// Requirement → test:
//   issue 3: a DO fault (simulated) gives the documented answers
//     → "an object that throws gives 503 with Retry-After: 1" (and "... that never answers ...")
//     → "without the object, failed authentications are still answered invalid_client"
//   issue 9 (4d): errors from the source shards are logged and counted, not dropped
//     → "when the source shards fail, failures are still answered, tokens issued, and each error logged with a count"
import { describe, test } from 'node:test';
import { assert, assertError, assertIssued, testLogHygiene, useWorker } from './harness.mjs';

for (const [fault, what] of [['throw', 'throws'], ['hang', 'never answers']]) {
  describe(`a guard object that ${what}`, () => {
    const w = useWorker({ guardFault: fault });

    test(`an object that ${what} gives 503 with Retry-After: 1`, async () => {
      const c = await w.seedClient();
      const started = Date.now();
      const res = await w.token({ auth: [c.id, c.secret] });
      assertError(res, 503, 'temporarily_unavailable');
      assert.equal(res.headers.get('retry-after'), '1');
      assert.ok(Date.now() - started < 5000, 'answered within the object timeout, not left hanging');
    });

    test('without the object, failed authentications are still answered invalid_client', async () => {
      const c = await w.seedClient();
      assertError(await w.token({ auth: [c.id, 'wrong-secret-value'] }), 401, 'invalid_client');
      assertError(await w.token({ auth: ['no-such-client', 'x'] }), 401, 'invalid_client');
    });

    testLogHygiene(w, ` (${fault})`);
  });
}

describe('source shards that throw', () => {
  // Without the first gates, so that every failure is reported to the (broken) shards.
  const w = useWorker({ guardFault: 'throw', brokenGuards: ['SOURCE_GUARD'], gates: false });

  test('when the source shards fail, failures are still answered, tokens issued, and each error logged with a count', async () => {
    const c = await w.seedClient();
    for (let i = 0; i < 3; i++) assertError(await w.token({ auth: [c.id, 'wrong-secret-value'] }), 401, 'invalid_client');
    assertError(await w.token({ auth: ['no-such-client', 'x'] }), 401, 'invalid_client');
    await assertIssued(w, await w.token({ auth: [c.id, c.secret] }), c, { scope: 'read', echo: true });
    const errors = (await w.jsonLogLines(w.tokenAnswers.length))
      .filter((l) => l.route === 'guard' && l.binding === 'SOURCE_GUARD');
    assert.equal(errors.length, 4, 'one line per failed report to a shard');
    assert.deepEqual(errors.map((l) => l.errors), [1, 2, 3, 4], "the isolate's running count of object errors");
    assert.ok(errors.every((l) => l.path === 'failure' && !('outcome' in l)), 'names the request, and is no request line');
  });

  testLogHygiene(w, ' (source shards)');
});
