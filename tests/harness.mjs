// Black-box test harness: runs the built Worker (wrangler.toml `main`, build/index.js + wasm)
// under workerd through Miniflare, with the bindings wrangler.toml declares (KV, Durable
// Objects, vars), a fresh Ed25519 signing key and pepper per instance, and checks every issued
// token with `jose` against the JWKS the Worker itself serves. The guard Worker
// (wrangler.guard.toml, build/guard/), whose objects the token Worker binds by `script_name`,
// always runs beside it, and the admin Worker when a test asks for it.
// Nothing secret is ever printed: assertion messages name fields, never their values.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as jose from 'jose';
import { Miniflare } from 'miniflare';
import { parse as parseToml } from 'smol-toml';
import { unstable_readConfig as readWranglerConfig } from 'wrangler';
import { ROOT, clientRecord, generateSigningKey, kvKey, randomToken, signingKeysJson } from '../scripts/devstate.mjs';

export { assert, jose, generateSigningKey, kvKey };

export const ISSUER = 'https://issuer.test'; // the origin (ISSUER); a tenant's issuer adds its issuer_path
export const FORM = 'application/x-www-form-urlencoded';
const ORIGIN = 'http://127.0.0.1'; // what the requests are addressed to; the Worker must use ISSUER, not this

/**
 * Miniflare options of a Worker as its wrangler file declares it (what `wrangler dev` runs):
 * wrangler.toml, the token Worker; wrangler.admin.toml, the admin Worker; wrangler.guard.toml,
 * the guard Worker, which exports the guard objects that the other two bind (`script_name`).
 */
