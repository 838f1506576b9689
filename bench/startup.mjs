#!/usr/bin/env node
// Where the startup to the first token goes: `node bench/startup.mjs [--rounds N] [NAME=DIR ...]`,
// each DIR a build like build/ (default: build), its guard Worker from DIR/guard/ (else build/guard/).
//
// Each round starts, one after the other (the builds' order rotates every round), a fresh workerd
// (Miniflare) per set of Workers and times, from `new Miniflare()`:
// - `ready`: until Miniflare says workerd is ready (every Worker's script evaluated, so its wasm
//   compiled and instantiated: the shim instantiates at the module's top level);
// - then each request of the set's sequence, one at a time, in wall-clock ms and in workerd CPU
//   (all its threads, /proc/<pid>/task/*/schedstat).
// The sets: `hello` (the hello-world Worker alone: the floor), `guard` (the guard Worker alone, a
// 404), `token` (the token Worker alone: a JWKS request, the isolate's own cold cost without any
// object), `cold` (token + guard: a token first, as the bench does), `steps` (token + guard: the
// JWKS first, then a token for client A, one for client B — a second object in a warm guard
// isolate, a second KV read — and A again, warm), `keys` (the same as `steps` but the JWKS
// request is followed by a token for an unknown client, which warms everything but the key
// import, the guard isolate and the objects) and `full` (the bench's four Workers: hello, a JS
// diagnostic, guard, token; a token first). Prints the median of every figure over the rounds
// and, for each build after the first, the median paired difference with the first. Nothing is
// asserted but the answers' statuses (exit 1 otherwise); no secret is printed.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Miniflare } from 'miniflare';
import { ROOT, clientRecord, generateSigningKey, kvKey, randomToken, signingKeysJson } from '../scripts/devstate.mjs';
import { GUARD, GUARD_OBJECTS, GATES, worker, workerdPid, cpuNs, median } from './workerd.mjs';

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '5' },
    sets: { type: 'string', default: 'hello,guard,token,cold,steps,keys,full' },
  },
});
const say = (s) => process.stderr.write(`startup: ${s}\n`);
const builds = (positionals.length ? positionals : ['build']).map((p) => {
  const [name, dir] = p.includes('=') ? p.split('=') : [p, p];
  return { name, dir: resolve(ROOT, dir) };
});
for (const b of builds) if (!existsSync(join(b.dir, 'index_bg.wasm'))) throw new Error(`${b.dir} has no index_bg.wasm`);
const HELLO = join(ROOT, 'bench', 'hello', 'build');
const TOKEN_PATH = '/oauth2/token';
const AUDIENCE = 'https://api.example.com';
const guardDir = (b) => (existsSync(join(b.dir, 'guard', 'index_bg.wasm')) ? join(b.dir, 'guard') : join(ROOT, 'build', 'guard'));
const JS_PROBE = 'export default { async fetch() { return new Response("hello"); } };';

const pepper = randomToken();
const clients = ['client-a', 'client-b'].map((id) => ({ id, secret: randomToken() }));
const tokenWorker = (b, withGuard) => worker('edge-token', b.dir, {
  kvNamespaces: ['CLIENTS'], ratelimits: GATES,
  analyticsEngineDatasets: { USAGE: { dataset: 'edge_token_usage' } },
  durableObjects: withGuard ? Object.fromEntries(Object.entries(GUARD_OBJECTS).map(([n, o]) => [n, { ...o, scriptName: GUARD }])) : {},
  bindings: { ISSUER: 'https://issuer.bench.test', TENANTS: { default: { token_paths: [TOKEN_PATH] } },
    SIGNING_KEYS: signingKeysJson([generateSigningKey()]), CLIENT_SECRET_PEPPER: pepper },
});
const tokenRequest = (c, ip) => ({ method: 'POST', body: 'grant_type=client_credentials', headers: {
  'Content-Type': 'application/x-www-form-urlencoded', 'CF-Connecting-IP': ip,
  Authorization: `Basic ${Buffer.from(`${c.id}:${c.secret}`).toString('base64')}` } });
const token = (c, ip = '10.255.255.254') => ({ worker: 'edge-token', path: TOKEN_PATH, init: tokenRequest(c, ip), status: 200 });
const jwks = { worker: 'edge-token', path: '/.well-known/jwks.json', status: 200 };

