// Federated workload identity (issue 11): a client with no secret and no key of its own
// authenticates with the token its platform gave it, verified against one of the tenant's
// trusted issuers. Each platform is mimicked with keys made here: a GitHub Actions OIDC token
// (its claim set, RS256, keys inline), a Kubernetes projected service-account token (RS256,
// keys at a jwks_uri served on 127.0.0.1, closed in `after`) and a SPIFFE JWT-SVID (ES256,
// `sub` = spiffe://…, no jti). Tokens verified with `jose`. Requirement → test: tests/README.md.
import { createServer } from 'node:http';
import { after, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { TestWorker, assert, assertError, assertIssued, jose, oneGateWindow, testLogHygiene, useWorker } from './harness.mjs';
import { keyPair, lastReason, now, present } from './jwt-clients.mjs';

const GITHUB = 'https://token.actions.githubusercontent.com';
const K8S = 'https://kubernetes.default.svc.cluster.local';
const SPIRE = 'https://spire.example.org';

const github = await keyPair('RS256');
const k8s = await keyPair('RS256');
const spire = await keyPair('ES256');

// The cluster's keys, served as its OIDC discovery would.
let k8sFetched = 0;
const server = createServer((req, res) => {
  k8sFetched++;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ keys: [k8s.jwk] }));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
after(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }));

const base = new TestWorker();
const name = base.tenant;
const tenants = {
  ...base.tenants,
  [name]: {
    ...base.tenants[name],
    trusted_issuers: [
      { name: 'github', issuer: GITHUB, jwks: { keys: [github.jwk] }, algs: ['RS256'] },
      { name: 'cluster', issuer: K8S, jwks_uri: `http://127.0.0.1:${server.address().port}/openid/v1/jwks`, algs: ['RS256'] },
      { name: 'spire', issuer: SPIRE, jwks: { keys: [spire.jwk] }, algs: ['ES256'], audience: 'https://token.example/spiffe' },
    ],
  },
};
const w = useWorker({ tenants });

/** Seeds a federated client that accepts `subject` (and `claims`) from trusted issuer `issuer`. */
function federatedClient(issuer, subject, claims) {
  return w.seedClient({
    secrets: [],
    record: { token_endpoint_auth_method: 'federated_jwt', federation: { issuer, subject, ...(claims ? { claims } : {}) } },
  });
}

/** A platform token signed by `key`, claims `claims` (undefined removes one). */
async function platformToken(key, claims, header = {}) {
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  const jwt = await new jose.SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);
  w.sensitive.add(jwt);
  return jwt;
}

/** A GitHub Actions OIDC token's claims (docs.github.com, "About security hardening with OpenID Connect"). */
function githubClaims(extra = {}) {
  const t = now();
  return {
    jti: randomUUID(), sub: 'repo:octo-org/octo-repo:environment:prod', aud: w.issuer,
    ref: 'refs/heads/main', sha: 'example-sha', repository: 'octo-org/octo-repo', repository_owner: 'octo-org',
    repository_owner_id: '65', repository_id: '74', repository_visibility: 'private', run_id: '1', run_number: '1',
    run_attempt: '1', actor: 'octocat', actor_id: '12', workflow: 'deploy', head_ref: '', base_ref: '',
    event_name: 'push', ref_type: 'branch', environment: 'prod', job_workflow_ref: 'octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main',
    iss: GITHUB, nbf: t - 5, exp: t + 300, iat: t, ...extra,
  };
}

/** A Kubernetes projected service-account token's claims (TokenRequest API, audience set). */
function k8sClaims(extra = {}) {
  const t = now();
  return {
    aud: [w.issuer], exp: t + 3600, iat: t, nbf: t, iss: K8S, jti: randomUUID(),
    'kubernetes.io': {
      namespace: 'payments',
      node: { name: 'node-1', uid: randomUUID() },
      pod: { name: 'billing-worker-5d8f', uid: randomUUID() },
      serviceaccount: { name: 'billing-worker', uid: randomUUID() },
    },
    sub: 'system:serviceaccount:payments:billing-worker', ...extra,
  };
}

/** A SPIFFE JWT-SVID's claims (SPIFFE JWT-SVID spec §3: sub, aud, exp; iss as SPIRE sets it). */
function svidClaims(extra = {}) {
  const t = now();
  return { sub: 'spiffe://example.org/ns/payments/sa/billing', aud: ['https://token.example/spiffe'], exp: t + 300, iat: t, iss: SPIRE, ...extra };
}

const issued = (c, res) => assertIssued(w, res, c, { scope: 'read', echo: true });

test('a GitHub Actions OIDC token gets a token for the client that accepts its repository and environment', async () => {
  const c = await federatedClient('github', 'repo:octo-org/octo-repo:environment:prod', { repository: 'octo-org/octo-repo', ref: 'refs/heads/main' });
  const token = await platformToken(github, githubClaims());
  await issued(c, await present(w, token, { client_id: c.id }));
  // Single use of its jti.
  assertError(await present(w, token, { client_id: c.id }), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'assertion_replayed');
  // Another branch of the same repository: a required claim differs.
  assertError(await present(w, await platformToken(github, githubClaims({ ref: 'refs/heads/dev' })), { client_id: c.id }), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'claim_mismatch');
});

