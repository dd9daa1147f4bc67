/**
 * Kubernetes' remote command channel protocol over WebSocket (`pods/{name}/exec`), as client-go's
 * websocket executor and the kubelet speak it. Every binary message is one channel byte then the
 * data: 0 stdin, 1 stdout, 2 stderr, 3 error (the final status), 4 resize (JSON {Width, Height}).
 *
 * - `channel.k8s.io` (v1), `v2.channel.k8s.io`: the error channel carries plain text; no resize.
 * - `v3.channel.k8s.io`: adds the resize channel.
 * - `v4.channel.k8s.io`: the error channel carries a metav1.Status; a non-zero exit is reason
 *   `NonZeroExitCode` with a cause of type `ExitCode` whose message is the code.
 * - `v5.channel.k8s.io`: adds the close message `[255, channel]` (the client closes its stdin).
 *
 * Pure: no sockets, no processes.
 */

export const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4 } as const;
/** First byte of a v5 close message; the second byte is the channel closed. */
export const CLOSE_SIGNAL = 255;

export const EXEC_PROTOCOLS = {
  v5: 'v5.channel.k8s.io',
  v4: 'v4.channel.k8s.io',
  v3: 'v3.channel.k8s.io',
  v2: 'v2.channel.k8s.io',
  v1: 'channel.k8s.io',
} as const;

/** Served protocols, most preferred first. */
export const SERVED_PROTOCOLS: readonly string[] = [
  EXEC_PROTOCOLS.v5,
  EXEC_PROTOCOLS.v4,
  EXEC_PROTOCOLS.v3,
  EXEC_PROTOCOLS.v2,
  EXEC_PROTOCOLS.v1,
];

/** What a negotiated protocol allows. */
export interface ProtocolFeatures {
  name: string;
  version: 1 | 2 | 3 | 4 | 5;
  /** The error channel carries a Status (v4+), else text. */
  statusErrors: boolean;
  /** Channel 4 carries terminal sizes (v3+). */
  resize: boolean;
  /** The client may close a stream with [255, channel] (v5). */
  close: boolean;
}

export function protocolFeatures(name: string): ProtocolFeatures | undefined {
  const version = (
    {
      [EXEC_PROTOCOLS.v5]: 5,
      [EXEC_PROTOCOLS.v4]: 4,
      [EXEC_PROTOCOLS.v3]: 3,
      [EXEC_PROTOCOLS.v2]: 2,
      [EXEC_PROTOCOLS.v1]: 1,
    } as Record<string, 1 | 2 | 3 | 4 | 5>
  )[name];
  if (!version) return undefined;
  return { name, version, statusErrors: version >= 4, resize: version >= 3, close: version >= 5 };
}

/**
 * The protocol the server picks from the client's Sec-WebSocket-Protocol offers: the most recent
 * one Berth serves (the kubelet prefers the newest too). Undefined when none is served; base64
 * variants are not.
 */
export function negotiateProtocol(offered: Iterable<string>): string | undefined {
  const set = new Set([...offered].map((p) => p.trim()));
  return SERVED_PROTOCOLS.find((p) => set.has(p));
}

/** One message: channel byte + data. */
export function encodeFrame(channel: number, data: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  const frame = Buffer.allocUnsafe(body.length + 1);
  frame[0] = channel;
  body.copy(frame, 1);
  return frame;
}

export type Frame =
  { type: 'data'; channel: number; data: Buffer } | { type: 'close'; channel: number } | { type: 'empty' };

/**
 * Decodes one received message. `[255, n]` is a close of channel n only when the protocol has
 * close messages (v5); before v5, 255 is an ordinary (unknown) channel.
 */
export function decodeFrame(msg: Buffer, p: Pick<ProtocolFeatures, 'close'>): Frame {
  if (msg.length === 0) return { type: 'empty' };
  if (p.close && msg[0] === CLOSE_SIGNAL) {
    if (msg.length !== 2) throw new Error(`a close message carries one channel byte, got ${msg.length - 1}`);
    return { type: 'close', channel: msg[1] };
  }
  return { type: 'data', channel: msg[0], data: msg.subarray(1) };
}

export interface TerminalSize {
  width: number;
  height: number;
}

