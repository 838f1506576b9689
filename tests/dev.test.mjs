// `npm start` (scripts/dev.sh and its helpers): the pre-flight (a second start finds the port
// taken, says so plainly and exits before touching any local state), the build that is not run
// twice, the generated dev key, and a whole `npm start` in a copy of the checkout.
// Requirement → test:
//   issue 16.1: two `npm start`s → "a port already bound on loopback stops the start before any state is touched, naming the URL"
//   issue 16.9: one build per start → "scripts/build.sh skips a Worker whose build is newer than every input …"
//   issue 16.8: the dev key's time → "the dev key npm start generates records when it was added …"
//   issue 16.8: an etcs_ demo secret → "the demo secret has the admin API's etcs_ format …"
//   issue 16.2: demo secret kept, keys without restart → "npm start keeps the demo secret across restarts and takes key changes …"
//   issue 12: mTLS locally → the same test: curl's request through the mutual-TLS front gets demo-mtls a certificate-bound token
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ROOT, base62, crc32, ensureDevVars, generateSecret, readDevVars } from '../scripts/devstate.mjs';
import { FORM, assert, basic, jose, runCli, within } from './harness.mjs';

const PREFLIGHT = join(dirname(fileURLToPath(import.meta.url)), '..', 'scripts', 'dev-ports.mjs');
const preflight = (ports) => spawnSync(process.execPath, [PREFLIGHT, ...ports.map(String)], { encoding: 'utf8', timeout: 10_000 });

