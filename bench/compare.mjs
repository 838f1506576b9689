#!/usr/bin/env node
// Side-by-side cost of builds of the endpoint inside one workerd, for experiments on a busy
// machine: `node bench/compare.mjs [--scenario token|jwt] [--rounds N] [--seconds S] NAME=DIR
// NAME=DIR ...`, each DIR a build like build/ (see bench/README.md, "Comparing builds").
//
// Every build runs as its own Worker (own direct socket on 127.0.0.1, own KV and guard objects,
// the same seeded clients and a fresh key) in ONE workerd; its guard objects run in a guard
// Worker of its own, from DIR/guard/ when the build has one, else from build/guard/, unless
// the build exports the objects' classes itself (the layout before the guard Worker): then they
// run in the build's own Worker, as that layout deployed them. Then, round after round, each build
// in turn (the order rotates every round) gets a bounded load of valid token requests
// (`--scenario token`: one client_secret_basic client; `jwt`: private_key_jwt, a fresh EdDSA
// assertion per request over 128 clients, bench/scenarios.mjs, whose jti each token spends
// in its client's object) (autocannon, 10 connections, `--seconds` after 1 s of warm-up; each build is first warmed
// up for `--warmup` s, while V8 compiles its hot wasm with the optimising tier), and workerd's CPU time over
// that load (all threads, /proc/<pid>/task/*/schedstat, ns) is divided by the responses: µs of
// workerd CPU per token. Interleaving puts every build under the same background noise, and CPU
// time is less disturbed by it than req/s. Prints each build's median (and range) over the
// rounds, and its median paired difference with the first build. Speeds are reported, never
// asserted; every answer must be 200, else it says so and exits 1. No secret is printed.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import * as jose from 'jose';
import { Miniflare } from 'miniflare';
import { ROOT, generateSigningKey, kvKey, randomToken, signingKeysJson } from '../scripts/devstate.mjs';
import { tokenLoad } from './scenarios.mjs';
import { GUARD_OBJECTS, workerdPid, cpuNs, median } from './workerd.mjs';

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    scenario: { type: 'string', default: 'token' }, // token (client_secret_basic) or jwt (private_key_jwt)
    // The private_key_jwt pool's size (each client takes at most ~50 tokens a second).
    'jwt-clients': { type: 'string', default: '128' },
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '4' },
    connections: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '6' }, // seconds per build before the rounds (V8 tiers wasm up)
  },
});
const say = (s) => process.stderr.write(`compare: ${s}\n`);
const TOKEN_PATH = '/oauth2/token';
const ISSUER = 'https://issuer.bench.test';
const AUDIENCE = 'https://api.example.com';
if (!['token', 'jwt'].includes(opt.scenario)) throw new Error(`--scenario ${opt.scenario}: token or jwt`);
const builds = positionals.map((p) => {
  const [name, dir] = p.includes('=') ? p.split('=') : [p, p];
  return { name, dir: resolve(ROOT, dir) };
});
if (builds.length < 2) throw new Error('give at least two builds: NAME=DIR NAME=DIR');
for (const b of builds) {
  if (!existsSync(join(b.dir, 'index_bg.wasm'))) throw new Error(`${b.dir} has no index_bg.wasm`);
  // Exports the objects' classes itself: a token Worker from before the guard Worker.
  b.ownObjects = /\bas ClientGuard\b/.test(readFileSync(join(b.dir, 'index.js'), 'utf8'));
}

const load = (url, request, secs) => new Promise((resolve, reject) => {
  const inst = autocannon({ url, connections: +opt.connections, requests: [request], timeout: 10 },
    (err, r) => { clearTimeout(timer); clearTimeout(watchdog); err ? reject(err) : resolve(r); });
  const timer = setTimeout(() => inst.stop(), secs * 1000);
  const watchdog = setTimeout(() => { inst.stop(); reject(new Error('the load did not end')); }, (secs + 30) * 1000);
});
/** Build `i`'s guard Worker: its own objects, from its guard/ build or the checkout's. */
function guardWorker(b, i) {
  const dir = existsSync(join(b.dir, 'guard', 'index_bg.wasm')) ? join(b.dir, 'guard') : join(ROOT, 'build', 'guard');
  if (!existsSync(join(dir, 'index_bg.wasm'))) throw new Error(`${dir} has no index_bg.wasm: bash scripts/build.sh guard`);
  return {
    name: `guard-${i}`, modules: true, modulesRoot: dir, scriptPath: join(dir, 'index.js'), compatibilityDate: '2026-04-01',
    modulesRules: [{ type: 'ESModule', include: ['**/*.js'] }, { type: 'CompiledWasm', include: ['**/*.wasm'] }],
    durableObjects: GUARD_OBJECTS,
  };
}
/** Build `i`'s Worker, with its guard Worker before it unless it has the objects' classes itself. */
function buildWorkers(b, i, pepper) {
  const token = {
    name: `build-${i}`, modules: true, modulesRoot: b.dir, scriptPath: join(b.dir, 'index.js'), compatibilityDate: '2026-04-01',
    modulesRules: [{ type: 'ESModule', include: ['**/*.js'] }, { type: 'CompiledWasm', include: ['**/*.wasm'] }],
    unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
    kvNamespaces: { CLIENTS: `clients-${i}` },
    durableObjects: b.ownObjects ? GUARD_OBJECTS
      : Object.fromEntries(Object.entries(GUARD_OBJECTS).map(([name, o]) => [name, { ...o, scriptName: `guard-${i}` }])),
    bindings: { ISSUER, TENANTS: { default: { token_paths: [TOKEN_PATH] } },
      SIGNING_KEYS: signingKeysJson([generateSigningKey()]), CLIENT_SECRET_PEPPER: pepper },
  };
  return b.ownObjects ? [token] : [guardWorker(b, i), token];
}

