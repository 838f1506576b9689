// The operator CLI (cli/, `edge-token-admin`) run as a binary against the admin Worker under
// workerd (its own loopback socket, as `npm start` gives it its own port); tokens come from the
// token Worker beside it.
// Requirement → test:
//   --help for every command                                            → "every command has --help …"
//   create → token works (verified with jose)                          → "client create registers a client whose secret gets a token …"
//   the printed try-it curl line works for the client just made         → "the try-it line that client create prints gets a token …"
//   --default-audience, --claim; reserved claims refused; resets        → "client create and update set default audiences and claims …"
//   show / list / update; last-used time; bad update changes nothing    → "show, list and update …"
//   list: aligned, status, creation, scopes, audience; "not seen yet"   → "client list aligns one row per client …"
//   locally (.dev.vars) promote/retire do not wait; --file still does   → "locally (.dev.vars) promote and retire do not wait …"
//   rotate → both secrets work until expiry, then only the new one      → "rotate-secret: both secrets work until the old one expires …"
//   retire → refused within a second                                    → "retire-secret refuses the old secret within a second"
//   disable → refused within a second; enable; delete                   → "disable refuses the client within a second …"
//   admin API refuses missing/wrong admin tokens                        → "the CLI fails clearly without the right admin token …"
//   bad input → clear message, non-zero exit, nothing written           → "bad input gets a clear message …"
//   local dev state: ADMIN_TOKEN and SIGNING_KEYS from .dev.vars        → "against local dev state …"
//   keys: generate, add as next, promote, retire after expiry;
//   old tokens verify, new tokens carry the new kid; no private key out → "key rotation: …"
//   token verify against the served JWKS                                → (within "key rotation: …")
//   blocks list / clear (one address or all; the doubling forgotten)    → "blocks list shows an address blocked …"
//   the admin token goes only where --url means (no userinfo trick,
//   no redirect followed, JWKS over https or loopback only)             → "the admin token goes only to the origin --url names …"
//   --json failures are JSON on stderr with the same exit codes         → "with --json, failures are JSON on stderr …"
//   failures name the next step (npm start, keys generate, no token)    → "failures point to the next step …"
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CLI_BIN, assert, jose, oneGateWindow, runCli, testLogHygiene, useWorker, within } from './harness.mjs';

