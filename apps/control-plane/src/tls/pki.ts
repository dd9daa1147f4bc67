import 'reflect-metadata'; // @peculiar/x509 (tsyringe) needs the Reflect polyfill before it loads
import * as x509 from '@peculiar/x509';
import { X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/**
 * The control plane's own PKI for `--tls` (auto), in the manner of k3s: on first start a
 * self-signed CA and a serving certificate signed by it are generated under DATA_DIR/pki; later
 * starts reuse them, re-issuing the serving certificate when it expires soon, lacks a wanted
 * subject alternative name, or was not signed by the current CA (a CA past its end is replaced,
 * and with it the serving certificate). Keys are ECDSA P-256 (what k3s and kubeadm use by
 * default), written 0600; certificates 0644. Nothing here logs or returns key material except
 * the serving key itself, which goes straight to the TLS server.
 */

/** File names under DATA_DIR/pki. */
export const PKI_FILES = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  cert: 'serving.crt',
  key: 'serving.key',
} as const;

const DAY_MS = 86_400_000;
/** The CA lasts 10 years, a serving certificate 1 year (as k3s). */
export const CA_VALIDITY_MS = 3650 * DAY_MS;
export const SERVING_VALIDITY_MS = 365 * DAY_MS;
/** A serving certificate is re-issued at start when it ends within this long (k3s: 90 days). */
export const RENEW_BEFORE_MS = 90 * DAY_MS;
/** notBefore is set this far back, so a client whose clock is a little behind accepts it. */
const BACKDATE_MS = 60 * 60 * 1000;

const EC: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = {
  name: 'ECDSA',
  namedCurve: 'P-256',
  hash: 'SHA-256',
};

export interface SubjectAltNames {
  dns: string[];
  ips: string[];
}

export interface PkiResult {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** What was written this time: nothing (all reused), the serving certificate, or both. */
  generated: 'none' | 'serving' | 'ca+serving';
  /** Why the serving certificate was (re)issued, when it was. */
  reason?: string;
  /** SHA-256 fingerprint of the CA certificate (safe to log). */
  caFingerprint: string;
  sans: SubjectAltNames;
}

/**
 * The names a serving certificate for `--host HOST` carries: 127.0.0.1, ::1, localhost, this
 * machine's host name, and HOST itself (an IP or a name). For a wildcard HOST (0.0.0.0, ::) the
 * machine's own interface addresses are added, since clients will use one of them.
 */
export function servingNames(
  host: string,
  hostname = os.hostname(),
  interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces(),
): SubjectAltNames {
  const dns = new Set<string>(['localhost']);
  const ips = new Set<string>(['127.0.0.1', '::1']);
  const name = hostname.toLowerCase();
  if (name && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) dns.add(name);
  const h = host.replace(/^\[|\]$/g, '');
  if (h === '0.0.0.0' || h === '::') {
    for (const list of Object.values(interfaces))
      for (const i of list ?? []) if (!i.address.startsWith('fe80:')) ips.add(normalizeIp(i.address));
  } else if (isIP(h)) ips.add(normalizeIp(h));
  else if (h) dns.add(h.toLowerCase());
  return { dns: [...dns].sort(), ips: [...ips].sort() };
}

/** One spelling per address (so ::1 and 0:0:0:0:0:0:0:1 compare equal). */
function normalizeIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}

/** The DNS names and IP addresses a certificate's subjectAltName holds. */
export function certNames(cert: X509Certificate): SubjectAltNames {
  const dns: string[] = [];
  const ips: string[] = [];
  for (const part of (cert.subjectAltName ?? '').split(/,\s*/)) {
    if (part.startsWith('DNS:')) dns.push(part.slice(4).toLowerCase());
    else if (part.startsWith('IP Address:')) ips.push(normalizeIp(part.slice(11)));
  }
  return { dns, ips };
}

/** The end of a certificate's validity, in ms since the epoch. */
function validTo(cert: X509Certificate): number {
  return Date.parse(cert.validTo);
}

function serial(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f; // positive
  if (b[0] === 0) b[0] = 1; // no leading zero byte (DER minimal encoding)
  return b.toString('hex');
}

function pemKey(der: ArrayBuffer): string {
  return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' })
    .export({ format: 'pem', type: 'pkcs8' })
    .toString();
}

