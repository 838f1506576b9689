// X.509 certificates for mutual TLS (RFC 8705), made with node:crypto alone: a local CA, the
// certificates it issues (a client's, the local TLS front's), self-signed ones, and what
// Cloudflare's edge would report of a presented certificate (`request.cf.tlsClientAuth`).
// Used by the black-box tests (tests/mtls.test.mjs) and by `npm start`'s TLS front
// (scripts/mtls-front.mjs). Every key is generated on the spot (ECDSA P-256); nothing here is
// ever committed.
import { createHash, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';

// DER: a tag, a length, the content.
function der(tag, ...parts) {
  const body = Buffer.concat(parts.map((p) => Buffer.from(p)));
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}
const seq = (...parts) => der(0x30, ...parts);
const set = (...parts) => der(0x31, ...parts);
const utf8 = (text) => der(0x0c, Buffer.from(text, 'utf8'));
const octets = (bytes) => der(0x04, bytes);
const TRUE = Buffer.from([0x01, 0x01, 0xff]);
function oid(dotted) {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * a + b];
  for (const arc of rest) {
    const groups = [];
    for (let v = arc; ; v = Math.floor(v / 128)) { groups.unshift(v % 128); if (v < 128) break; }
    bytes.push(...groups.map((g, i) => (i < groups.length - 1 ? g | 0x80 : g)));
  }
  return der(0x06, bytes);
}
function utcTime(date) {
  const iso = date.toISOString(); // 2026-12-02T11:13:02.000Z → 261202111302Z
  return der(0x17, Buffer.from(`${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`));
}

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const ATTRIBUTES = { CN: '2.5.4.3', O: '2.5.4.10', OU: '2.5.4.11', C: '2.5.4.6' };

/** A Name from [type, value] pairs, most general first (C, O, …, CN), as certificates hold it. */
const name = (rdns) => seq(...rdns.map(([type, value]) => set(seq(oid(ATTRIBUTES[type]), utf8(value)))));

/** RFC 2253 form of such a Name: most specific first, comma-separated, specials escaped. */
export const rfc2253 = (rdns) => [...rdns].reverse()
  .map(([type, value]) => `${type}=${value.replace(/([,+"\\<>;=])/g, '\\$1').replace(/^([ #])/, '\\$1').replace(/ $/, '\\ ')}`)
  .join(',');

function extensions({ ca, server }) {
  const list = [
    seq(oid('2.5.29.19'), TRUE, octets(ca ? seq(TRUE) : seq())), // basicConstraints, critical
    // keyUsage, critical: keyCertSign and cRLSign for a CA, digitalSignature otherwise.
    seq(oid('2.5.29.15'), TRUE, octets(ca ? Buffer.from([0x03, 0x02, 0x01, 0x06]) : Buffer.from([0x03, 0x02, 0x07, 0x80]))),
  ];
  if (!ca) list.push(seq(oid('2.5.29.37'), octets(seq(oid(server ? '1.3.6.1.5.5.7.3.1' : '1.3.6.1.5.5.7.3.2'))))); // extKeyUsage
  if (server) list.push(seq(oid('2.5.29.17'), octets(seq(der(0x82, Buffer.from('localhost')), der(0x87, Buffer.from([127, 0, 0, 1])))))); // SAN
  return der(0xa3, seq(...list));
}

/**
 * A certificate for `subject` ([type, value] pairs, most general first), signed by `issuer`
 * ({rdns, privateKey}; itself when absent: self-signed). `ca`: a CA certificate; `server`: a
 * TLS server's for 127.0.0.1 and localhost (else a TLS client's). Returns {der, pem, key (PEM),
 * privateKey, rdns, dn (RFC 2253), sha256 (hex of the DER's SHA-256)}.
 */
export function issue(subject, { issuer, ca = false, server = false, days = 30 } = {}) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signer = issuer ?? { rdns: subject, privateKey };
  const serial = randomBytes(16);
  serial[0] &= 0x7f; // a positive INTEGER
  const now = Date.now();
  const tbs = seq(
    der(0xa0, der(0x02, [2])), // version 3
    der(0x02, serial),
    ECDSA_SHA256,
    name(signer.rdns),
    seq(utcTime(new Date(now - 60_000)), utcTime(new Date(now + days * 86_400_000))),
    name(subject),
    publicKey.export({ type: 'spki', format: 'der' }),
    extensions({ ca, server }),
  );
  const signature = sign('sha256', tbs, { key: signer.privateKey, dsaEncoding: 'der' });
  const certificate = seq(tbs, ECDSA_SHA256, der(0x03, Buffer.from([0]), signature));
  const lines = certificate.toString('base64').match(/.{1,64}/g).join('\n');
  return {
    der: certificate,
    pem: `-----BEGIN CERTIFICATE-----\n${lines}\n-----END CERTIFICATE-----\n`,
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    privateKey,
    rdns: subject,
    dn: rfc2253(subject),
    sha256: createHash('sha256').update(certificate).digest('hex'),
  };
}

/**
 * What Cloudflare's edge reports of a presented certificate (`request.cf.tlsClientAuth`, the
 * fields the Worker reads): verified when `ca` (a certificate of `issue`) issued it and it is
 * in its validity period. `certificate`: a DER Buffer or a PEM string.
 */
export function tlsClientAuth(certificate, ca) {
  const x509 = new X509Certificate(certificate);
  const now = Date.now();
  const current = Date.parse(x509.validFrom) <= now && now <= Date.parse(x509.validTo);
  const chained = ca !== undefined && x509.checkIssued(new X509Certificate(ca.der)) && x509.verify(new X509Certificate(ca.der).publicKey);
  const verified = chained && current ? 'SUCCESS' : `FAILED:${chained ? 'certificate has expired' : 'unable to get local issuer certificate'}`;
  return {
    certPresented: '1',
    certVerified: verified,
    certRevoked: '0',
    certFingerprintSHA256: x509.fingerprint256.replaceAll(':', '').toLowerCase(),
    // Node gives the subject one attribute a line, most general first.
    certSubjectDNRFC2253: rfc2253(x509.subject.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)])),
    certIssuerDNRFC2253: rfc2253(x509.issuer.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)])),
  };
}

/** What the edge reports when no certificate was presented on an mTLS hostname. */
export const NO_CERTIFICATE = { certPresented: '0', certVerified: 'NONE', certRevoked: '0', certFingerprintSHA256: '', certSubjectDNRFC2253: '' };