const w = useWorker({ adminToken: true });
const dir = mkdtempSync(join(tmpdir(), 'edge-token-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The CLI against the test Worker, with its admin token in the environment. */
const cli = (args, opts = {}) => {
  const r = runCli(['--json', ...args, ...(opts.noUrl ? [] : ['--url', w.adminUrl])], {
    cwd: dir, ...opts, env: { EDGE_TOKEN_ADMIN_TOKEN: w.adminToken, ...opts.env },
  });
  if (r.json?.client_secret) w.sensitive.add(r.json.client_secret);
  return r;
};
const ok = (r) => { assert.equal(r.code, 0, `exit 0 (stderr: ${r.stderr.slice(0, 300)})`); return r.json; };
const asClient = (info) => ({ id: info.client_id, record: { token_ttl: info.token_ttl, audience: info.audience } });
const createClient = (extra = []) => ok(cli(['client', 'create', '--scopes', 'orders:read orders:write',
  '--default-scopes', 'orders:read', '--audience', 'https://api.example.com', ...extra]));
const tokenStatus = async (id, secret) => (await w.token({ auth: [id, secret] })).status;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('every command has --help, and unknown commands or options exit 2', () => {
  const commands = [[], ['client'], ['keys'], ['token'],
    ...['create', 'show', 'list', 'update', 'disable', 'enable', 'delete', 'rotate-secret', 'retire-secret'].map((c) => ['client', c]),
    ...['generate', 'add', 'promote', 'retire', 'list'].map((c) => ['keys', c]), ['token', 'verify'],
    ['blocks'], ['blocks', 'list'], ['blocks', 'clear']];
  for (const c of commands) {
    const r = runCli([...c, '--help']);
    assert.equal(r.code, 0, `${c.join(' ')} --help`);
    assert.match(r.stdout, /Usage: edge-token-admin/, `${c.join(' ')} --help prints usage`);
  }
  assert.equal(runCli(['client', 'frobnicate']).code, 2);
  assert.equal(runCli(['client', 'list', '--no-such-option']).code, 2);
});

test('client create registers a client whose secret gets a token that verifies', async () => {
  const created = createClient(['--ttl', '600']);
  const { client, client_secret: secret } = created;
  assert.match(secret, /^etcs_[0-9A-Za-z]{49}$/);
  const res = await w.token({ auth: [client.client_id, secret] });
  assert.equal(res.status, 200);
  await w.verifyToken(res.json.access_token, asClient(client), { scope: 'orders:read' });
  assert.equal(client.token_ttl, 600);
  // Human output shows the secret once, with a ready curl line.
  const human = runCli(['client', 'create', '--url', w.adminUrl, '--scopes', 'x', '--audience', 'https://a.example'],
    { cwd: dir, env: { EDGE_TOKEN_ADMIN_TOKEN: w.adminToken } });
  assert.equal(human.code, 0);
  const shown = /client_secret (\S+)/.exec(human.stdout)?.[1];
  assert.ok(shown, 'the secret is printed');
  w.sensitive.add(shown);
  assert.match(human.stdout, /shown once/);
  // The curl line goes to the token Worker (ISSUER + the token path), not to the admin URL.
  const curl = /try it: curl .* (\S+)$/m.exec(human.stdout)?.[1];
  assert.equal(curl, `${w.origin}${w.tokenPath}`, 'the curl line names the token endpoint');
  assert.equal(created.token_endpoint, `${w.origin}${w.tokenPath}`, 'and so does the JSON answer');
});

/** Runs the `try it: curl …` line of a human `client create` output against the token Worker. */
async function runTryIt(stdout) {
  const line = /^try it: curl (.*)$/m.exec(stdout)?.[1];
  assert.ok(line, 'a try-it line is printed');
  const args = line.match(/'[^']*'|\S+/g).map((a) => a.replace(/^'(.*)'$/, '$1').replace(w.origin, '{HOST}'));
  return w.curl(args);
}

test("the try-it line that client create prints gets a token for the client it made, with or without default scopes", async () => {
  const create = (extra) => {
    const r = runCli(['client', 'create', '--url', w.adminUrl, '--audience', 'https://a.example', ...extra],
      { cwd: dir, env: { EDGE_TOKEN_ADMIN_TOKEN: w.adminToken } });
    assert.equal(r.code, 0, r.stderr);
    w.sensitive.add(/client_secret (\S+)/.exec(r.stdout)[1]);
    return r.stdout;
  };
  // The CLI's defaults: no default scopes, so under the default tenant (omitted_scope
  // "defaults") the line must name the scope.
  const bare = create(['--scopes', 'orders:read orders:write', '--ttl', '600']);
  assert.match(bare, /-d 'scope=orders%3Aread%20orders%3Awrite'/);
  const res = await runTryIt(bare);
  assert.equal(res.status, 200, `the try-it line works (${res.json?.error})`);
  const id = /^created client (\S+)$/m.exec(bare)[1];
  await w.verifyToken(res.json.access_token, { id, record: { token_ttl: 600, audience: ['https://a.example'] } },
    { scope: 'orders:read orders:write' });
  // With default scopes a request without scope works, and the line names none.
  const withDefaults = create(['--scopes', 'a b', '--default-scopes', 'a']);
  assert.doesNotMatch(withDefaults, /scope=/);
  assert.equal((await runTryIt(withDefaults)).status, 200);
});

test('client create and update set default audiences and claims, and tokens carry them', async () => {
  const { client, client_secret: secret } = createClient(['--audience', 'https://b.example',
    '--default-audience', 'https://b.example', '--claim', 'tenant_id=acme', '--claim', 'roles=["r1","r2"]']);
  assert.deepEqual(client.default_audience, ['https://b.example']);
  assert.deepEqual(client.claims, { tenant_id: 'acme', roles: ['r1', 'r2'] });
  const res = await w.token({ auth: [client.client_id, secret] });
  const { payload } = await w.verifyToken(res.json.access_token,
    { id: client.client_id, record: { token_ttl: client.token_ttl, audience: ['https://b.example'] } }, { scope: 'orders:read' });
  assert.equal(payload.tenant_id, 'acme');
  assert.deepEqual(payload.roles, ['r1', 'r2']);
  const reserved = cli(['client', 'update', client.client_id, '--claim', 'sub=someone-else']);
  assert.notEqual(reserved.code, 0, 'a reserved claim is refused');
  assert.match(reserved.stderr, /sub\\?" is set by the token itself/);
  const reset = ok(cli(['client', 'update', client.client_id, '--all-audiences', '--clear-claims']));
  assert.equal(reset.default_audience, null);
  assert.deepEqual(reset.claims, {});
});

test('show, list and update: settings change, last use is shown, a bad update changes nothing', async () => {
  // The update comes before the client's first token: the token Worker, another Worker, keeps
  // a record it has read for up to 10 s (docs/admin-api.md).
  const { client, client_secret: secret } = createClient();
  const id = client.client_id;
  const updated = ok(cli(['client', 'update', id, '--ttl', '120', '--per-minute', '30', '--burst', '5',
    '--scopes', 'orders:read orders:write orders:admin', '--audience', 'https://a.example', '--audience', 'https://b.example']));
  assert.equal(updated.token_ttl, 120);
  assert.deepEqual(updated.rate_limit, { per_minute: 30, burst: 5 });
  const res = await w.token({ auth: [id, secret], params: { grant_type: 'client_credentials', scope: 'orders:admin' } });
  assert.equal(res.status, 200, 'the new scope is granted');
  const { payload } = await w.verifyToken(res.json.access_token, { id, record: { token_ttl: 120, audience: ['https://a.example', 'https://b.example'] } }, { scope: 'orders:admin' });
  assert.equal(payload.exp - payload.iat, 120, 'the new lifetime');

  const shown = ok(cli(['client', 'show', id]));
  assert.ok(Math.abs(shown.secrets[0].last_used_at - Date.now() / 1000) <= 5, 'last use about now');
  assert.ok(Math.abs(shown.created_at - Date.now() / 1000) <= 30, 'made about now');
  const human = runCli(['client', 'show', id, '--url', w.adminUrl], { cwd: dir, env: { EDGE_TOKEN_ADMIN_TOKEN: w.adminToken } });
  assert.match(human.stdout, /last used \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/, 'human output gives a date');
  assert.match(human.stdout, /^created +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/m, 'and the creation time');
  const listed = ok(cli(['client', 'list'])).clients.find((c) => c.client_id === id);
  assert.deepEqual({ ...listed, created_at: typeof listed.created_at }, {
    client_id: id, disabled: false, created_at: 'number',
    scopes: ['orders:read', 'orders:write', 'orders:admin'], audience: ['https://a.example', 'https://b.example'],
  }, 'listed with what tells clients apart, from the KV metadata');

  const bad = cli(['client', 'update', id, '--default-scopes', 'not-allowed']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /default_scopes must be a subset/);
  const after = ok(cli(['client', 'show', id]));
  for (const field of ['scopes', 'default_scopes', 'audience', 'token_ttl', 'rate_limit', 'grant_types', 'disabled']) {
    assert.deepEqual(after[field], updated[field], `${field} is as before`);
  }
  const back = ok(cli(['client', 'update', id, '--default-rate-limit']));
  assert.equal(back.rate_limit_is_default, true);
});

test('client list aligns one row per client with status, creation, scopes and audience; a new secret reads "not seen yet"', async () => {
  const a = createClient(['--id', 'list-a']).client;
  const b = ok(cli(['client', 'create', '--id', 'list-bb', '--scopes', 'x', '--audience', 'https://b.example'])).client;
  const text = runCli(['client', 'list', '--url', w.adminUrl], { cwd: dir, env: { EDGE_TOKEN_ADMIN_TOKEN: w.adminToken } });
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.split('\n');
  const header = lines.find((l) => l.startsWith('  CLIENT'));
  assert.match(header, /^ {2}CLIENT +STATUS +CREATED +SCOPES +AUDIENCE$/);
  const rowA = lines.find((l) => l.startsWith('  list-a '));
  const rowB = lines.find((l) => l.startsWith('  list-bb '));
  assert.match(rowA, /enabled +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +orders:read orders:write +https:\/\/api\.example\.com$/);
  assert.match(rowB, /enabled +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +x +https:\/\/b\.example$/);
  for (const column of ['STATUS', 'CREATED', 'SCOPES', 'AUDIENCE']) {
    const at = header.indexOf(column);
    assert.ok(rowA[at - 1] === ' ' && rowA[at] !== ' ' && rowB[at - 1] === ' ' && rowB[at] !== ' ', `${column} aligned`);
  }
  assert.match(text.stdout, /last use of each secret: `client show ID`/);
  const shown = runCli(['client', 'show', a.client_id, '--url', w.adminUrl], { cwd: dir, env: { EDGE_TOKEN_ADMIN_TOKEN: w.adminToken } });
  assert.match(shown.stdout, /last used not seen yet \(recorded within 1 s while in use\)/);
});

test('rotate-secret: both secrets work until the old one expires, then only the new one', async () => {
  const { client, client_secret: oldSecret } = createClient();
  const id = client.client_id;
  const expiresAt = Math.floor(Date.now() / 1000) + 3;
  const rotated = ok(cli(['client', 'rotate-secret', id, '--old-expires-at', String(expiresAt)]));
  const newSecret = rotated.client_secret;
  assert.notEqual(newSecret, oldSecret);
  assert.equal(rotated.client.secrets.length, 2);
  assert.equal(rotated.client.secrets[0].expires_at, expiresAt);
  assert.equal(await tokenStatus(id, oldSecret), 200, 'old secret during the overlap');
  assert.equal(await tokenStatus(id, newSecret), 200, 'new secret at once');
  const again = cli(['client', 'rotate-secret', id]);
  assert.equal(again.code, 1, 'a second rotation during the overlap is refused');
  assert.match(again.stderr, /rotation is already in progress/);
  await sleep(Math.max(0, expiresAt * 1000 - Date.now()) + 200);
  assert.equal(await tokenStatus(id, oldSecret), 401, 'old secret after its expiry');
  assert.equal(await tokenStatus(id, newSecret), 200, 'new secret still');
  assert.equal(cli(['client', 'rotate-secret', id, '--old-expires-in', '2x']).code, 2, 'a bad duration');
});

test('retire-secret refuses the old secret within a second', async () => {
  const { client, client_secret: oldSecret } = createClient();
  const id = client.client_id;
  const oldId = client.secrets[0].id;
  const { client_secret: newSecret } = ok(cli(['client', 'rotate-secret', id, '--old-expires-in', '1h']));
  assert.equal(await tokenStatus(id, oldSecret), 200);
  const retired = ok(cli(['client', 'retire-secret', id, oldId]));
  assert.equal(retired.secrets.length, 1);
  await within(1500, 'the old secret refused', async () => (await tokenStatus(id, oldSecret)) === 401);
  assert.equal(await tokenStatus(id, newSecret), 200);
  const last = cli(['client', 'retire-secret', id, retired.secrets[0].id]);
  assert.equal(last.code, 1);
  assert.match(last.stderr, /without a live secret/);
});

test('disable refuses the client within a second; enable serves it again; delete removes it within a second', async () => {
  const { client, client_secret: secret } = createClient();
  const id = client.client_id;
  assert.equal(await tokenStatus(id, secret), 200);
  assert.equal(ok(cli(['client', 'disable', id])).disabled, true);
  await within(1500, 'refused after the disable', async () => (await w.token({ auth: [id, secret] })).json?.error === 'unauthorized_client');
  assert.equal(ok(cli(['client', 'enable', id])).disabled, false);
  await within(1500, 'served after the enable', async () => (await tokenStatus(id, secret)) === 200);
  const unconfirmed = cli(['client', 'delete', id]);
  assert.equal(unconfirmed.code, 2, 'delete wants --yes');
  assert.equal(await tokenStatus(id, secret), 200, 'and did nothing without it');
  assert.equal(ok(cli(['client', 'delete', id, '--yes'])).deleted, true);
  // Refused by its object at once; unknown (401) once the token Worker's record cache lapses.
  await within(1500, 'refused after the delete', async () => (await tokenStatus(id, secret)) !== 200);
  assert.equal(cli(['client', 'show', id]).code, 1);
});

test('blocks list shows an address blocked after ten failures; blocks clear forgets it in its shard', async () => {
  const { client, client_secret: secret } = createClient();
  const id = client.client_id;
  const ip = '198.51.100.23';
  await oneGateWindow();
  for (let i = 0; i < 10; i++) assert.equal((await w.token({ auth: [id, 'wrong-secret-value'], ip })).status, 401);
  await within(3000, 'the address is blocked', async () => (await w.token({ auth: [id, secret], ip })).status === 429);
  const listed = ok(cli(['blocks', 'list'])).blocks.find((b) => b.source === ip);
  assert.ok(listed, 'the blocked address is listed');
  const now = Math.floor(Date.now() / 1000);
  assert.equal(listed.blocks, 1);
  assert.ok(listed.blocked_until > now && listed.blocked_until <= now + 31, 'blocked for 30 s');
  const text = runCli(['blocks', 'list', '--url', w.adminUrl], { env: { EDGE_TOKEN_ADMIN_TOKEN: w.adminToken } });
  assert.match(text.stdout, /198\.51\.100\.23 .*blocked until \d{4}-\d\d-\d\d /);
  assert.equal(cli(['blocks', 'clear']).code, 2, 'a source or --all is required');
  assert.equal(cli(['blocks', 'clear', 'not-an-address']).code, 1);
  // What the shard heard of: the address, which went over its first gate (its /24 stayed
  // within its own gate's budget, so no shard counted it; docs/limits.md).
  assert.equal(ok(cli(['blocks', 'clear', ip])).cleared, 1);
  assert.ok(!ok(cli(['blocks', 'list'])).blocks.some((b) => b.source === ip), 'no longer listed');
  assert.equal(ok(cli(['blocks', 'clear', ip])).cleared, 0, 'nothing left to clear');
  assert.equal(typeof ok(cli(['blocks', 'clear', '--all'])).cleared, 'number');
});

test('the CLI fails clearly without the right admin token, and never over plain http to a remote host', () => {
  const wrong = cli(['client', 'list'], { env: { EDGE_TOKEN_ADMIN_TOKEN: `${w.adminToken}x` } });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /admin token was refused \(401\)/);
  const none = runCli(['client', 'list', '--url', w.adminUrl, '--dev-vars', join(dir, 'missing.vars')], { cwd: dir });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no admin token/);
  const remote = runCli(['client', 'list', '--url', 'http://example.com'], { cwd: dir, env: { EDGE_TOKEN_ADMIN_TOKEN: 'x'.repeat(40) } });
  assert.equal(remote.code, 2);
  assert.match(remote.stderr, /must be https/);
  assert.ok(!wrong.stderr.includes(w.adminToken), 'the token is not echoed');
});

test('bad input gets a clear message and a non-zero exit, and creates nothing', () => {
  const before = ok(cli(['client', 'list'])).clients.length;
  const noScopes = cli(['client', 'create', '--audience', 'https://a.example']);
  assert.equal(noScopes.code, 2);
  assert.match(noScopes.stderr, /--scopes is required/);
  const badDefault = cli(['client', 'create', '--scopes', 'a', '--default-scopes', 'b', '--audience', 'https://a.example']);
  assert.equal(badDefault.code, 1);
  assert.match(badDefault.stderr, /400 invalid_request: default_scopes must be a subset of scopes; not in scopes: b/);
  const badTtl = cli(['client', 'create', '--scopes', 'a', '--audience', 'x', '--ttl', 'soon']);
  assert.equal(badTtl.code, 2);
  const badTenant = cli(['client', 'list', '--tenant', 'Bad!']);
  assert.equal(badTenant.code, 2);
  assert.equal(ok(cli(['client', 'list'])).clients.length, before);
});

test('against local dev state: the admin token and the signing keys come from .dev.vars', async () => {
  const local = mkdtempSync(join(dir, 'local-'));
  writeFileSync(join(local, '.dev.vars'), `# test\nSIGNING_KEYS='{"keys":[${JSON.stringify(w.keys[0])}]}'\nADMIN_TOKEN=${w.adminToken}\n`);
  const listed = runCli(['--json', 'client', 'list', '--url', w.adminUrl], { cwd: local });
  assert.equal(listed.code, 0, listed.stderr);
  const added = runCli(['--json', 'keys', 'add'], { cwd: local });
  assert.equal(added.code, 0, added.stderr);
  assert.equal(added.json.keys.length, 2);
  assert.match(added.json.next_step, /a running `npm start` reloads both Workers/);
  const vars = readFileSync(join(local, '.dev.vars'), 'utf8');
  assert.match(vars, /^ADMIN_TOKEN=/m, 'other lines kept');
  const set = JSON.parse(/^SIGNING_KEYS='(.*)'$/m.exec(vars)[1]);
  assert.equal(set.keys[0].d, w.keys[0].d, 'the signing key is unchanged');
  assert.ok(!added.stdout.includes(set.keys[1].d), 'the new private key is not printed');
});

test('locally (.dev.vars) promote and retire do not wait, and say why; with --file they still do', () => {
  const local = mkdtempSync(join(dir, 'local-waits-'));
  writeFileSync(join(local, '.dev.vars'), `SIGNING_KEYS='{"keys":[${JSON.stringify(w.keys[0])}]}'\n`);
  const file = join(local, 'keys.json');
  writeFileSync(file, JSON.stringify({ keys: [w.keys[0]] }));
  for (const where of [[], ['--file', file]]) ok(runCli(['--json', 'keys', 'add', ...where], { cwd: local }));
  const kid = (where) => ok(runCli(['--json', 'keys', 'list', ...where], { cwd: local })).keys.map((k) => k.kid);
  const [oldKid, newKid] = kid([]);
  const text = runCli(['keys', 'add'], { cwd: local });
  assert.match(text.stdout, /Promote it when you like: locally nothing waits/);
  const promoted = runCli(['keys', 'promote', newKid], { cwd: local });
  assert.equal(promoted.code, 0, `no 300 s wait in .dev.vars (stderr: ${promoted.stderr.slice(0, 200)})`);
  const retired = runCli(['keys', 'retire', oldKid], { cwd: local });
  assert.equal(retired.code, 0, `no token-lifetime wait in .dev.vars (stderr: ${retired.stderr.slice(0, 200)})`);
  assert.match(retired.stdout, /locally no wait: tokens it signed that have not expired stop verifying/);
  const [, fileNew] = kid(['--file', file]);
  const refused = runCli(['keys', 'promote', '--file', file, fileNew], { cwd: local });
  assert.equal(refused.code, 1, 'a deployment\'s key file still waits');
  assert.match(refused.stderr, /--force/);
});

test('a kid or client id that starts with "-" is taken as a value, not an option', () => {
  const file = join(dir, 'hyphen-keys.json');
  ok(runCli(['--json', 'keys', 'generate', '--out', file]));
  // A kid is base64url, and about one in 64 starts with "-".
  for (const args of [['keys', 'promote', '--file', file, '-abc'], ['keys', 'promote', '--force', '--file', file, '-abc']]) {
    const r = runCli(args);
    assert.equal(r.code, 1, `${args.join(' ')}: refused as an unknown key, not a usage error`);
    assert.match(r.stderr, /no key "-abc"/);
  }
  const show = cli(['client', 'show', '-not-there']);
  assert.equal(show.code, 1, 'an unknown client, not a usage error');
});

test('key rotation: add as next, promote, retire after expiry; old tokens verify, new ones carry the new kid', async () => {
  const file = join(dir, 'signing-keys.json');
  const gen = ok(runCli(['--json', 'keys', 'generate', '--out', file]));
  const load = () => JSON.parse(readFileSync(file, 'utf8')).keys;
  const privateParts = () => load().map((k) => k.d);
  assert.equal(runCli(['keys', 'generate', '--out', file]).code, 1, 'never overwrites');
  await w.reconfigure({ keys: load() });
  const kidA = gen.kid;
  const { client, client_secret: secret } = createClient();
  const issue = async () => {
    const res = await w.token({ auth: [client.client_id, secret] });
    assert.equal(res.status, 200);
    return res.json.access_token;
  };
  const tokenA = await issue();
  assert.equal(jose.decodeProtectedHeader(tokenA).kid, kidA);
  const verify = (token) => runCli(['--json', 'token', 'verify', '--url', w.url, '--issuer', w.issuer], { input: token });
  const checked = verify(tokenA);
  assert.equal(checked.code, 0, checked.stderr);
  assert.equal(checked.json.valid, true);
  assert.equal(checked.json.claims.client_id, client.client_id);
  const tampered = verify(`${tokenA.slice(0, -4)}AAAA`);
  assert.equal(tampered.code, 1);
  assert.match(tampered.stderr, /signature does not verify/);

  const added = runCli(['--json', 'keys', 'add', '--file', file]);
  assert.equal(added.code, 0, added.stderr);
  const kidB = added.json.keys[1].kid;
  assert.deepEqual(added.json.keys.map((k) => k.role), ['signing', 'next']);
  assert.match(added.json.next_step, /wrangler secret put SIGNING_KEYS < /);
  await w.reconfigure({ keys: load() });
  assert.deepEqual((await w.jwks()).keys.map((k) => k.kid).sort(), [kidA, kidB].sort(), 'both published');
  assert.equal(jose.decodeProtectedHeader(await issue()).kid, kidA, 'A still signs');

  const early = runCli(['keys', 'promote', '--file', file, kidB]);
  assert.equal(early.code, 1, 'promotion waits for JWKS caches');
  assert.match(early.stderr, /--force/);
  const promoted = runCli(['--json', 'keys', 'promote', '--file', file, kidB, '--force']);
  assert.equal(promoted.code, 0, promoted.stderr);
  assert.deepEqual(promoted.json.keys.map((k) => [k.kid, k.role]), [[kidB, 'signing'], [kidA, 'previous']]);
  await w.reconfigure({ keys: load() });
  const tokenB = await issue();
  assert.equal(jose.decodeProtectedHeader(tokenB).kid, kidB, 'new tokens carry the new kid');
  await w.verifyToken(tokenA, asClient(client), { scope: 'orders:read' });
  assert.equal(verify(tokenA).code, 0, 'the old token still verifies');

  const early2 = runCli(['keys', 'retire', '--file', file, kidA]);
  assert.equal(early2.code, 1, 'retirement waits for tokens signed by the key to expire');
  assert.match(early2.stderr, /may live until/);
  assert.equal(runCli(['keys', 'retire', '--file', file, kidB]).code, 1, 'the signing key cannot be retired');
  // Let the longest lifetime (1 h) pass: record the demotion as two hours ago.
  const keys = load();
  keys[1].edge_token_demoted_at -= 7200;
  writeFileSync(file, JSON.stringify({ keys }));
  const retired = runCli(['--json', 'keys', 'retire', '--file', file, kidA, '--max-token-ttl', '3600']);
  assert.equal(retired.code, 0, retired.stderr);
  assert.deepEqual(retired.json.keys.map((k) => k.kid), [kidB]);
  await w.reconfigure({ keys: load() });
  assert.deepEqual((await w.jwks()).keys.map((k) => k.kid), [kidB], 'only B published');
  const gone = verify(tokenA);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /no key/);
  assert.equal(verify(tokenB).code, 0);

  const listed = runCli(['keys', 'list', '--file', file]);
  assert.equal(listed.code, 0);
  for (const r of [gen, added.json, promoted.json, retired.json]) {
    const out = JSON.stringify(r);
    for (const d of privateParts()) assert.ok(!out.includes(d), 'no private key in any output');
  }
  assert.ok(!listed.stdout.includes(privateParts()[0]));
});

