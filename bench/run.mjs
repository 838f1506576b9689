#!/usr/bin/env node
// `npm run bench`: builds the token endpoint (scripts/build.sh) and a hello-world Rust Worker
// (bench/hello), runs the core's native microbenchmarks (benches/core.rs), runs both Workers
// under one workerd (Miniflare) with direct sockets on 127.0.0.1, starts the peer
// (node-oidc-provider, bench/peer.mjs) on 127.0.0.1, and loads each scenario with autocannon,
// back to back with the same settings: warm-up (not counted), then a measured run bounded by
// time AND request count. Then it takes workerd's CPU per request, one request at a time.
// Prints a table and writes bench/results/latest.json and latest.svg. Speeds are reported,
// never asserted; only the answers' statuses are checked (exit 1 on a wrong status). No secret,
// token or Authorization header is ever printed. See bench/README.md.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomUUID, sign as cryptoSign } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { ROOT, clientRecord, generateSigningKey, kvKey, randomToken, signingKeysJson } from '../scripts/devstate.mjs';
import { assertionBody, b64url, jwtClients } from './scenarios.mjs';
import { GUARD, GUARD_OBJECTS, GATES, worker, workerdPid, cpuNs, median } from './workerd.mjs';

const { values: opt } = parseArgs({
  options: {
    warmup: { type: 'string', default: '10' }, // seconds per scenario, not counted
    duration: { type: 'string', default: '15' }, // seconds per measured run, at most
    max: { type: 'string', default: '400000' }, // requests per run, at most
    connections: { type: 'string', default: '10' },
    'no-build': { type: 'boolean', default: false }, // reuse build/ and bench/hello/build/
    'no-micro': { type: 'boolean', default: false }, // skip the native microbenchmarks
    'cpu-samples': { type: 'string', default: '2000' }, // sequential requests for CPU per request
    // Comma-separated scenario keys (hello, static, token, jwt, dpop, failures, peer, js_hello, js_services): a paired
    // run of only those, printed as a short table; no sequential CPU samples, no results file.
    only: { type: 'string' },
  },
});
const WARMUP = +opt.warmup, DURATION = +opt.duration, MAX = +opt.max, CONNECTIONS = +opt.connections;
const CPU_SAMPLES = +opt['cpu-samples'];
const STARTED = performance.now();
const CARGO_BIN = join(process.env.CARGO_HOME ?? join(process.env.HOME, '.cargo'), 'bin');
const BIN = join(ROOT, 'node_modules', '.bin');
const HELLO = join(ROOT, 'bench', 'hello');
// The main crate's target dir: the hello crate then reuses its compiled host crates (proc
// macros, build scripts); measured: 27 s for its first build there against 54 s in a dir of its own.
const HELLO_TARGET = process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
const TOKEN_PATH = '/oauth2/token';
const say = (s) => process.stderr.write(`bench: ${s}\n`);
const seconds = (t0) => Math.round((performance.now() - t0) / 100) / 10;

// --- build ------------------------------------------------------------------------------

function run(what, cmd, args, { cwd = ROOT, env = {} } = {}) {
  const t0 = performance.now();
  say(`${what} ...`);
  const r = spawnSync(cmd, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}`.slice(-6000));
    throw new Error(`${what} failed (exit ${r.status ?? r.signal})`);
  }
  const s = seconds(t0);
  say(`${what}: ${s} s`);
  return s;
}

function build() {
  const missing = [join(CARGO_BIN, 'worker-build'), join(CARGO_BIN, 'wasm-bindgen'), join(BIN, 'wasm-opt'),
    join(BIN, 'esbuild'), join(BIN, 'autocannon')].filter((p) => !existsSync(p));
  if (missing.length) run('installing the pinned tools (scripts/setup.sh)', 'bash', ['scripts/setup.sh']);
  if (opt['no-build']) return {};
  return {
    endpoint_s: run('building the endpoint (scripts/build.sh)', 'bash', ['scripts/build.sh']),
    // The guard objects' Worker, whose objects the endpoint binds (wrangler.guard.toml).
    guard_s: run('building the guard Worker (scripts/build.sh guard)', 'bash', ['scripts/build.sh', 'guard']),
    // The same tools and environment as scripts/build.sh.
    hello_s: run('building the hello-world Worker (bench/hello)', join(CARGO_BIN, 'worker-build'), ['--release'], {
      cwd: HELLO,
      env: {
        PATH: `${CARGO_BIN}:${process.env.PATH}`, CARGO_TARGET_DIR: HELLO_TARGET,
        WASM_BINDGEN_BIN: join(CARGO_BIN, 'wasm-bindgen'), WASM_OPT_BIN: join(BIN, 'wasm-opt'), ESBUILD_BIN: join(BIN, 'esbuild'),
      },
    }),
  };
}

const wasmSize = (path) => {
  const raw = readFileSync(path);
  return { raw: raw.length, gzip9: gzipSync(raw, { level: 9 }).length };
};

// --- native microbenchmarks ------------------------------------------------------------------

/**
 * `cargo bench --bench core` (criterion, benches/core.rs), before any load so that nothing
 * else runs beside it. Reads criterion's own estimates of this run (target/criterion), in µs
 * per operation: the median and the mean with its 95 % interval.
 */
function microbench() {
  const t0 = Date.now();
  const seconds_ = run('native microbenchmarks (cargo bench --bench core)', 'cargo', ['bench', '--locked', '--bench', 'core'],
    { env: { PATH: `${CARGO_BIN}:${process.env.PATH}` } });
  const dir = join(process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target'), 'criterion');
  const found = [];
  for (const group of readdirSync(dir)) {
    if (!statSync(join(dir, group)).isDirectory() || group === 'report') continue;
    for (const bench of readdirSync(join(dir, group))) {
      const at = join(dir, group, bench, 'new');
      if (!existsSync(join(at, 'estimates.json')) || statSync(join(at, 'estimates.json')).mtimeMs < t0) continue;
      const id = JSON.parse(readFileSync(join(at, 'benchmark.json'), 'utf8'));
      const e = JSON.parse(readFileSync(join(at, 'estimates.json'), 'utf8'));
      const us = (x) => +(x / 1000).toFixed(3);
      found.push({ group: id.group_id, name: id.function_id, median_us: us(e.median.point_estimate),
        mean_us: us(e.mean.point_estimate), mean_ci95_us: [us(e.mean.confidence_interval.lower_bound), us(e.mean.confidence_interval.upper_bound)] });
    }
  }
  const order = ['step', 'pipeline'];
  found.sort((a, b) => order.indexOf(a.group) - order.indexOf(b.group));
  return { seconds: seconds_, results: found };
}

// --- the peer: node-oidc-provider in its own process ---------------------------------------------

/** Starts bench/peer.mjs on 127.0.0.1; resolves to { url, pid, stop }. Its config goes by stdin. */
function startPeer(config) {
  const child = spawn(process.execPath, [join(ROOT, 'bench', 'peer.mjs')], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  child.stdin.end(JSON.stringify(config));
  const stop = () => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', resolve);
    process.kill(child.pid, 'SIGTERM'); // its own process id, nothing else
    setTimeout(() => { if (child.exitCode === null) process.kill(child.pid, 'SIGKILL'); }, 5000).unref();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { stop(); reject(new Error(`the peer did not start in 30 s: ${stderr}`)); }, 30_000);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the peer exited (${code}): ${stderr}`)); });
    child.stdout.on('data', (d) => {
      const m = /PORT (\d+)/.exec(String(d));
      if (!m) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({ url: `http://127.0.0.1:${m[1]}`, pid: child.pid, stop, stderr: () => stderr });
    });
  });
}

