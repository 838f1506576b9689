// `npm start`'s watcher of .dev.vars (run by scripts/dev.sh). wrangler dev (4.86) reads
// .dev.vars only when it loads its configuration, and watches only the configuration file: when
// .dev.vars changes (`edge-token-admin keys add|promote|retire` rewrite SIGNING_KEYS there), this
// touches the configuration files, and each `wrangler dev` reloads its Worker with the new
// secrets, without a restart: the local KV, the guard objects' storage and the demo secret stay.
// Polls (watchFile), since the CLI replaces the file by a rename, which a watch on the old file
// would miss. Usage: node scripts/dev-watch.mjs FILE CONFIG...
import { utimesSync, watchFile } from 'node:fs';

const [file, ...configs] = process.argv.slice(2);
watchFile(file, { interval: 250 }, (now, before) => {
  if (now.mtimeMs === before.mtimeMs || now.mtimeMs === 0) return;
  const at = new Date();
  for (const config of configs) utimesSync(config, at, at);
  console.log(`dev: ${file} changed: both Workers reload with it (local clients and the demo secret stay)`);
});
