// Prepares the local dev state for `wrangler dev` (run by scripts/dev.sh, i.e. `npm start`):
// .dev.vars with a signing key and pepper if missing, and the demo client `demo` in wrangler's
// local KV. The demo secret is made once and kept (beside the local KV, in .wrangler/), so the
// curl line printed by an earlier start keeps working; it is printed to the developer's terminal
// on purpose.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT, clientRecord, curlExample, ensureDevVars, generateSecret, putLocalClient, unixNow } from './devstate.mjs';
import { rfc2253 } from './certs.mjs';
import { DEMO_SUBJECT } from './mtls-front.mjs';

/** Where the demo secret is kept: with the local KV, so that wiping one wipes the other. */
const DEMO_SECRET = join(ROOT, '.wrangler', 'state', 'demo-client-secret');
const AUDIENCE = 'https://api.example.com';
/** The local URLs (scripts/dev.sh passes its ports). */
const TOKEN_URL = `http://127.0.0.1:${process.env.EDGE_TOKEN_DEV_PORT ?? 8787}`;
const ADMIN_URL = `http://127.0.0.1:${process.env.EDGE_TOKEN_DEV_ADMIN_PORT ?? 8788}`;
const TLS_URL = `https://127.0.0.1:${process.env.EDGE_TOKEN_DEV_TLS_PORT ?? 8443}`;
/** Marks that the mutual-TLS demo client was written (it has no secret, so no pepper to follow). */
const DEMO_MTLS = join(ROOT, '.wrangler', 'state', 'demo-mtls-client');

/**
 * The mutual-TLS demo client `demo-mtls` (tls_client_auth, certificate-bound tokens), written
 * once: the front's demo certificate, made again at each start, always has its subject DN.
 */
function ensureMtlsDemo() {
  if (existsSync(DEMO_MTLS)) return;
  const now = unixNow();
  putLocalClient(clientRecord({
    id: 'demo-mtls', secrets: [], scopes: ['demo:read'], defaultScopes: ['demo:read'], audience: [AUDIENCE],
    created_at: now, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: rfc2253(DEMO_SUBJECT),
    tls_client_certificate_bound_access_tokens: true,
  }));
  mkdirSync(dirname(DEMO_MTLS), { recursive: true });
  writeFileSync(DEMO_MTLS, `${now}\n`);
}

try {
  const { vars, created } = ensureDevVars();
  console.log(created ? 'dev: created .dev.vars (signing key, pepper, admin token)' : 'dev: using the existing .dev.vars');
  // A new pepper (new .dev.vars) invalidates the stored hash: the demo client is written again.
  const kept = !created && existsSync(DEMO_SECRET) ? readFileSync(DEMO_SECRET, 'utf8').trim() : '';
  // An `etcs_…` secret like every other (the admin API's format), which secret scanners know.
  const secret = kept || generateSecret();
  if (!kept) {
    const now = unixNow();
    putLocalClient(clientRecord({
      id: 'demo', secrets: [{ secret, created_at: now }], pepper: vars.CLIENT_SECRET_PEPPER,
      scopes: ['demo:read', 'demo:write'], defaultScopes: ['demo:read'], audience: [AUDIENCE],
      created_at: now,
    }));
    mkdirSync(dirname(DEMO_SECRET), { recursive: true });
    writeFileSync(DEMO_SECRET, `${secret}\n`, { mode: 0o600 });
  }
  ensureMtlsDemo();
  const certs = '.wrangler/state/mtls';
  console.log(`
dev: demo client (${kept ? 'the same secret as at the last start' : 'a new secret, kept across restarts'})
  client_id:     demo
  client_secret: ${secret}
  scopes:        demo:read demo:write (default demo:read)
  audience:      ${AUDIENCE}

  ${curlExample('demo', secret, `${TOKEN_URL}/oauth2/token`)}

dev: mutual TLS (RFC 8705): ${TLS_URL} plays Cloudflare's mTLS edge in front of the token Worker;
  the dev CA and a client certificate for demo-mtls (${rfc2253(DEMO_SUBJECT)}) are made at each
  start in ${certs}/. A token bound to that certificate (cnf x5t#S256):

  curl --cacert ${certs}/ca.pem --cert ${certs}/client.pem --key ${certs}/client.key -d grant_type=client_credentials -d client_id=demo-mtls ${TLS_URL}/oauth2/token

dev: the token Worker on ${TOKEN_URL}, the admin Worker (admin API) on ${ADMIN_URL}
dev: manage clients and keys (admin API, token from .dev.vars), in another terminal:
  npm run -s admin -- client create --scopes "a b" --audience https://api.example.com
  npm run -s admin -- --help
`);
} catch (e) {
  console.error(`dev: ${e.stderr || e.message}`);
  process.exit(1);
}