// --- the Workers (options: bench/workerd.mjs) ------------------------------------------------

// `/services`: what the failure mix asks of the local services and nothing else, alternately as
// the failure path does for an unknown id (one KV miss, three source-prefix gates) and for a
// wrong secret of a client whose secrets were generated (three source-prefix gates and the
// client gate). Locally these services run inside workerd (KV in SQLite, the Rate Limiting
// binding in JS), so their CPU is counted in workerd's; on Cloudflare it is not the Worker's.
const JS_PROBE = `export default {
  async fetch(req, env) {
    if (new URL(req.url).pathname !== '/services') return new Response('hello');
    const key = req.headers.get('x-key'), unknown = +key % 2 === 1;
    if (unknown) await env.CLIENTS.get('client:default:unknown-' + key);
    for (const gate of [env.FAILURE_GATE, env.FAILURE_GATE_NETWORK, env.FAILURE_GATE_SITE]) await gate.limit({ key });
    if (!unknown) await env.CLIENT_FAILURE_GATE.limit({ key });
    return new Response('', { status: 401 });
  },
};`;

/**
 * The product: the guard Worker (its objects, as deployed: wrangler.guard.toml) and the token
 * Worker (wrangler.toml), whose first token's lease needs the guard's wasm.
 */
const productWorkers = (secrets) => [
  worker(GUARD, join(ROOT, 'build', 'guard'), { durableObjects: GUARD_OBJECTS }),
  worker('edge-token', join(ROOT, 'build'), {
    kvNamespaces: ['CLIENTS'],
    durableObjects: Object.fromEntries(Object.entries(GUARD_OBJECTS).map(([name, o]) => [name, { ...o, scriptName: GUARD }])),
    ratelimits: GATES,
    // As in wrangler.toml: each token request writes its usage data point (miniflare's
    // local dataset drops it; at the edge the runtime sends it after the answer).
    analyticsEngineDatasets: { USAGE: { dataset: 'edge_token_usage' } },
    bindings: { ISSUER: 'https://issuer.bench.test', TENANTS: { default: { token_paths: [TOKEN_PATH] } }, ...secrets },
  }),
];

function options(secrets, logs) {
  return {
    workers: [
      worker('hello', join(HELLO, 'build')),
      // A diagnostic, not the product: a JavaScript Worker that answers at once (the floor of
      // the runtime itself, without wasm).
      { name: 'js-probe', modules: true, script: JS_PROBE, compatibilityDate: '2026-04-01',
        kvNamespaces: ['CLIENTS'], ratelimits: GATES, unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }] },
      ...productWorkers(secrets),
    ],
    // One JSON log line per request: keep only the tail, for a failure report.
    handleRuntimeStdio: (...streams) => {
      for (const s of streams) s.on('data', (chunk) => { logs.tail = (logs.tail + chunk).slice(-4000); });
    },
  };
}

// workerd's CPU time from /proc/<pid>/stat (ticks); cpuNs (bench/workerd.mjs) has ns.
const CLK_TCK = +execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
const cpuMs = (pid) => {
  if (!pid) return NaN;
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((+f[11]) + (+f[12])) * 1000 / CLK_TCK; // utime + stime
};

