// The admin API over HTTP (docs/admin-api.md), without the CLI: the admin Worker
// (wrangler.admin.toml) beside the token Worker, as `npm start` and a deployment run them.
// Requirement → test:
//   the token Worker has no admin API, whatever its bindings          → "the token Worker has no admin API: …"
//   off unless ADMIN_TOKEN is set; a short token leaves it off       → "without ADMIN_TOKEN every /admin path answers 404 …"
//   wrong admin tokens throttled per source, source logged            → "ten wrong admin tokens from one address …"
//   no workers.dev or preview URLs; the configs agree; the objects are the guard Worker's
//                                                                     → "the three Workers' configurations: …"
//   a missing or wrong admin token gets 401, constant-time compare   → "a missing, malformed or wrong admin token gets 401 …"
//   server-generated id; secret with prefix + checksum; hash only    → "a new client gets a generated id and a secret …"
//   bad input: clear message, 400, nothing written                   → "bad input is refused with 400 and a message, and writes nothing"
//   routes: unknown 404, wrong method 405 + Allow, bad tenant 400     → "unknown routes, clients and methods …"
//   KV key client:{tenant}:{id}, guard named {tenant}:{id}; only declared tenants
//                                                                     → "a client of another tenant is stored under its own key …"
//   last use of each secret from the guard object                     → "each secret's last use is shown, …"
//   a changed limit is in force within 1 s (object + isolates' leases) → "a lowered limit is in force within a second: …"
//   one log line per admin request, no body or token                  → "each admin request logs one line …"
//   no admin token, secret or hash in the logs                         → testLogHygiene
import { createHmac } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { after, before, test } from 'node:test';
import { TestWorker, assert, jose, kvKey, oneGateWindow, testLogHygiene, useWorker, within, workerFromConfig } from './harness.mjs';

const TENANTS = {
  default: { token_paths: ['/oauth2/token'] },
  acme: { issuer_path: '/acme', token_paths: ['/acme/oauth2/token'] },
};
const w = useWorker({ adminToken: true, tenants: TENANTS });
const off = new TestWorker({ admin: true });
before(() => off.start());
after(() => off.dispose());

const API = '/admin/v1/tenants/default';
const admin = (path, opts) => w.admin(`${API}${path}`, opts);
const NEW = { scopes: ['orders:read', 'orders:write'], default_scopes: ['orders:read'], audience: ['https://api.example.com'] };
const create = async (body = NEW) => admin('/clients', { method: 'POST', body });
const kvText = async (key) => (await w.mf.getKVNamespace('CLIENTS')).get(key);
/** A client as the harness's verifyToken wants it, from an admin answer. */
const asClient = (info) => ({ id: info.client_id, record: { token_ttl: info.token_ttl, audience: info.audience } });

/** Independent check of the secret format (docs/admin-api.md): etcs_ + 43 base62 + 6 base62 of CRC-32. */
function wellFormed(secret) {
  const m = /^(etcs_[0-9A-Za-z]{43})([0-9A-Za-z]{6})$/.exec(secret);
  if (!m) return false;
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  let n = crc32(Buffer.from(m[1], 'utf8'));
  let sum = '';
  for (let i = 0; i < 6; i++) { sum = alphabet[n % 62] + sum; n = Math.floor(n / 62); }
  return sum === m[2];
}

test("the three Workers' configurations: no workers.dev or preview URLs, one KV namespace and tenants, the guard Worker's objects", () => {
  const token = workerFromConfig('wrangler.toml').config;
  const admin = workerFromConfig('wrangler.admin.toml').config;
  const guard = workerFromConfig('wrangler.guard.toml').config;
  for (const c of [token, admin, guard]) {
    assert.equal(c.workers_dev, false, `${c.name}: workers_dev = false`);
    assert.equal(c.preview_urls, false, `${c.name}: preview_urls = false`);
  }
  assert.equal(new Set([token.name, admin.name, guard.name]).size, 3, 'three names');
  assert.deepEqual(admin.kv_namespaces, token.kv_namespaces, 'the same CLIENTS namespace');
  assert.deepEqual(admin.vars, token.vars, 'the same ISSUER and TENANTS');
  const classes = new Set(guard.migrations.flatMap((m) => m.new_sqlite_classes ?? []));
  assert.deepEqual([...classes].sort(), ['ClientGuard', 'SourceGuard'], 'the guard Worker declares both classes');
  for (const b of guard.durable_objects.bindings) assert.equal(b.script_name, undefined, `${b.name}: the guard Worker's own class`);
  for (const c of [token, admin]) {
    assert.deepEqual(c.durable_objects.bindings.map((b) => b.name).sort(), ['CLIENT_GUARD', 'SOURCE_GUARD'], c.name);
    for (const b of c.durable_objects.bindings) {
      assert.equal(b.script_name, guard.name, `${c.name}: ${b.name} is bound to the guard Worker's objects`);
      assert.ok(classes.has(b.class_name), `${b.class_name} is a class the guard Worker declares`);
    }
    assert.deepEqual(c.migrations, [], `${c.name} declares no objects of its own`);
  }
  assert.deepEqual(guard.kv_namespaces, [], 'the guard Worker reads no KV');
  assert.deepEqual(guard.vars, {}, 'nor any var');
});

