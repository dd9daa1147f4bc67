import type { Readable, Writable } from 'node:stream';
import WebSocket from 'ws';
import {
  CHANNEL,
  CLOSE_SIGNAL,
  EXEC_PROTOCOLS,
  ApiError,
  decodeFrame,
  encodeFrame,
  encodeResize,
  execQuery,
  kindFor,
  parseOutcome,
  protocolFeatures,
  resourcePath,
  type ExecOptions,
  type ExecOutcome,
  type TerminalSize,
} from '@berth/api';
import { ConnectionError, connectionError, errorFromResponse } from './http';

export interface ExecStreams {
  /** Copied to the command's stdin (with ExecOptions.stdin); its end closes the command's stdin. */
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  /** With a TTY: the terminal's size now, and a way to hear of changes (returns an unsubscribe). */
  terminal?: { size(): TerminalSize | undefined; onResize(cb: () => void): () => void };
}

export interface ExecConnection {
  server: string;
  token?: string;
  ca?: Buffer;
}

/**
 * Runs a command in a pod's container through `pods/{name}/exec` (WebSocket, v5 then v4 channel
 * protocol, as kubectl 1.30+), copying the streams. Resolves with the command's outcome (its exit
 * code, or the error the server reported); a refused handshake rejects with the server's Status as
 * ApiError, an unreachable server with ConnectionError.
 */
export function execInPod(
  conn: ExecConnection,
  namespace: string,
  pod: string,
  opts: ExecOptions,
  streams: ExecStreams,
): Promise<ExecOutcome> {
  const pods = kindFor('v1', 'Pod')!;
  const url =
    conn.server.replace(/^http/, 'ws') + resourcePath(pods, namespace, pod, 'exec') + '?' + execQuery(opts);
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [EXEC_PROTOCOLS.v5, EXEC_PROTOCOLS.v4], {
      headers: conn.token ? { authorization: `Bearer ${conn.token}` } : {},
      ca: conn.ca,
      perMessageDeflate: false,
    });
    let errorText = '';
    let settled = false;
    const cleanups: Array<() => void> = [];
    const finish = (f: () => void): void => {
      if (settled) return;
      settled = true;
      for (const c of cleanups) c();
      f();
    };
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        finish(() => reject(errorFromResponse(res.statusCode ?? 0, Buffer.concat(chunks)))),
      );
    });
    ws.on('error', (e: NodeJS.ErrnoException) =>
      finish(() =>
        reject(
          connectionError(conn.server, e) ?? new ConnectionError(conn.server, e.code ?? 'ERROR', e.message),
        ),
      ),
    );
    ws.on('open', () => {
      const proto = protocolFeatures(ws.protocol);
      if (!proto) {
        ws.close();
        return finish(() =>
          reject(new ApiError('BadRequest', `the server chose no exec protocol (${ws.protocol || 'none'})`)),
        );
      }
      const t = streams.terminal;
      if (opts.tty && t && proto.resize) {
        const sendSize = (): void => {
          const s = t.size();
          if (s && ws.readyState === ws.OPEN) ws.send(encodeResize(s));
        };
        sendSize();
        cleanups.push(t.onResize(sendSize));
      }
      const input = opts.stdin ? streams.stdin : undefined;
      if (input) {
        const onData = (chunk: Buffer | string): void => {
          if (ws.readyState !== ws.OPEN) return;
          ws.send(encodeFrame(CHANNEL.stdin, Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)));
          if (ws.bufferedAmount > 1024 * 1024) {
            input.pause();
            ws.send(Buffer.alloc(0), () => input.resume());
          }
        };
        const onEnd = (): void => {
          if (proto.close && ws.readyState === ws.OPEN) ws.send(Buffer.from([CLOSE_SIGNAL, CHANNEL.stdin]));
        };
        input.on('data', onData);
        input.once('end', onEnd);
        cleanups.push(() => {
          input.off('data', onData);
          input.off('end', onEnd);
          input.pause();
        });
      }
    });
    ws.on('message', (data: Buffer) => {
      const frame = decodeFrame(data, { close: false });
      if (frame.type !== 'data') return;
      if (frame.channel === CHANNEL.stdout) streams.stdout?.write(frame.data);
      else if (frame.channel === CHANNEL.stderr) streams.stderr?.write(frame.data);
      else if (frame.channel === CHANNEL.error) errorText += frame.data.toString();
    });
    ws.on('close', (code: number) => {
      const proto = protocolFeatures(ws.protocol) ?? { statusErrors: true };
      if (!errorText && code !== 1000 && proto.statusErrors)
        return finish(() => resolve({ error: `the exec connection was lost (WebSocket close ${code})` }));
      finish(() => resolve(parseOutcome(errorText, proto)));
    });
  });
}