/**
 * workerd's CPU per request, one request at a time (keep-alive, nothing else in flight): the
 * CPU time of all its threads across each request, to the ns. Includes workerd's HTTP work and
 * any background work (waitUntil) that ran before the next request. Bounded: `n` requests or
 * 60 s. Answers other than `expect` are counted and reported.
 */
async function cpuPerRequest(pid, url, init, expect, n) {
  const us = [], deadline = performance.now() + 60_000;
  let unexpected = 0;
  for (let i = 0; i < n && performance.now() < deadline; i++) {
    const before = cpuNs(pid);
    const res = await fetch(url, init);
    await res.arrayBuffer();
    us.push((cpuNs(pid) - before) / 1000);
    if (res.status !== expect) unexpected++;
  }
  const sorted = Float64Array.from(us).sort();
  const at = (p) => Math.round(percentile(sorted, p));
  return { samples: us.length, p50_us: at(50), p90_us: at(90), p99_us: at(99), max_us: Math.round(sorted[sorted.length - 1]),
    mean_us: Math.round(us.reduce((a, b) => a + b, 0) / Math.max(us.length, 1)), unexpected };
}

// --- startup ----------------------------------------------------------------------------

const STARTUP_ROUNDS = 3;

/**
 * One fresh workerd (Miniflare) with `workers`: ms from `new Miniflare()` to ready, and from
 * the first request (`url` of `name`, after `seed`, which is not counted) to its answer; and
 * workerd's CPU time (all threads) for each part. `expect` is the answer's status.
 */
async function startOnce(workers, name, path, init, expect, seed) {
  const t0 = performance.now();
  const mf = new Miniflare({ workers, handleRuntimeStdio: (...streams) => streams.forEach((s) => s.resume()) });
  try {
    await mf.ready;
    const ready_ms = performance.now() - t0;
    const pid = workerdPid();
    const ready_cpu_ms = cpuNs(pid) / 1e6;
    await seed?.(mf);
    const url = (await mf.unsafeGetDirectURL(name)).href.replace(/\/$/, '');
    const cpu0 = cpuNs(pid), first0 = performance.now();
    const res = await fetch(`${url}${path}`, init);
    await res.arrayBuffer();
    const first_ms = performance.now() - first0;
    if (res.status !== expect) throw new Error(`startup: ${name} answered ${res.status} to its first request`);
    return { ready_ms, first_ms, ready_cpu_ms, first_cpu_ms: (cpuNs(pid) - cpu0) / 1e6 };
  } finally {
    await mf.dispose();
  }
}

/**
 * Startup to the first token: the product's two Workers (productWorkers) in a workerd of their
 * own, from its start to the first token's answer (seeding KV in between is not counted); and
 * beside it, alternately, the floor: the hello-world Worker alone to its first answer. The
 * bench's other Workers (hello, the JS diagnostic) are not in it: they are not the product's.
 * Medians of STARTUP_ROUNDS rounds, wall-clock and workerd CPU (bench/startup.mjs breaks it down).
 */
async function startupRounds(secrets, seed, tokenInit) {
  say(`startup: ${STARTUP_ROUNDS} rounds of the guard and token Workers, each beside the hello-world Worker alone`);
  const token = [], hello = [];
  for (let round = 0; round < STARTUP_ROUNDS; round++) {
    hello.push(await startOnce([worker('hello', join(HELLO, 'build'))], 'hello', '/', {}, 200));
    token.push(await startOnce(productWorkers(secrets), 'edge-token', TOKEN_PATH, tokenInit, 200, seed));
  }
  const m = (rows, f) => Math.round(median(rows.map(f)));
  return {
    rounds: STARTUP_ROUNDS,
    startup_ms: m(token, (r) => r.ready_ms + r.first_ms), workerd_ready_ms: m(token, (r) => r.ready_ms),
    first_token_ms: m(token, (r) => r.first_ms), hello_startup_ms: m(hello, (r) => r.ready_ms + r.first_ms),
    startup_cpu_ms: m(token, (r) => r.ready_cpu_ms + r.first_cpu_ms), first_token_cpu_ms: m(token, (r) => r.first_cpu_ms),
    hello_startup_cpu_ms: m(hello, (r) => r.ready_cpu_ms + r.first_cpu_ms),
  };
}

// --- load -------------------------------------------------------------------------------

const percentile = (sorted, p) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)] : NaN;

/** One autocannon run against `url`, stopped at `secs` or `max` requests, whichever first. */
function load(url, requests, secs, max, pid) {
  return new Promise((resolve, reject) => {
    const lat = new Float64Array(max);
    let n = 0;
    const cpu0 = cpuMs(pid), own0 = process.cpuUsage();
    const inst = autocannon({ url, connections: CONNECTIONS, amount: max, requests, timeout: 10 }, (err, r) => {
      clearTimeout(stop); clearTimeout(watchdog);
      if (err) return reject(err);
      const sorted = lat.subarray(0, n).sort();
      const own = process.cpuUsage(own0), done = r.requests.total;
      resolve({
        requests: done, duration_s: r.duration, rps: Math.round(done / r.duration),
        p50_ms: +percentile(sorted, 50).toFixed(3), p99_ms: +percentile(sorted, 99).toFixed(3),
        statuses: Object.fromEntries(Object.entries(r.statusCodeStats).map(([k, v]) => [k, v.count])),
        non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts,
        workerd_cpu_us_per_req: Math.round((cpuMs(pid) - cpu0) * 1000 / Math.max(done, 1)),
        loadgen_cpu_us_per_req: Math.round((own.user + own.system) / Math.max(done, 1)),
      });
    });
    inst.on('response', (_client, _status, _bytes, ms) => { if (n < max) lat[n++] = ms; });
    const stop = setTimeout(() => inst.stop(), secs * 1000);
    const watchdog = setTimeout(() => { inst.stop(); reject(new Error(`load on ${url} did not end`)); }, (secs + 30) * 1000);
  });
}

