import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A loopback HTTP proxy that adds `Authorization: Bearer TOKEN` to every request it forwards to
 * `target` (plain requests, streamed bodies such as watches, and protocol upgrades).
 *
 * Why: client-go (kubectl, and so the issue-6 suites) reads a kubeconfig's or --token's
 * credentials only when the transport is TLS, so against Berth's plain-HTTP API it sends no token
 * and gets 401. Until the control plane serves TLS, suites point kubectl at this proxy.
 *
 *   const proxy = await startAuthProxy(cp.url, cp.token);
 *   await kubectl(33, { url: proxy.url, token: cp.token, cacheDir }, ['version']);
 *   await proxy.stop();
 */
export interface AuthProxy {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Requests forwarded so far: method and path with query, e.g. `GET /api?timeout=32s`. */
  requests: string[];
  stop(): Promise<void>;
}

export async function startAuthProxy(target: string, token: string): Promise<AuthProxy> {
  const t = new URL(target);
  const port = Number(t.port) || 80;
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const headersFor = (req: http.IncomingMessage): http.OutgoingHttpHeaders => ({
    ...req.headers,
    host: t.host,
    authorization: `Bearer ${token}`,
  });

  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const up = http.request(
      { host: t.hostname, port, method: req.method, path: req.url, headers: headersFor(req) },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.rawHeaders);
        res.flushHeaders();
        upRes.pipe(res);
      },
    );
    up.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`auth proxy: ${e.message}`);
    });
    res.on('close', () => up.destroy());
    req.pipe(up);
  });

  server.on('upgrade', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    requests.push(`${req.method} ${req.url} (upgrade)`);
    const upstream = net.connect(port, t.hostname, () => {
      const headers = headersFor(req);
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (const [k, v] of Object.entries(headers)) {
        for (const one of Array.isArray(v) ? v : [v]) if (one !== undefined) lines.push(`${k}: ${one}`);
      }
      upstream.write(lines.join('\r\n') + '\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    const close = (): void => {
      upstream.destroy();
      client.destroy();
    };
    upstream.on('error', close);
    client.on('error', close);
    upstream.on('close', close);
    client.on('close', close);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${addr.port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
