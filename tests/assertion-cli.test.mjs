// private_key_jwt through the operator's tools (issue 11): the admin API registers a client
// with public keys and no secret, the CLI registers one from a JWK Set file (`--jwks`) and
// makes a test assertion (`client assertion --key`), so one command tries it; tokens verified
// with `jose`. Requirement → test: tests/README.md ("private_key_jwt").
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CLI_BIN, assert, assertError, jose, runCli, testLogHygiene, useWorker } from './harness.mjs';

const TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const w = useWorker({ adminToken: true });
const dir = mkdtempSync(join(tmpdir(), 'edge-token-assertion-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The CLI against the test Worker, with its admin token in the environment. */
const cli = (args, { url = true } = {}) => runCli(['--json', ...args, ...(url ? ['--url', w.adminUrl] : [])], {
  cwd: dir, env: { EDGE_TOKEN_ADMIN_TOKEN: w.adminToken },
});
const ok = (r) => { assert.equal(r.code, 0, `exit 0 (stderr: ${r.stderr.slice(0, 300)})`); return r.json; };
const present = (jwt) => {
  w.sensitive.add(jwt);
  return w.token({ params: { grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: jwt } });
};
/** A private Ed25519 JWK Set file made by the CLI; its `d`s become sensitive. */
function keyFile(name) {
  const path = join(dir, name);
  ok(runCli(['--json', 'keys', 'generate', '--out', path], { cwd: dir }));
  for (const k of JSON.parse(readFileSync(path, 'utf8')).keys) w.sensitive.add(k.d);
  return path;
}

test('client create --jwks registers a client without a secret whose CLI-made assertion gets a token', async () => {
  const key = keyFile('billing.json');
  const created = ok(cli(['client', 'create', '--id', 'billing-job', '--jwks', key, '--scopes', 'billing:write',
    '--default-scopes', 'billing:write', '--audience', 'https://billing.example.com']));
  assert.equal('client_secret' in created, false, 'no secret in the answer');
  assert.equal(created.client.token_endpoint_auth_method, 'private_key_jwt');
  assert.equal(created.client.token_endpoint_auth_signing_alg, 'EdDSA');
  assert.deepEqual(created.client.secrets, []);
  const sent = JSON.stringify(created.client.jwks);
  assert.equal(/"d"/.test(sent), false, 'only the public members were sent');
  const { client_assertion: jwt } = ok(cli(['client', 'assertion', '--key', key, '--client', 'billing-job',
    '--audience', w.issuer], { url: false }));
  const res = await present(jwt);
  assert.equal(res.status, 200, `status (body error: ${res.json?.error})`);
  const client = { id: 'billing-job', record: { token_ttl: created.client.token_ttl, audience: created.client.audience } };
  await w.verifyToken(res.json.access_token, client, { scope: 'billing:write' });
  assertError(await present(jwt), 401, 'invalid_client'); // spent
  const text = runCli(['client', 'assertion', '--key', key, '--client', 'billing-job'], { cwd: dir });
  assert.equal(text.code, 0);
  assert.equal(jose.decodeJwt(text.stdout.trim()).aud, 'http://127.0.0.1:8787', 'the local issuer by default');
  w.sensitive.add(text.stdout.trim());
});

test('client update --jwks replaces the keys; rotate-secret is refused for a key client', () => {
  const first = keyFile('first.json');
  const second = keyFile('second.json');
  ok(cli(['client', 'create', '--id', 'rotating-job', '--jwks', first, '--scopes', 'a', '--audience', 'https://a.example']));
  const updated = ok(cli(['client', 'update', 'rotating-job', '--jwks', second]));
  const kid = JSON.parse(readFileSync(second, 'utf8')).keys[0];
  assert.equal(updated.jwks.keys.length, 1);
  assert.equal(updated.jwks.keys[0].x, kid.x, 'the new public key');
  const rotate = cli(['client', 'rotate-secret', 'rotating-job']);
  assert.notEqual(rotate.code, 0);
  assert.match(rotate.stderr, /private_key_jwt/);
});

test('the admin API refuses private key material, a missing jwks, and keys for a secret client', async () => {
  const { privateKey } = await jose.generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  w.sensitive.add(jwk.d);
  const base = { scopes: ['a'], audience: ['https://a.example'] };
  const path = `/admin/v1/tenants/${w.tenant}/clients`;
  for (const [body, what] of [
    [{ ...base, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] } }, /"d"/],
    [{ ...base, token_endpoint_auth_method: 'private_key_jwt' }, /jwks/],
    [{ ...base, token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'HS256', jwks: { keys: [jwk] } }, /EdDSA/],
    [{ ...base, jwks: { keys: [] } }, /private_key_jwt/],
  ]) {
    const res = await w.admin(path, { method: 'POST', body });
    assert.equal(res.status, 400, `status (${res.json?.message})`);
    assert.match(res.json.message, what);
    assert.equal(res.text.includes(jwk.d), false, 'the private key is not echoed');
  }
});

