// Prepares the local dev state for `wrangler dev` (run by scripts/dev.sh, i.e. `npm start`):
// .dev.vars with a signing key and pepper if missing, and the demo client `demo` with a fresh
// secret in wrangler's local KV. The secret is printed to the developer's terminal on purpose.
import { clientRecord, curlExample, ensureDevVars, putLocalClient, randomToken } from './devstate.mjs';

try {
  const { vars, created } = ensureDevVars();
  console.log(created ? 'dev: created .dev.vars (signing key, pepper, admin token)' : 'dev: using the existing .dev.vars');
  const secret = randomToken();
  putLocalClient(clientRecord({
    id: 'demo', secrets: [secret], pepper: vars.CLIENT_SECRET_PEPPER,
    scopes: ['demo:read', 'demo:write'], defaultScopes: ['demo:read'],
  }));
  console.log(`
dev: demo client (a new secret on every start)
  client_id:     demo
  client_secret: ${secret}
  scopes:        demo:read demo:write (default demo:read)

  ${curlExample('demo', secret)}

dev: the token Worker on http://127.0.0.1:8787, the admin Worker (admin API) on http://127.0.0.1:8788
dev: manage clients and keys (admin API, token from .dev.vars), in another terminal:
  npm run admin -- client create --scopes "a b" --audience https://api.example.com
  npm run admin -- --help
`);
} catch (e) {
  console.error(`dev: ${e.stderr || e.message}`);
  process.exit(1);
}
