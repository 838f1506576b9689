// Registers a client in the local dev state (wrangler's local KV, read by `wrangler dev`):
//   npm run register-client -- --id NAME --scopes "a b" [--default-scopes "a"]
//                              [--audience URL]... [--ttl 3600] [--replace]
// Generates a 256-bit secret, stores only its hash, and prints the secret once.
import { parseArgs } from 'node:util';
import { clientRecord, curlExample, ensureDevVars, localClientExists, putLocalClient,
  randomToken, validateClientInput } from './devstate.mjs';

const USAGE = 'usage: npm run register-client -- --id NAME --scopes "a b" [--default-scopes "a"] [--audience URL]... [--ttl SECONDS] [--replace]';

function fail(message) {
  console.error(`register-client: ${message}\n${USAGE}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      id: { type: 'string' }, scopes: { type: 'string' }, 'default-scopes': { type: 'string' },
      audience: { type: 'string', multiple: true }, ttl: { type: 'string' },
      replace: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (e) { fail(e.message); }
if (values.help) { console.log(USAGE); process.exit(0); }

let input;
try {
  input = validateClientInput({ id: values.id, scopes: values.scopes, defaultScopes: values['default-scopes'],
    audience: values.audience, ttl: values.ttl });
} catch (e) { fail(e.message); }

try {
  const { vars } = ensureDevVars();
  if (!values.replace && localClientExists(input.id)) {
    fail(`client "${input.id}" already exists in the local KV; pass --replace to give it a new record and secret`);
  }
  const secret = randomToken();
  putLocalClient(clientRecord({ ...input, secrets: [secret], pepper: vars.CLIENT_SECRET_PEPPER }));
  console.log(`registered client "${input.id}" in the local KV
  client_secret: ${secret}   (shown once; only its hash is stored)
  scopes:        ${input.scopes.join(' ')}${input.defaultScopes.length ? ` (default ${input.defaultScopes.join(' ')})` : ' (no default: requests must name a scope)'}
  audience:      ${input.audience.join(' ')}
  token_ttl:     ${input.ttl}

  ${curlExample(input.id, secret)}${input.defaultScopes.length ? '' : ` -d scope=${encodeURIComponent(input.scopes[0])}`}`);
} catch (e) {
  console.error(`register-client: ${e.stderr || e.message}`);
  process.exit(1);
}