const PROBES = [['GET', `${API}/clients`], ['POST', `${API}/clients`], ['GET', '/admin/'], ['DELETE', `${API}/clients/x`]];

test('the token Worker has no admin API: /admin paths are a plain 404, even with an ADMIN_TOKEN binding', async () => {
  const absent = await w.fetch('/no-such-path');
  for (const [method, path] of PROBES) {
    const res = await w.fetch(path, { method, headers: { Authorization: `Bearer ${w.adminToken}` } });
    assert.equal(res.status, 404, `${method} ${path} on the token Worker`);
    assert.equal(res.text, absent.text, 'the same body as a path that does not exist');
  }
  const token = 'a-long-enough-admin-token-for-the-test';
  await off.reconfigure({ bindings: { ADMIN_TOKEN: token } });
  const res = await off.fetch(`${API}/clients`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 404, 'the token Worker ignores an ADMIN_TOKEN it should not have');
  assert.equal(res.headers.get('www-authenticate'), null, 'no challenge');
  await off.reconfigure();
});

test('without ADMIN_TOKEN every /admin path answers 404 as if absent; a short token leaves it off', async () => {
  const absent = await off.admin('/no-such-path');
  assert.equal(absent.status, 404, 'the admin Worker serves nothing outside /admin/');
  for (const [method, path] of PROBES) {
    for (const token of [null, 'anything-at-all-anything-at-all']) {
      const res = await off.admin(path, { method, token });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(res.text, absent.text, 'the same body as a path that does not exist');
      assert.equal(res.headers.get('www-authenticate'), null, 'no challenge that would reveal the API');
    }
  }
  const short = 'short-admin-token-31-characters';
  assert.equal(short.length, 31);
  await off.reconfigure({ adminBindings: { ADMIN_TOKEN: short } });
  const res = await off.admin(`${API}/clients`, { token: short });
  assert.equal(res.status, 404, 'a token under 32 bytes does not switch the API on');
  assert.equal((await w.admin('/oauth2/token', { method: 'POST' })).status, 404, 'nor does the admin Worker serve tokens');
});

test('a missing, malformed or wrong admin token gets 401 and changes nothing', async () => {
  const t = w.adminToken;
  const wrong = [
    {}, { Authorization: '' }, { Authorization: 'Bearer' }, { Authorization: `Basic ${t}` }, { Authorization: t },
    { Authorization: `Bearer ${t}x` }, { Authorization: `Bearer ${t.slice(0, -1)}` }, { Authorization: `Bearer ${t.toUpperCase()}` },
  ];
  for (const headers of wrong) {
    for (const [method, path] of [['GET', '/clients'], ['POST', '/clients']]) {
      const res = await admin(path, { method, headers, token: null, body: method === 'POST' ? NEW : undefined });
      assert.equal(res.status, 401, `${method} ${path} with ${Object.keys(headers).length ? 'a bad' : 'no'} Authorization`);
      assert.equal(res.json?.error, 'unauthorized');
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="admin"/);
      assert.equal(res.headers.get('cache-control'), 'no-store');
    }
  }
  const list = await admin('/clients');
  assert.equal(list.status, 200);
  assert.deepEqual(list.json.clients, [], 'nothing was created by the refused requests');
});

test('a new client gets a generated id and a secret with prefix and checksum; KV holds only its hash', async () => {
  const res = await create();
  assert.equal(res.status, 201, res.text.slice(0, 200));
  const { client, client_secret: secret } = res.json;
  assert.match(client.client_id, /^[0-9A-Za-z]{22}$/, 'generated id: 22 base62 characters');
  assert.ok(wellFormed(secret), 'etcs_ prefix, 256-bit body and a CRC-32 checksum that an independent check accepts');
  const stored = await kvText(kvKey(client.client_id));
  assert.ok(stored, 'stored under client:default:{id}');
  assert.ok(!stored.includes(secret), 'the secret itself is not stored');
  assert.equal(JSON.parse(stored).secrets[0].hash, createHmac('sha256', w.pepper).update(secret).digest('base64url'), 'HMAC-SHA-256 under the pepper');
  assert.ok(!res.text.includes(JSON.parse(stored).secrets[0].hash), 'the hash is not shown');
  const token = await w.token({ auth: [client.client_id, secret] });
  assert.equal(token.status, 200, 'the new client gets a token');
  await w.verifyToken(token.json.access_token, asClient(client), { scope: 'orders:read' });
  const other = await create();
  assert.notEqual(other.json.client_id, client.client_id);
  assert.notEqual(other.json.client_secret, secret);
});