test('the try-it line of client create --jwks is one shell line that gets a token', async () => {
  const key = keyFile('try-it.json');
  const made = runCli(['client', 'create', '--url', w.adminUrl, '--id', 'try-it-job', '--jwks', key,
    '--scopes', 'reports:read', '--audience', 'https://reports.example.com'], { cwd: dir, env: { EDGE_TOKEN_ADMIN_TOKEN: w.adminToken } });
  assert.equal(made.code, 0, `exit 0 (stderr: ${made.stderr.slice(0, 300)})`);
  const line = /^try it: (curl .*)$/m.exec(made.stdout)?.[1];
  assert.ok(line, 'a try-it line is printed');
  assert.match(line, /client assertion --key '[^']+try-it\.json' --client 'try-it-job'/, 'it signs with the registered key file');
  assert.match(line, /-d 'scope=reports%3Aread'/, 'it names the scope the tenant needs (no default scopes)');
  // The endpoint it names is the issuer's (https://issuer.test/...): the test sends to the
  // Worker's loopback URL instead, and runs the line's own `client assertion` (the CLI binary).
  const endpoint = `${w.origin}${w.tokenPath}`;
  assert.ok(line.endsWith(` ${endpoint}`), 'it ends with the token endpoint');
  const url = `${String(await w.mf.ready).replace(/\/$/, '')}${w.tokenPath}`;
  const runnable = `${line.slice(0, -endpoint.length)}${url}`.replace('$(edge-token-admin ', `$(${CLI_BIN} `);
  const out = execFileSync('bash', ['-c', `${runnable.replace(/^curl /, 'curl -sS --max-time 10 ')}`], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
  w.noteAnswer(new URL(url), out);
  const body = JSON.parse(out);
  assert.equal(typeof body.access_token, 'string', `a token (error: ${body.error})`);
  w.sensitive.add(body.access_token);
  await w.verifyToken(body.access_token, { id: 'try-it-job', record: { token_ttl: 3600, audience: ['https://reports.example.com'] } }, { scope: 'reports:read' });
});

test('client create and update --jwks-uri register a key client by URL, exclusive with --jwks; plain http elsewhere is refused', () => {
  const uri = 'https://keys.example.com/jwks.json';
  const es = ok(cli(['client', 'create', '--jwks-uri', uri, '--signing-alg', 'ES256', '--scopes', 'a', '--audience', 'https://a.example']));
  assert.equal(es.client.token_endpoint_auth_signing_alg, 'ES256');
  const created = ok(cli(['client', 'create', '--id', 'uri-job', '--jwks-uri', uri, '--scopes', 'a', '--audience', 'https://a.example']));
  assert.equal(created.client.jwks_uri, uri);
  assert.equal(created.client.token_endpoint_auth_method, 'private_key_jwt');
  assert.equal(created.client.token_endpoint_auth_signing_alg, 'EdDSA');
  assert.equal('jwks' in created.client, false);
  const key = keyFile('uri-job.json');
  const inline = ok(cli(['client', 'update', 'uri-job', '--jwks', key]));
  assert.equal('jwks_uri' in inline, false, 'jwks replaces the jwks_uri');
  const back = ok(cli(['client', 'update', 'uri-job', '--jwks-uri', 'https://keys2.example.com/jwks']));
  assert.equal(back.jwks_uri, 'https://keys2.example.com/jwks');
  assert.equal('jwks' in back, false, 'and the reverse');
  const both = cli(['client', 'create', '--jwks', key, '--jwks-uri', uri, '--scopes', 'a', '--audience', 'https://a.example']);
  assert.notEqual(both.code, 0);
  const plain = cli(['client', 'create', '--jwks-uri', 'http://keys.example.com/jwks', '--scopes', 'a', '--audience', 'https://a.example']);
  assert.notEqual(plain.code, 0);
  assert.match(plain.stderr + plain.stdout, /jwks_uri: an https URL/);
  const alg = cli(['client', 'create', '--signing-alg', 'ES256', '--scopes', 'a', '--audience', 'https://a.example']);
  assert.notEqual(alg.code, 0);
  assert.match(alg.stderr + alg.stdout, /--signing-alg is for a private_key_jwt client/);
});

test('client create --federated-issuer registers a federated client without a secret or key, and prints a try-it line', () => {
  const made = runCli(['client', 'create', '--url', w.adminUrl, '--id', 'deploy-job', '--federated-issuer', 'github',
    '--subject', 'repo:octo-org/octo-repo:environment:prod', '--subject-claim', 'repository=octo-org/octo-repo',
    '--subject-claim', 'kubernetes.io={"namespace":"ci"}', '--scopes', 'deploy', '--audience', 'https://deploy.example.com'],
  { cwd: dir, env: { EDGE_TOKEN_ADMIN_TOKEN: w.adminToken } });
  assert.equal(made.code, 0, `exit 0 (stderr: ${made.stderr.slice(0, 300)})`);
  assert.match(made.stdout, /auth +federated_jwt: issuer github, subject repo:octo-org\/octo-repo:environment:prod/);
  assert.match(made.stdout, /^try it: curl .* -d client_id='deploy-job' .*"client_assertion=\$PLATFORM_TOKEN"/m);
  const shown = ok(cli(['client', 'show', 'deploy-job']));
  assert.equal(shown.token_endpoint_auth_method, 'federated_jwt');
  assert.deepEqual(shown.federation, { issuer: 'github', subject: 'repo:octo-org/octo-repo:environment:prod',
    claims: { repository: 'octo-org/octo-repo', 'kubernetes.io': { namespace: 'ci' } } });
  assert.deepEqual(shown.secrets, []);
  const changed = ok(cli(['client', 'update', 'deploy-job', '--federated-issuer', 'github', '--subject', 'repo:octo-org/octo-repo:ref:refs/heads/main']));
  assert.equal(changed.federation.subject, 'repo:octo-org/octo-repo:ref:refs/heads/main');
  const noSubject = cli(['client', 'create', '--federated-issuer', 'github', '--scopes', 'a', '--audience', 'https://a.example']);
  assert.notEqual(noSubject.code, 0);
});

testLogHygiene(w);