async function scenario(s, pid) {
  say(`${s.name}: warm-up ${WARMUP} s, then up to ${DURATION} s / ${MAX} requests, ${CONNECTIONS} connections`);
  const warm = await load(s.url, s.requests, WARMUP, MAX, s.pid ?? pid);
  const r = await load(s.url, s.requests, DURATION, MAX, s.pid ?? pid);
  const wrong = (x) => x.errors + x.timeouts + Object.entries(x.statuses).reduce((a, [k, c]) => a + (+k === s.expect ? 0 : c), 0);
  return { key: s.key, name: s.name, server: s.server ?? 'workerd', expect: s.expect, ...r, warmup: { requests: warm.requests, statuses: warm.statuses },
    unexpected: wrong(r) + wrong(warm) };
}

// --- main -------------------------------------------------------------------------------

const basicAuth = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };
const BODY = 'grant_type=client_credentials';

const ISSUER = 'https://issuer.bench.test';
const AUDIENCE = 'https://api.example.com';

// private_key_jwt (issue 11): bench/scenarios.mjs.

// DPoP (RFC 9449, issue 12): secret clients, each with an ES256 key, and a fresh proof (new jti,
// signed here, ~50 µs of this process) per request. Each proof's jti is spent in its client's
// guard object for 61 s, beside the assertions' (at most 2 048 live): a pool as wide as the
// private_key_jwt one never fills a client.
const DPOP_CLIENTS = 128;

/** `DPOP_CLIENTS` secret clients with an ES256 key each (the keys made here). */
function dpopClients(pepper) {
  return Array.from({ length: DPOP_CLIENTS }, (_, i) => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const id = `bench-dpop-${i}`, secret = randomToken();
    const record = clientRecord({ id, secrets: [secret], pepper, scopes: ['read'], defaultScopes: ['read'], audience: [AUDIENCE],
      rate_limit: { per_minute: 1_000_000, burst: 1_000_000 } });
    record.secrets[0].generated = true;
    const header = b64url({ typ: 'dpop+jwt', alg: 'ES256', jwk: publicKey.export({ format: 'jwk' }) });
    return { id, record, authorization: basicAuth(id, secret), privateKey, header };
  });
}

/** Sets the next client's Authorization and a fresh DPoP proof for a POST to `url` on `req`. */
function dpopRequest(clients, url) {
  let turn = 0;
  return (req) => {
    const c = clients[turn++ % clients.length];
    const input = `${c.header}.${b64url({ htm: 'POST', htu: url, iat: Math.floor(Date.now() / 1000), jti: randomUUID() })}`;
    const signature = cryptoSign('sha256', Buffer.from(input), { key: c.privateKey, dsaEncoding: 'ieee-p1363' });
    req.headers.Authorization = c.authorization;
    req.headers.DPoP = `${input}.${signature.toString('base64url')}`;
    return req;
  };
}