test('a port already bound on loopback stops the start before any state is touched, naming the URL', async () => {
  const server = createServer();
  await new Promise((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, resolve));
  const { port } = server.address();
  try {
    const busy = preflight([port]);
    assert.equal(busy.status, 1, busy.stderr);
    assert.match(busy.stderr, new RegExp(`http://127\\.0\\.0\\.1:${port} already in use`));
    assert.match(busy.stderr, /npm start` is probably running already/);
    assert.match(busy.stderr, /nothing was changed/);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  const free = preflight([port]);
  assert.equal(free.status, 0, free.stderr);
});

// --- scripts/build.sh: a build newer than its inputs is not run again (issue 16.9) --------

/** A tree with the real build.sh, fake tools that log each call, and the given inputs. */
function fakeBuildTree() {
  const root = mkdtempSync(join(tmpdir(), 'edge-token-build-'));
  mkdirSync(join(root, 'scripts'));
  copyFileSync(join(ROOT, 'scripts', 'build.sh'), join(root, 'scripts', 'build.sh'));
  mkdirSync(join(root, 'src'));
  for (const f of ['src/lib.rs', 'Cargo.toml', 'Cargo.lock']) writeFileSync(join(root, f), '');
  const calls = join(root, 'calls');
  const tool = (path, body) => { mkdirSync(dirname(path), { recursive: true }); writeFileSync(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 }); };
  // worker-build --release --out-dir OUT ...: writes OUT/index.js and OUT/index_bg.wasm.
  tool(join(root, 'cargo', 'bin', 'worker-build'),
    `echo "worker-build $*" >> ${calls}; mkdir -p "$3"; echo js > "$3/index.js"; echo wasm > "$3/index_bg.wasm"`);
  tool(join(root, 'node_modules', '.bin', 'wasm-opt'), 'cp "$1" "$3"');
  const build = (...args) => spawnSync('bash', [join(root, 'scripts', 'build.sh'), ...args],
    { cwd: root, encoding: 'utf8', env: { ...process.env, CARGO_HOME: join(root, 'cargo') }, timeout: 30_000 });
  const count = () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').length : 0);
  return { root, build, count };
}

test('scripts/build.sh skips a Worker whose build is newer than every input, and builds again after a change', () => {
  const { root, build, count } = fakeBuildTree();
  try {
    assert.equal(build().status, 0);
    assert.equal(count(), 1, 'the first build runs');
    const again = build();
    assert.equal(again.status, 0, again.stderr);
    assert.equal(count(), 1, 'the second is skipped (wrangler dev runs [build] again when its watcher is ready)');
    assert.match(again.stderr, /not rebuilt/);
    assert.equal(build('admin').status, 0);
    assert.equal(count(), 2, 'the admin Worker has a build of its own');
    assert.equal(build('guard').status, 0);
    assert.equal(count(), 3, 'and so has the guard Worker');
    const calls = readFileSync(join(root, 'calls'), 'utf8').trim().split('\n');
    assert.match(calls[1], /--out-dir build\/admin\b.*--features admin-worker/, 'the admin Worker: its directory and feature');
    assert.match(calls[2], /--out-dir build\/guard\b.*--features guard-worker/, 'the guard Worker: its directory and feature');
    assert.equal(build('guard').status, 0);
    assert.equal(count(), 3, 'the guard Worker is not built twice either');
    const later = new Date(Date.now() + 5_000);
    utimesSync(join(root, 'src', 'lib.rs'), later, later);
    assert.equal(build().status, 0);
    assert.equal(count(), 4, 'a changed source builds again');
    assert.equal(build('token', '--dev').status, 0);
    assert.equal(count(), 5, 'a build with arguments of its own always runs');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

// --- the generated dev key says when it was added (issue 16.8) -----------------------------

test('the dev key npm start generates records when it was added, and keys list shows it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-token-devvars-'));
  try {
    const before = Math.floor(Date.now() / 1000);
    ensureDevVars(join(dir, '.dev.vars'));
    const [key] = JSON.parse(readDevVars(join(dir, '.dev.vars')).SIGNING_KEYS).keys;
    assert.ok(key.edge_token_added_at >= before && key.edge_token_added_at <= before + 5, 'added now');
    const listed = runCli(['keys', 'list'], { cwd: dir });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /signing\s+added \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// --- the demo secret is an etcs_ secret like every other (issue 16.8) ----------------------

test('the demo secret has the admin API\'s etcs_ format, its checksum computed as the Worker does', () => {
  // The vectors of src/core/credential.rs's tests, and zlib's CRC-32.
  assert.equal(base62([0, 62], 3), '010');
  assert.equal(base62([0xFF, 0xFF, 0xFF, 0xFF], 6), '4gfFC3');
  assert.equal(crc32('123456789'), 0xCBF43926);
  const secret = generateSecret();
  assert.match(secret, /^etcs_[0-9A-Za-z]{49}$/);
  const sum = Buffer.alloc(4);
  sum.writeUInt32BE(crc32(secret.slice(0, 48)));
  assert.equal(secret.slice(48), base62(sum, 6), 'the checksum of the first 48 characters');
  assert.notEqual(generateSecret(), secret);
});

// --- npm start, end to end: the demo secret stays, keys change without a restart -----------

/** A free loopback port (bound and released at once). */
const freePort = () => new Promise((resolve) => {
  const server = createServer();
  server.listen({ port: 0, host: '127.0.0.1' }, () => { const { port } = server.address(); server.close(() => resolve(port)); });
});

/**
 * `npm start` (scripts/dev.sh) in `root` on ports of its own, with its own dev registry: the
 * running process group, its output so far, and `stop()` (by its own pid).
 */
async function startDev(root, ports, registry) {
  const child = spawn('bash', ['scripts/dev.sh'], {
    cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, EDGE_TOKEN_DEV_PORT: String(ports.token), EDGE_TOKEN_DEV_ADMIN_PORT: String(ports.admin),
      EDGE_TOKEN_DEV_INSPECTOR_PORT: String(ports.inspector), EDGE_TOKEN_DEV_GUARD_PORT: String(ports.guard),
      EDGE_TOKEN_DEV_GUARD_INSPECTOR_PORT: String(ports.guardInspector), EDGE_TOKEN_DEV_TLS_PORT: String(ports.tls),
      EDGE_TOKEN_DEV_SKIP_SETUP: '1',
      WRANGLER_REGISTRY_PATH: registry, WRANGLER_SEND_METRICS: 'false' },
  });
  const run = { out: '', child, exitCode: null };
  child.stdout.on('data', (d) => { run.out += d; });
  child.stderr.on('data', (d) => { run.out += d; });
  const exited = new Promise((resolve) => child.on('exit', (code) => { run.exitCode = code ?? 'signal'; resolve(); }));
  run.stop = async () => {
    try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* stopped */ }
  };
  return run;
}

/** A token request of demo-mtls to the mutual-TLS front on `port`, with the certificate in `dir` (or none). */
function mtlsToken(port, dir, { withCertificate = true } = {}) {
  const tls = withCertificate ? { cert: readFileSync(join(dir, 'client.pem')), key: readFileSync(join(dir, 'client.key')) } : {};
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/oauth2/token', method: 'POST', ca: readFileSync(join(dir, 'ca.pem')),
      headers: { 'content-type': FORM }, ...tls, timeout: 10_000 }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end('grant_type=client_credentials&client_id=demo-mtls');
  });
}

test('npm start keeps the demo secret across restarts and takes key changes in .dev.vars without one', { timeout: 240_000 }, async (t) => {
  if (!['build', 'build/admin', 'build/guard'].every((dir) => existsSync(join(ROOT, dir, '.built')))) {
    t.skip('needs the three Workers built (bash scripts/build.sh token; … admin; … guard)');
    return;
  }
  // A copy of the checkout with the built Workers (timestamps kept, so nothing is rebuilt) and
  // the checkout's node_modules linked; setup.sh is skipped (its `npm ci` would empty the linked
  // node_modules), and without package-lock.json it could not run `npm ci` anyway.
  const root = mkdtempSync(join(tmpdir(), 'edge-token-npm-start-'));
  // `cp -a` keeps directories' times too (fs.cpSync gives them the time of the copy).
  const copied = spawnSync('cp', ['-a', ...['scripts', 'src', 'build', 'Cargo.toml', 'Cargo.lock', 'package.json',
    'wrangler.toml', 'wrangler.admin.toml', 'wrangler.guard.toml'].map((p) => join(ROOT, p)), root]);
  assert.equal(copied.status, 0, String(copied.stderr));
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  const ports = {
    token: await freePort(), admin: await freePort(), inspector: await freePort(), guard: await freePort(), guardInspector: await freePort(),
    tls: await freePort(),
  };
  const registry = join(root, '.registry');
  const origin = `http://127.0.0.1:${ports.token}`;
  const jwks = jose.createRemoteJWKSet(new URL(`${origin}/.well-known/jwks.json`), { cacheMaxAge: 0, cooldownDuration: 0 });
  const token = async (secret) => {
    const res = await fetch(`${origin}/oauth2/token`, {
      method: 'POST', headers: { 'content-type': FORM, authorization: basic('demo', secret) }, body: 'grant_type=client_credentials',
    }).catch(() => null);
    return res?.status === 200 ? (await res.json()).access_token : null;
  };
  const verifiedKid = async (accessToken) => {
    const { protectedHeader, payload } = await jose.jwtVerify(accessToken, jwks, { issuer: origin, audience: 'https://api.example.com' });
    assert.equal(payload.client_id, 'demo');
    return protectedHeader.kid;
  };
  let dev = await startDev(root, ports, registry);
  try {
    /** Until `npm start` serves the secret it printed; fails at once if it stopped. */
    const served = (what) => within(120_000, what, async () => {
      assert.equal(dev.exitCode, null, `npm start exited (${dev.exitCode})`);
      const printed = /client_secret: (\S+)/.exec(dev.out)?.[1];
      return printed !== undefined && (await token(printed)) !== null;
    });
    await served('the first start prints the demo secret and serves it');
    const secret = /client_secret: (\S+)/.exec(dev.out)[1];
    assert.match(secret, /^etcs_[0-9A-Za-z]{49}$/, 'an etcs_ secret like every other');
    const firstKid = await verifiedKid(await token(secret));
    assert.doesNotMatch(dev.out, /ENOTFOUND/, 'no Request.cf fetch');

    // Mutual TLS through the front, as the printed curl line does it: a token bound to the
    // client certificate npm start made for demo-mtls.
    const certs = join(root, '.wrangler', 'state', 'mtls');
    const clientPem = readFileSync(join(certs, 'client.pem'), 'utf8');
    const bound = await mtlsToken(ports.tls, certs);
    assert.equal(bound.status, 200, bound.text);
    const { payload } = await jose.jwtVerify(JSON.parse(bound.text).access_token, jwks, { issuer: origin, audience: 'https://api.example.com' });
    assert.equal(payload.client_id, 'demo-mtls');
    assert.deepEqual(payload.cnf, { 'x5t#S256': createHash('sha256').update(new X509Certificate(clientPem).raw).digest('base64url') });
    assert.equal((await mtlsToken(ports.tls, certs, { withCertificate: false })).status, 401, 'no certificate: invalid_client');

    // keys add + promote in .dev.vars, no --force, no restart: the running Workers sign with the new key.
    const cli = (args) => runCli(['--json', ...args], { cwd: root });
    const added = cli(['keys', 'add']);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.json.next_step, /reloads both Workers/);
    const newKid = added.json.keys[1].kid;
    const promoted = cli(['keys', 'promote', newKid]);
    assert.equal(promoted.code, 0, `locally promote does not wait (stderr: ${promoted.stderr.slice(0, 200)})`);
    await within(60_000, 'tokens are signed by the promoted key', async () => {
      const t2 = await token(secret);
      return t2 !== null && (await verifiedKid(t2)) === newKid;
    });
    const retired = cli(['keys', 'retire', firstKid]);
    assert.equal(retired.code, 0, `locally retire does not wait (stderr: ${retired.stderr.slice(0, 200)})`);

    // A restart prints the same secret, which still gets a token, signed by the new key.
    await dev.stop();
    dev = await startDev(root, ports, registry);
    await served('the second start serves the secret it printed');
    assert.equal(/client_secret: (\S+)/.exec(dev.out)[1], secret, 'the same secret is printed');
    assert.match(dev.out, /the same secret as at the last start/);
    assert.equal(await verifiedKid(await token(secret)), newKid);
  } catch (error) {
    console.error(dev.out.slice(-4000)); // npm start's output (the demo secret is this copy's throwaway)
    throw error;
  } finally {
    await dev.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
