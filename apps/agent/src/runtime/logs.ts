import { promises as fs, watch } from 'node:fs';

export interface CriLogLine {
  time: string;
  stream: 'stdout' | 'stderr';
  /** A partial line (the container wrote more than one buffer without a newline). */
  partial: boolean;
  content: string;
}

export interface LogEntry {
  time: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

/** Parses one line of the CRI log format: `TIME STREAM F|P CONTENT`. */
export function parseCriLine(raw: string): CriLogLine | undefined {
  const a = raw.indexOf(' ');
  const b = a < 0 ? -1 : raw.indexOf(' ', a + 1);
  if (a <= 0 || b < 0) return undefined;
  const stream = raw.slice(a + 1, b);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const c = raw.indexOf(' ', b + 1);
  const tag = c < 0 ? raw.slice(b + 1) : raw.slice(b + 1, c);
  const flags = tag.split(':');
  if (!flags.includes('F') && !flags.includes('P')) return undefined;
  return {
    time: raw.slice(0, a),
    stream,
    partial: flags.includes('P'),
    content: c < 0 ? '' : raw.slice(c + 1),
  };
}

/** Joins parsed CRI lines: partial pieces are prepended to the next full line of the same stream. */
export class CriAssembler {
  private partial: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };

  push(l: CriLogLine): LogEntry | undefined {
    if (l.partial) {
      this.partial[l.stream] += l.content;
      return undefined;
    }
    const line = this.partial[l.stream] + l.content;
    this.partial[l.stream] = '';
    return { time: l.time, stream: l.stream, line };
  }
}

/** Every complete entry of a CRI log text. */
export function parseCriLog(text: string): LogEntry[] {
  const asm = new CriAssembler();
  const out: LogEntry[] = [];
  for (const raw of text.split('\n')) {
    const p = raw ? parseCriLine(raw) : undefined;
    const e = p && asm.push(p);
    if (e) out.push(e);
  }
  return out;
}

export interface LogReadOptions {
  /** Only the last N entries. */
  tail?: number;
  /** The previous run's log (`<path>.1`, kept by the supervisor when it restarts a container). */
  previous?: boolean;
  /** Keep reading as the file grows until `signal` aborts or `until()` is true after a quiet moment. */
  follow?: boolean;
  signal?: AbortSignal;
  until?: () => boolean | Promise<boolean>;
  /** Fallback poll interval while following (fs.watch may miss events on some filesystems). */
  pollMs?: number;
}

/** The log of a previous run, as kept by the supervisor. */
export function previousLogPath(logPath: string): string {
  return `${logPath}.1`;
}

/**
 * Reads a container's CRI log: tail N, previous run, follow. While following it notices the
 * monitor truncating or replacing the file (size limit, restart) and starts over on the new one.
 */
export class LogReader {
  async *read(logPath: string, opts: LogReadOptions = {}): AsyncGenerator<LogEntry> {
    const file = opts.previous ? previousLogPath(logPath) : logPath;
    let text = await fs.readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' && opts.follow && !opts.previous) return '';
      throw e;
    });
    let st = await fs.stat(file).catch(() => undefined);
    let offset = Buffer.byteLength(text);
    // only complete lines count; an unterminated last line is read again later
    const cut = text.lastIndexOf('\n') + 1;
    offset -= Buffer.byteLength(text.slice(cut));
    text = text.slice(0, cut);
    let entries = parseCriLog(text);
    if (opts.tail !== undefined) entries = opts.tail <= 0 ? [] : entries.slice(-opts.tail);
    for (const e of entries) yield e;
    if (!opts.follow || opts.previous) return;

    const asm = new CriAssembler();
    let wake: (() => void) | undefined;
    const nudge = () => wake?.();
    let watcher: ReturnType<typeof watch> | undefined;
    const arm = () => {
      try {
        watcher?.close();
        watcher = watch(file, nudge);
        watcher.on('error', () => undefined);
      } catch {
        watcher = undefined;
      }
    };
    arm();
    const timer = setInterval(nudge, opts.pollMs ?? 250);
    opts.signal?.addEventListener('abort', nudge);
    try {
      for (;;) {
        if (opts.signal?.aborted) return;
        const now = await fs.stat(file).catch(() => undefined);
        if (now && (!st || now.ino !== st.ino || now.size < offset)) {
          offset = 0; // replaced or truncated: read the new file from its start
          st = now;
          arm();
        }
        if (now && now.size > offset) {
          const fh = await fs.open(file, 'r');
          try {
            const buf = Buffer.alloc(now.size - offset);
            const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
            const chunk = buf.subarray(0, bytesRead);
            const end = chunk.lastIndexOf(0x0a) + 1;
            offset += end;
            for (const raw of chunk.subarray(0, end).toString('utf8').split('\n')) {
              const p = raw ? parseCriLine(raw) : undefined;
              const e = p && asm.push(p);
              if (e) yield e;
            }
          } finally {
            await fh.close();
          }
          continue;
        }
        if (opts.until && (await opts.until())) return;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    } finally {
      clearInterval(timer);
      watcher?.close();
      opts.signal?.removeEventListener('abort', nudge);
    }
  }
}
