import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/**
 * A child process started by a test. Output is kept (last 64 KiB) for failure messages; stop()
 * sends SIGTERM then SIGKILL after a grace period; kill9() is a crash. Every Managed process is
 * also killed when the test process exits, so nothing outlives a failed test.
 */
export class Managed {
  readonly child: ChildProcess;
  private out = '';
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    cmd: string,
    args: string[],
    opts: SpawnOptions = {},
  ) {
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    const keep = (b: Buffer) => {
      this.out += b.toString();
      if (this.out.length > 65536) this.out = this.out.slice(-65536);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, sig) => resolve(code ?? (sig ? 128 : null)));
      this.child.once('error', (e) => {
        this.out += `\nspawn error: ${e.message}`;
        resolve(null);
      });
    });
    live.add(this);
    void this.exited.then(() => live.delete(this));
  }

  get output(): string {
    return this.out;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(t);
  }

  async kill9(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Resolves when `pattern` appears in the output. */
  async waitForOutput(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.out.match(pattern);
      if (m) return m;
      if (!this.running) throw new Error(`${this.name} exited before printing ${pattern}:\n${this.out}`);
      if (Date.now() > deadline)
        throw new Error(`${this.name} did not print ${pattern} in ${timeoutMs} ms:\n${this.out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

const live = new Set<Managed>();
process.once('exit', () => {
  for (const m of live) m.child.kill('SIGKILL');
});
