import { execFileSync } from 'node:child_process';
import { createSign, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Managed } from './process';
import { freePort, waitForPort } from './ports';
import { tempDir } from './tmp';

export interface RegistryUser {
  user: string;
  pass: string;
}

export interface StartRegistryOptions {
  /** Basic auth with one bcrypt htpasswd user (Distribution accepts bcrypt entries only). */
  htpasswd?: RegistryUser;
  /** Bearer-token auth: a token server of the test's own signs RS256 JWTs for this user (any user if omitted: anonymous pull allowed). */
  token?: { user?: RegistryUser; allowAnonymousPull?: boolean };
}

export interface TestRegistry {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT */
  host: string;
  /** The registry's filesystem storage root (tests may tamper with blobs here). */
  storageDir: string;
  /** URL of the token server when token auth is on. */
  tokenUrl?: string;
  /** Tokens issued so far (token auth only). */
  tokensIssued: number;
  /** The registry's own output, for failure messages. */
  output(): string;
  /** Path of a blob's data file in the storage dir. */
  blobPath(digest: string): string;
  stop(): Promise<void>;
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

interface TokenServer {
  url: string;
  issued: () => number;
  close(): Promise<void>;
}

/** A tiny token server: GET /token?service=&scope= → {token} signed RS256 with x5c = our self-signed cert. */
async function startTokenServer(
  dir: string,
  service: string,
  issuer: string,
  opts: NonNullable<StartRegistryOptions['token']>,
): Promise<TokenServer & { certPath: string }> {
  const keyPath = path.join(dir, 'token.key');
  const certPath = path.join(dir, 'token.crt');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '2',
      '-subj',
      '/CN=berth-test-token',
    ],
    { stdio: 'pipe' },
  );
  const key = readFileSync(keyPath, 'utf8');
  const certDer = readFileSync(certPath, 'utf8')
    .replace(/-----(BEGIN|END) CERTIFICATE-----/g, '')
    .replace(/\s+/g, '');
  let issued = 0;
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname !== '/token') {
      res.writeHead(404).end();
      return;
    }
    const authz = req.headers.authorization ?? '';
    let subject = '';
    if (authz.startsWith('Basic ')) {
      const [user, ...rest] = Buffer.from(authz.slice(6), 'base64').toString().split(':');
      const pass = rest.join(':');
      if (!opts.user || user !== opts.user.user || pass !== opts.user.pass) {
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end('{"details":"wrong user or password"}');
        return;
      }
      subject = user;
    } else if (opts.user && !opts.allowAnonymousPull) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"credentials required"}');
      return;
    }
    const access = u.searchParams.getAll('scope').flatMap((s) => {
      const [type, ...more] = s.split(':');
      const actions = more.pop()!.split(',');
      const name = more.join(':');
      const allowed = subject ? actions : actions.filter((a) => a === 'pull');
      return [{ type, name, actions: allowed }];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [certDer] };
    const claims = {
      iss: issuer,
      sub: subject,
      aud: service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(signingInput).sign(key);
    issued++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        token: `${signingInput}.${b64url(sig)}`,
        expires_in: 300,
        issued_at: new Date().toISOString(),
      }),
    );
  });
  const port = await freePort();
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}/token`,
    certPath,
    issued: () => issued,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

/**
 * Starts Debian's Distribution registry (`docker-registry serve CONFIG`) on a free 127.0.0.1
 * port with its storage in a temp dir; optionally with htpasswd basic auth or token auth.
 */
export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  const dir = tempDir('berth-registry-');
  const storageDir = path.join(dir.path, 'storage');
  const port = await freePort();
  let auth = '';
  let token: (TokenServer & { certPath: string }) | undefined;
  try {
    if (opts.htpasswd) {
      const line = execFileSync('htpasswd', ['-Bbn', opts.htpasswd.user, opts.htpasswd.pass], {
        encoding: 'utf8',
      }).trim();
      writeFileSync(path.join(dir.path, 'htpasswd'), `${line}\n`);
      auth = `auth:\n  htpasswd:\n    realm: berth-test\n    path: ${path.join(dir.path, 'htpasswd')}\n`;
    } else if (opts.token) {
      token = await startTokenServer(dir.path, 'berth-test-registry', 'berth-test-issuer', opts.token);
      auth = `auth:\n  token:\n    realm: ${token.url}\n    service: berth-test-registry\n    issuer: berth-test-issuer\n    rootcertbundle: ${token.certPath}\n`;
    }
    const config = `version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: ${storageDir}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${port}
  secret: ${randomBytes(16).toString('hex')}
${auth}`;
    const configPath = path.join(dir.path, 'config.yml');
    writeFileSync(configPath, config);
    const proc = new Managed('docker-registry', 'docker-registry', ['serve', configPath]);
    try {
      await waitForPort(port, 15_000);
    } catch (e) {
      await proc.stop();
      throw new Error(`docker-registry did not start: ${(e as Error).message}\n${proc.output}`);
    }
    const tk = token;
    return {
      url: `http://127.0.0.1:${port}`,
      host: `127.0.0.1:${port}`,
      storageDir,
      tokenUrl: tk?.url,
      get tokensIssued() {
        return tk?.issued() ?? 0;
      },
      output: () => proc.output,
      blobPath: (digest: string) => {
        const hex = digest.replace(/^sha256:/, '');
        return path.join(storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
      },
      async stop() {
        await proc.stop();
        await tk?.close();
        dir.remove();
      },
    };
  } catch (e) {
    await token?.close();
    dir.remove();
    throw e;
  }
}