/** The CLI without blocking this process (so that a server here can answer it): {code, stderr}. */
const runCliAsync = (args, env) => new Promise((resolve, reject) => {
  const child = spawn(CLI_BIN, args, { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, cwd: dir });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const timer = setTimeout(() => child.kill(), 30_000);
  child.on('error', reject);
  child.on('close', (code) => { clearTimeout(timer); resolve({ code, stderr }); });
});

/** A loopback HTTP server that notes each request's path and Authorization, answering with `answer`. */
async function recorder(host, answer) {
  const seen = [];
  const server = createServer((req, res) => {
    seen.push({ path: req.url, authorization: req.headers.authorization });
    answer(req, res);
  });
  await new Promise((r) => server.listen(0, host, r));
  return { seen, port: server.address().port, close: () => new Promise((r) => server.close(r)) };
}

test('the admin token goes only to the origin --url names: no userinfo trick, no redirect, no plain-http JWKS', async () => {
  const token = 'x'.repeat(40);
  // 127.0.0.2 is on this machine, but is not a loopback host the CLI trusts with plain http.
  const trap = await recorder('127.0.0.2', (req, res) => res.end('{}'));
  try {
    const sneaky = await runCliAsync(['client', 'list', '--url', `http://127.0.0.1:1@127.0.0.2:${trap.port}`], { EDGE_TOKEN_ADMIN_TOKEN: token });
    assert.equal(sneaky.code, 2, sneaky.stderr);
    assert.match(sneaky.stderr, /must not carry a user name or password/);
    const redirecting = await recorder('127.0.0.1', (req, res) => {
      res.writeHead(307, { Location: `http://127.0.0.2:${trap.port}${req.url}` }).end();
    });
    try {
      const redirected = await runCliAsync(['client', 'list', '--url', `http://127.0.0.1:${redirecting.port}`], { EDGE_TOKEN_ADMIN_TOKEN: token });
      assert.equal(redirected.code, 1, redirected.stderr);
      assert.match(redirected.stderr, /redirect .* not followed/);
      assert.equal(redirecting.seen.length, 1, 'one request to the origin named');
      const jwks = await runCliAsync(['token', 'verify', 'a.b.c', '--url', `http://127.0.0.1:${redirecting.port}`], {});
      assert.equal(jwks.code, 1, 'the JWKS redirect is not followed either');
    } finally { await redirecting.close(); }
    assert.deepEqual(trap.seen, [], 'nothing reached the other host');
  } finally { await trap.close(); }
  const plain = runCli(['token', 'verify', 'a.b.c', '--url', 'http://example.com']);
  assert.equal(plain.code, 2, 'no JWKS over plain http to a remote host');
  assert.match(plain.stderr, /must be https/);
});

