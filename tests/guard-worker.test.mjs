// The guard Worker (wrangler.guard.toml, build/guard/): the guard objects' classes live there
// alone, and the token and admin Workers reach them by `script_name` (issue 17: the classes'
// code, ~62 KB gzip, left the token Worker; bench/README.md).
// Requirement → test:
//   the classes are exported by the guard Worker only → "the guard Worker exports both guard classes, and the token and admin Workers export none"
//   the guard Worker has no route of its own        → "the guard Worker answers every request to itself with a plain 404"
//   a revocation through the guard Worker's own namespace is in force at the token Worker within a second
//                                                    → "a client disabled in the guard Worker's object is refused by the token Worker within a second"
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../scripts/devstate.mjs';
import { assert, assertError, assertIssued, testLogHygiene, useWorker, within, workerFromConfig } from './harness.mjs';

const w = useWorker();
const GUARD = workerFromConfig('wrangler.guard.toml');

/** The names a built Worker's module exports (the bundle's one `export{… as Name, …}`). */
function exportsOf(dir) {
  const clause = /export\s*\{([^}]*)\}\s*;?\s*$/.exec(readFileSync(join(ROOT, dir, 'index.js'), 'utf8'));
  assert.ok(clause, `${dir}/index.js ends with an export clause`);
  return clause[1].split(',').map((e) => e.trim().split(/\s+as\s+/).pop());
}

test('the guard Worker exports both guard classes, and the token and admin Workers export none', () => {
  const classes = ['ClientGuard', 'SourceGuard'];
  const guard = exportsOf('build/guard');
  for (const c of classes) assert.ok(guard.includes(c), `the guard Worker exports ${c}`);
  assert.ok(guard.includes('default'), 'and a default export (its fetch)');
  for (const dir of ['build', 'build/admin']) {
    const names = exportsOf(dir);
    assert.ok(names.includes('default'), `${dir}: the export clause is read`);
    for (const c of classes) assert.ok(!names.includes(c), `${dir} does not export ${c}`);
  }
});

test('the guard Worker answers every request to itself with a plain 404', async () => {
  const guard = await w.mf.getWorker(GUARD.name);
  for (const [method, path] of [['GET', '/'], ['POST', '/lease'], ['POST', '/oauth2/token'], ['GET', '/.well-known/jwks.json']]) {
    const res = await guard.fetch(`http://guard${path}`, { method, ...(method === 'POST' ? { body: '{}' } : {}) });
    assert.equal(res.status, 404, `${method} ${path}`);
    assert.deepEqual(await res.json(), { error: 'not_found' }, `${method} ${path}: body`);
    assert.equal(res.headers.get('cache-control'), 'no-store', `${method} ${path}: not cached`);
  }
});

test('a client disabled in the guard Worker\'s object is refused by the token Worker within a second', async () => {
  const c = await w.seedClient();
  await assertIssued(w, await w.token({ auth: [c.id, c.secret] }), c, { scope: 'read', echo: true });
  // The guard Worker's own binding: the object the token Worker leased from is this one.
  const ns = await w.mf.getDurableObjectNamespace('CLIENT_GUARD', GUARD.name);
  const res = await ns.get(ns.idFromName(`${c.tenant}:${c.id}`)).fetch('https://guard/command', {
    method: 'POST', body: JSON.stringify({ op: 'disable' }),
  });
  assert.equal(res.status, 200, 'the command is applied');
  const took = await within(1500, 'the token Worker refuses the disabled client', async () => {
    const answer = await w.token({ auth: [c.id, c.secret] });
    if (answer.status === 200) return false;
    assertError(answer, 400, 'unauthorized_client');
    return true;
  });
  assert.ok(took <= 1100, `refused ${took} ms after the command (limit: the 1 s revocation view)`);
});

testLogHygiene(w);
