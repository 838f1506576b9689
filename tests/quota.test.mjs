// Issuance quotas per client and per tenant (docs/limits.md, "Quotas"). Small quotas, so every
// test ends within a few requests; every loop is bounded in count.
// Requirement → test:
//   issue 14: client quota per hour, enforced: 429 temporarily_unavailable, Retry-After at the
//     hour's end, RateLimit headers                → "a client over its hourly quota gets 429 with Retry-After at the hour's end and RateLimit headers"
//   issue 14: monitor-only mode: never refused, the log line says over
//                                                   → "a client over a monitored quota keeps getting tokens and its log lines say quota over"
//   issue 14: tenant quota across clients, blocks taken from the tenant's object; its counts
//     through the admin API (`GET …/clients/{id}/usage`)
//                                                   → "a tenant's quota counts the tokens of all its clients together"
//   issue 14: admin API and CLI set quotas and show the counts (`client usage`)
//                                                   → "a quota set with the CLI is enforced and client usage shows the counts"
//   contract: no secret/token in logs, one line per token request → "the logs hold no secret, ..." (testLogHygiene)
import { beforeEach, test } from 'node:test';
import { assert, assertError, assertIssued, oneWindow, runCli, testLogHygiene, useWorker } from './harness.mjs';

const HOUR_MS = 3_600_000;
/** A tenant beside the default one, whose clients share three tokens an hour. */
const TENANTS = {
  default: { token_paths: ['/oauth2/token'] },
  metered: { token_paths: ['/metered/token'], issuer_path: '/metered', quota: { per_hour: 3 } },
};
const w = useWorker({ tenants: TENANTS, tenant: 'default', adminToken: true });
// Each test counts within one clock hour: one that straddled an hour's end would see its
// counts start again. 30 s is far more than a test takes.
beforeEach(() => oneWindow(HOUR_MS, 30_000));

/** Seconds from `at` (Unix ms) to the end of its clock hour, rounded up. */
const toHourEnd = (at) => Math.ceil((HOUR_MS - (at % HOUR_MS)) / 1000);

/**
 * A 429 of an exhausted quota window: `temporarily_unavailable`, Retry-After at the window's
 * end (the hour's, measured around the request), and the RateLimit headers naming it.
 */
function assertOverQuota(res, { policy, quota, before, after }) {
  assertError(res, 429, 'temporarily_unavailable');
  const retry = Number(res.headers.get('retry-after'));
  assert.ok(retry >= toHourEnd(after) && retry <= toHourEnd(before) + 1,
    `Retry-After ${retry} is the time to the hour's end (${toHourEnd(after)}..${toHourEnd(before) + 1})`);
  assert.equal(res.headers.get('ratelimit-policy'), `"${policy}";q=${quota};w=3600`, 'RateLimit-Policy');
  assert.equal(res.headers.get('ratelimit'), `"${policy}";r=0;t=${retry}`, 'RateLimit');
}

/** `n` requests of `client` one after the other; the answers, with when each was sent and answered. */
async function requests(client, n, opts = {}) {
  const answers = [];
  for (let i = 0; i < n; i++) {
    const before = Date.now();
    const res = await w.token({ auth: [client.id, client.secret], ...opts });
    answers.push({ res, before, after: Date.now() });
  }
  return answers;
}

test("a client over its hourly quota gets 429 with Retry-After at the hour's end and RateLimit headers", async () => {
  const c = await w.seedClient({ quota: { per_hour: 3 } });
  const answers = await requests(c, 6);
  for (const { res } of answers.slice(0, 3)) await assertIssued(w, res, c, { scope: 'read', echo: true });
  for (const answer of answers.slice(3)) assertOverQuota(answer.res, { policy: 'client-hour', quota: 3, ...answer });
});

test('a client over a monitored quota keeps getting tokens and its log lines say quota over', async () => {
  const c = await w.seedClient({ quota: { per_hour: 2, mode: 'monitor' } });
  const answers = await requests(c, 5);
  for (const { res } of answers) await assertIssued(w, res, c, { scope: 'read', echo: true });
  const lines = (await w.jsonLogLines(w.tokenAnswers.length)).filter((l) => l.client_id === c.id);
  assert.equal(lines.length, 5, "one line per request of the client");
  assert.ok(lines.every((l) => l.outcome === 'issued'), 'all issued');
  assert.equal(lines[0].quota, undefined, 'the first token is within the quota');
  assert.deepEqual(lines.slice(3).map((l) => l.quota), ['over', 'over'], 'the tokens beyond it are logged over');
});