async function measure(logs) {
  const pepper = randomToken(), key = generateSigningKey();
  const secrets = { SIGNING_KEYS: signingKeysJson([key]), CLIENT_SECRET_PEPPER: pepper };
  const id = 'bench-client', secret = randomToken();
  const cleanups = [];
  const cleanup = async () => { while (cleanups.length) await cleanups.pop()().catch(() => {}); };
  const interrupted = () => cleanup().finally(() => process.exit(130));
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  try {
    // The limiter grants every request, through the full lease path.
    const record = clientRecord({ id, secrets: [secret], pepper, scopes: ['read'], defaultScopes: ['read'],
      audience: [AUDIENCE], rate_limit: { per_minute: 1_000_000, burst: 1_000_000 } });
    // As the admin API writes a secret it generated (256 bits): wrong secrets then count per
    // source prefix only, not toward a client-wide guard (docs/limits.md).
    record.secrets[0].generated = true;
    const seed = async (mf) => (await mf.getKVNamespace('CLIENTS', 'edge-token')).put(kvKey(id), JSON.stringify(record));
    const tokenInit = { method: 'POST', body: BODY,
      headers: { ...FORM, Authorization: basicAuth(id, secret), 'CF-Connecting-IP': '10.255.255.254' } };
    const startup = await startupRounds(secrets, seed, tokenInit);

    const mf = new Miniflare(options(secrets, logs));
    cleanups.push(() => mf.dispose());
    await mf.ready;
    const hello = (await mf.unsafeGetDirectURL('hello')).href.replace(/\/$/, '');
    const endpoint = (await mf.unsafeGetDirectURL('edge-token')).href.replace(/\/$/, '');
    const probe = (await mf.unsafeGetDirectURL('js-probe')).href.replace(/\/$/, '');
    await seed(mf);

    // One checked token before the load: the path under test really issues valid tokens.
    const res = await fetch(`${endpoint}${TOKEN_PATH}`, tokenInit);
    const body = await res.json();
    if (res.status !== 200) throw new Error(`the token endpoint answered ${res.status} ${body.error} to the valid client (its log line is below)`);
    const jwks = await (await fetch(`${endpoint}/.well-known/jwks.json`)).json();
    await jose.jwtVerify(body.access_token, jose.createLocalJWKSet(jwks), { issuer: ISSUER, audience: AUDIENCE });

    // The private_key_jwt clients, and one checked token by assertion before the load.
    const keyClients = jwtClients(pepper, AUDIENCE);
    const kv = await mf.getKVNamespace('CLIENTS', 'edge-token');
    for (const c of keyClients) await kv.put(kvKey(c.id), JSON.stringify(c.record));
    const nextAssertion = assertionBody(keyClients, ISSUER);
    const jwtHeaders = { ...FORM, 'CF-Connecting-IP': '10.255.255.253' };
    const jwtRes = await fetch(`${endpoint}${TOKEN_PATH}`, { method: 'POST', body: nextAssertion(), headers: jwtHeaders });
    const jwtBody = await jwtRes.json();
    if (jwtRes.status !== 200) throw new Error(`the token endpoint answered ${jwtRes.status} ${jwtBody.error} to a private_key_jwt client (its log line is below)`);
    await jose.jwtVerify(jwtBody.access_token, jose.createLocalJWKSet(jwks), { issuer: ISSUER, audience: AUDIENCE });

    // The DPoP clients, and one checked DPoP-bound token before the load.
    const proofClients = dpopClients(pepper);
    for (const c of proofClients) await kv.put(kvKey(c.id), JSON.stringify(c.record));
    const nextProof = dpopRequest(proofClients, `${endpoint}${TOKEN_PATH}`);
    const dpopHeaders = { ...FORM, 'CF-Connecting-IP': '10.255.255.252' };
    const dpopInit = nextProof({ method: 'POST', body: BODY, headers: { ...dpopHeaders } });
    const dpopRes = await fetch(`${endpoint}${TOKEN_PATH}`, dpopInit);
    const dpopBody = await dpopRes.json();
    if (dpopRes.status !== 200 || dpopBody.token_type !== 'DPoP') throw new Error(`the token endpoint answered ${dpopRes.status} ${dpopBody.error} to a DPoP request (its log line is below)`);
    const dpopToken = await jose.jwtVerify(dpopBody.access_token, jose.createLocalJWKSet(jwks), { issuer: ISSUER, audience: AUDIENCE });
    if (typeof dpopToken.payload.cnf?.jkt !== 'string') throw new Error('the DPoP-bound token lacks cnf.jkt');

    // The peer, configured alike, with its own key and secret; its token is checked the same way.
    const peerSecret = randomToken();
    const peer = await startPeer({ issuer: 'http://127.0.0.1/peer', audience: AUDIENCE, clientId: id, clientSecret: peerSecret,
      key: generateSigningKey() });
    cleanups.push(peer.stop);
    // It grants only the scope asked for: ask for the one the endpoint grants by default.
    const peerInit = { method: 'POST', body: `${BODY}&scope=read`, headers: { ...FORM, Authorization: basicAuth(id, peerSecret) } };
    const peerRes = await fetch(`${peer.url}/token`, peerInit);
    const peerBody = await peerRes.json();
    if (peerRes.status !== 200) throw new Error(`the peer answered ${peerRes.status} ${peerBody.error}: ${peer.stderr()}`);
    const peerJwks = await (await fetch(`${peer.url}/jwks`)).json();
    const peerToken = await jose.jwtVerify(peerBody.access_token, jose.createLocalJWKSet(peerJwks),
      { issuer: 'http://127.0.0.1/peer', audience: AUDIENCE, typ: 'at+jwt', algorithms: ['EdDSA'] });
    if (peerToken.payload.scope !== 'read') throw new Error('the peer\'s token lacks the scope');

    // Failures: every request from an IPv6 address in a /48 of its own (2a00::/16 holds 2^32 of
    // them), so neither a source block nor a prefix gate (per address, /56, /48) ever trips.
    let ip = 0;
    const hex = (n) => (n & 0xffff).toString(16);
    const nextIp = () => { ip++; return `2a00:${hex(ip >>> 16)}:${hex(ip)}::1`; };
    const failing = (auth) => ({ method: 'POST', path: TOKEN_PATH, body: BODY, headers: FORM,
      setupRequest: (req) => { req.headers['CF-Connecting-IP'] = nextIp(); req.headers.Authorization = auth(); return req; } });
    const wrongSecret = basicAuth(id, randomToken());
    let probeKey = 0;
    const pid = workerdPid();
    const scenarios = [
      { key: 'hello', name: 'hello-world Rust Worker', url: hello, expect: 200, requests: [{ method: 'GET', path: '/' }] },
      { key: 'static', name: 'endpoint static route (GET JWKS)', url: endpoint, expect: 200,
        requests: [{ method: 'GET', path: '/.well-known/jwks.json' }] },
      { key: 'token', name: 'token endpoint, valid client', url: endpoint, expect: 200, requests: [{
        method: 'POST', path: TOKEN_PATH, body: tokenInit.body, headers: tokenInit.headers }] },
      { key: 'jwt', name: 'token endpoint, private_key_jwt (EdDSA, fresh jti)', url: endpoint, expect: 200, requests: [{
        method: 'POST', path: TOKEN_PATH, headers: jwtHeaders, setupRequest: (req) => { req.body = nextAssertion(); return req; } }] },
      { key: 'dpop', name: 'token endpoint, secret + DPoP proof (ES256)', url: endpoint, expect: 200, requests: [{
        method: 'POST', path: TOKEN_PATH, body: BODY, headers: dpopHeaders, setupRequest: nextProof }] },
      { key: 'failures', name: 'failure mix (wrong secret / unknown id)', url: endpoint, expect: 401, requests: [
        failing(() => wrongSecret), failing(() => basicAuth(`unknown-${ip}`, secret))] },
      { key: 'peer', name: 'peer: node-oidc-provider, valid client', server: 'node', url: peer.url, pid: peer.pid, expect: 200,
        requests: [{ method: 'POST', path: '/token', body: peerInit.body, headers: peerInit.headers }] },
      { key: 'js_hello', name: 'diagnostic: JS Worker, hello', url: probe, expect: 200, requests: [{ method: 'GET', path: '/' }] },
      { key: 'js_services', name: 'diagnostic: JS Worker, the failure mix\'s KV and gate calls', url: probe, expect: 401, requests: [{
        method: 'GET', path: '/services', setupRequest: (req) => { req.headers['x-key'] = String(++probeKey); return req; } }] },
    ];
    const results = [];
    const only = opt.only?.split(',');
    for (const s of scenarios) if (!only || only.includes(s.key)) results.push(await scenario(s, pid));
    if (only) return { results, startup, failureAddresses: ip };

    // CPU per request inside workerd, one request at a time, after the load (warm isolates).
    say(`workerd CPU per request: ${CPU_SAMPLES} sequential requests each (hello-world, token)`);
    const cpu = {
      hello: await cpuPerRequest(pid, `${hello}/`, {}, 200, CPU_SAMPLES),
      token: await cpuPerRequest(pid, `${endpoint}${TOKEN_PATH}`, tokenInit, 200, CPU_SAMPLES),
    };
    return { results, cpu, startup, failureAddresses: ip };
  } finally {
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
    await cleanup();
  }
}

