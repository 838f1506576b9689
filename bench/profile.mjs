#!/usr/bin/env node
// `npm run bench:profile`: where workerd spends its CPU on the token path, beside the
// hello-world Rust Worker. Runs both Workers (build/ and bench/hello/build/, as `npm run bench`
// leaves them) in one workerd (Miniflare, direct sockets on 127.0.0.1), loads each with
// autocannon (warm-up, then a run bounded in time and count) while `perf record` samples
// workerd (cpu-clock, all threads), and sums the samples by part of workerd. Every part is
// given in µs per request (its share of the samples × workerd's CPU per request over the run).
// workerd is started through bench/workerd-v8.sh, which gives V8 `--perf-basic-prof`: V8 then
// names its JIT code for perf (JS functions, wasm functions and their tier), and the JIT part is
// split by kind, with the top wasm and JS functions. `--names` runs a copy of the build whose
// wasm keeps its function names (bench/README.md, "Profile"). Prints the tables and writes
// bench/results/profile.json. Needs `perf` (Debian: linux-perf) and perf_event_paranoid ≤ 2.
// Speeds are reported, never asserted. No secret, token or Authorization header is printed.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Miniflare } from 'miniflare';
import workerdPackage from 'workerd';
import { ROOT, generateSigningKey, kvKey, randomToken, signingKeysJson } from '../scripts/devstate.mjs';
import { tokenLoad } from './scenarios.mjs';
import { GUARD_OBJECTS, worker, workerdPid } from './workerd.mjs';

const { values: opt } = parseArgs({
  options: {
    warmup: { type: 'string', default: '5' }, // seconds per scenario, not recorded
    duration: { type: 'string', default: '10' }, // seconds recorded per scenario, at most
    max: { type: 'string', default: '200000' }, // requests per run, at most
    connections: { type: 'string', default: '10' },
    frequency: { type: 'string', default: '4999' }, // samples per second per thread
    // Another build of the endpoint (a directory like build/), for experiments in a throwaway
    // copy of the crate: e.g. one step done twice, to measure its cost inside workerd.
    build: { type: 'string', default: 'build' },
    // Profile a copy of the build whose wasm keeps its name section (made once per build).
    names: { type: 'boolean', default: false },
    // The token requests: `token` (client_secret_basic) or `jwt` (private_key_jwt, fresh assertions).
    scenario: { type: 'string', default: 'token' },
    // The private_key_jwt pool's size (each client takes at most ~50 tokens a second).
    'jwt-clients': { type: 'string', default: '128' },
    // More V8 flags for workerd, for experiments: e.g. '--no-liftoff' (every wasm function
    // compiled by TurboFan up front), to see what the hot path costs once fully tiered up.
    'v8-flags': { type: 'string', default: '' },
  },
});
const say = (s) => process.stderr.write(`profile: ${s}\n`);
const TARGET = process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
const WORK = join(TARGET, 'bench-profile');
const TOKEN_PATH = '/oauth2/token';
const ISSUER = 'https://issuer.bench.test';
if (!['token', 'jwt'].includes(opt.scenario)) throw new Error(`--scenario ${opt.scenario}: token or jwt`);
const CLK_TCK = +execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
const cpuMs = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((+f[11]) + (+f[12])) * 1000 / CLK_TCK;
};

/** Which part of workerd a sample is in, from perf's shared object and symbol. */
function part(dso, sym) {
  if (isJit(dso)) return 'JIT code: JS and wasm (the Worker, wasm-bindgen glue, shim)';
  if (dso === '[kernel.kallsyms]' || dso === '[vdso]') return 'kernel: syscalls, loopback TCP, scheduling';
  if (/^lib(c|m|pthread)[.-]/.test(dso) || dso.startsWith('ld-linux')) return 'libc: malloc, memcpy, ...';
  if (/sqlite3/i.test(sym)) return 'SQLite (Durable Object storage, local KV)';
  if (/v8::internal::(Heap|Scavenge|MarkCompact|Minor|Major|Sweeper|Concurrent(Marking|Marker)|GC|Marking|Evacuat|Mark(er|ing)|IncrementalMarking|MemoryAllocator|Page)/.test(sym)) return 'V8 garbage collection';
  if (/^(Builtins_|v8::|cppgc::)/.test(sym)) return 'V8 runtime and builtins (JS<->wasm calls, API callbacks, compilation)';
  if (/^(kj::|capnp::)/.test(sym)) return 'KJ / Cap\'n Proto: event loop, HTTP, RPC between Workers';
  if (/^workerd::/.test(sym)) return 'workerd APIs (Request, Headers, console, crypto, KV, DO stubs)';
  if (/(bssl|BORINGSSL|EVP_|SHA\d|CRYPTO_|RAND_)/.test(sym)) return 'BoringSSL (crypto.getRandomValues, ...)';
  return 'workerd: other native code';
}