test('a Kubernetes service-account token, keys fetched from the cluster jwks_uri, gets a token for its namespace and account', async () => {
  const c = await federatedClient('cluster', 'system:serviceaccount:payments:billing-worker',
    { 'kubernetes.io': { namespace: 'payments', serviceaccount: { name: 'billing-worker' } } });
  await issued(c, await present(w, await platformToken(k8s, k8sClaims()), { client_id: c.id }));
  await issued(c, await present(w, await platformToken(k8s, k8sClaims()), { client_id: c.id }));
  assert.equal(k8sFetched, 1, 'the cluster keys were fetched once');
  const other = k8sClaims();
  other['kubernetes.io'].namespace = 'default';
  assertError(await present(w, await platformToken(k8s, other), { client_id: c.id }), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'claim_mismatch');
});

test('a SPIFFE JWT-SVID without a jti gets a token, checked against the issuer own audience', async () => {
  const c = await federatedClient('spire', 'spiffe://example.org/ns/payments/sa/billing');
  await issued(c, await present(w, await platformToken(spire, svidClaims()), { client_id: c.id }));
  assertError(await present(w, await platformToken(spire, svidClaims({ aud: [w.issuer] })), { client_id: c.id }), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'assertion_audience');
});

test('each failed check is the same invalid_client as a wrong secret, and the log names it', async () => {
  const c = await federatedClient('github', 'repo:octo-org/octo-repo:environment:prod');
  const stranger = await keyPair('RS256', github.kid);
  const t = now();
  const cases = [
    [github, githubClaims({ sub: 'repo:octo-org/other:environment:prod' }), 'subject_mismatch'],
    [github, githubClaims({ iss: 'https://evil.example' }), 'issuer_not_trusted'],
    [k8s, k8sClaims({ sub: 'repo:octo-org/octo-repo:environment:prod', iss: GITHUB }), 'unknown_kid'],
    [stranger, githubClaims(), 'assertion_signature'],
    [github, githubClaims({ aud: 'https://elsewhere.example' }), 'assertion_audience'],
    [github, githubClaims({ exp: t - 120, nbf: t - 400, iat: t - 400 }), 'assertion_expired'],
    [github, githubClaims({ exp: undefined }), 'assertion_no_exp'],
    [github, githubClaims({ nbf: t + 300, exp: t + 600 }), 'assertion_not_yet_valid'],
    [spire, { ...githubClaims() }, 'assertion_alg'],
  ];
  const wrongSecret = await w.token({ auth: ['no-such-client', 'wrong-secret-value'] });
  for (const [key, claims, reason] of cases) {
    const res = await present(w, await platformToken(key, claims), { client_id: c.id });
    assertError(res, 401, 'invalid_client');
    assert.equal(res.text, wrongSecret.text, `${reason}: the body of a wrong secret`);
    assert.equal(await lastReason(w), reason);
  }
  // A trusted issuer the client does not name: refused as not trusted for it.
  assertError(await present(w, await platformToken(spire, svidClaims({ sub: 'repo:octo-org/octo-repo:environment:prod' })), { client_id: c.id }), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'issuer_not_trusted');
});

test('a federated client has no secret: a secret or a private_key_jwt assertion is refused', async () => {
  const c = await federatedClient('github', 'repo:octo-org/octo-repo:environment:prod');
  assertError(await w.token({ auth: [c.id, 'any-secret-value'] }), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'auth_method_mismatch');
  // The client's own signed assertion (private_key_jwt's shape) is not its platform's token.
  const own = await keyPair('EdDSA');
  const t = now();
  const selfSigned = await platformToken(own, { iss: c.id, sub: c.id, aud: w.issuer, iat: t, exp: t + 60, jti: randomUUID() });
  assertError(await present(w, selfSigned, { client_id: c.id }), 401, 'invalid_client');
  assert.equal(await lastReason(w), 'issuer_not_trusted');
  // Without client_id the token's sub names no client.
  assertError(await present(w, await platformToken(github, githubClaims())), 401, 'invalid_client');
});

test('failed platform tokens count toward the failure throttling of the address', async () => {
  const c = await federatedClient('github', 'repo:octo-org/octo-repo:environment:prod');
  const ip = '100.72.9.9';
  await oneGateWindow();
  for (let i = 0; i < 10; i++) {
    assertError(await present(w, await platformToken(github, githubClaims({ sub: 'repo:x/y:ref:z' })), { client_id: c.id }, { ip }), 401, 'invalid_client');
  }
  await new Promise((resolve) => setTimeout(resolve, 150));
  const res = await present(w, await platformToken(github, githubClaims()), { client_id: c.id }, { ip });
  assert.equal(res.status, 429, `status (body error: ${res.json?.error})`);
});

test('the metadata of a tenant with trusted issuers names federated_jwt among its methods', async () => {
  const res = await w.fetch(`/.well-known/oauth-authorization-server${tenants[name].issuer_path ?? ''}`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.json.token_endpoint_auth_methods_supported, ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth', 'federated_jwt']);
});

testLogHygiene(w);
