// The example resource server (examples/resource-server) run by the black-box tests: built
// with its build.sh, started in a Miniflare of its own beside an endpoint that listens on a
// fixed loopback port, which is its issuer too, so that the example fetches the endpoint's JWKS
// over HTTP as it would in production. Shared by tests/resource-server*.test.mjs.
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { ROOT } from '../scripts/devstate.mjs';
import { TestWorker, assert, workerFromConfig } from './harness.mjs';

/** This API's identifier: the example's AUDIENCE in the tests. */
export const API = 'https://orders.example/api';

/** A free loopback port: the endpoint's, known before it starts so that it is its issuer too. */
async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** An endpoint (TestWorker) on a fixed loopback port, kept across `reconfigure`, which is its issuer. */
export async function loopbackEndpoint(opts = {}) {
  const port = await freePort();
  class LoopbackEndpoint extends TestWorker {
    options(...args) { return { ...super.options(...args), port }; }
  }
  return new LoopbackEndpoint({ ...opts, issuer: `http://127.0.0.1:${port}` });
}

/**
 * Builds the example (skipped when up to date) and starts it against the started endpoint `w`:
 * its vars from its wrangler.toml, the endpoint's issuer and JWKS, AUDIENCE `API`, then
 * `bindings`. `outboundService` sees its outgoing requests; `onOutput` gets its output.
 */
export async function startExample(w, { bindings = {}, outboundService, onOutput = () => {} } = {}) {
  const build = spawnSync('bash', [join(ROOT, 'examples', 'resource-server', 'build.sh')], { encoding: 'utf8', timeout: 600_000 });
  assert.equal(build.status, 0, `examples/resource-server/build.sh failed:\n${(build.stderr ?? '').slice(-3000)}`);
  const config = workerFromConfig('examples/resource-server/wrangler.toml');
  const example = new Miniflare({
    host: '127.0.0.1',
    name: config.name,
    modules: true,
    scriptPath: config.scriptPath,
    modulesRoot: config.modulesRoot,
    modulesRules: config.modulesRules,
    compatibilityDate: config.compatibilityDate,
    bindings: {
      ...config.vars,
      ISSUER: w.issuer,
      JWKS_URL: `${w.origin}/.well-known/jwks.json`,
      AUDIENCE: API,
      INTROSPECTION_URL: `${w.origin}/oauth2/introspect`,
      ...bindings,
    },
    ...(outboundService ? { outboundService } : {}),
    handleRuntimeStdio: (stdout, stderr) => {
      for (const s of [stdout, stderr]) s.on('data', (chunk) => onOutput(String(chunk)));
    },
  });
  await example.ready;
  return example;
}
