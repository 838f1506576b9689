// Revocation across the Workers (docs/limits.md, docs/admin-api.md): the admin Worker disables a
// client or retires a secret through the client's guard object, in the guard Worker, which the
// token Worker's isolates consult; the three Workers run in one workerd, as deployed.
// Requirement → test:
//   a disable acts within a second on a client the token Worker is busy with   → "a client disabled through the admin Worker is refused … within a second …"
//   … and on the very next request when the token Worker's view is older       → "… very next request … idle client"
//   a retired secret likewise, the other secret keeps working                  → "a secret retired through the admin Worker …"
import { test } from 'node:test';
import { assert, testLogHygiene, useWorker, within } from './harness.mjs';

const w = useWorker({ adminToken: true });
const API = '/admin/v1/tenants/default/clients';
/** An isolate trusts a view of the client's object for this long (VIEW_TTL_MS). */
const VIEW_TTL_MS = 1000;
/** Time a request may take on a loaded machine, on top of the guarantee. */
const SLACK_MS = 400;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function newClient() {
  const res = await w.admin(API, { method: 'POST', body: { scopes: ['a'], default_scopes: ['a'], audience: ['https://api.example.com'] } });
  assert.equal(res.status, 201, res.text.slice(0, 200));
  return { id: res.json.client.client_id, secret: res.json.client_secret, secretId: res.json.client.secrets[0].id };
}
const status = async (id, secret) => (await w.token({ auth: [id, secret] })).status;

/** Keeps the token Worker's view of the client warm, as a busy client does. */
async function busy(id, secret) {
  for (let i = 0; i < 5; i++) assert.equal(await status(id, secret), 200, 'served before the change');
}

test('a client disabled through the admin Worker is refused by the token Worker within a second, although it is busy', async () => {
  const { id, secret } = await newClient();
  await busy(id, secret);
  assert.equal((await w.admin(`${API}/${id}/disable`, { method: 'POST' })).status, 200);
  const took = await within(VIEW_TTL_MS + SLACK_MS, 'refused after the disable', async () =>
    (await w.token({ auth: [id, secret] })).json?.error === 'unauthorized_client');
  console.log(`disable: first refusal ${took} ms after the admin answer`);
  for (let i = 0; i < 5; i++) assert.equal(await status(id, secret), 400, 'and every request after it');
});

test('a client disabled through the admin Worker is refused on the very next request when the token Worker has not asked its object within a second (idle client)', async () => {
  const { id, secret } = await newClient();
  assert.equal(await status(id, secret), 200);
  await sleep(VIEW_TTL_MS + 100);
  assert.equal((await w.admin(`${API}/${id}/disable`, { method: 'POST' })).status, 200);
  const next = await w.token({ auth: [id, secret] });
  assert.equal(next.json?.error, 'unauthorized_client', 'the very next request');
});

test('a secret retired through the admin Worker is refused by the token Worker within a second, and on the very next request once idle; the other secret keeps working', async () => {
  const { id, secret: old, secretId } = await newClient();
  const rotated = await w.admin(`${API}/${id}/secrets`, { method: 'POST', body: { old_secret_expires_at: Math.floor(Date.now() / 1000) + 3600 } });
  assert.equal(rotated.status, 201);
  const fresh = rotated.json.client_secret;
  await busy(id, old);
  assert.equal((await w.admin(`${API}/${id}/secrets/${secretId}`, { method: 'DELETE' })).status, 200);
  const took = await within(VIEW_TTL_MS + SLACK_MS, 'the retired secret refused', async () => (await status(id, old)) === 401);
  console.log(`retire: first refusal ${took} ms after the admin answer`);
  assert.equal(await status(id, fresh), 200, 'the new secret works');

  // Idle: the token Worker's view is older than a second, so the next request asks the object.
  const second = await newClient();
  const again = await w.admin(`${API}/${second.id}/secrets`, { method: 'POST', body: {} });
  assert.equal(again.status, 201);
  assert.equal(await status(second.id, second.secret), 200);
  await sleep(VIEW_TTL_MS + 100);
  assert.equal((await w.admin(`${API}/${second.id}/secrets/${second.secretId}`, { method: 'DELETE' })).status, 200);
  assert.equal(await status(second.id, second.secret), 401, 'the very next request');
  assert.equal(await status(second.id, again.json.client_secret), 200, 'the other secret');
});

testLogHygiene(w);
