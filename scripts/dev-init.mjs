// Prepares the local dev state for `wrangler dev` (run by scripts/dev.sh, i.e. `npm start`):
// .dev.vars with a signing key and pepper if missing, and the demo client `demo` in wrangler's
// local KV. The demo secret is made once and kept (beside the local KV, in .wrangler/), so the
// curl line printed by an earlier start keeps working; it is printed to the developer's terminal
// on purpose.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT, clientRecord, curlExample, ensureDevVars, putLocalClient, randomToken } from './devstate.mjs';

/** Where the demo secret is kept: with the local KV, so that wiping one wipes the other. */
const DEMO_SECRET = join(ROOT, '.wrangler', 'state', 'demo-client-secret');
const AUDIENCE = 'https://api.example.com';

try {
  const { vars, created } = ensureDevVars();
  console.log(created ? 'dev: created .dev.vars (signing key, pepper, admin token)' : 'dev: using the existing .dev.vars');
  // A new pepper (new .dev.vars) invalidates the stored hash: the demo client is written again.
  const kept = !created && existsSync(DEMO_SECRET) ? readFileSync(DEMO_SECRET, 'utf8').trim() : '';
  const secret = kept || randomToken();
  if (!kept) {
    putLocalClient(clientRecord({
      id: 'demo', secrets: [secret], pepper: vars.CLIENT_SECRET_PEPPER,
      scopes: ['demo:read', 'demo:write'], defaultScopes: ['demo:read'], audience: [AUDIENCE],
    }));
    mkdirSync(dirname(DEMO_SECRET), { recursive: true });
    writeFileSync(DEMO_SECRET, `${secret}\n`, { mode: 0o600 });
  }
  console.log(`
dev: demo client (${kept ? 'the same secret as at the last start' : 'a new secret, kept across restarts'})
  client_id:     demo
  client_secret: ${secret}
  scopes:        demo:read demo:write (default demo:read)
  audience:      ${AUDIENCE}

  ${curlExample('demo', secret)}

dev: the token Worker on http://127.0.0.1:8787, the admin Worker (admin API) on http://127.0.0.1:8788
dev: manage clients and keys (admin API, token from .dev.vars), in another terminal:
  npm run -s admin -- client create --scopes "a b" --audience https://api.example.com
  npm run -s admin -- --help
`);
} catch (e) {
  console.error(`dev: ${e.stderr || e.message}`);
  process.exit(1);
}