function machine() {
  const req = createRequire(import.meta.url);
  const cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  return {
    nproc: availableParallelism(), cpu, node: process.version,
    workerd: execFileSync(join(BIN, 'workerd'), ['--version'], { encoding: 'utf8' }).trim(),
    miniflare: req('miniflare/package.json').version, autocannon: req('autocannon/package.json').version,
    oidc_provider: req('oidc-provider/package.json').version,
  };
}

/** workerd's CPU per request under load in scenario `key`. */
const cpuOf = (out, key) => out.scenarios.find((r) => r.key === key).server_cpu_us_per_req;

function report(out) {
  const pad = (s, n) => String(s).padEnd(n), num = (s, n) => String(s).padStart(n);
  const rows = out.scenarios.map((r) => [r.name, r.rps, r.p50_ms.toFixed(2), r.p99_ms.toFixed(2),
    Object.entries(r.statuses).map(([k, c]) => `${k}:${c}`).join(' '), `${r.server_cpu_us_per_req} ${r.server}`,
    (r.rps * r.server_cpu_us_per_req / 1e6).toFixed(2), r.requests]);
  const head = ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'statuses', 'server CPU µs/req', 'cores', 'requests'];
  const w = [42, 7, 7, 7, 14, 18, 6, 8];
  const line = (cells) => cells.map((c, i) => (i === 0 || i === 4 ? pad(c, w[i]) : num(c, w[i]))).join(' ');
  console.log(`\n${out.date}  ${out.machine.nproc} cores ${out.machine.cpu}, node ${out.machine.node}, ${out.machine.workerd}, oidc-provider ${out.machine.oidc_provider}`);
  console.log(`${out.settings.connections} connections; per scenario ${out.settings.warmup_s} s warm-up (not counted), then ${out.settings.duration_s} s or ${out.settings.max_requests} requests, whichever first\n`);
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  const x = out.ratios;
  console.log('(server CPU: of workerd, or of the peer\'s node process, over the run, per response; cores: that CPU / wall time)');
  console.log(`\nratio token endpoint / hello-world:       ${x.token_to_hello}  (target ≥ 0.5)`);
  console.log(`ratio token endpoint / node-oidc-provider: ${x.token_to_peer}  (target ≥ 2)`);
  console.log(`static route / hello-world: ${x.static_to_hello}; failure mix / hello-world: ${x.failures_to_hello}`);
  console.log(`private_key_jwt / secret (token endpoint): ${x.jwt_to_token}  (an assertion verified and its jti spent in the client's object per request)`);
  console.log(`DPoP / secret (token endpoint): ${x.dpop_to_token}; ${dpopCost(out.scenarios)}`);
  const c = out.cpu_split_us;
  console.log(`workerd CPU per token request under load, split (µs): Rust Worker floor ${c.rust_worker_floor}, router + static document ${c.router_and_static_document},`);
  console.log(`  the token path itself ${c.token_path} (parse, HMAC, lease bookkeeping, Ed25519 signing, JSON, log line; the client record`);
  console.log('  comes from KV once per 10 s per isolate, so KV is not a per-request cost here)');
  console.log(`failure mix: ${cpuOf(out, 'failures')} µs per request, of which the local KV and Rate Limiting services ${c.failure_local_services}`
    + ` (a JS Worker making the same calls, minus JS hello): the Worker's own ${c.failure_mix_without_local_services} µs against a token's ${cpuOf(out, 'token')} µs`);
  const t = out.cpu_per_request;
  console.log(`workerd CPU per request, one at a time (${t.token.samples} each): token p50 ${t.token.p50_us} µs, p99 ${t.token.p99_us} µs;`
    + ` hello-world p50 ${t.hello.p50_us} µs, p99 ${t.hello.p99_us} µs (Free plan budget: 10 000 µs; target p99 < 1 000 µs)`);
  console.log(`  token minus hello-world (the handler's own): p50 ${t.token.p50_us - t.hello.p50_us} µs, p99 ${t.token.p99_us - t.hello.p99_us} µs`);
  const st = out.startup;
  console.log(`startup (the guard and token Workers, median of ${st.rounds}): ${st.startup_ms} ms from workerd's start to the first token (ready ${st.workerd_ready_ms} ms, then the first token request ${st.first_token_ms} ms),`
    + ` ${st.startup_cpu_ms} ms of workerd CPU (${st.first_token_cpu_ms} in the first token);`
    + ` the floor, a workerd with the hello-world Worker alone to its first answer: ${st.hello_startup_ms} ms, ${st.hello_startup_cpu_ms} ms CPU`);
  const sz = (s) => `${s.raw} B raw, ${s.gzip9} B gzip -9`;
  console.log(`wasm build/index_bg.wasm: ${sz(out.wasm.endpoint)} (target ≤ 150 KB gzip); hello-world: ${sz(out.wasm.hello)}`);
  if (out.micro) {
    console.log(`\nnative microbenchmarks (criterion, ${out.micro.seconds} s): µs per operation, median [mean 95 % CI]; target whole pipeline < 40 µs`);
    for (const m of out.micro.results) console.log(`  ${pad(`${m.group}: ${m.name}`, 70)} ${num(m.median_us.toFixed(2), 8)}  [${m.mean_ci95_us.map((v) => v.toFixed(2)).join(' – ')}]`);
  }
  console.log(`\nfailure mix: ${out.failure_addresses} distinct CF-Connecting-IP, each in a /48 of its own: no source block or gate trips (no 429 path)`);
  if (out.builds.endpoint_s !== undefined) console.log(`builds: endpoint ${out.builds.endpoint_s} s, hello-world ${out.builds.hello_s} s`);
  console.log(`whole run: ${out.total_s} s; figures in bench/results/latest.json, chart in bench/results/latest.svg`);
}