test('bad input is refused with 400 and a message, and writes nothing', async () => {
  const before = (await admin('/clients')).json.clients.length;
  const bad = [
    ['{', /bad JSON body/],
    [{ ...NEW, scope: ['x'] }, /unknown field `scope`/],
    [{ ...NEW, scopes: [] }, /scopes: at least one/],
    [{ ...NEW, scopes: ['a b'] }, /not a scope token/],
    [{ ...NEW, default_scopes: ['admin'] }, /default_scopes must be a subset/],
    [{ ...NEW, audience: [] }, /audience/],
    [{ ...NEW, token_ttl: 30 }, /token_ttl must be 60 to 86400/],
    [{ ...NEW, rate_limit: { per_minute: 0, burst: 1 } }, /rate_limit/],
    [{ ...NEW, client_id: '' }, /client_id/],
    [{ audience: ['x'] }, /missing field `scopes`/],
  ];
  for (const [body, message] of bad) {
    const res = await admin('/clients', { method: 'POST', body });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.json.error, 'invalid_request');
    assert.match(res.json.message, message);
  }
  assert.equal((await admin('/clients')).json.clients.length, before, 'no client was created');

  const { client, client_secret: secret } = (await create()).json;
  const stored = await kvText(kvKey(client.client_id));
  for (const [body, message] of [
    [{ scopes: ['orders:write'] }, /default_scopes must be a subset/],
    [{ token_ttl: 86_401 }, /token_ttl/],
    [{ audience: ['has space'] }, /audience/],
    [{ disabled: true }, /unknown field `disabled`/],
  ]) {
    const res = await admin(`/clients/${client.client_id}`, { method: 'PATCH', body });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.match(res.json.message, message);
  }
  assert.equal(await kvText(kvKey(client.client_id)), stored, 'the record is exactly as before');
  assert.equal((await w.token({ auth: [client.client_id, secret] })).status, 200, 'and still works');
  const big = await admin('/clients', { method: 'POST', body: JSON.stringify({ ...NEW, pad: 'x'.repeat(20_000) }) });
  assert.equal(big.status, 413, 'a body over 16 KiB');
});

test('unknown routes, clients and methods get 404, 405 with Allow, and a bad tenant 400', async () => {
  assert.equal((await admin('/clients/nobody')).status, 404);
  assert.equal((await admin('/clients/nobody/disable', { method: 'POST' })).status, 404);
  assert.equal((await admin('/nothing')).status, 404);
  const put = await admin('/clients', { method: 'PUT', body: {} });
  assert.equal(put.status, 405);
  assert.equal(put.headers.get('allow'), 'GET, POST');
  const res = await w.admin('/admin/v1/tenants/Not_A_Tenant/clients');
  assert.equal(res.status, 400);
  assert.match(res.json.message, /tenant/);
});

test('a client of another tenant is stored under its own key and served only at that tenant\'s path', async () => {
  const res = await w.admin('/admin/v1/tenants/acme/clients', { method: 'POST', body: { ...NEW, client_id: 'shared-name' } });
  assert.equal(res.status, 201);
  assert.equal(res.json.token_path, '/acme/oauth2/token', "the answer names the tenant's token path");
  assert.ok(await kvText(kvKey('shared-name', 'acme')), 'client:acme:shared-name');
  assert.equal(await kvText(kvKey('shared-name')), null, 'nothing under the default tenant');
  assert.equal((await admin('/clients/shared-name')).status, 404);
  const secret = res.json.client_secret;
  assert.equal((await w.token({ auth: ['shared-name', secret] })).status, 401, 'unknown to the default tenant');
  const token = await w.token({ auth: ['shared-name', secret], path: '/acme/oauth2/token' });
  assert.equal(token.status, 200, 'served at its own tenant');
  assert.equal(jose.decodeJwt(token.json.access_token).iss, 'https://issuer.test/acme');
  const undeclared = await w.admin('/admin/v1/tenants/nobody/clients');
  assert.equal(undeclared.status, 404, 'a tenant that TENANTS does not declare');
});

