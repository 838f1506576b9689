// Gets a DPoP-bound access token (RFC 9449) from the token endpoint, as a client would: makes
// an ES256 key pair, signs a proof for the token request with it, and sends the request with
// client_secret_basic. When the tenant asks for nonces (`dpop_nonce`), it retries once with the
// server's DPoP-Nonce. Prints the token response and the key's thumbprint (the token's cnf.jkt).
//
//   node examples/dpop-token.mjs CLIENT_ID CLIENT_SECRET [TOKEN_URL]
//
// TOKEN_URL defaults to the local token endpoint of `npm start`. The key lives only as long as
// this process: a real client keeps its key for the tokens it binds (a resource server checks
// a proof of the same key with each use of the token). Uses the `jose` of the repository's
// node_modules (`npm install` or `npm start` puts it there).
import { randomUUID } from 'node:crypto';
import * as jose from 'jose';

const [clientId, secret, url = 'http://127.0.0.1:8787/oauth2/token'] = process.argv.slice(2);
if (!clientId || !secret) {
  console.error('usage: node examples/dpop-token.mjs CLIENT_ID CLIENT_SECRET [TOKEN_URL]');
  process.exit(2);
}

const { publicKey, privateKey } = await jose.generateKeyPair('ES256');
const jwk = await jose.exportJWK(publicKey);

/** A proof for one POST to `url` (RFC 9449 §4.2), with the server's nonce when it gave one. */
function proof(nonce) {
  const claims = { htm: 'POST', htu: url, iat: Math.floor(Date.now() / 1000), jti: randomUUID() };
  return new jose.SignJWT(nonce ? { ...claims, nonce } : claims)
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
    .sign(privateKey);
}

/** One token request with a fresh proof. */
async function request(nonce) {
  const form = (s) => encodeURIComponent(s).replace(/%20/g, '+');
  const basic = Buffer.from(`${form(clientId)}:${form(secret)}`).toString('base64');
  return fetch(url, {
    method: 'POST',
    headers: {
      Authorization: `Basic ${basic}`,
      'Content-Type': 'application/x-www-form-urlencoded',
      DPoP: await proof(nonce),
    },
    body: 'grant_type=client_credentials',
  });
}

let res = await request();
let body = await res.json();
if (res.status === 400 && body.error === 'use_dpop_nonce') {
  res = await request(res.headers.get('DPoP-Nonce'));
  body = await res.json();
}
console.log(JSON.stringify(body, null, 2));
if (res.status !== 200) process.exit(1);
console.log(`key thumbprint (cnf.jkt): ${await jose.calculateJwkThumbprint(jwk)}`);