/** Seeds build `b`'s KV and checks one token of the scenario with jose against the build's JWKS. */
async function seedAndCheck(mf, b, i, work) {
  const kv = await mf.getKVNamespace('CLIENTS', `build-${i}`);
  for (const c of work.clients) await kv.put(kvKey(c.id), JSON.stringify(c.record));
  b.url = (await mf.unsafeGetDirectURL(`build-${i}`)).href.replace(/\/$/, '');
  const first = await fetch(`${b.url}${TOKEN_PATH}`, work.once());
  const body = await first.json();
  if (first.status !== 200) throw new Error(`${b.name} answered ${first.status} ${body.error} to a valid ${opt.scenario} request`);
  const jwks = await (await fetch(`${b.url}/.well-known/jwks.json`)).json();
  await jose.jwtVerify(body.access_token, jose.createLocalJWKSet(jwks), { issuer: ISSUER, typ: 'at+jwt', algorithms: ['EdDSA'] });
  b.cpu = []; b.rps = [];
}

async function main() {
  const pepper = randomToken(), work = tokenLoad(opt.scenario, pepper, { issuer: ISSUER, audience: AUDIENCE, path: TOKEN_PATH, jwtClients: +opt['jwt-clients'] });
  const request = work.request;
  const mf = new Miniflare({
    workers: builds.flatMap((b, i) => buildWorkers(b, i, pepper)),
    handleRuntimeStdio: (...streams) => { for (const s of streams) s.resume(); }, // the log lines, dropped
  });
  const stop = () => mf.dispose().finally(() => process.exit(130));
  process.once('SIGINT', stop).once('SIGTERM', stop);
  let wrong = 0;
  try {
    await mf.ready;
    for (const [i, b] of builds.entries()) await seedAndCheck(mf, b, i, work);
    const pid = workerdPid();
    for (const b of builds) await load(b.url, request, +opt.warmup);
    for (let round = 0; round < +opt.rounds; round++) {
      for (let k = 0; k < builds.length; k++) {
        const b = builds[(k + round) % builds.length];
        await load(b.url, request, 1);
        const cpu0 = cpuNs(pid);
        const r = await load(b.url, request, +opt.seconds);
        const cpu = cpuNs(pid) - cpu0;
        wrong += r.errors + r.timeouts + (r.requests.total - (r.statusCodeStats['200']?.count ?? 0));
        b.cpu[round] = cpu / 1000 / r.requests.total;
        b.rps[round] = r.requests.total / r.duration;
        say(`round ${round + 1}: ${b.name} ${b.cpu[round].toFixed(0)} µs/token, ${b.rps[round].toFixed(0)} req/s`);
      }
    }
    const base = builds[0];
    console.log(`\n${'build'.padEnd(28)} ${'CPU µs/token'.padStart(13)} ${'range'.padStart(11)} ${'vs first'.padStart(9)} ${'req/s'.padStart(7)}`);
    for (const b of builds) {
      const diff = median(b.cpu.map((c, i) => c - base.cpu[i]));
      console.log(`${b.name.padEnd(28)} ${median(b.cpu).toFixed(0).padStart(13)} ${`${Math.min(...b.cpu).toFixed(0)}–${Math.max(...b.cpu).toFixed(0)}`.padStart(11)} ${(b === base ? '' : `${diff >= 0 ? '+' : ''}${diff.toFixed(0)}`).padStart(9)} ${median(b.rps).toFixed(0).padStart(7)}`);
    }
    console.log(`\nscenario ${opt.scenario}; ${builds.map((b) => `${b.name}: ${b.ownObjects ? 'objects in its own Worker' : 'guard Worker'}`).join(', ')}`);
    console.log(`${opt.rounds} rounds, ${opt.seconds} s each, ${opt.connections} connections; workerd CPU of all threads per response; load ${execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim()}`);
    if (wrong) {
      console.error(`\n!!!!!!!! WARNING: ${wrong} answers were not 200: the figures do not show the token path !!!!!!!!`);
      process.exitCode = 1;
    }
  } finally {
    process.off('SIGINT', stop).off('SIGTERM', stop);
    await mf.dispose();
  }
}

main().catch((e) => { console.error(`compare: ${e.stack ?? e}`); process.exitCode = 1; });