test("each secret's last use is shown, and disable and retire answer with the new state", async () => {
  const { client, client_secret: secret } = (await create()).json;
  const id = client.client_id;
  assert.equal((await w.token({ auth: [id, secret] })).status, 200);
  const shown = await admin(`/clients/${id}`);
  assert.equal(shown.status, 200);
  const now = Math.floor(Date.now() / 1000);
  const used = shown.json.secrets[0].last_used_at;
  assert.ok(Number.isInteger(used) && Math.abs(used - now) <= 5, 'last_used_at is about now');
  assert.equal(shown.json.secrets[0].live, true);

  const disabled = await admin(`/clients/${id}/disable`, { method: 'POST' });
  assert.equal(disabled.json.disabled, true);
  assert.equal(JSON.parse(await kvText(kvKey(id))).disabled, true, 'KV says disabled too');
  await within(1500, 'refused after the disable', async () => (await w.token({ auth: [id, secret] })).json?.error === 'unauthorized_client');
  const enabled = await admin(`/clients/${id}/enable`, { method: 'POST' });
  assert.equal(enabled.json.disabled, false);
  await within(1500, 'served again after the enable', async () => (await w.token({ auth: [id, secret] })).status === 200);

  const rotated = await admin(`/clients/${id}/secrets`, { method: 'POST', body: {} });
  assert.equal(rotated.status, 201);
  const oldId = shown.json.secrets[0].id;
  const retired = await admin(`/clients/${id}/secrets/${oldId}`, { method: 'DELETE' });
  assert.equal(retired.status, 200);
  assert.deepEqual(retired.json.secrets.map((s) => s.id), [rotated.json.secret_id]);
  await within(1500, 'the retired secret refused', async () => (await w.token({ auth: [id, secret] })).status === 401);
  const last = await admin(`/clients/${id}/secrets/${rotated.json.secret_id}`, { method: 'DELETE' });
  assert.equal(last.status, 409, 'the last live secret cannot be retired');
});

test('ten wrong admin tokens from one address get it 429 even with the right token, other addresses go on, and each 401 is logged with its source', async () => {
  const ip = '203.0.113.7';
  const wrong = `${'w'.repeat(40)}-not-the-token`;
  await oneGateWindow();
  for (let i = 0; i < 10; i++) assert.equal((await admin('/clients', { token: wrong, ip })).status, 401, `wrong token ${i + 1}`);
  // The tenth failure reaches the address's shard in the background; the isolate then knows.
  await within(3000, 'the address is blocked', async () => (await admin('/clients', { ip })).status === 429);
  const blocked = await admin('/clients', { ip });
  assert.equal(blocked.status, 429, 'the right token from the blocked address');
  assert.equal(blocked.json.error, 'too_many_requests');
  assert.match(blocked.headers.get('retry-after') ?? '', /^[1-9]\d*$/, 'Retry-After in seconds');
  assert.equal((await admin('/clients', { ip: '203.0.113.8' })).status, 200, 'another address is served');
  const lines = (await w.jsonLogLines()).filter((l) => l.route === 'admin' && l.source === ip);
  assert.equal(lines.filter((l) => l.status === 401).length, 10, 'each 401 is logged with its source');
  assert.ok(lines.some((l) => l.status === 429), 'and each 429');
});

test('a lowered limit is in force within a second: after an update to burst 2, at most 2 more tokens', async () => {
  const { client, client_secret: secret } = (await create()).json;
  const id = client.client_id;
  // The token Worker's isolate holds a lease under the default limit, and a copy of the record
  // (cached 10 s) that keeps saying so.
  for (let i = 0; i < 5; i++) assert.equal((await w.token({ auth: [id, secret] })).status, 200);
  const updated = await admin(`/clients/${id}`, { method: 'PATCH', body: { rate_limit: { per_minute: 5, burst: 2 } } });
  assert.equal(updated.status, 200);
  assert.deepEqual(updated.json.rate_limit, { per_minute: 5, burst: 2 });
  // The admin API is another Worker: a token isolate takes the change in when its view of the
  // client's object expires, within a second (docs/limits.md).
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  const statuses = [];
  for (let i = 0; i < 12; i++) statuses.push((await w.token({ auth: [id, secret] })).status);
  const issued = statuses.filter((s) => s === 200).length;
  assert.ok(issued <= 2, `${issued} tokens after the change: ${statuses}`);
  assert.ok(statuses.includes(429), 'then 429');
});

test('each admin request logs one line naming the operation and status, without the token or a body', async () => {
  const lines = (await w.jsonLogLines()).filter((l) => l.route === 'admin');
  assert.ok(lines.some((l) => l.op === 'create' && l.status === 201 && l.tenant === 'default'), 'a create line');
  assert.ok(lines.some((l) => l.op === undefined && l.status === 401 && /^\d+\.\d+\.\d+\.\d+$/.test(l.source)), 'a refused line with its source');
  assert.ok(lines.some((l) => l.op === 'disable' && typeof l.client_id === 'string'), 'a disable line with the client id');
  for (const l of lines) {
    assert.deepEqual(Object.keys(l).filter((k) => !['route', 'op', 'tenant', 'client_id', 'source', 'status', 'ms'].includes(k)), [], 'no other fields');
  }
});

testLogHygiene(w);
