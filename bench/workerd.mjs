// What the benchmarks (run.mjs, compare.mjs, profile.mjs, startup.mjs) share about the workerd
// they start: the Workers' options as the wrangler files declare them, and workerd's CPU time.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The guard Worker's name, as in wrangler.guard.toml. */
export const GUARD = 'edge-token-guard';
/** The guard objects, as in wrangler.guard.toml. */
export const GUARD_OBJECTS = {
  CLIENT_GUARD: { className: 'ClientGuard', useSQLite: true },
  SOURCE_GUARD: { className: 'SourceGuard', useSQLite: true },
};
/** The first gates, as in wrangler.toml. */
export const GATES = {
  FAILURE_GATE: { simple: { limit: 9, period: 60 } },
  FAILURE_GATE_NETWORK: { simple: { limit: 39, period: 60 } },
  FAILURE_GATE_SITE: { simple: { limit: 99, period: 60 } },
  CLIENT_FAILURE_GATE: { simple: { limit: 19, period: 60 } },
};

/** Miniflare's options for the worker-build output in `dir`, on a direct socket of its own
 * (the default entry goes through a proxy that caps near 800 req/s), with `extra` over them. */
export const worker = (name, dir, extra = {}) => ({
  name, modules: true, modulesRoot: dir, scriptPath: join(dir, 'index.js'), compatibilityDate: '2026-04-01',
  modulesRules: [{ type: 'ESModule', include: ['**/*.js'] }, { type: 'CompiledWasm', include: ['**/*.wasm'] }],
  unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }], ...extra,
});

/** The pid of the workerd this process started (Miniflare's child). */
export function workerdPid() {
  const kids = readdirSync('/proc/self/task').flatMap((t) =>
    readFileSync(`/proc/self/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
  return kids.find((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'workerd');
}

/** CPU time of all the process's threads in ns (schedstat: ns resolution, unlike stat's ticks). */
export const cpuNs = (pid) => readdirSync(`/proc/${pid}/task`).reduce((sum, tid) => {
  try {
    return sum + Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
  } catch { return sum; } // a thread that ended between the listing and the read
}, 0);

/** The median of a list of numbers. */
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
