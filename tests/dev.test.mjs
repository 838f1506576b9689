// `npm start`'s pre-flight (scripts/dev-ports.mjs): a second start finds the port taken, says
// so plainly and exits before touching any local state.
// Requirement → test:
//   issue 16.1: two `npm start`s → "a port already bound on loopback stops the start before any state is touched, naming the URL"
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { assert } from './harness.mjs';

const PREFLIGHT = join(dirname(fileURLToPath(import.meta.url)), '..', 'scripts', 'dev-ports.mjs');
const preflight = (ports) => spawnSync(process.execPath, [PREFLIGHT, ...ports.map(String)], { encoding: 'utf8', timeout: 10_000 });

test('a port already bound on loopback stops the start before any state is touched, naming the URL', async () => {
  const server = createServer();
  await new Promise((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, resolve));
  const { port } = server.address();
  try {
    const busy = preflight([port]);
    assert.equal(busy.status, 1, busy.stderr);
    assert.match(busy.stderr, new RegExp(`http://127\\.0\\.0\\.1:${port} already in use`));
    assert.match(busy.stderr, /npm start` is probably running already/);
    assert.match(busy.stderr, /nothing was changed/);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  const free = preflight([port]);
  assert.equal(free.status, 0, free.stderr);
});