const esc = (t) => String(t).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A horizontal bar chart of req/s per scenario, with p50/p99 and the two ratios: plain SVG. */
function chart(out) {
  const rows = out.scenarios, W = 860, left = 300, barW = 420, rowH = 34, top = 64;
  const max = Math.max(...rows.map((r) => r.rps));
  const colour = { hello: '#9aa5b1', static: '#9aa5b1', token: '#f38020', jwt: '#e8590c', dpop: '#d9480f', failures: '#f6b26b', peer: '#5b8def', js_hello: '#c7ced6', js_services: '#c7ced6' };
  const H = top + rows.length * rowH + 70;
  const bars = rows.map((r, i) => {
    const y = top + i * rowH, w = Math.max(1, Math.round(r.rps / max * barW));
    return `<text x="${left - 8}" y="${y + 19}" text-anchor="end">${esc(r.name)}</text>`
      + `<rect x="${left}" y="${y + 5}" width="${w}" height="20" fill="${colour[r.key] ?? '#999'}"/>`
      + `<text x="${left + w + 6}" y="${y + 19}">${r.rps.toLocaleString('en-US')} req/s · p50 ${r.p50_ms.toFixed(2)} / p99 ${r.p99_ms.toFixed(2)} ms</text>`;
  }).join('\n  ');
  const m = out.machine, x = out.ratios;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W + 140}" height="${H}" font-family="sans-serif" font-size="13">
  <rect width="100%" height="100%" fill="#fff"/>
  <text x="10" y="22" font-size="16" font-weight="bold">edge-token: req/s over loopback, ${out.settings.connections} connections, one run</text>
  <text x="10" y="44" fill="#555">${esc(out.date.slice(0, 16).replace('T', ' '))} UTC · ${m.nproc} cores ${esc(m.cpu)} · ${esc(m.workerd)} · node ${esc(m.node)} · oidc-provider ${esc(m.oidc_provider)}</text>
  ${bars}
  <text x="10" y="${H - 36}">token endpoint / hello-world: <tspan font-weight="bold">${x.token_to_hello}</tspan> (target ≥ 0.5) · token endpoint / node-oidc-provider: <tspan font-weight="bold">${x.token_to_peer}</tspan> (target ≥ 2)</text>
  <text x="10" y="${H - 14}" fill="#555">workerd CPU per token, one at a time: p50 ${out.cpu_per_request.token.p50_us} µs, p99 ${out.cpu_per_request.token.p99_us} µs · wasm ${out.wasm.endpoint.raw.toLocaleString('en-US')} B raw, ${out.wasm.endpoint.gzip9.toLocaleString('en-US')} B gzip · first token ${out.startup.startup_ms} ms after workerd's start</text>