export function workerFromConfig(file) {
  const config = readWranglerConfig({ config: join(ROOT, file) });
  const sqlite = new Set(config.migrations.flatMap((m) => m.new_sqlite_classes ?? []));
  return {
    name: config.name,
    modules: true,
    scriptPath: config.main,
    modulesRoot: dirname(config.main),
    modulesRules: [{ type: 'ESModule', include: ['**/*.js'] }, { type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags,
    kvNamespaces: config.kv_namespaces.map((ns) => ns.binding),
    durableObjects: Object.fromEntries(config.durable_objects.bindings.map((b) => [b.name, {
      className: b.class_name, useSQLite: b.script_name ? true : sqlite.has(b.class_name),
      ...(b.script_name ? { scriptName: b.script_name } : {}),
    }])),
    ratelimits: Object.fromEntries((config.ratelimits ?? []).map((r) => [r.name, { simple: r.simple }])),
    // Analytics Engine datasets: miniflare's own stand-in drops every point, so the tests bind
    // each to USAGE_RECORDER instead (TestWorker.options), whose points they can read.
    datasets: (config.analytics_engine_datasets ?? []).map((d) => d.binding),
    vars: config.vars,
    config,
  };
}
const WORKER = workerFromConfig('wrangler.toml');
const ADMIN = workerFromConfig('wrangler.admin.toml');
const GUARD = workerFromConfig('wrangler.guard.toml');

/** The tenants of docs/seed-tenants.toml, under which the five seed systems' clients work. */
export const SEED_TENANTS = parseToml(readFileSync(join(ROOT, 'docs/seed-tenants.toml'), 'utf8')).vars.TENANTS;

/** application/x-www-form-urlencoded of one value (space → '+'), as RFC 6749 §2.3.1 asks. */
export const formEncode = (s) => new URLSearchParams({ s }).toString().slice(2);
/** Authorization header value for client_secret_basic, id and secret form-encoded first. */
export const basic = (id, secret) => basicRaw(`${formEncode(id)}:${formEncode(secret)}`);
/** Authorization header value with the given text base64-encoded as is (no form encoding). */
export const basicRaw = (text) => `Basic ${Buffer.from(text, 'utf8').toString('base64')}`;
/** A form body from [name, value] pairs (duplicates allowed) or an object. */
export const form = (params) => new URLSearchParams(params).toString();

// Big bodies go through this in-workerd client over a service binding: over a socket, workerd
// resets a connection whose request body the Worker answered without reading, and the client
// then loses the answer. It appends `x-probe-pad` bytes of 'x' to the body it gets, streamed
// without Content-Length when `x-probe-stream: 1`, and returns the Worker's answer as is; with
// `x-probe-target: admin` it calls the admin Worker instead of the token Worker.
const PROBE = `export default { async fetch(req, env) {
  const pad = Number(req.headers.get('x-probe-pad')), stream = req.headers.get('x-probe-stream') === '1';
  const target = req.headers.get('x-probe-target') === 'admin' ? env.ADMIN : env.TARGET;
  const headers = new Headers(req.headers);
  for (const h of ['x-probe-pad', 'x-probe-stream', 'x-probe-target', 'content-length']) headers.delete(h);
  const parts = [new Uint8Array(await req.arrayBuffer())];
  for (let n = pad; n > 0; n -= 1024) parts.push(new TextEncoder().encode('x'.repeat(Math.min(n, 1024))));
  const body = ['GET', 'HEAD'].includes(req.method) ? undefined
    : stream ? new ReadableStream({ pull(c) { parts.length ? c.enqueue(parts.shift()) : c.close(); } })
    : new Blob(parts);
  return target.fetch(req.url, { method: req.method, headers, body });
} };`;

// A stand-in for a guard object that fails: `throw` answers every call with an exception,
// `hang` never answers. Bound in place of the guard objects to simulate an object fault.
const BROKEN_GUARD = `export class BrokenGuard {
  constructor(state, env) { this.mode = env.MODE; }
  async fetch() {
    if (this.mode === 'hang') return new Promise(() => {});
    throw new Error('simulated guard fault');
  }
}
export default { fetch() { return new Response('unused', { status: 404 }); } };`;

// Stands in for the Analytics Engine datasets (wrangler.toml `analytics_engine_datasets`):
// bound to the token Worker as a service with this entrypoint, it keeps every data point the
// Worker writes (`writeDataPoint`, called as the real binding is, without awaiting), and its
// fetch handler answers them all as JSON, for `usagePoints()`.
const USAGE_RECORDER = `import { WorkerEntrypoint } from 'cloudflare:workers';
const points = [];
export class Dataset extends WorkerEntrypoint {
  writeDataPoint(point) { points.push(point); }
}
export default { fetch() { return Response.json(points); } };`;

/** `text` as JSON, or undefined when it is not JSON. */
function parseJson(text) {
  try { return JSON.parse(text); } catch { return undefined; }
}

export class TestWorker {
  /**
   * `tenants`: the TENANTS var (default: wrangler.toml's); `tenant`: the one `token()` and
   * `seedClient()` use by default (default: the first); `issuer`: the origin (ISSUER);
   * `guardFault` ('throw' | 'hang') binds the objects named in `brokenGuards` (default
   * CLIENT_GUARD) to a broken object; `admin` runs the admin Worker beside the token Worker
   * (default: when `adminToken` is given), `adminToken` sets its ADMIN_TOKEN secret (true: a
   * random one), which switches the admin API on. `gates: false` leaves out the first gates'
   * Rate Limiting bindings, so that every failure goes to the source shards. `usage: false`
   * leaves out the Analytics Engine dataset (a deployment without the binding).
   */
  constructor({ tenants = WORKER.vars.TENANTS, tenant = Object.keys(tenants)[0], issuer = ISSUER, guardFault, brokenGuards = ['CLIENT_GUARD'], adminToken, admin = Boolean(adminToken), gates = true, usage = true } = {}) {
    this.gates = gates;
    this.usage = usage;
    this.tenants = tenants;
    this.tenant = tenant;
    this.tokenPath = tenants[tenant].token_paths[0];
    this.tokenPaths = new Set(Object.values(tenants).flatMap((t) => t.token_paths));
    this.origin = issuer;
    this.issuer = this.issuerOf(tenant);
    this.guardFault = guardFault;
    this.brokenGuards = brokenGuards;
    this.adminToken = adminToken === true ? randomToken() : adminToken;
    this.withAdmin = admin;
    this.keys = [generateSigningKey()];
    this.pepper = randomToken();
    this.records = new Map(); // KV key → stored text, re-seeded after a restart
    this.sensitive = new Set([this.pepper, this.keys[0].d]); // must never reach the logs
    if (this.adminToken) this.sensitive.add(this.adminToken);
    this.stdio = '';
    this.tokenAnswers = []; // per token-path request: {error, clientId}, to match against the log
  }

  /** Miniflare options; `bindings` are added to the token Worker's, `adminBindings` to the admin Worker's. */
  options(bindings = {}, adminBindings = {}) {
    const { vars, config, datasets, ...worker } = WORKER;
    const recorder = this.usage && datasets.length > 0 && {
      name: 'usage-recorder', modules: true, script: USAGE_RECORDER, compatibilityDate: WORKER.compatibilityDate,
    };
    const broken = this.guardFault && {
      name: 'broken-guard', modules: true, script: BROKEN_GUARD,
      compatibilityDate: WORKER.compatibilityDate, bindings: { MODE: this.guardFault },
    };
    const durableObjects = { ...worker.durableObjects };
    for (const name of broken ? this.brokenGuards : []) {
      durableObjects[name] = { className: 'BrokenGuard', scriptName: broken.name, useSQLite: true };
    }
    const shared = {
      ISSUER: this.origin, TENANTS: this.tenants,
      SIGNING_KEYS: signingKeysJson(this.keys), CLIENT_SECRET_PEPPER: this.pepper,
    };
    const { vars: adminVars, config: adminConfig, datasets: adminDatasets, ...admin } = ADMIN;
    const { vars: guardVars, config: guardConfig, datasets: guardDatasets, ...guard } = GUARD;
    return {
      host: '127.0.0.1', // the entry socket (the token Worker), used by `curl()`; loopback only
      workers: [{
        ...worker,
        ...(this.gates ? {} : { ratelimits: {} }),
        durableObjects,
        serviceBindings: Object.fromEntries(recorder
          ? datasets.map((name) => [name, { name: recorder.name, entrypoint: 'Dataset' }]) : []),
        bindings: { ...vars, ...shared, ...bindings },
      }, ...(recorder ? [recorder] : []), {
        name: 'probe', modules: true, script: PROBE, compatibilityDate: WORKER.compatibilityDate,
        serviceBindings: { TARGET: WORKER.name, ...(this.withAdmin ? { ADMIN: ADMIN.name } : {}) },
      }, { ...guard, bindings: guardVars }, ...(broken ? [broken] : []), ...(this.withAdmin ? [{
        ...admin,
        // Its own loopback socket, as `npm start` gives it its own port: where the CLI goes.
        unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
        bindings: {
          ...adminVars, ...shared,
          ...(this.adminToken ? { ADMIN_TOKEN: this.adminToken } : {}), ...adminBindings,
        },
      }] : [])],
      handleRuntimeStdio: (stdout, stderr) => {
        for (const s of [stdout, stderr]) s.on('data', (chunk) => { this.stdio += chunk; });
      },
    };
  }

  /** The loopback URLs: the token Worker's (`url`) and, with the admin Worker, its own (`adminUrl`). */
  async locate() {
    this.url = (await this.mf.ready).origin; // on 127.0.0.1, for tools that need a socket
    if (this.withAdmin) this.adminUrl = (await this.mf.unsafeGetDirectURL(ADMIN.name)).origin;
  }

  async start() {
    this.mf = new Miniflare(this.options());
    try {
      await this.locate();
    } catch (e) { // show workerd's startup output (no request has run, so no secret is in it)
      e.message += `\n--- workerd output ---\n${this.stdio.slice(-4000)}`;
      throw e;
    }
    return this;
  }

  /**
   * Restarts with other signing keys and/or bindings of the token Worker (`bindings`) or the
   * admin Worker (`adminBindings`); the KV content is put back.
   */
  async reconfigure({ keys = this.keys, bindings = {}, adminBindings = {} } = {}) {
    this.keys = keys;
    for (const k of keys) this.sensitive.add(k.d);
    await this.mf.setOptions(this.options(bindings, adminBindings));
    await this.locate();
    const kv = await this.mf.getKVNamespace('CLIENTS');
    for (const [k, v] of this.records) await kv.put(k, v);
  }

  async dispose() { await this.mf?.dispose(); }

  /**
   * Runs curl as a seed document writes it, with `{HOST}` in place of the document's scheme
   * and host (the Worker's loopback entry socket is put there), and returns what `fetch`
   * returns. Requests come from 127.0.0.1, so a file should make few failing ones this way.
   */
  async curl(args) {
    const base = String(await this.mf.ready).replace(/\/$/, '');
    const argv = ['-sS', '--max-time', '10', '-D', '-', ...args.map((a) => a.replaceAll('{HOST}', base))];
    const stdout = await new Promise((resolve, reject) => {
      execFile('curl', argv, { timeout: 15000 }, (error, out) => (error ? reject(new Error(`curl failed: exit ${error.code}`)) : resolve(out)));
    });
    const split = stdout.indexOf('\r\n\r\n');
    const [statusLine, ...fields] = stdout.slice(0, split).split('\r\n');
    const headers = new Headers(fields.map((f) => [f.slice(0, f.indexOf(':')), f.slice(f.indexOf(':') + 1).trim()]));
    const text = stdout.slice(split + 4);
    const json = this.noteAnswer(new URL(argv.find((a) => a.startsWith(base))), text);
    return { status: Number(statusLine.split(' ')[1]), headers, text, json };
  }

  /**
   * The Analytics Engine data points the token Worker has written so far, in order. Waits (at
   * most 5 s) until there are `count`: the Worker does not wait for its writes.
   */
  async usagePoints(count = 0) {
    const recorder = await this.mf.getWorker('usage-recorder');
    let points = [];
    for (let waited = 0; waited <= 5000; waited += 25) {
      points = await (await recorder.fetch('http://usage/')).json();
      if (points.length >= count) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    return points;
  }

  /** A tenant's issuer (`iss`): the origin, then its issuer_path. */
  issuerOf(tenant = this.tenant) { return `${this.origin}${this.tenants[tenant].issuer_path ?? ''}`; }

  /** Sends an operator's command (docs/storage-schema.md) to a client's guard object. */
  async guardCommand(clientId, command, tenant = this.tenant) {
    const ns = await this.mf.getDurableObjectNamespace('CLIENT_GUARD');
    const res = await ns.get(ns.idFromName(`${tenant}:${clientId}`)).fetch('https://guard/command', {
      method: 'POST', body: JSON.stringify(command),
    });
    assert.equal(res.status, 200, 'guard command accepted');
    return res.json();
  }

  /**
   * A caller address not used before by this instance (198.18.0.0/15, RFC 2544 test range).
   * Consecutive ones are in different /24s, which are counted too (docs/limits.md).
   */
  nextIp() {
    this.ips = (this.ips ?? 0) + 1;
    return `198.${18 + ((this.ips >> 16) & 1)}.${this.ips & 255}.${(this.ips >> 8) & 255}`;
  }

  /** Stores text under a KV key as is (for broken records). */
  async putRaw(key, text) {
    this.records.set(key, text);
    await (await this.mf.getKVNamespace('CLIENTS')).put(key, text);
  }

  /**
   * Seeds a client with a random (or the given) secret; `secrets` ([string | {secret,
   * expires_at}]) seeds several. Other options are clientRecord's (scopes, defaultScopes,
   * audience, ttl) or record fields (disabled, grant_types, ...); `record` replaces fields of
   * the finished record as is (to break it). Returns {id, secret, record}.
   */
  async seedClient({ id = `client-${randomToken().slice(0, 8)}`, secret = randomToken(), secrets = [secret],
    scopes = ['read', 'write'], defaultScopes = ['read'], record: replace = {}, tenant = this.tenant, ...rest } = {}) {
    const record = { ...clientRecord({ id, secrets, pepper: this.pepper, scopes, defaultScopes, ...rest }), ...replace };
    for (const s of secrets) this.sensitive.add(typeof s === 'string' ? s : s.secret);
    await this.putRaw(kvKey(id, tenant), JSON.stringify(record));
    const [first] = secrets; // none for a private_key_jwt client
    return { id, secret: typeof first === 'object' ? first.secret : first, record, tenant };
  }

  /**
   * Any request to the Worker; returns {status, headers, text, json} (json undefined if not
   * JSON). `pad` bytes of 'x' are appended to the body (`stream`: without Content-Length).
   * `ip` is the caller's address (CF-Connecting-IP); by default every request comes from a
   * new one, so that the failed-authentication throttling (docs/limits.md) stays out of tests
   * that are not about it.
   */
  async fetch(path, { pad, stream = false, ip = this.nextIp(), ...init } = {}) {
    const url = new URL(path, ORIGIN);
    const headers = { 'CF-Connecting-IP': ip, ...init.headers };
    const res = pad === undefined ? await this.mf.dispatchFetch(url, { redirect: 'manual', ...init, headers })
      : await (await this.mf.getWorker('probe')).fetch(url, {
        ...init, headers: { ...headers, 'x-probe-pad': String(pad), 'x-probe-stream': stream ? '1' : '0' },
      });
    const text = await res.text();
    const json = this.noteAnswer(url, text);
    return { status: res.status, headers: res.headers, text, json };
  }

  /**
   * A request to the admin Worker (docs/admin-api.md), from a new address unless `ip` says;
   * `token` (default: this instance's admin token, null: none) goes in as a bearer token, a
   * `body` object as JSON. Returns {status, headers, text, json}; a secret in the answer
   * becomes a sensitive value.
   */
  async admin(path, { method = 'GET', body, token = this.adminToken, headers = {}, ip = this.nextIp() } = {}) {
    const h = { 'CF-Connecting-IP': ip, ...headers };
    if (token !== null && token !== undefined) h.Authorization = `Bearer ${token}`;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    // Through the probe, which reads the whole body before passing it on: the admin Worker may
    // answer a too-large body (413) before reading it, and over a socket the client then loses
    // the answer.
    const res = await (await this.mf.getWorker('probe')).fetch(new URL(path, ORIGIN), {
      method, headers: { ...h, 'x-probe-target': 'admin', 'x-probe-pad': '0' },
      body: body === undefined || typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    const json = parseJson(text);
    if (typeof json?.client_secret === 'string') this.sensitive.add(json.client_secret);
    return { status: res.status, headers: res.headers, text, json };
  }

  /**
   * An answer's body as JSON (undefined if not JSON); an issued token becomes a sensitive
   * value, and a token-path answer is remembered to be matched against the log.
   */
  noteAnswer(url, text) {
    const json = parseJson(text);
    if (typeof json?.access_token === 'string') this.sensitive.add(json.access_token);
    if (this.tokenPaths.has(url.pathname)) {
      const clientId = typeof json?.access_token === 'string' ? jose.decodeJwt(json.access_token).client_id : undefined;
      this.tokenAnswers.push({ error: json?.error ?? null, clientId });
    }
    return json;
  }

  /**
   * POST to the token endpoint. `auth`: [id, secret] for client_secret_basic, or a literal
   * Authorization value. `params`: pairs or object, form-encoded (default grant_type only);
   * `body`: a literal body instead. `contentType` defaults to the form type (null: none).
   * `path`: another token path (default: the default tenant's first).
   */
  token({ auth, params = { grant_type: 'client_credentials' }, body, contentType = FORM, headers = {}, method = 'POST', pad, stream, ip, cf, path = this.tokenPath } = {}) {
    const h = { ...headers };
    if (contentType !== null) h['Content-Type'] = contentType;
    if (Array.isArray(auth)) {
      this.sensitive.add(auth[1]);
      if (looksLikeSecret(auth[0])) this.sensitive.add(auth[0]); // a swapped pair: the id position holds a secret
      h.Authorization = basic(...auth);
    } else if (auth !== undefined) h.Authorization = auth;
    if (h.Authorization) this.sensitive.add(h.Authorization.replace(/^\S+\s+/, ''));
    for (const [k, v] of new URLSearchParams(params)) {
      if ((k === 'client_secret' && v.length >= 8) || (k === 'client_id' && looksLikeSecret(v))) this.sensitive.add(v);
    }
    return this.fetch(path, { method, headers: h, body: body ?? form(params), pad, stream, ip, ...(cf ? { cf } : {}) });
  }

  /** A tenant's JWKS, from where its metadata says it is. */
  async jwks(tenant = this.tenant) {
    const res = await this.fetch(`/.well-known/jwks.json${this.tenants[tenant].issuer_path ?? ''}`);
    assert.equal(res.status, 200, 'JWKS status');
    return res.json;
  }

  /**
   * Verifies a token with jose against the Worker's current JWKS and checks every claim.
   * `client` is seedClient's result; `scope` the expected granted scopes (space-separated).
   */
  async verifyToken(token, client, { scope, ttl = client.record.token_ttl, audience = client.record.audience } = {}) {
    const tenant = client.tenant ?? this.tenant;
    const issuer = this.issuerOf(tenant);
    const jwks = await this.jwks(tenant);
    const { payload, protectedHeader } = await jose.jwtVerify(token, jose.createLocalJWKSet(jwks), {
      issuer, audience, typ: 'at+jwt', algorithms: ['EdDSA'],
    });
    assert.equal(protectedHeader.alg, 'EdDSA', 'header alg');
    assert.equal(protectedHeader.typ, 'at+jwt', 'header typ');
    assert.ok(jwks.keys.some((k) => k.kid === protectedHeader.kid), 'header kid names a key of the JWKS');
    assert.equal(payload.iss, issuer, "iss is the client's tenant's issuer");
    assert.equal(payload.sub, client.id, 'sub is the client_id');
    assert.equal(payload.client_id, client.id, 'client_id');
    assert.deepEqual(payload.aud, audience.length === 1 ? audience[0] : audience, 'aud: a string for one audience, else an array');
    if (scope !== undefined) assert.deepEqual(payload.scope?.split(' ').sort(), scope.split(' ').sort(), 'scope claim');
    const now = Math.floor(Date.now() / 1000);
    assert.ok(Number.isInteger(payload.iat) && Math.abs(payload.iat - now) <= 60, 'iat is an integer near now');
    assert.equal(payload.exp, payload.iat + ttl, 'exp = iat + token_ttl');
    assert.match(payload.jti ?? '', /^[A-Za-z0-9_-]{22,}$/, 'jti: at least 128 bits, base64url');
    return { payload, protectedHeader };
  }

  /** Lines of the captured workerd output that are JSON objects. */
  /**
   * The JSON lines workerd has printed. workerd's output reaches us through a pipe, so wait
   * (at most 5 s) until `outcomes` lines with an `outcome` field have arrived, then 200 ms more
   * so that an extra line, which would be a bug, has time to arrive too.
   */
  async jsonLogLines(outcomes = 0) {
    const parse = () => this.stdio.split('\n').flatMap((line) => {
      try {
        const v = JSON.parse(line.trim());
        return v && typeof v === 'object' && !Array.isArray(v) ? [v] : [];
      } catch { return []; }
    });
    for (let waited = 0; waited < 5000 && parse().filter((l) => 'outcome' in l).length < outcomes; waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 200));
    return parse();
  }
}

/** The operator CLI as `npm test` builds it (cargo's debug profile). */
export const CLI_BIN = process.env.EDGE_TOKEN_ADMIN_BIN ?? join(ROOT, 'target', 'debug', 'edge-token-admin');

/**
 * Runs the CLI with `args`; `env` is added to a clean environment (PATH and HOME only), `cwd`
 * defaults to the system temp dir so that no developer's .dev.vars is read, `input` goes to
 * its stdin. Returns {code, stdout, stderr, json} (json: stdout parsed, if it is JSON).
 */
export function runCli(args, { env = {}, cwd = process.env.TMPDIR ?? '/tmp', input } = {}) {
  const r = spawnSync(CLI_BIN, args, {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, cwd, input, encoding: 'utf8', timeout: 60_000,
  });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: parseJson(r.stdout) };
}

/**
 * Calls `attempt` (async, returns true when done) until it succeeds, every 25 ms, for at most
 * `ms` milliseconds; fails with `what` otherwise. Returns the milliseconds it took, from the
 * call to the start of the attempt that succeeded.
 */
export async function within(ms, what, attempt) {
  const start = Date.now();
  for (;;) {
    const at = Date.now() - start;
    if (await attempt()) return at;
    if (Date.now() - start > ms) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Generated client secrets start with this (src/core/credential.rs). */
export const SECRET_PREFIX = 'etcs_';
/** Whether a text is or carries a generated secret. */
export const looksLikeSecret = (text) => typeof text === 'string' && text.includes(SECRET_PREFIX);
/** Something with the shape of a generated secret anywhere in a text (the whole secret has 49 characters after the prefix). */
const SECRET_SHAPE = /etcs_[0-9A-Za-z]{8,}/;

/** Registers before/after hooks for one Worker per test file; returns it (filled in `before`). */
export function useWorker(opts) {
  const w = new TestWorker(opts);
  before(() => w.start());
  after(() => w.dispose());
  return w;
}

/**
 * Registers, last in a file, the log test: the captured workerd output carries none of the
 * secrets, tokens, credentials or keys the file used, and exactly one JSON line (one with an
 * `outcome` field) per token-path request, with the answer's `error` code (none when
 * issued) and, when issued, the token's client_id.
 */
export function testLogHygiene(w, label = '') {
  test(`the logs hold no secret, token or credential, and one JSON line per token request${label}`, async () => {
    // Introspection and revocation lines (tests/introspection.test.mjs checks them) aside.
    const lines = (await w.jsonLogLines(w.tokenAnswers.length))
      .filter((l) => 'outcome' in l && !['introspect', 'revoke'].includes(l.route));
    let leaks = 0;
    for (const s of w.sensitive) if (s.length >= 8 && w.stdio.includes(s)) leaks++;
    assert.equal(leaks, 0, `${leaks} secret value(s) found in the Worker's output`);
    // Also any secret-shaped text, known to this file or not (a secret sent as an id, say).
    assert.equal(SECRET_SHAPE.test(w.stdio), false, "a generated secret's shape found in the Worker's output");
    assert.equal(lines.length, w.tokenAnswers.length, 'one JSON log line per token-path request');
    // Parallel requests are logged in the order they finish, not the order their answers
    // arrived here: compare the two as multisets of (error code, or the issued client_id).
    const key = (error, clientId) => (error ? `error ${error}` : `issued to ${clientId}`);
    const logged = lines.map((l) => key(l.error, l.client_id)).sort();
    const answered = w.tokenAnswers.map(({ error, clientId }) => key(error, clientId)).sort();
    assert.deepEqual(logged, answered, 'each answer has its log line, with its error code or client_id');
  });
}

/** Asserts the no-store headers RFC 6749 §5.1 requires on every token-path answer. */
export function assertNoStore(res) {
  assert.equal(res.headers.get('cache-control'), 'no-store', 'Cache-Control');
  assert.equal(res.headers.get('pragma'), 'no-cache', 'Pragma');
}

/** Asserts an RFC 6749 §5.2 error answer: status, `error` code, JSON body, no-store, and for 401 the challenge. */
export function assertError(res, status, code) {
  assert.equal(res.status, status, `status (body error: ${res.json?.error})`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/, 'Content-Type');
  assert.equal(res.json?.error, code, 'error code');
  if (status < 500) assert.equal(typeof res.json.error_description, 'string', 'error_description');
  const extra = Object.keys(res.json).filter((k) => !['error', 'error_description', 'error_uri'].includes(k));
  assert.deepEqual(extra, [], 'no other members in an error body');
  assertNoStore(res);
  if (status === 401) assert.match(res.headers.get('www-authenticate') ?? '', /^Basic\b/, 'WWW-Authenticate');
}

/**
 * Asserts a successful token answer (RFC 6749 §5.1) and verifies the token; `scope` is the
 * expected grant, `echo` whether the response must carry `scope`, `audience` the expected
 * `aud` values (default: every audience of the client). Returns the verified token.
 */
export async function assertIssued(w, res, client, { scope, echo, audience }) {
  assert.equal(res.status, 200, `status (body error: ${res.json?.error})`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/, 'Content-Type');
  assertNoStore(res);
  const body = res.json;
  assert.equal(typeof body.access_token, 'string', 'access_token');
  assert.equal(body.token_type, 'Bearer', 'token_type');
  assert.equal(body.expires_in, client.record.token_ttl, 'expires_in is the client token_ttl');
  const extra = Object.keys(body).filter((k) => !['access_token', 'token_type', 'expires_in', 'scope'].includes(k));
  assert.deepEqual(extra, [], 'no other members (no refresh_token)');
  if (echo) assert.deepEqual(body.scope?.split(' ').sort(), scope.split(' ').sort(), 'scope echoed');
  else assert.equal('scope' in body, false, 'scope not echoed when granted as requested');
  return { token: body.access_token, ...(await w.verifyToken(body.access_token, client, { scope, ...(audience ? { audience } : {}) })) };
}

/**
 * Waits, if need be, until at least `ms` remain of the current minute. The first gates (the
 * Rate Limiting bindings; Miniflare's as Cloudflare's) count in fixed windows aligned to the
 * minute, so a test that needs its failures counted within one window starts where they fit;
 * otherwise a run straddling a window's end would see the count start again.
 */
export function oneGateWindow(ms = 10_000) {
  return oneWindow(60_000, ms);
}

/**
 * Waits, if need be, until at least `ms` remain of the current window of `period` ms aligned
 * to the Unix epoch (a gate's minute, a quota's clock hour).
 */
export async function oneWindow(period, ms) {
  const left = period - (Date.now() % period);
  if (left < ms) await new Promise((resolve) => setTimeout(resolve, left + 50));
}
