import { EventEmitter } from 'node:events';
import { promises as fs, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

export interface ExitEvent {
  id: string;
  exitCode: number;
  exitedAt: Date;
}

/**
 * Watches the monitor's exit directory (one file per exited container, holding its exit code).
 * start() first watches, then scans what is already there, so exits that happened while nobody
 * was watching (the agent was down) are reported too. Each exit file is reported once; removing
 * the file (the runtime does before it creates the container again) or forget(id) re-arms the id.
 * Emits 'exit' (ExitEvent) and 'error' (Error).
 */
export class ExitWatcher extends EventEmitter<{ exit: [ExitEvent]; error: [Error] }> {
  private watcher?: FSWatcher;
  private readonly seen = new Map<string, number>();
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private poll?: NodeJS.Timeout;

  constructor(
    readonly dir: string,
    private readonly opts: { pollMs?: number } = {},
  ) {
    super();
  }

  /** Starts watching (a second call while started does nothing). */
  async start(): Promise<void> {
    if (this.watcher) return;
    await fs.mkdir(this.dir, { recursive: true });
    this.watcher = watch(this.dir, (_ev, name) => {
      if (name) void this.check(String(name));
      else void this.scan();
    });
    this.watcher.on('error', (e) => this.emit('error', e));
    await this.scan();
    // a slow safety net only; fs.watch reports exits at once
    this.poll = setInterval(() => void this.scan(), this.opts.pollMs ?? 10_000);
    this.poll.unref();
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.poll) clearInterval(this.poll);
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
  }

  forget(id: string): void {
    this.seen.delete(id);
  }

  async scan(): Promise<void> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch (e) {
      this.emit('error', e as Error);
      return;
    }
    await Promise.all(names.map((n) => this.check(n)));
  }

  /** Reads one exit file now; the ExitEvent if it holds a complete exit code. */
  static async read(dir: string, id: string): Promise<ExitEvent | undefined> {
    const file = path.join(dir, id);
    try {
      const [text, st] = await Promise.all([fs.readFile(file, 'utf8'), fs.stat(file)]);
      if (!/^-?\d+\s*$/.test(text)) return undefined;
      return { id, exitCode: Number(text.trim()), exitedAt: st.mtime };
    } catch {
      return undefined;
    }
  }

  private async check(name: string, attempt = 0): Promise<void> {
    if (name.startsWith('.') || name.endsWith('.tmp')) return;
    const ev = await ExitWatcher.read(this.dir, name);
    if (!ev) {
      const exists = await fs.stat(path.join(this.dir, name)).catch(() => undefined);
      // removed (the runtime does so before creating the container again): re-arm the id
      if (!exists) this.seen.delete(name);
      // created but not written yet: look again shortly (the write also fires a watch event)
      else if (attempt < 20 && !this.pending.has(name)) {
        this.pending.set(
          name,
          setTimeout(() => {
            this.pending.delete(name);
            void this.check(name, attempt + 1);
          }, 10),
        );
      }
      return;
    }
    if (this.seen.has(name)) return;
    this.seen.set(name, ev.exitedAt.getTime());
    this.emit('exit', ev);
  }
}
