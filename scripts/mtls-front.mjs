// `npm start`'s stand-in for Cloudflare's mutual-TLS edge (docs/sender-constrained.md): an
// HTTPS server on 127.0.0.1 that asks every client for a certificate (and accepts one it cannot
// verify, as an API Shield hostname that lets self-signed certificates through), then forwards
// the request to the local token Worker with `request.cf.tlsClientAuth` filled in from the real
// peer certificate, verified against a dev CA made here. Locally only: the Worker's own socket
// takes the `cf` object from the `MF-CF-Blob` header (miniflare's), which this front sets and
// never passes on from a caller.
//
// At each start it makes a dev CA, its own server certificate and a demo client certificate
// (scripts/certs.mjs), and writes them to .wrangler/state/mtls/ (wiped with the local state,
// never committed): ca.pem, client.pem and client.key for curl.
// Usage: node scripts/mtls-front.mjs TLS_PORT WORKER_PORT
import { mkdirSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:https';
import { join } from 'node:path';
import { ROOT } from './devstate.mjs';
import { issue, tlsClientAuth } from './certs.mjs';

/** Where the generated certificates go. */
export const MTLS_DIR = join(ROOT, '.wrangler', 'state', 'mtls');
/** The demo client certificate's subject, RFC 2253 form (the demo-mtls client's record names it). */
export const DEMO_SUBJECT = [['O', 'edge-token dev'], ['CN', 'demo-mtls']];

/** Makes the dev CA and the two certificates, and writes what curl needs. */
export function makeCertificates(dir = MTLS_DIR) {
  const ca = issue([['O', 'edge-token dev'], ['CN', 'edge-token dev CA']], { ca: true });
  const server = issue([['O', 'edge-token dev'], ['CN', '127.0.0.1']], { issuer: ca, server: true });
  const client = issue(DEMO_SUBJECT, { issuer: ca });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'ca.pem'), ca.pem);
  writeFileSync(join(dir, 'client.pem'), client.pem);
  writeFileSync(join(dir, 'client.key'), client.key, { mode: 0o600 });
  return { ca, server, client };
}

/** What the edge would report of the connection's client certificate. */
export function edgeReport(socket, ca) {
  const peer = socket.getPeerX509Certificate?.();
  if (!peer) return { certPresented: '0', certVerified: 'NONE', certRevoked: '0', certFingerprintSHA256: '', certSubjectDNRFC2253: '' };
  return {
    ...tlsClientAuth(peer.raw, ca),
    // The TLS stack's own verdict against the dev CA, as Cloudflare's.
    certVerified: socket.authorized ? 'SUCCESS' : `FAILED:${String(socket.authorizationError ?? 'unverified').replace(/[\n\0]/g, ' ')}`,
  };
}

/** Starts the front on 127.0.0.1:`tlsPort`, forwarding to 127.0.0.1:`workerPort`; resolves to the server. */
export function startFront(tlsPort, workerPort, certs = makeCertificates()) {
  const { ca, server } = certs;
  const front = createServer({ key: server.key, cert: server.pem, ca: ca.pem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const headers = { ...req.headers };
    delete headers['mf-cf-blob']; // a caller never sets the edge's report
    // The whole `cf` object: with it, the runtime no longer reads the caller's Accept-Encoding.
    const cf = { tlsClientAuth: edgeReport(req.socket, ca), clientAcceptEncoding: req.headers['accept-encoding'] ?? '' };
    headers['mf-cf-blob'] = JSON.stringify(cf);
    headers['cf-connecting-ip'] = req.socket.remoteAddress ?? '127.0.0.1';
    const upstream = httpRequest({ host: '127.0.0.1', port: workerPort, method: req.method, path: req.url, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => { res.writeHead(502); res.end('{"error":"the local Worker did not answer"}'); });
    req.pipe(upstream);
  });
  return new Promise((resolve, reject) => {
    front.once('error', reject);
    front.listen(tlsPort, '127.0.0.1', () => resolve(front));
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [tlsPort, workerPort] = process.argv.slice(2).map(Number);
  const front = await startFront(tlsPort, workerPort);
  console.log(`dev: mutual-TLS front on https://127.0.0.1:${front.address().port} → the token Worker (certificates in .wrangler/state/mtls/)`);
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => front.close(() => process.exit(0)));
}
