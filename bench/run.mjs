#!/usr/bin/env node
// `npm run bench`: builds the token endpoint (scripts/build.sh) and a hello-world Rust Worker
// (bench/hello), runs both under one workerd (Miniflare) with direct sockets on 127.0.0.1, and
// loads each scenario with autocannon, back to back with the same settings: warm-up (not
// counted), then a measured run bounded by time AND request count. Prints a table and writes
// bench/results/latest.json. Speeds are reported, never asserted; only the answers' statuses are
// checked (exit 1 on a wrong status). No secret or token is ever printed. See bench/README.md.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { ROOT, clientRecord, generateSigningKey, kvKey, randomToken, signingKeysJson } from '../scripts/devstate.mjs';

const { values: opt } = parseArgs({
  options: {
    warmup: { type: 'string', default: '10' }, // seconds per scenario, not counted
    duration: { type: 'string', default: '15' }, // seconds per measured run, at most
    max: { type: 'string', default: '400000' }, // requests per run, at most
    connections: { type: 'string', default: '10' },
    'no-build': { type: 'boolean', default: false }, // reuse build/ and bench/hello/build/
  },
});
const WARMUP = +opt.warmup, DURATION = +opt.duration, MAX = +opt.max, CONNECTIONS = +opt.connections;
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

// --- the Workers ----------------------------------------------------------------------------

const worker = (name, dir, extra = {}) => ({
  name,
  modules: true,
  scriptPath: join(dir, 'index.js'),
  modulesRules: [{ type: 'ESModule', include: ['**/*.js'] }, { type: 'CompiledWasm', include: ['**/*.wasm'] }],
  compatibilityDate: '2026-04-01',
  // The default entry goes through a proxy that caps near 800 req/s: load the Worker directly.
  unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
  ...extra,
});

const JS_PROBE = `export default { async fetch(req, env) {
  if (new URL(req.url).pathname !== '/kv') return new Response('hello');
  const record = await env.CLIENTS.get('${kvKey('bench-client')}');
  return new Response(record === null ? 'missing' : 'found', { status: record === null ? 500 : 200 });
} };`;

function options(secrets, logs) {
  return {
    workers: [
      worker('hello', join(HELLO, 'build')),
      // Diagnostics, not the product: a JavaScript Worker that answers at once (the runtime's
      // floor) or after one read of the seeded client record from the same local KV namespace.
      { name: 'js-probe', modules: true, script: JS_PROBE, compatibilityDate: '2026-04-01',
        kvNamespaces: ['CLIENTS'], unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }] },
      worker('edge-token', join(ROOT, 'build'), {
        kvNamespaces: ['CLIENTS'],
        durableObjects: {
          CLIENT_GUARD: { className: 'ClientGuard', useSQLite: true },
          SOURCE_GUARD: { className: 'SourceGuard', useSQLite: true },
        },
        bindings: { ISSUER: 'https://issuer.bench.test', TOKEN_PATH, ...secrets },
      }),
    ],
    // One JSON log line per request: keep only the tail, for a failure report.
    handleRuntimeStdio: (...streams) => {
      for (const s of streams) s.on('data', (chunk) => { logs.tail = (logs.tail + chunk).slice(-4000); });
    },
  };
}

