import type { Readable } from 'node:stream';
import type { WebSocket } from 'ws';
import {
  CHANNEL,
  decodeFrame,
  encodeFrame,
  outcomePayload,
  parseResize,
  type ExecOptions,
  type ExecOutcome,
  type ProtocolFeatures,
} from '@berth/api';
import type { ExecProcess } from './runc-exec';

/** Output is paused while more than this is queued on the socket. */
const HIGH_WATER = 1024 * 1024;

/**
 * Connects one exec WebSocket to its process: stdin frames to the process, stdout/stderr to
 * their channels (paused while the socket is behind), resize frames to the terminal, a v5 close
 * of channel 0 closes the process's stdin. When the process is gone and its output sent, the
 * outcome goes on the error channel and the socket closes normally; when the socket closes
 * first (the client went away), the process is killed. Resolves with the outcome.
 */
export function serveExec(
  ws: WebSocket,
  proto: ProtocolFeatures,
  opts: ExecOptions,
  proc: ExecProcess,
  log?: { warn(o: object, m: string): void },
): Promise<ExecOutcome> {
  let finished = false;
  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
    const msg = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    let frame;
    try {
      frame = decodeFrame(msg, proto);
    } catch (e) {
      log?.warn({ err: (e as Error).message }, 'exec: bad message ignored');
      return;
    }
    if (frame.type === 'close') {
      if (frame.channel === CHANNEL.stdin) proc.stdin?.end();
      return;
    }
    if (frame.type !== 'data') return;
    if (frame.channel === CHANNEL.stdin) {
      if (proc.stdin && !proc.stdin.writableEnded && frame.data.length) proc.stdin.write(frame.data);
    } else if (frame.channel === CHANNEL.resize && proto.resize && opts.tty) {
      try {
        proc.resize(parseResize(frame.data));
      } catch (e) {
        log?.warn({ err: (e as Error).message }, 'exec: bad resize message ignored');
      }
    }
  });
  const gone = (): void => {
    if (finished) return;
    proc.kill();
    // nobody reads any more: let the output drain so the streams end
    proc.stdout.resume();
    proc.stderr?.resume();
  };
  ws.on('close', gone);
  ws.on('error', gone);

  const forward = (stream: Readable | undefined, channel: number, wanted: boolean): Promise<void> =>
    new Promise((resolve) => {
      if (!stream) return resolve();
      stream.on('data', (chunk: Buffer) => {
        if (!wanted || ws.readyState !== ws.OPEN) return;
        ws.send(encodeFrame(channel, chunk), () => {
          if (stream.isPaused() && ws.bufferedAmount < HIGH_WATER / 2) stream.resume();
        });
        if (ws.bufferedAmount > HIGH_WATER) stream.pause();
      });
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
  const outputs = Promise.all([
    forward(proc.stdout, CHANNEL.stdout, opts.stdout || opts.tty),
    forward(proc.stderr, CHANNEL.stderr, opts.stderr),
  ]);

  return Promise.all([proc.done, outputs]).then(([outcome]) => {
    finished = true;
    if (ws.readyState === ws.OPEN) {
      const payload = outcomePayload(outcome, opts.command, proto);
      if (payload) ws.send(encodeFrame(CHANNEL.error, payload));
      ws.close(1000);
    }
    return outcome;
  });
}
