// Shared by the local dev tools (dev-init.mjs, register-client.mjs) and the test harness:
// secret generation, the secret hash and the client record of docs/storage-schema.md, and
// the local dev state (.dev.vars, wrangler's local KV under .wrangler/state).
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DEV_VARS = join(ROOT, '.dev.vars');
const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler');

/** 256 random bits, base64url: client secrets and the pepper. */
export const randomToken = () => randomBytes(32).toString('base64url');

/** A fresh Ed25519 private JWK {kty: 'OKP', crv: 'Ed25519', d, x}. */
export function generateSigningKey() {
  const { privateKey } = generateKeyPairSync('ed25519');
  return privateKey.export({ format: 'jwk' });
}

/** The SIGNING_KEYS secret: a one-line JWK Set, first key signs. */
export const signingKeysJson = (keys) => JSON.stringify({ keys });

/** secrets[].hash: base64url(HMAC-SHA-256(key = pepper, message = secret)), both UTF-8. */
export const hashSecret = (pepper, secret) =>
  createHmac('sha256', Buffer.from(pepper, 'utf8')).update(secret, 'utf8').digest('base64url');

/**
 * A v1 client record. `secrets` are plaintext secrets (string, or {secret, expires_at});
 * `overrides` replace fields verbatim (the tests use them to build broken records too).
 */
export function clientRecord({ id, secrets, pepper, scopes = [], defaultScopes = [],
  audience = ['https://api.example.com'], ttl = 3600, ...overrides }) {
  return {
    v: 1,
    client_id: id,
    secrets: secrets.map((s) => {
      const { secret, expires_at } = typeof s === 'string' ? { secret: s } : s;
      return expires_at === undefined ? { hash: hashSecret(pepper, secret) }
        : { hash: hashSecret(pepper, secret), expires_at };
    }),
    grant_types: ['client_credentials'],
    scopes,
    default_scopes: defaultScopes,
    token_ttl: ttl,
    audience,
    disabled: false,
    ...overrides,
  };
}

/** The KV key of a client's record (docs/storage-schema.md). */
export const kvKey = (id, tenant = 'default') => `client:${tenant}:${id}`;

// --- validation of operator input (register-client), after docs/storage-schema.md ---------

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const CLIENT_ID = /^[\x20-\x7E]{1,256}$/;

/** Splits a space-separated scope list; throws on a malformed token. */
export function parseScopeList(text, what) {
  const list = text.split(' ').filter((s) => s !== '');
  for (const s of list) {
    if (!SCOPE_TOKEN.test(s)) throw new Error(`${what}: "${s}" is not a scope token (RFC 6749 §3.3: printable ASCII except space, " and \\)`);
  }
  return [...new Set(list)];
}

/** Checks register-client's options; returns the record fields or throws with a clear message. */
export function validateClientInput({ id, scopes, defaultScopes = '', audience = ['https://api.example.com'], ttl = '3600' }) {
  if (id === undefined) throw new Error('--id is required');
  if (!CLIENT_ID.test(id)) throw new Error('--id must be 1-256 printable ASCII characters (space allowed)');
  if (scopes === undefined) throw new Error('--scopes is required (space-separated, e.g. "orders:read orders:write")');
  const scopeList = parseScopeList(scopes, '--scopes');
  if (scopeList.length === 0) throw new Error('--scopes must name at least one scope');
  const defaults = parseScopeList(defaultScopes, '--default-scopes');
  const outside = defaults.filter((s) => !scopeList.includes(s));
  if (outside.length) throw new Error(`--default-scopes must be a subset of --scopes; not in --scopes: ${outside.join(' ')}`);
  if (audience.length === 0) throw new Error('--audience needs at least one value');
  for (const a of audience) {
    let url;
    try { url = new URL(a); } catch { throw new Error(`--audience "${a}" is not an absolute URL`); }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`--audience "${a}" must be an http(s) URL`);
  }
  if (!/^\d+$/.test(ttl) || +ttl < 60 || +ttl > 86400) throw new Error('--ttl must be an integer number of seconds from 60 to 86400');
  return { id, scopes: scopeList, defaultScopes: defaults, audience, ttl: +ttl };
}

// --- local dev state --------------------------------------------------------------------

/** Reads NAME=value lines (values may be single- or double-quoted), as wrangler's dotenv does. */
export function readDevVars(path = DEV_VARS) {
  const vars = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    const q = m[2][0];
    vars[m[1]] = (q === "'" || q === '"') && m[2].endsWith(q) && m[2].length > 1 ? m[2].slice(1, -1) : m[2];
  }
  return vars;
}

/**
 * Creates .dev.vars with a fresh signing key, pepper and admin token unless it exists (an
 * existing file without ADMIN_TOKEN gets one appended); returns its vars.
 */
export function ensureDevVars(path = DEV_VARS) {
  let created = false;
  if (!existsSync(path)) {
    const text = [
      '# Local secrets for `wrangler dev`, generated by scripts/dev-init.mjs. Never commit.',
      `SIGNING_KEYS='${signingKeysJson([generateSigningKey()])}'`,
      `CLIENT_SECRET_PEPPER=${randomToken()}`,
      '# Switches the admin API on (edge-token-admin reads it from here for http://127.0.0.1).',
      `ADMIN_TOKEN=${randomToken()}`,
      '',
    ].join('\n');
    writeFileSync(path, text, { mode: 0o600, flag: 'wx' });
    created = true;
  } else if (!readDevVars(path).ADMIN_TOKEN) {
    const old = readFileSync(path, 'utf8');
    writeFileSync(path, `${old}${old.endsWith('\n') || old === '' ? '' : '\n'}ADMIN_TOKEN=${randomToken()}\n`, { mode: 0o600 });
  }
  const vars = readDevVars(path);
  if (!vars.CLIENT_SECRET_PEPPER || vars.CLIENT_SECRET_PEPPER.length < 32) {
    throw new Error(`${path} has no CLIENT_SECRET_PEPPER of at least 32 characters; fix it or delete the file to regenerate`);
  }
  return { vars, created };
}

const wrangler = (args, opts = {}) =>
  execFileSync(WRANGLER, ['kv', 'key', ...args, '--binding', 'CLIENTS', '--local'],
    { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });

/** Writes a client record into wrangler's local KV (.wrangler/state), where `wrangler dev` reads it. */
export function putLocalClient(record) {
  // The metadata the admin API writes too, so that `client list` can show the status.
  wrangler(['put', kvKey(record.client_id), JSON.stringify(record), '--metadata', JSON.stringify({ disabled: record.disabled })]);
}

/** True when the local KV already holds a record for this client id. */
export function localClientExists(id) {
  const out = wrangler(['list', '--prefix', kvKey(id)]);
  return JSON.parse(out.slice(out.indexOf('['))).some((k) => k.name === kvKey(id));
}

/** A ready command line for a developer to fetch a token (Basic credentials form-encoded). */
export function curlExample(id, secret, url = 'http://127.0.0.1:8787/oauth2/token') {
  const enc = (s) => new URLSearchParams({ s }).toString().slice(2);
  const q = (s) => `'${s.replaceAll("'", `'\\''`)}'`;
  return `curl -u ${q(`${enc(id)}:${enc(secret)}`)} -d grant_type=client_credentials ${url}`;
}