/** perf report, flat (self) samples by shared object and symbol. */
function perfReport(file) {
  const text = execFileSync('perf', ['report', '-i', file, '--stdio', '--no-children', '--sort', 'dso,sym',
    '--percent-limit', '0', '-g', 'none', '--field-separator', '\t'], { encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  const rows = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.trim()) continue;
    const [pct, dso, sym] = line.split('\t');
    const share = parseFloat(pct) / 100;
    if (!(share > 0)) continue;
    rows.push({ dso: dso.trim(), sym: sym.trim().replace(/^\[[.k]\]\s*/, ''), share });
  }
  return rows;
}

/**
 * What a JIT sample is, from the name V8 gave its code in /tmp/perf-<pid>.map: a wasm function
 * (`JS:<name>-<index>-turbofan|liftoff`), a JS<->wasm wrapper, a JS function (`JS:<tier mark><name>
 * <file>:<line>:<col>`) or code without a name.
 */
function jitCode(sym) {
  const wasm = /^JS:(.*)-(\d+)-(turbofan|liftoff)$/.exec(sym);
  if (wasm) {
    const name = wasm[1].replace(/::h[0-9a-f]{16}\b/g, '').replace(/\[[0-9a-f]{16}\]/g, '');
    return { kind: wasm[3] === 'turbofan' ? 'wasm, optimised (TurboFan)' : 'wasm, baseline (Liftoff)', name, tier: wasm[3] };
  }
  if (/wasm-to-js|js-to-wasm/.test(sym)) return { kind: 'JS<->wasm wrappers', name: sym.replace(/^(JS|Stub):/, '') };
  if (sym.startsWith('JS:')) return { kind: 'JS (wasm-bindgen glue, shim, Miniflare)', name: sym.slice(3).replace(/^[*+~^']+/, '') };
  return { kind: 'JIT code without a name', name: sym };
}
const isJit = (dso) => dso.startsWith('[JIT]') || dso === '[unknown]' || dso.startsWith('perf-');

/** A run's JIT samples by kind and by function, in µs per request; wasm functions with their tiers. */
function jitOf(run) {
  const kinds = {}, fns = new Map();
  let frameSetup = 0;
  for (const s of run.samples) {
    const us = s.share * run.workerd_cpu_us_per_req;
    if (s.sym === 'Builtins_WasmLiftoffFrameSetup') frameSetup += us;
    if (!isJit(s.dso)) continue;
    const c = jitCode(s.sym), wasm = Boolean(c.tier), key = `${wasm ? 'wasm' : c.kind}\t${c.name}`;
    kinds[c.kind] = (kinds[c.kind] ?? 0) + us;
    const f = fns.get(key) ?? { wasm, kind: c.kind, name: c.name, us: 0, liftoff_us: 0 };
    f.us += us;
    if (c.tier === 'liftoff') f.liftoff_us += us;
    fns.set(key, f);
  }
  const round = (f) => ({ name: f.name, us_per_req: +f.us.toFixed(1), ...(f.wasm ? { liftoff_us: +f.liftoff_us.toFixed(1) } : {}) });
  const sorted = [...fns.values()].sort((a, b) => b.us - a.us);
  return {
    kinds, frame_setup_us: +frameSetup.toFixed(1),
    liftoff_functions: sorted.filter((f) => f.liftoff_us > 0).length,
    top_wasm: sorted.filter((f) => f.wasm).slice(0, 30).map(round),
    top_js: sorted.filter((f) => !f.wasm && f.kind.startsWith('JS (')).slice(0, 12).map(round),
  };
}

/** Prints the JIT summary of both runs: kinds side by side, then the token path's functions. */
function printJit(hello, token) {
  const w = 44, col = (x) => String(+x.toFixed(1)).padStart(9);
  console.log(`\n${'JIT code by kind (V8 perf map)'.padEnd(w)} ${'hello µs'.padStart(9)} ${'token µs'.padStart(9)} ${'extra µs'.padStart(9)}`);
  for (const k of Object.keys(token.kinds).sort((a, b) => token.kinds[b] - token.kinds[a])) {
    console.log(`${k.padEnd(w)} ${col(hello.kinds[k] ?? 0)} ${col(token.kinds[k])} ${col(token.kinds[k] - (hello.kinds[k] ?? 0))}`);
  }
  console.log(`${'Builtins_WasmLiftoffFrameSetup (V8 builtin)'.padEnd(w)} ${col(hello.frame_setup_us)} ${col(token.frame_setup_us)} ${col(token.frame_setup_us - hello.frame_setup_us)}`);
  console.log(`\ntop wasm functions on the token path (µs per request; in Liftoff: µs of it still run by the baseline tier; ${token.liftoff_functions} functions had Liftoff samples):`);
  for (const f of token.top_wasm) console.log(`  ${String(f.us_per_req).padStart(6)}  ${(f.liftoff_us ? `Liftoff ${f.liftoff_us}` : '').padEnd(12)} ${f.name.slice(0, 110)}`);
  console.log('\ntop JS functions on the token path (µs per request):');
  for (const f of token.top_js) console.log(`  ${String(f.us_per_req).padStart(6)}  ${f.name.slice(0, 110)}`);
}

/** The sections of a wasm module other than custom ones (names, producers), hashed. */
function codeHash(file) {
  const buf = readFileSync(file), hash = createHash('sha256');
  let at = 8;
  while (at < buf.length) {
    const id = buf[at++];
    let size = 0, shift = 0, byte;
    do { byte = buf[at++]; size |= (byte & 0x7f) << shift; shift += 7; } while (byte & 0x80);
    if (id !== 0) hash.update(Buffer.from([id])).update(buf.subarray(at, at + size));
    at += size;
  }
  return hash.digest('hex');
}

/**
 * A copy of the token Worker's build `dir` whose wasm keeps the function names: the crate's last
 * wasm artifact through wasm-bindgen (with the flags worker-build adds) and `wasm-opt -O -g`
 * (scripts/build.sh's `-O --strip-debug`, but keeping the name section). Its code is checked to be
 * byte for byte the build's, so the profile measures the shipped code; made once per build.
 */
function namedBuild(dir) {
  const target = dir === resolve(ROOT, 'build') ? TARGET : resolve(dir, '..', 'target');
  const artifact = join(target, 'wasm32-unknown-unknown', 'release', 'edge_token.wasm');
  const want = codeHash(join(dir, 'index_bg.wasm'));
  const out = join(WORK, 'named');
  if (existsSync(join(out, 'index_bg.wasm')) && codeHash(join(out, 'index_bg.wasm')) === want) return out;
  if (!existsSync(artifact)) throw new Error(`${artifact} is missing: build the token Worker (scripts/build.sh)`);
  say(`--names: a copy of ${dir} with the wasm's names (wasm-bindgen, wasm-opt -O -g: about a minute)`);
  rmSync(out, { recursive: true, force: true });
  cpSync(dir, out, { recursive: true, filter: (f) => !/\/(admin|guard|dry-run)$/.test(f) });
  const bindgen = join(process.env.CARGO_HOME ?? join(process.env.HOME, '.cargo'), 'bin', 'wasm-bindgen');
  const tmp = join(WORK, 'named-bindgen');
  rmSync(tmp, { recursive: true, force: true });
  execFileSync(bindgen, [artifact, '--out-dir', tmp, '--no-typescript', '--target', 'module', '--out-name', 'index',
    '--experimental-reset-state-function', '--force-enable-abort-handler'], { stdio: 'inherit' });
  const features = ['mutable-globals', 'sign-ext', 'nontrapping-float-to-int', 'bulk-memory', 'multivalue',
    'reference-types', 'exception-handling'].map((f) => `--enable-${f}`);
  execFileSync(join(ROOT, 'node_modules', '.bin', 'wasm-opt'), [join(tmp, 'index_bg.wasm'), '-O', '-g', ...features,
    '-o', join(out, 'index_bg.wasm')], { stdio: 'inherit' });
  rmSync(tmp, { recursive: true, force: true });
  if (codeHash(join(out, 'index_bg.wasm')) !== want) {
    rmSync(out, { recursive: true, force: true });
    throw new Error(`${artifact} is not the wasm of ${dir} (after npm test it is the admin Worker's): build the token Worker again (rm ${join(dir, '.built')}; scripts/build.sh) and retry`);
  }
  return out;
}

const load = (url, requests, secs) => new Promise((resolve, reject) => {
  const inst = autocannon({ url, connections: +opt.connections, amount: +opt.max, requests, timeout: 10 },
    (err, r) => { clearTimeout(timer); clearTimeout(watchdog); err ? reject(err) : resolve(r); });
  const timer = setTimeout(() => inst.stop(), secs * 1000);
  const watchdog = setTimeout(() => { inst.stop(); reject(new Error('the load did not end')); }, (secs + 30) * 1000);
});

/** Records workerd (its own pid) for the length of one bounded load. */
async function record(name, pid, url, requests, expect) {
  say(`${name}: warm-up ${opt.warmup} s, then ${opt.duration} s recorded`);
  await load(url, requests, +opt.warmup);
  const file = join(WORK, `${name}.perf.data`);
  const perf = spawn('perf', ['record', '-q', '-e', 'cpu-clock', '-F', opt.frequency, '-p', String(pid), '-o', file,
    '--', 'sleep', String(+opt.duration + 1)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let perfErr = '';
  perf.stderr.on('data', (d) => { perfErr += d; });
  const perfDone = new Promise((resolve) => perf.once('exit', resolve));
  await new Promise((resolve) => setTimeout(resolve, 300)); // perf attaches
  const cpu0 = cpuMs(pid);
  const r = await load(url, requests, +opt.duration);
  const cpu = (cpuMs(pid) - cpu0) * 1000 / r.requests.total;
  const code = await perfDone;
  if (code !== 0 || !existsSync(file)) throw new Error(`perf record failed (${code}): ${perfErr.slice(-2000)}`);
  const wrong = r.errors + r.timeouts + Object.entries(r.statusCodeStats).reduce((a, [k, v]) => a + (+k === expect ? 0 : v.count), 0);
  return { requests: r.requests.total, rps: Math.round(r.requests.total / r.duration), workerd_cpu_us_per_req: Math.round(cpu),
    wrong_answers: wrong, samples: perfReport(file) };
}

/** Seeds the scenario's clients (bench/scenarios.mjs) into `kv`; gives its load. */
async function seedScenario(kv, pepper) {
  const load = tokenLoad(opt.scenario, pepper, { issuer: ISSUER, audience: 'https://api.example.com', path: TOKEN_PATH, jwtClients: +opt['jwt-clients'] });
  for (const c of load.clients) await kv.put(kvKey(c.id), JSON.stringify(c.record));
  return load;
}

async function main() {
  const BUILD = resolve(ROOT, opt.build);
  const GUARD_BUILD = existsSync(join(BUILD, 'guard', 'index_bg.wasm')) ? join(BUILD, 'guard') : join(ROOT, 'build', 'guard');
  for (const dir of [BUILD, GUARD_BUILD, join(ROOT, 'bench', 'hello', 'build')]) {
    if (!existsSync(join(dir, 'index_bg.wasm'))) throw new Error(`${dir} is missing: run \`npm run bench\` (it builds both) first`);
  }
  mkdirSync(WORK, { recursive: true });
  const TOKEN_BUILD = opt.names ? namedBuild(BUILD) : BUILD;
  // V8 writes /tmp/perf-<pid>.map (its JIT code's names: JS functions, wasm functions and their
  // tier) when given --perf-basic-prof; Miniflare passes no V8 flags, so workerd is started
  // through bench/workerd-v8.sh, which adds them to the config (bench/v8-flags.mjs).
  Object.assign(process.env, { MINIFLARE_WORKERD_PATH: join(ROOT, 'bench', 'workerd-v8.sh'), WORKERD_BIN: workerdPackage.default,
    WORKERD_V8_FLAGS: `--perf-basic-prof --interpreted-frames-native-stack --no-logfile-per-isolate --logfile=/dev/null ${opt['v8-flags']}` });
  const pepper = randomToken();
  const mf = new Miniflare({
    workers: [
      worker('hello', join(ROOT, 'bench', 'hello', 'build')),
      // The guard objects in a Worker of their own, as deployed (wrangler.guard.toml): the
      // build's own guard/ when it has one, else the checkout's build/guard/.
      worker('edge-token-guard', GUARD_BUILD, { durableObjects: GUARD_OBJECTS, unsafeDirectSockets: [] }),
      worker('edge-token', TOKEN_BUILD, {
        kvNamespaces: ['CLIENTS'],
        durableObjects: Object.fromEntries(Object.entries(GUARD_OBJECTS).map(([name, o]) => [name, { ...o, scriptName: 'edge-token-guard' }])),
        bindings: { ISSUER, TENANTS: { default: { token_paths: [TOKEN_PATH] } }, SIGNING_KEYS: signingKeysJson([generateSigningKey()]), CLIENT_SECRET_PEPPER: pepper },
      }),
    ],
    // The log lines go to workerd's stdout as in `npm run bench`: read and dropped.
    handleRuntimeStdio: (...streams) => { for (const s of streams) s.resume(); },
  });
  const stop = () => mf.dispose().finally(() => process.exit(130));
  process.once('SIGINT', stop).once('SIGTERM', stop);
  let pid;
  try {
    await mf.ready;
    const hello = (await mf.unsafeGetDirectURL('hello')).href.replace(/\/$/, '');
    const endpoint = (await mf.unsafeGetDirectURL('edge-token')).href.replace(/\/$/, '');
    const token = await seedScenario(await mf.getKVNamespace('CLIENTS', 'edge-token'), pepper);
    const first = await fetch(`${endpoint}${TOKEN_PATH}`, token.once());
    if (first.status !== 200) throw new Error(`the endpoint answered ${first.status} to a valid ${opt.scenario} request`);
    pid = workerdPid();
    const runs = {
      hello: await record('hello', pid, hello, [{ method: 'GET', path: '/' }], 200),
      token: await record('token', pid, endpoint, [token.request], 200),
    };

    // By part, in µs per request.
    const byPart = (run) => run.samples.reduce((m, s) => {
      const p = part(s.dso, s.sym);
      m[p] = (m[p] ?? 0) + s.share * run.workerd_cpu_us_per_req;
      return m;
    }, {});
    const parts = { hello: byPart(runs.hello), token: byPart(runs.token) };
    const names = [...new Set([...Object.keys(parts.token), ...Object.keys(parts.hello)])]
      .sort((a, b) => (parts.token[b] ?? 0) - (parts.token[a] ?? 0));
    const table = names.map((name) => ({ part: name, hello_us: +(parts.hello[name] ?? 0).toFixed(1),
      token_us: +(parts.token[name] ?? 0).toFixed(1), extra_us: +((parts.token[name] ?? 0) - (parts.hello[name] ?? 0)).toFixed(1) }));
    const top = (run) => run.samples.slice().sort((a, b) => b.share - a.share).slice(0, 25)
      .map((s) => ({ dso: s.dso, sym: s.sym, us_per_req: +(s.share * run.workerd_cpu_us_per_req).toFixed(1) }));
    const out = { date: new Date().toISOString(), build: opt.build, settings: { scenario: opt.scenario, names: opt.names, v8_flags: opt['v8-flags'], warmup_s: +opt.warmup, duration_s: +opt.duration, connections: +opt.connections, frequency: +opt.frequency },
      hello: { rps: runs.hello.rps, workerd_cpu_us_per_req: runs.hello.workerd_cpu_us_per_req, requests: runs.hello.requests },
      token: { rps: runs.token.rps, workerd_cpu_us_per_req: runs.token.workerd_cpu_us_per_req, requests: runs.token.requests },
      parts: table, top_token: top(runs.token), top_hello: top(runs.hello), jit: { hello: jitOf(runs.hello), token: jitOf(runs.token) } };
    const file = opt.build === 'build' && opt.scenario === 'token' && !opt['v8-flags'] ? join(ROOT, 'bench', 'results', 'profile.json')
      : join(WORK, `experiment-${opt.scenario}.json`);
    writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);

    console.log(`\nworkerd CPU per request: hello-world ${out.hello.workerd_cpu_us_per_req} µs (${out.hello.rps} req/s), token ${out.token.workerd_cpu_us_per_req} µs (${out.token.rps} req/s)\n`);
    console.log(`${'part of workerd (perf, cpu-clock)'.padEnd(72)} ${'hello µs'.padStart(9)} ${'token µs'.padStart(9)} ${'extra µs'.padStart(9)}`);
    for (const r of table) console.log(`${r.part.padEnd(72)} ${String(r.hello_us).padStart(9)} ${String(r.token_us).padStart(9)} ${String(r.extra_us).padStart(9)}`);
    console.log('\ntop symbols on the token path (µs per request):');
    for (const s of out.top_token) console.log(`  ${String(s.us_per_req).padStart(6)}  ${s.dso.slice(0, 18).padEnd(18)} ${s.sym.slice(0, 100)}`);
    printJit(out.jit.hello, out.jit.token);
    if (!opt.names) console.log('\n(wasm functions are named only with --names: a build that keeps its name section)');
    console.log(`\nin ${file}; perf data in ${WORK}`);
    const wrong = runs.hello.wrong_answers + runs.token.wrong_answers;
    if (wrong) {
      console.error(`\n!!!!!!!! WARNING: ${wrong} answers were not 200; the profile does not show the intended path !!!!!!!!`);
      process.exitCode = 1;
    }
  } finally {
    process.off('SIGINT', stop).off('SIGTERM', stop);
    await mf.dispose();
    if (pid) rmSync(`/tmp/perf-${pid}.map`, { force: true }); // V8's, read by perf report above
  }
}

main().catch((e) => {
  console.error(`profile: ${e.stack ?? e}`);
  process.exitCode = 1;
});