/** Each set: its Workers, whether the token Worker's KV is seeded, and its requests in order (label → request). */
const SETS = {
  hello: { workers: () => [worker('hello', HELLO)], steps: { first: { worker: 'hello', path: '/', status: 200 } } },
  guard: { workers: (b) => [worker(GUARD, guardDir(b), { durableObjects: GUARD_OBJECTS })],
    steps: { first: { worker: GUARD, path: '/', status: 404 } } },
  token: { workers: (b) => [tokenWorker(b, false)], steps: { jwks } },
  cold: { workers: (b) => [worker(GUARD, guardDir(b), { durableObjects: GUARD_OBJECTS }), tokenWorker(b, true)], seed: true,
    steps: { token_a: token(clients[0]), token_a_again: token(clients[0]) } },
  steps: { workers: (b) => [worker(GUARD, guardDir(b), { durableObjects: GUARD_OBJECTS }), tokenWorker(b, true)], seed: true,
    steps: { jwks, token_a: token(clients[0]), token_b: token(clients[1], '10.255.255.253'), token_a_again: token(clients[0]) } },
  keys: { workers: (b) => [worker(GUARD, guardDir(b), { durableObjects: GUARD_OBJECTS }), tokenWorker(b, true)], seed: true,
    steps: { jwks, unknown: { ...token({ id: 'nobody', secret: 'x' }, '10.255.255.250'), status: 401 },
      token_a: token(clients[0]) } },
  full: { workers: (b) => [worker('hello', HELLO), { name: 'js-probe', modules: true, script: JS_PROBE, compatibilityDate: '2026-04-01' },
    worker(GUARD, guardDir(b), { durableObjects: GUARD_OBJECTS }), tokenWorker(b, true)], seed: true,
    steps: { token_a: token(clients[0]) } },
};

/** One fresh workerd with the set's Workers: { ready, ready_cpu, <step>, <step>_cpu ... } in ms. */
async function once(set, b) {
  const t0 = performance.now();
  const mf = new Miniflare({ workers: set.workers(b), handleRuntimeStdio: (...s) => s.forEach((x) => x.resume()) });
  try {
    await mf.ready;
    const out = { ready: performance.now() - t0 };
    const pid = workerdPid();
    out.ready_cpu = cpuNs(pid) / 1e6;
    if (set.seed) {
      const kv = await mf.getKVNamespace('CLIENTS', 'edge-token');
      for (const c of clients) {
        const record = clientRecord({ id: c.id, secrets: [c.secret], pepper, scopes: ['read'], defaultScopes: ['read'], audience: [AUDIENCE] });
        record.secrets[0].generated = true;
        await kv.put(kvKey(c.id), JSON.stringify(record));
      }
    }
    const urls = {};
    for (const [label, step] of Object.entries(set.steps)) {
      urls[step.worker] ??= (await mf.unsafeGetDirectURL(step.worker)).href.replace(/\/$/, '');
      const c0 = cpuNs(pid), w0 = performance.now();
      const res = await fetch(`${urls[step.worker]}${step.path}`, step.init);
      await res.arrayBuffer();
      out[label] = performance.now() - w0;
      out[`${label}_cpu`] = (cpuNs(pid) - c0) / 1e6;
      if (res.status !== step.status) throw new Error(`${b.name}: ${label} answered ${res.status}, not ${step.status}`);
    }
    return out;
  } finally {
    await mf.dispose();
  }
}

async function main() {
  const sets = opt.sets.split(',');
  const results = builds.map(() => Object.fromEntries(sets.map((s) => [s, []])));
  for (let round = 0; round < +opt.rounds; round++) {
    for (const s of sets) {
      for (let k = 0; k < builds.length; k++) {
        const i = (k + round) % builds.length;
        const r = await once(SETS[s], builds[i]);
        results[i][s].push(r);
        say(`round ${round + 1} ${builds[i].name} ${s}: ${Object.entries(r).map(([k2, v]) => `${k2} ${v.toFixed(1)}`).join(', ')}`);
      }
    }
  }
  console.log(`\nmedians over ${opt.rounds} rounds, ms (wall / workerd CPU); load ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  for (const s of sets) {
    const labels = Object.keys(results[0][s][0]).filter((l) => !l.endsWith('_cpu'));
    for (const l of labels) {
      const cells = builds.map((b, i) => {
        const wall = median(results[i][s].map((r) => r[l])), cpu = median(results[i][s].map((r) => r[`${l}_cpu`]));
        let cell = `${wall.toFixed(1)} / ${cpu.toFixed(1)}`;
        if (i > 0) {
          const d = median(results[i][s].map((r, n) => r[l] - results[0][s][n][l]));
          const dc = median(results[i][s].map((r, n) => r[`${l}_cpu`] - results[0][s][n][`${l}_cpu`]));
          cell += ` (${d >= 0 ? '+' : ''}${d.toFixed(1)} / ${dc >= 0 ? '+' : ''}${dc.toFixed(1)})`;
        }
        return `${b.name}: ${cell}`;
      });
      console.log(`${`${s} ${l}`.padEnd(22)} ${cells.join('   ')}`);
    }
  }
}

main().catch((e) => { console.error(`startup: ${e.stack ?? e}`); process.exitCode = 1; });
