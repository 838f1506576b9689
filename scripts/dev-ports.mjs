// `npm start`'s pre-flight (scripts/dev.sh), run before anything touches the local state: each
// port given must be free on 127.0.0.1. A port in use most likely means `npm start` already runs
// there; say so plainly and exit 1, so the running server and its demo secret stay as they are.
// Usage: node scripts/dev-ports.mjs PORT...
import { createServer } from 'node:net';

/** Whether `port` can be listened on at 127.0.0.1 (the listener is closed again at once). */
const isFree = (port) => new Promise((resolve) => {
  const server = createServer();
  server.once('error', () => resolve(false));
  server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
});

const ports = process.argv.slice(2).map(Number);
const taken = [];
for (const port of ports) if (!(await isFree(port))) taken.push(port);
if (taken.length > 0) {
  const where = taken.map((p) => `http://127.0.0.1:${p}`).join(' and ');
  console.error(`dev: ${where} already in use: \`npm start\` is probably running already (its curl line and demo secret still work).
dev: stop it first (Ctrl-C in its terminal), or free the port; nothing was changed.`);
  process.exit(1);
}