/** Writes a file atomically (temp + rename) with the given mode. */
function writeAtomic(file: string, data: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

interface Loaded {
  cert: X509Certificate;
  certPem: string;
  keyPem: string;
}

/** Reads a certificate and its key; undefined when either is missing or unreadable as PEM. */
function load(certFile: string, keyFile: string): Loaded | undefined {
  if (!existsSync(certFile) || !existsSync(keyFile)) return undefined;
  try {
    const certPem = readFileSync(certFile, 'utf8');
    const keyPem = readFileSync(keyFile, 'utf8');
    const cert = new X509Certificate(certPem);
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return undefined;
    return { cert, certPem, keyPem };
  } catch {
    return undefined;
  }
}

async function importKey(keyPem: string): Promise<webcrypto.CryptoKey> {
  const der = createPrivateKey(keyPem).export({ format: 'der', type: 'pkcs8' });
  return webcrypto.subtle.importKey('pkcs8', der, EC, false, ['sign']) as Promise<webcrypto.CryptoKey>;
}

async function createCa(now: Date): Promise<{ certPem: string; keyPem: string }> {
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=berth-ca@${Math.floor(now.getTime() / 1000)}`,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + CA_VALIDITY_MS),
    signingAlgorithm: EC,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const keyPem = pemKey(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certPem: cert.toString('pem') + '\n', keyPem };
}

async function createServing(
  ca: Loaded,
  sans: SubjectAltNames,
  now: Date,
): Promise<{ certPem: string; keyPem: string }> {
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const caCert = new x509.X509Certificate(ca.certPem);
  const notAfter = Math.min(now.getTime() + SERVING_VALIDITY_MS, validTo(ca.cert));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: 'CN=berth-control-plane',
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(notAfter),
    signingAlgorithm: EC,
    publicKey: keys.publicKey,
    signingKey: await importKey(ca.keyPem),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...sans.dns.map((value) => ({ type: 'dns' as const, value })),
        ...sans.ips.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  const keyPem = pemKey(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certPem: cert.toString('pem') + '\n', keyPem };
}

/** Why an existing serving certificate cannot be kept, or undefined when it can. */
function servingProblem(
  serving: Loaded | undefined,
  ca: Loaded,
  wanted: SubjectAltNames,
  now: Date,
): string | undefined {
  if (!serving) return 'no serving certificate yet';
  const c = serving.cert;
  if (!c.checkIssued(ca.cert) || !c.verify(ca.cert.publicKey)) return 'not signed by the current CA';
  if (validTo(c) - now.getTime() < RENEW_BEFORE_MS) return `it ends ${new Date(validTo(c)).toISOString()}`;
  if (Date.parse(c.validFrom) > now.getTime()) return 'it is not valid yet';
  const have = certNames(c);
  const missing = [
    ...wanted.dns.filter((d) => !have.dns.includes(d)),
    ...wanted.ips.filter((i) => !have.ips.includes(i)),
  ];
  if (missing.length) return `it lacks ${missing.join(', ')}`;
  return undefined;
}

/**
 * Makes sure DATA_DIR/pki holds a usable CA and serving certificate for `sans`, generating what
 * is missing or no longer fit (see the file comment). Safe to call at every start.
 */
export async function ensurePki(dir: string, sans: SubjectAltNames, now = new Date()): Promise<PkiResult> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const f = (n: string) => path.join(dir, n);
  let generated: PkiResult['generated'] = 'none';
  let reason: string | undefined;

  let ca = load(f(PKI_FILES.caCert), f(PKI_FILES.caKey));
  if (!ca || validTo(ca.cert) <= now.getTime() || !ca.cert.ca) {
    const made = await createCa(now);
    // The key first: a crash in between leaves a key without a certificate, which load() rejects.
    writeAtomic(f(PKI_FILES.caKey), made.keyPem, 0o600);
    writeAtomic(f(PKI_FILES.caCert), made.certPem, 0o644);
    ca = load(f(PKI_FILES.caCert), f(PKI_FILES.caKey))!;
    generated = 'ca+serving';
    reason = 'a new CA';
  }

  const serving = load(f(PKI_FILES.cert), f(PKI_FILES.key));
  const problem = generated === 'none' ? servingProblem(serving, ca, sans, now) : reason;
  if (problem) {
    const made = await createServing(ca, sans, now);
    writeAtomic(f(PKI_FILES.key), made.keyPem, 0o600);
    writeAtomic(f(PKI_FILES.cert), made.certPem, 0o644);
    if (generated === 'none') generated = 'serving';
    reason = problem;
  }
  // Keys stay private even when something else loosened them.
  chmodSync(f(PKI_FILES.caKey), 0o600);
  chmodSync(f(PKI_FILES.key), 0o600);
  return {
    dir,
    caFile: f(PKI_FILES.caCert),
    certFile: f(PKI_FILES.cert),
    keyFile: f(PKI_FILES.key),
    generated,
    reason,
    caFingerprint: ca.cert.fingerprint256,
    sans,
  };
}