/** A resize message's JSON ({"Width":80,"Height":24}); throws on anything else. */
export function parseResize(data: Buffer | string): TerminalSize {
  const v: unknown = JSON.parse(data.toString());
  const o = (v ?? {}) as { Width?: unknown; Height?: unknown };
  const ok = (n: unknown): n is number =>
    typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 65535;
  if (!ok(o.Width) || !ok(o.Height))
    throw new Error(`a resize message is {"Width":N,"Height":N}, not ${String(data)}`);
  return { width: o.Width, height: o.Height };
}

export function encodeResize(size: TerminalSize): Buffer {
  return encodeFrame(CHANNEL.resize, JSON.stringify({ Width: size.width, Height: size.height }));
}

/** How a command ended, as written on the error channel. */
export type ExecOutcome = { exitCode: number } | { error: string };

/**
 * The error-channel payload for an outcome: a Status for v4+ (Success, or NonZeroExitCode with
 * an ExitCode cause, or InternalError), text for v1–v3 (empty on success: nothing is sent).
 */
export function outcomePayload(
  outcome: ExecOutcome,
  command: readonly string[],
  p: Pick<ProtocolFeatures, 'statusErrors'>,
): string {
  const failure =
    'error' in outcome
      ? outcome.error
      : outcome.exitCode === 0
        ? undefined
        : `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${outcome.exitCode}`;
  if (!p.statusErrors) return failure ?? '';
  if (failure === undefined) return JSON.stringify({ metadata: {}, status: 'Success' });
  if ('error' in outcome)
    return JSON.stringify({
      metadata: {},
      status: 'Failure',
      message: failure,
      reason: 'InternalError',
      code: 500,
    });
  return JSON.stringify({
    metadata: {},
    status: 'Failure',
    message: failure,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(outcome.exitCode) }] },
  });
}

/**
 * Reads the error channel's payload back (client side): the exit code, or the error message.
 * Empty text (v1–v3 success) is exit code 0.
 */
export function parseOutcome(payload: string, p: Pick<ProtocolFeatures, 'statusErrors'>): ExecOutcome {
  if (payload.trim() === '') return { exitCode: 0 };
  if (!p.statusErrors) return { error: payload };
  let s: {
    status?: string;
    reason?: string;
    message?: string;
    details?: { causes?: { reason?: string; message?: string }[] };
  };
  try {
    s = JSON.parse(payload);
  } catch {
    return { error: payload };
  }
  if (s.status === 'Success') return { exitCode: 0 };
  if (s.reason === 'NonZeroExitCode') {
    const cause = s.details?.causes?.find((c) => c.reason === 'ExitCode');
    const code = Number(cause?.message);
    if (Number.isInteger(code) && code >= 0 && code <= 255) return { exitCode: code };
  }
  return { error: s.message ?? payload };
}

/** The exec query of pods/{name}/exec, as kubectl sends it. */
export interface ExecOptions {
  command: string[];
  container?: string;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/**
 * Parses the exec query (repeated `command`, booleans as true/false/1/0). Throws a message
 * naming the bad parameter; as Kubernetes, a command and at least one stream are required, and a
 * TTY merges stderr into stdout (stderr is then off).
 */
export function parseExecQuery(q: URLSearchParams): ExecOptions {
  const bool = (name: string): boolean => {
    const v = q.get(name);
    if (v === null || v === '' || v === 'false' || v === '0') return false;
    if (v === 'true' || v === '1') return true;
    throw new Error(`${name} must be true or false, not ${JSON.stringify(v)}`);
  };
  const command = q.getAll('command');
  if (!command.length || command[0] === '') throw new Error('you must specify at least 1 command');
  const o: ExecOptions = {
    command,
    container: q.get('container') || undefined,
    stdin: bool('stdin'),
    stdout: bool('stdout'),
    stderr: bool('stderr'),
    tty: bool('tty'),
  };
  if (!o.stdin && !o.stdout && !o.stderr)
    throw new Error('you must specify at least 1 of stdin, stdout, stderr');
  // as the kubelet: with a TTY, stderr goes to stdout
  if (o.tty) o.stderr = false;
  return o;
}

/** The query string for ExecOptions (container omitted when not set). */
export function execQuery(o: ExecOptions): URLSearchParams {
  const q = new URLSearchParams();
  for (const c of o.command) q.append('command', c);
  if (o.container) q.set('container', o.container);
  for (const k of ['stdin', 'stdout', 'stderr', 'tty'] as const) if (o[k]) q.set(k, 'true');
  return q;
}
