// Signing-key rotation (docs/storage-schema.md): every key of SIGNING_KEYS is published, the first signs.
// Requirement → test:
//   RFC 7515 §4.1.4 kid = RFC 7638 thumbprint of the signing key → "a token is signed by the only key and names it by its thumbprint"
//   rotation step 2: new key first, old key still published        → "after the new key moves first, old tokens still verify and new tokens name the new key"
//   rotation step 3: old key removed                                → "after the old key is removed, its tokens no longer verify while new ones do"
//   contract: no secret/token in logs                               → "the logs hold no secret, ..." (testLogHygiene)
import { before, test } from 'node:test';
import { assert, assertIssued, generateSigningKey, jose, testLogHygiene, useWorker } from './harness.mjs';

const w = useWorker();
const keyA = w.keys[0];
const keyB = generateSigningKey();
const thumbprint = ({ kty, crv, x }) => jose.calculateJwkThumbprint({ kty, crv, x });
const kids = async () => (await w.jwks()).keys.map((k) => k.kid);
let c;
let tokenA; // issued under key A, kept across the steps
before(async () => { c = await w.seedClient(); });
const issue = async () => assertIssued(w, await w.token({ auth: [c.id, c.secret] }), c, { scope: 'read', echo: true });

test('a token is signed by the only key and names it by its thumbprint', async () => {
  const { token, protectedHeader } = await issue();
  tokenA = token;
  assert.equal(protectedHeader.kid, await thumbprint(keyA), 'kid of key A');
  assert.deepEqual(await kids(), [await thumbprint(keyA)], 'JWKS holds key A only');
});

test('after the new key moves first, old tokens still verify and new tokens name the new key', async () => {
  await w.reconfigure({ keys: [keyB, keyA] });
  assert.deepEqual((await kids()).sort(), [await thumbprint(keyA), await thumbprint(keyB)].sort(), 'JWKS holds A and B');
  await w.verifyToken(tokenA, c, { scope: 'read' });
  const { protectedHeader } = await issue();
  assert.equal(protectedHeader.kid, await thumbprint(keyB), 'kid of key B');
});

test('after the old key is removed, its tokens no longer verify while new ones do', async () => {
  await w.reconfigure({ keys: [keyB] });
  assert.deepEqual(await kids(), [await thumbprint(keyB)], 'JWKS holds key B only');
  await assert.rejects(w.verifyToken(tokenA, c), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
  const { protectedHeader } = await issue();
  assert.equal(protectedHeader.kid, await thumbprint(keyB), 'kid of key B');
});

testLogHygiene(w);
