// Signing through the runtime's WebCrypto (src/edge/sign.rs, src/core/sign.rs).
// Requirement → test:
//   the Worker's signature is RFC 8032 Ed25519, byte for byte       → "the token's signature is the one Node's Ed25519 gives for its signing input"
//   tokens verify with PyJWT too (as with jose and jwt-compact)      → "a token verifies with PyJWT against the served JWKS"
//   a key whose x is not d's public key never signs: 500, logged     → "a signing key whose x does not belong to its d gets 500 and signs nothing"
//   contract: no secret/token in logs                                → "the logs hold no secret, ..." (testLogHygiene)
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, sign as nodeSign } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { assert, assertError, assertIssued, generateSigningKey, testLogHygiene, useWorker } from './harness.mjs';
import { ROOT } from '../scripts/devstate.mjs';

const w = useWorker();

/** The private JWK the Worker signs with (the harness's first key). */
const signingJwk = () => ({ kty: 'OKP', crv: 'Ed25519', d: w.keys[0].d, x: w.keys[0].x });

test("the token's signature is the one Node's Ed25519 gives for its signing input", async () => {
  const c = await w.seedClient();
  const { token } = await assertIssued(w, await w.token({ auth: [c.id, c.secret] }), c, { scope: 'read', echo: true });
  const input = token.slice(0, token.lastIndexOf('.'));
  const expected = nodeSign(null, Buffer.from(input), createPrivateKey({ key: signingJwk(), format: 'jwk' }));
  assert.equal(token.slice(token.lastIndexOf('.') + 1), expected.toString('base64url'),
    'Ed25519 is deterministic (RFC 8032): WebCrypto and OpenSSL give the same signature');
  const header = JSON.parse(Buffer.from(input.split('.')[0], 'base64url'));
  assert.deepEqual(Object.keys(header), ['alg', 'kid', 'typ'], 'the header jwt-compact writes');
});

/** PyJWT (pinned, from PyPI) in target/pyjwt; `cryptography` from the system or beside it. */
function pyjwt() {
  const dir = join(process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target'), 'pyjwt');
  if (!existsSync(join(dir, 'jwt'))) {
    const hasCrypto = spawnSync('python3', ['-c', 'import cryptography'], { timeout: 30_000 }).status === 0;
    const r = spawnSync('python3', ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--target', dir,
      ...(hasCrypto ? ['--no-deps', 'PyJWT==2.15.1'] : ['PyJWT[crypto]==2.15.1'])], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, `pip install PyJWT: ${r.stderr?.slice(-500)}`);
  }
  return dir;
}

const PY_VERIFY = `
import json, sys, jwt
token, jwks, issuer, audience = json.load(sys.stdin)
kid = jwt.get_unverified_header(token)["kid"]
key = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == kid))
claims = jwt.decode(token, key, algorithms=["EdDSA"], audience=audience, issuer=issuer)
print(json.dumps(claims))
`;

test('a token verifies with PyJWT against the served JWKS', async () => {
  const c = await w.seedClient({ audience: ['https://api.example.com'] });
  const { token, payload } = await assertIssued(w, await w.token({ auth: [c.id, c.secret] }), c, { scope: 'read', echo: true });
  const jwks = await w.jwks();
  const path = pyjwt();
  const run = (t) => spawnSync('python3', ['-c', PY_VERIFY], {
    input: JSON.stringify([t, jwks, w.issuer, 'https://api.example.com']),
    env: { PATH: process.env.PATH, PYTHONPATH: path }, encoding: 'utf8', timeout: 60_000,
  });
  const ok = run(token);
  assert.equal(ok.status, 0, `PyJWT refused the token: ${ok.stderr.split('\n').filter(Boolean).pop()}`);
  assert.deepEqual(JSON.parse(ok.stdout), payload, 'PyJWT reads the same claims');
  // The signature's first character carries six bits of it (its last one partly padding).
  const [head, body, sig] = token.split('.');
  const tampered = `${head}.${body}.${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
  assert.notEqual(run(tampered).status, 0, 'PyJWT refuses a changed signature');
});

test('a signing key whose x does not belong to its d gets 500 and signs nothing', async () => {
  const good = w.keys;
  const mismatched = { ...generateSigningKey(), x: generateSigningKey().x };
  await w.reconfigure({ keys: [mismatched] });
  const c = await w.seedClient();
  for (let i = 0; i < 2; i++) assertError(await w.token({ auth: [c.id, c.secret] }), 500, 'server_error');
  const lines = await w.jsonLogLines(w.tokenAnswers.length);
  assert.ok(lines.some((l) => l.outcome === 'fault' && l.reason === 'bad_key_material'), 'the log says why');
  await w.reconfigure({ keys: good });
  await assertIssued(w, await w.token({ auth: [c.id, c.secret] }), c, { scope: 'read', echo: true });
});

testLogHygiene(w);