test('with --json, failures are JSON on stderr with the same exit codes', () => {
  const usage = cli(['client', 'create', '--audience', 'https://a.example']);
  assert.equal(usage.code, 2);
  assert.deepEqual(Object.keys(JSON.parse(usage.stderr)), ['error', 'message']);
  assert.equal(JSON.parse(usage.stderr).error, 'usage');
  assert.match(JSON.parse(usage.stderr).message, /--scopes is required/);
  const refused = cli(['client', 'show', 'no-such-client']);
  assert.equal(refused.code, 1);
  assert.equal(JSON.parse(refused.stderr).error, 'not_found', 'the admin API\'s own code');
  const unknown = runCli(['--json', 'client', 'frobnicate']);
  assert.equal(unknown.code, 2);
  assert.equal(JSON.parse(unknown.stderr).error, 'usage');
  const text = runCli(['client', 'frobnicate']);
  assert.equal(text.code, 2);
  assert.throws(() => JSON.parse(text.stderr), 'without --json, text');
});

test('failures point to the next step: npm start, keys generate, a token to verify', () => {
  const down = runCli(['client', 'list', '--url', 'http://127.0.0.1:1'], { env: { EDGE_TOKEN_ADMIN_TOKEN: 'x'.repeat(40) } });
  assert.equal(down.code, 1);
  assert.match(down.stderr, /could not reach http:\/\/127\.0\.0\.1:1: .*`npm start`/);
  const noFile = runCli(['keys', 'add', '--file', 'keys.json'], { cwd: dir });
  assert.equal(noFile.code, 1);
  assert.match(noFile.stderr, /cannot read keys\.json: .*keys generate --out keys\.json/);
  const empty = runCli(['token', 'verify', '--url', w.url], { input: '' });
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /no token given/);
});

testLogHygiene(w);
