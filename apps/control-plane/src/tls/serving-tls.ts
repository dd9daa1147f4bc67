import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import type { ServerConfig } from '../config/config';
import { ensurePki, servingNames, type PkiResult } from './pki';

/** What the HTTPS server is started with; undefined fields of ServerConfig mean plain HTTP. */
export interface ServingTls {
  cert: Buffer;
  key: Buffer;
  certFile: string;
  /** The CA clients should trust: DATA_DIR/pki/ca.crt with --tls auto; unknown with given files. */
  caFile?: string;
  /** With --tls auto: what ensurePki did (for the start-up log; holds no key material). */
  pki?: PkiResult;
}

/** A TLS setting that cannot be used: main() prints it as one line and exits 2. */
export class TlsConfigError extends Error {}

/**
 * The serving certificate and key for the configured mode: --tls-cert-file/--tls-private-key-file
 * as given (checked to be a matching pair), --tls auto from DATA_DIR/pki (generated or reused),
 * or undefined for plain HTTP.
 */
export async function servingTls(config: ServerConfig, now = new Date()): Promise<ServingTls | undefined> {
  if (config.tlsCertFile && config.tlsPrivateKeyFile) {
    const read = (flag: string, file: string): Buffer => {
      try {
        return readFileSync(file);
      } catch (e) {
        throw new TlsConfigError(
          `flag ${flag}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        );
      }
    };
    const cert = read('--tls-cert-file', config.tlsCertFile);
    const key = read('--tls-private-key-file', config.tlsPrivateKeyFile);
    try {
      createSecureContext({ cert, key });
    } catch (e) {
      // OpenSSL's reason (e.g. "key values mismatch"); never the key itself.
      throw new TlsConfigError(
        `flags --tls-cert-file/--tls-private-key-file: ${config.tlsCertFile} and ${config.tlsPrivateKeyFile} are not a usable certificate and key: ${(e as Error).message}`,
      );
    }
    return { cert, key, certFile: config.tlsCertFile };
  }
  if (config.tls !== 'auto') return undefined;
  const pki = await ensurePki(path.join(config.dataDir, 'pki'), servingNames(config.host), now);
  return {
    cert: readFileSync(pki.certFile),
    key: readFileSync(pki.keyFile),
    certFile: pki.certFile,
    caFile: pki.caFile,
    pki,
  };
}
