// The peer of the benchmark: node-oidc-provider configured like the endpoint, in a Node
// process of its own, started and stopped (by its process id) by bench/run.mjs.
// Client credentials only, client_secret_basic, EdDSA (Ed25519) JWT access tokens (RFC 9068
// `at+jwt`) for one audience, one scope, one hour. It reads its key, client id and secret
// from stdin (never from argv or the environment, never printed), listens on 127.0.0.1 only,
// and writes one line `PORT n` to stdout when ready.
import { createServer } from 'node:http';
import { text } from 'node:stream/consumers';
import Provider from 'oidc-provider';

const { issuer, audience, clientId, clientSecret, key } = JSON.parse(await text(process.stdin));

const resourceServer = {
  scope: 'read',
  audience,
  accessTokenTTL: 3600,
  accessTokenFormat: 'jwt',
  jwt: { sign: { alg: 'EdDSA' } },
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'EdDSA', // the default, RS256, has no key here
    scope: 'read',
  }],
  jwks: { keys: [{ ...key, alg: 'EdDSA', use: 'sig' }] },
  scopes: ['read'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // A JWT access token for client credentials needs a resource server: every request gets
    // the one audience, as the endpoint's seeded client does.
    resourceIndicators: {
      enabled: true,
      defaultResource: () => audience,
      useGrantedResource: () => true,
      getResourceServerInfo: () => resourceServer,
    },
  },
});
// Its stock memory adapter keeps nothing for JWT access tokens (it warns once, at start).
provider.on('server_error', (_ctx, err) => process.stderr.write(`peer: server_error ${err.message}\n`));

const server = createServer(provider.callback());
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`PORT ${server.address().port}\n`));
const stop = () => server.close(() => process.exit(0));
process.once('SIGTERM', stop).once('SIGINT', stop);
// Should bench/run.mjs die without stopping it (SIGKILL), do not outlive it.
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 1000).unref();
