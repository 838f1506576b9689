// The deployment environments of the three Workers (wrangler.toml, wrangler.admin.toml,
// wrangler.guard.toml: [env.staging], [env.production]; docs/operating.md, "Environments"). Wrangler inherits no binding and no var
// into an environment, and `wrangler deploy --dry-run` (scripts/test.sh runs it for each file and
// environment) bundles one that lacks a binding without a word: these checks catch that.
// Requirement → test:
//   each environment has every binding and var of its file's top level → "every environment declares each binding and var ..."
//   the check itself finds a missing binding                           → "the binding check reports a binding an environment lacks"
//   own KV namespace, objects, gate counters and dataset per environment → "each environment of the token Worker has its own ..."
//   the admin Worker of an environment shares that environment's token Worker's KV and vars
//                                                                       → "each environment's admin Worker shares its own token Worker's ..."
//   the token and admin Workers of an environment reach that environment's guard Worker
//                                                                       → "each environment's token and admin Workers bind the guard objects of ..."
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse as parseToml } from 'smol-toml';
import { unstable_readConfig as readWranglerConfig } from 'wrangler';
import { ROOT } from '../scripts/devstate.mjs';
import { assert } from './harness.mjs';

const FILES = ['wrangler.toml', 'wrangler.admin.toml', 'wrangler.guard.toml'];
const ENVS = ['staging', 'production'];
const raw = (file) => parseToml(readFileSync(join(ROOT, file), 'utf8'));
/** The configuration wrangler deploys for `env` ('' for the top level). */
const resolved = (file, env) => readWranglerConfig({ config: join(ROOT, file), env: env || undefined }, { hideWarnings: true });

/**
 * The bindings a configuration section declares, as "kind name": every var, and every entry
 * with a `binding` or `name` of an array of tables (kv_namespaces, ratelimits, datasets, ...)
 * or of a table's `bindings` array (durable_objects). Inherited fields (migrations, routes)
 * have neither.
 */
function bindingsOf(section) {
  const found = new Set(Object.keys(section.vars ?? {}).map((name) => `vars ${name}`));
  const entries = (kind, list) => {
    for (const item of Array.isArray(list) ? list : []) {
      const name = item?.binding ?? item?.name;
      if (typeof name === 'string') found.add(`${kind} ${name}`);
    }
  };
  for (const [kind, value] of Object.entries(section)) {
    if (kind === 'env' || kind === 'vars') continue;
    entries(kind, value);
    if (value && typeof value === 'object' && !Array.isArray(value)) entries(`${kind}.bindings`, value.bindings);
  }
  return found;
}

/** What the top level of `config` (raw TOML) binds that `env` does not, or its absence. */
function missingIn(config, env) {
  const section = config.env?.[env];
  if (!section) return [`the section [env.${env}]`];
  const has = bindingsOf(section);
  return [...bindingsOf(config)].filter((b) => !has.has(b));
}

test('every environment declares each binding and var of its top level (they are not inherited)', () => {
  for (const file of FILES) {
    const config = raw(file);
    assert.ok(bindingsOf(config).size >= 2, `${file}: the top level's bindings are found`);
    for (const env of ENVS) assert.deepEqual(missingIn(config, env), [], `${file} [env.${env}] lacks these`);
  }
});

test('the binding check reports a binding an environment lacks, and an environment that is missing', () => {
  const config = raw('wrangler.toml');
  const env = structuredClone(config.env.staging);
  env.ratelimits = env.ratelimits.slice(1);
  delete env.vars.TENANTS;
  delete env.analytics_engine_datasets;
  assert.deepEqual(missingIn({ ...config, env: { staging: env } }, 'staging').sort(),
    ['analytics_engine_datasets USAGE', `ratelimits ${config.ratelimits[0].name}`, 'vars TENANTS']);
  assert.deepEqual(missingIn({ ...config, env: {} }, 'production'), ['the section [env.production]']);
});

test('each environment of the token Worker has its own name, KV namespace, gate counters and dataset', () => {
  const sections = ['', ...ENVS].map((env) => resolved('wrangler.toml', env));
  const unique = (what, values) => assert.equal(new Set(values).size, values.length, `${what} differ: ${values}`);
  unique('Worker names (the objects are per Worker)', sections.map((c) => c.name));
  unique('KV namespace ids', sections.map((c) => c.kv_namespaces[0].id));
  unique('Rate Limiting namespace ids', sections.flatMap((c) => c.ratelimits.map((r) => r.namespace_id)));
  unique('datasets', sections.map((c) => c.analytics_engine_datasets[0].dataset));
  assert.deepEqual(ENVS.map((env, i) => sections[i + 1].name), ['edge-token-staging', 'edge-token-production']);
  for (const c of sections) {
    assert.equal(c.observability?.enabled, true, `${c.name}: Workers Logs on`);
    assert.equal(c.workers_dev, false, `${c.name}: no workers.dev hostname`);
    const top = sections[0];
    assert.deepEqual(c.ratelimits.map((r) => [r.name, r.simple]), top.ratelimits.map((r) => [r.name, r.simple]), `${c.name}: the same gate limits`);
  }
});

test("each environment's admin Worker shares its own token Worker's KV namespace, with the same vars", () => {
  for (const env of ['', ...ENVS]) {
    const token = resolved('wrangler.toml', env);
    const admin = resolved('wrangler.admin.toml', env);
    const label = env || 'top level';
    assert.notEqual(admin.name, token.name, label);
    assert.deepEqual(admin.kv_namespaces, token.kv_namespaces, `${label}: the same CLIENTS namespace`);
    assert.deepEqual(admin.vars, token.vars, `${label}: the same ISSUER and TENANTS`);
  }
});

test("each environment's token and admin Workers bind the guard objects of that environment's guard Worker", () => {
  const guards = ['', ...ENVS].map((env) => resolved('wrangler.guard.toml', env));
  assert.deepEqual(guards.map((g) => g.name), ['edge-token-guard', 'edge-token-guard-staging', 'edge-token-guard-production']);
  ['', ...ENVS].forEach((env, i) => {
    const label = env || 'top level';
    const guard = guards[i];
    assert.deepEqual(guard.durable_objects.bindings.map((b) => [b.name, b.class_name, b.script_name]),
      [['CLIENT_GUARD', 'ClientGuard', undefined], ['SOURCE_GUARD', 'SourceGuard', undefined]], `${label}: ${guard.name}'s own classes`);
    assert.equal(guard.observability?.enabled, true, `${guard.name}: Workers Logs on`);
    for (const file of ['wrangler.toml', 'wrangler.admin.toml']) {
      const c = resolved(file, env);
      assert.deepEqual(c.durable_objects.bindings.map((b) => [b.name, b.class_name]),
        [['CLIENT_GUARD', 'ClientGuard'], ['SOURCE_GUARD', 'SourceGuard']], `${label}: ${c.name}'s objects`);
      for (const b of c.durable_objects.bindings) {
        assert.equal(b.script_name, guard.name, `${label}: ${c.name}'s ${b.name} reaches ${guard.name}`);
      }
    }
  });
});
