// `edge-token-admin usage` (docs/operating.md, "Usage per client") against a stand-in for the
// Analytics Engine SQL API on loopback: the request it sends and the table it prints. (The
// real API needs an account; the request building and the parsing are also unit-tested in
// cli/src/usage.rs.)
// Requirement → test:
//   POST /client/v4/accounts/{account}/analytics_engine/sql, Bearer token, SQL text weighted
//   by _sample_interval, filters                                  → "usage posts one SQL query ..."
//   the token never printed; a refusal is one line, exit 1          → "a refused query is reported ..."
//   --help; bad arguments exit 2 before any request                 → "usage has --help, and bad arguments exit 2 ..."
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { CLI_BIN, assert, runCli } from './harness.mjs';

const ACCOUNT = '0123456789abcdef0123456789abcdef';
const TOKEN = 'cf-api-token-for-the-usage-test';
const ANSWER = {
  meta: [{ name: 'tenant', type: 'String' }, { name: 'requests', type: 'UInt64' }],
  data: [
    { tenant: 'acme', client: 'billing', client_kind: 'id', outcome: 'issued', reason: '', error: '', requests: '1200', mean_ms: 3.25 },
    { tenant: 'acme', client: 'billing', client_kind: 'id', outcome: 'refused', reason: 'wrong_secret', error: 'invalid_client', requests: 7, mean_ms: 2 },
  ],
  rows: 2,
};
const received = [];
let status = 200;
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    received.push({ method: req.method, url: req.url, auth: req.headers.authorization, type: req.headers['content-type'], body });
    res.writeHead(status, { 'content-type': status === 200 ? 'application/json' : 'text/plain' });
    res.end(status === 200 ? JSON.stringify(ANSWER) : 'Authentication error\nsecond line');
  });
});
before(() => new Promise((resolve) => server.listen(0, '127.0.0.1', resolve)));
after(() => new Promise((resolve) => server.close(resolve)));

/** Runs `usage` with these arguments against the stand-in; resolves to {code, stdout, stderr}. */
function usage(args) {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, CLOUDFLARE_API_TOKEN: TOKEN, CLOUDFLARE_ACCOUNT_ID: ACCOUNT };
  const apiUrl = `http://127.0.0.1:${server.address().port}`;
  return new Promise((resolve) => {
    execFile(CLI_BIN, ['usage', '--api-url', apiUrl, ...args], { env, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? error.code : 0, stdout, stderr });
    });
  });
}

test('usage posts one SQL query to the account\'s Analytics Engine API and prints requests per client', async () => {
  status = 200;
  const before = received.length;
  const r = await usage(['--since', '7d', '--tenant', 'acme', '--client', 'billing']);
  assert.equal(r.code, 0, r.stderr);
  const [req] = received.slice(before);
  assert.equal(req.method, 'POST');
  assert.equal(req.url, `/client/v4/accounts/${ACCOUNT}/analytics_engine/sql`);
  assert.equal(req.auth, `Bearer ${TOKEN}`);
  assert.match(req.type, /^text\/plain/);
  assert.match(req.body, /SUM\(_sample_interval\) AS requests/);
  assert.match(req.body, /FROM edge_token_usage WHERE timestamp > NOW\(\) - INTERVAL '7' DAY AND blob1 = 'acme' AND blob2 = 'billing' GROUP BY/);
  assert.match(r.stdout, /^1207 token request\(s\) in the last 7d/);
  assert.match(r.stdout, /acme\s+billing\s+issued\s+-\s+1200\s+3\.2/);
  assert.match(r.stdout, /acme\s+billing\s+refused\s+wrong_secret\s+7\s+2\.0/);
  assert.ok(!r.stdout.includes(TOKEN) && !r.stderr.includes(TOKEN), 'the API token is never printed');
  const json = await usage(['--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout).map((row) => row.requests), [1200, 7]);
});

test('a refused query is reported in one line with its status, and exits 1', async () => {
  status = 403;
  const r = await usage([]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^edge-token-admin: the Analytics Engine SQL API answered 403: .*Account Analytics Read.* Authentication error\n$/);
  assert.ok(!r.stderr.includes(TOKEN), 'the API token is never printed');
});

test('usage has --help, and bad arguments exit 2 without sending anything', async () => {
  const help = runCli(['usage', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: edge-token-admin usage/);
  for (const option of ['--since', '--tenant', '--client', '--account', '--dataset', 'CLOUDFLARE_API_TOKEN']) {
    assert.ok(help.stdout.includes(option), `--help names ${option}`);
  }
  const before = received.length;
  for (const args of [['--since', '1y'], ['--tenant', 'Not_A_Tenant'], ['--client', "x' OR 1=1"], ['--account', '42']]) {
    const r = await usage(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  }
  const noToken = runCli(['usage', '--account', ACCOUNT]);
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /CLOUDFLARE_API_TOKEN/);
  assert.equal(received.length, before, 'no request sent');
});