test("a tenant's quota counts the tokens of all its clients together", async () => {
  const a = await w.seedClient({ tenant: 'metered' });
  const b = await w.seedClient({ tenant: 'metered' });
  const path = '/metered/token';
  const answers = [];
  for (const client of [a, b, a, b, a, b]) {
    const [answer] = await requests(client, 1, { path });
    answers.push({ client, ...answer });
  }
  const issued = answers.filter(({ res }) => res.status === 200);
  assert.ok(issued.length >= 2 && issued.length <= 3, `${issued.length} tokens: at most the tenant's 3, at most one lease short`);
  for (const { client, res } of issued) await assertIssued(w, res, client, { scope: 'read', echo: true });
  assert.ok(issued.some(({ client }) => client === a) && issued.some(({ client }) => client === b), 'both clients were served');
  const refused = answers.filter(({ res }) => res.status !== 200);
  assert.ok(refused.some(({ client }) => client === b), 'the second client is refused too');
  for (const answer of refused) assertOverQuota(answer.res, { policy: 'tenant-hour', quota: 3, ...answer });
  // The tenant's object counted the whole quota (blocks handed to the two clients' objects).
  const report = await w.admin(`/admin/v1/tenants/metered/clients/${a.id}/usage`);
  assert.equal(report.status, 200, 'usage answered');
  assert.deepEqual(report.json.tenant_quota, { per_hour: 3, mode: 'enforce' }, "the tenant's quota");
  assert.equal(report.json.tenant_usage.hour, 3, "the tenant's hour is used up");
  assert.equal(report.json.quota, undefined, 'the client has no quota of its own');
  // The default tenant sets no quota: its clients are not counted against this one.
  const other = await w.seedClient();
  await assertIssued(w, await w.token({ auth: [other.id, other.secret] }), other, { scope: 'read', echo: true });
});

test('a quota set with the CLI is enforced and client usage shows the counts', async () => {
  const cli = (args) => {
    const r = runCli(['--json', ...args, '--url', w.adminUrl], { env: { EDGE_TOKEN_ADMIN_TOKEN: w.adminToken } });
    assert.equal(r.code, 0, `exit 0 (stderr: ${r.stderr.slice(0, 300)})`);
    if (r.json?.client_secret) w.sensitive.add(r.json.client_secret);
    return r.json;
  };
  const created = cli(['client', 'create', '--scopes', 'read', '--default-scopes', 'read',
    '--audience', 'https://api.example.com', '--quota-hour', '2', '--quota-day', '100']);
  assert.deepEqual(created.client.quota, { per_hour: 2, per_day: 100, mode: 'enforce' }, 'the quota as stored');
  const c = {
    id: created.client.client_id, secret: created.client_secret, tenant: 'default',
    record: { token_ttl: created.client.token_ttl, audience: created.client.audience },
  };
  const answers = await requests(c, 4);
  for (const { res } of answers.slice(0, 2)) await assertIssued(w, res, c, { scope: 'read', echo: true });
  for (const answer of answers.slice(2)) assertOverQuota(answer.res, { policy: 'client-hour', quota: 2, ...answer });
  const usage = cli(['client', 'usage', c.id]);
  assert.equal(usage.quota_usage.hour, 2, "the hour's count");
  assert.equal(usage.quota_usage.day, 2, "the day's count");
  assert.equal(usage.quota_usage.hour_ends % HOUR_MS, 0, 'the hour ends on the hour');
  assert.ok(usage.quota_usage.hour_ends > Date.now() - 5000, 'at the end of this hour');
  assert.equal(usage.tenant_quota, undefined, 'the default tenant has no quota');
  // Monitor-only from now on: the same counts, no more refusals.
  const updated = cli(['client', 'update', c.id, '--quota-hour', '2', '--quota-mode', 'monitor']);
  assert.deepEqual(updated.quota, { per_hour: 2, mode: 'monitor' }, 'the quota replaced as a whole');
  assert.equal(updated.quota_usage.hour, 2, 'the update kept the counts');
  const removed = cli(['client', 'update', c.id, '--no-quota']);
  assert.equal(removed.quota, undefined, 'no quota');
});

testLogHygiene(w);