// workerd's CPU time (all its threads), from /proc: the work per request on the server side.
function workerdPid() {
  const kids = readdirSync('/proc/self/task').flatMap((t) =>
    readFileSync(`/proc/self/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
  return kids.find((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'workerd');
}
const CLK_TCK = +execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
const cpuMs = (pid) => {
  if (!pid) return NaN;
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((+f[11]) + (+f[12])) * 1000 / CLK_TCK; // utime + stime
};

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
  const warm = await load(s.url, s.requests, WARMUP, MAX, pid);
  const r = await load(s.url, s.requests, DURATION, MAX, pid);
  const wrong = (x) => x.errors + x.timeouts + Object.entries(x.statuses).reduce((a, [k, c]) => a + (+k === s.expect ? 0 : c), 0);
  return { key: s.key, name: s.name, expect: s.expect, ...r, warmup: { requests: warm.requests, statuses: warm.statuses },
    unexpected: wrong(r) + wrong(warm) };
}

// --- main -------------------------------------------------------------------------------

const basicAuth = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };
const BODY = 'grant_type=client_credentials';

async function measure(logs) {
  const pepper = randomToken(), key = generateSigningKey();
  const secrets = { SIGNING_KEYS: signingKeysJson([key]), CLIENT_SECRET_PEPPER: pepper };
  const mf = new Miniflare(options(secrets, logs));
  const dispose = () => mf.dispose().finally(() => process.exit(130));
  process.once('SIGINT', dispose).once('SIGTERM', dispose);
  try {
    await mf.ready;
    const hello = (await mf.unsafeGetDirectURL('hello')).href.replace(/\/$/, '');
    const endpoint = (await mf.unsafeGetDirectURL('edge-token')).href.replace(/\/$/, '');
    const probe = (await mf.unsafeGetDirectURL('js-probe')).href.replace(/\/$/, '');
    // The limiter grants every request, through the full lease path.
    const id = 'bench-client', secret = randomToken();
    const record = clientRecord({ id, secrets: [secret], pepper, scopes: ['read'], defaultScopes: ['read'],
      rate_limit: { per_minute: 1_000_000, burst: 1_000_000 } });
    await (await mf.getKVNamespace('CLIENTS', 'edge-token')).put(kvKey(id), JSON.stringify(record));

    // One checked token before the load: the path under test really issues valid tokens.
    const res = await fetch(`${endpoint}${TOKEN_PATH}`, { method: 'POST', body: BODY,
      headers: { ...FORM, Authorization: basicAuth(id, secret), 'CF-Connecting-IP': '10.255.255.254' } });
    const body = await res.json();
    if (res.status !== 200) throw new Error(`the token endpoint answered ${res.status} ${body.error} to the valid client (its log line is below)`);
    const jwks = await (await fetch(`${endpoint}/.well-known/jwks.json`)).json();
    await jose.jwtVerify(body.access_token, jose.createLocalJWKSet(jwks), { issuer: 'https://issuer.bench.test' });

    // Failures: every request from its own 10.x address, so the source block never trips.
    let ip = 0;
    const nextIp = () => { ip++; return `10.${(ip >> 16) & 255}.${(ip >> 8) & 255}.${ip & 255}`; };
    const failing = (auth) => ({ method: 'POST', path: TOKEN_PATH, body: BODY, headers: FORM,
      setupRequest: (req) => { req.headers['CF-Connecting-IP'] = nextIp(); req.headers.Authorization = auth(); return req; } });
    const wrongSecret = basicAuth(id, randomToken());
    const pid = workerdPid();
    const scenarios = [
      { key: 'hello', name: 'hello-world Rust Worker', url: hello, expect: 200, requests: [{ method: 'GET', path: '/' }] },
      { key: 'static', name: 'endpoint static route (GET JWKS)', url: endpoint, expect: 200,
        requests: [{ method: 'GET', path: '/.well-known/jwks.json' }] },
      { key: 'token', name: 'token endpoint, valid client', url: endpoint, expect: 200, requests: [{
        method: 'POST', path: TOKEN_PATH, body: BODY,
        headers: { ...FORM, Authorization: basicAuth(id, secret), 'CF-Connecting-IP': '10.255.255.254' } }] },
      { key: 'failures', name: 'failure mix (wrong secret / unknown id)', url: endpoint, expect: 401, requests: [
        failing(() => wrongSecret), failing(() => basicAuth(`unknown-${ip}`, secret))] },
      { key: 'js_hello', name: 'diagnostic: JS Worker, hello', url: probe, expect: 200, requests: [{ method: 'GET', path: '/' }] },
      { key: 'js_kv', name: 'diagnostic: JS Worker, one KV get', url: probe, expect: 200, requests: [{ method: 'GET', path: '/kv' }] },
    ];
    const results = [];
    for (const s of scenarios) results.push(await scenario(s, pid));
    return { results, failureAddresses: ip };
  } finally {
    process.off('SIGINT', dispose).off('SIGTERM', dispose);
    await mf.dispose();
  }
}

function machine() {
  const req = createRequire(import.meta.url);
  const cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  return {
    nproc: availableParallelism(), cpu, node: process.version,
    workerd: execFileSync(join(BIN, 'workerd'), ['--version'], { encoding: 'utf8' }).trim(),
    miniflare: req('miniflare/package.json').version, autocannon: req('autocannon/package.json').version,
  };
}

function report(out) {
  const pad = (s, n) => String(s).padEnd(n), num = (s, n) => String(s).padStart(n);
  const rows = out.scenarios.map((r) => [r.name, r.rps, r.p50_ms.toFixed(2), r.p99_ms.toFixed(2), r.non2xx,
    Object.entries(r.statuses).map(([k, c]) => `${k}:${c}`).join(' '), r.workerd_cpu_us_per_req,
    (r.rps * r.workerd_cpu_us_per_req / 1e6).toFixed(2), r.requests]);
  const head = ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'statuses', 'workerd CPU µs/req', 'cores', 'requests'];
  const w = [42, 7, 7, 7, 8, 14, 18, 6, 8];
  const line = (cells) => cells.map((c, i) => (i === 0 || i === 5 ? pad(c, w[i]) : num(c, w[i]))).join(' ');
  console.log(`\n${out.date}  ${out.machine.nproc} cores ${out.machine.cpu}, node ${out.machine.node}, ${out.machine.workerd}`);
  console.log(`${out.settings.connections} connections; per scenario ${out.settings.warmup_s} s warm-up (not counted), then ${out.settings.duration_s} s or ${out.settings.max_requests} requests, whichever first\n`);
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  const x = out.ratios;
  console.log('(cores: workerd CPU time / wall time; near 1.00, workerd kept one core busy and was the bottleneck)');
  console.log(`\nratio token endpoint / hello-world: ${x.token_to_hello} (issue target ≥ 0.5)`);
  console.log(`ratio static route / hello-world: ${x.static_to_hello}; failure mix / hello-world: ${x.failures_to_hello}`);
  const c = out.cpu_split_us;
  console.log(`local KV ceiling: token endpoint / JS Worker doing one KV get: ${x.token_to_js_kv}`);
  console.log(`workerd CPU per token request, split (µs): Rust Worker floor ${c.rust_worker_floor}, router + static document ${c.router_and_static_document},`);
  console.log(`  one local KV get (Miniflare's KV simulator) ${c.local_kv_get}, the rest (parse, HMAC, lease bookkeeping, Ed25519 signing, log line) ${c.rest_of_token_path}`);
  console.log(`failure mix: ${out.failure_addresses} distinct CF-Connecting-IP (10.x), one per request, so the`);
  console.log('  source-address block never trips: the throttling (429) path is excluded; the failures are still reported to the guard objects');
  const sz = (s) => `${s.raw} B raw, ${s.gzip9} B gzip -9`;
  if (out.wasm.endpoint) console.log(`wasm build/index_bg.wasm: ${sz(out.wasm.endpoint)}; hello-world: ${sz(out.wasm.hello)}`);
  if (out.builds.endpoint_s !== undefined) console.log(`builds: endpoint ${out.builds.endpoint_s} s, hello-world ${out.builds.hello_s} s`);
  console.log(`whole run: ${out.total_s} s; figures in bench/results/latest.json`);
}

let autocannon, jose, Miniflare; // npm packages, loaded once scripts/setup.sh may have installed them

async function main() {
  const builds = build();
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
  const by = Object.fromEntries(measured.results.map((r) => [r.key, r]));
  const ratio = (k) => +(by[k].rps / by.hello.rps).toFixed(3);
  const out = {
    date: new Date().toISOString(),
    machine: machine(),
    settings: { warmup_s: WARMUP, duration_s: DURATION, max_requests: MAX, connections: CONNECTIONS,
      failure_mix: 'half wrong secret for the seeded client, half unknown client ids; one CF-Connecting-IP per request (10.x): source blocking excluded',
      hello_target_dir: relative(ROOT, HELLO_TARGET) || '.' },
    builds, wasm,
    scenarios: measured.results,
    ratios: { token_to_hello: ratio('token'), static_to_hello: ratio('static'), failures_to_hello: ratio('failures'), target: 0.5,
      token_to_js_kv: +(by.token.rps / by.js_kv.rps).toFixed(3) },
    // workerd CPU per request, split by differences between scenarios (µs).
    cpu_split_us: {
      rust_worker_floor: by.hello.workerd_cpu_us_per_req,
      router_and_static_document: by.static.workerd_cpu_us_per_req - by.hello.workerd_cpu_us_per_req,
      local_kv_get: by.js_kv.workerd_cpu_us_per_req - by.js_hello.workerd_cpu_us_per_req,
      rest_of_token_path: by.token.workerd_cpu_us_per_req - by.static.workerd_cpu_us_per_req
        - (by.js_kv.workerd_cpu_us_per_req - by.js_hello.workerd_cpu_us_per_req),
    },
    failure_addresses: measured.failureAddresses,
    total_s: seconds(STARTED),
  };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'latest.json'), `${JSON.stringify(out, null, 2)}\n`);
  report(out);
  const bad = measured.results.filter((r) => r.unexpected > 0);
  for (const r of bad) {
    console.error(`\n!!!!!!!! WARNING: ${r.name}: ${r.unexpected} answers were not ${r.expect} (statuses ${JSON.stringify(r.statuses)}, errors ${r.errors}, timeouts ${r.timeouts}); its figures do not measure the intended path !!!!!!!!`);
  }
  if (bad.length) process.exitCode = 1;
}

main().catch((e) => {
  console.error(`bench: ${e.stack ?? e}`);
  process.exitCode = 1;
});