</svg>
`;
}

let autocannon, jose, Miniflare; // npm packages, loaded once scripts/setup.sh may have installed them

async function main() {
  const builds = build();
  const micro = opt['no-micro'] ? undefined : microbench();
  ({ default: autocannon } = await import('autocannon'));
  jose = await import('jose');
  ({ Miniflare } = await import('miniflare'));
  const wasm = {
    endpoint: wasmSize(join(ROOT, 'build', 'index_bg.wasm')),
    hello: wasmSize(join(HELLO, 'build', 'index_bg.wasm')),
  };
  const logs = { tail: '' };
  let measured;
  try {
    measured = await measure(logs);
  } catch (e) {
    e.message += `\n--- end of workerd output ---\n${logs.tail}`;
    throw e;
  }
  if (opt.only) return reportOnly(measured);
  const by = Object.fromEntries(measured.results.map((r) => [r.key, r]));
  const ratio = (k, to = 'hello') => +(by[k].rps / by[to].rps).toFixed(3);
  const out = {
    date: new Date().toISOString(),
    machine: machine(),
    settings: { warmup_s: WARMUP, duration_s: DURATION, max_requests: MAX, connections: CONNECTIONS, cpu_samples: CPU_SAMPLES,
      failure_mix: 'half wrong secret for the seeded client, half unknown client ids; one CF-Connecting-IP per request, each in a /48 of its own: source blocking and gates excluded',
      peer: 'node-oidc-provider in one node process: client_credentials, client_secret_basic, EdDSA JWT access tokens (at+jwt), scope=read asked',
      hello_target_dir: relative(ROOT, HELLO_TARGET) || '.' },
    builds, wasm, startup: measured.startup,
    scenarios: measured.results.map(({ workerd_cpu_us_per_req: cpu, ...r }) => ({ ...r, server_cpu_us_per_req: cpu })),
    ratios: { token_to_hello: ratio('token'), token_to_peer: ratio('token', 'peer'), static_to_hello: ratio('static'),
      failures_to_hello: ratio('failures'), jwt_to_token: ratio('jwt', 'token'), dpop_to_token: ratio('dpop', 'token'), targets: { token_to_hello: 0.5, token_to_peer: 2 } },
    // workerd CPU per request under load, split by differences between scenarios (µs).
    cpu_split_us: {
      rust_worker_floor: by.hello.workerd_cpu_us_per_req,
      router_and_static_document: by.static.workerd_cpu_us_per_req - by.hello.workerd_cpu_us_per_req,
      token_path: by.token.workerd_cpu_us_per_req - by.static.workerd_cpu_us_per_req,
      // What the failure mix's local services (KV misses, Rate Limiting calls) cost inside
      // workerd, measured by a JS Worker that makes only those calls, and the failure mix
      // without them: the Worker's own CPU per failure, beside a token's.
      failure_local_services: by.js_services.workerd_cpu_us_per_req - by.js_hello.workerd_cpu_us_per_req,
      failure_mix_without_local_services: by.failures.workerd_cpu_us_per_req
        - (by.js_services.workerd_cpu_us_per_req - by.js_hello.workerd_cpu_us_per_req),
    },
    cpu_per_request: { ...measured.cpu, budget_us: 10_000, target_p99_us: 1_000 },
    micro: micro ?? null,
    failure_addresses: measured.failureAddresses,
    total_s: seconds(STARTED),
  };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'latest.json'), `${JSON.stringify(out, null, 2)}\n`);
  writeFileSync(join(ROOT, 'bench', 'results', 'latest.svg'), chart(out));
  report(out);
  const bad = [...measured.results.filter((r) => r.unexpected > 0),
    ...Object.entries(measured.cpu).filter(([, c]) => c.unexpected > 0).map(([k, c]) => ({ name: `CPU per request (${k})`, unexpected: c.unexpected, statuses: {}, errors: 0, timeouts: 0, expect: 200 }))];
  for (const r of bad) {
    console.error(`\n!!!!!!!! WARNING: ${r.name}: ${r.unexpected} answers were not ${r.expect} (statuses ${JSON.stringify(r.statuses)}, errors ${r.errors}, timeouts ${r.timeouts}); its figures do not measure the intended path !!!!!!!!`);
  }
  if (bad.length) process.exitCode = 1;
}

/** A DPoP-bound token's workerd CPU under load, and what the proof adds to a secret client's token. */
function dpopCost(rows) {
  const cpu = (key) => {
    const r = rows.find((row) => row.key === key);
    return r?.server_cpu_us_per_req ?? r?.workerd_cpu_us_per_req;
  };
  const [dpop, token] = [cpu('dpop'), cpu('token')];
  return `workerd CPU per DPoP-bound token ${dpop} µs, ${dpop - token} µs over a bearer token's (the proof verified, its jti spent in the client's object)`;
}

/** `--only`: the chosen scenarios of one run, side by side; nothing is written. */
function reportOnly(measured) {
  const st = measured.startup;
  console.log(`startup: ${st.startup_ms} ms to the first token (ready ${st.workerd_ready_ms} ms, first token ${st.first_token_ms} ms; ${st.startup_cpu_ms} ms CPU); floor ${st.hello_startup_ms} ms (${st.hello_startup_cpu_ms} ms CPU)`);
  for (const r of measured.results) {
    console.log(`${r.name}: ${r.rps} req/s, p50 ${r.p50_ms.toFixed(2)} ms, p99 ${r.p99_ms.toFixed(2)} ms, `
      + `workerd CPU ${r.workerd_cpu_us_per_req} µs/req, statuses ${JSON.stringify(r.statuses)}, unexpected ${r.unexpected}`);
  }
  const by = Object.fromEntries(measured.results.map((r) => [r.key, r]));
  if (by.jwt && by.token) console.log(`private_key_jwt / secret: ${(by.jwt.rps / by.token.rps).toFixed(3)}`);
  if (by.dpop && by.token) console.log(`DPoP / secret: ${(by.dpop.rps / by.token.rps).toFixed(3)}; ${dpopCost(measured.results)}`);
  if (measured.results.some((r) => r.unexpected > 0)) process.exitCode = 1;
}

main().catch((e) => {
  console.error(`bench: ${e.stack ?? e}`);
  process.exitCode = 1;
});
