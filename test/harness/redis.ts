import { Managed } from './process';
import { freePort, waitForPort } from './ports';
import { tempDir } from './tmp';

/**
 * A real redis-server for a test: its own port on 127.0.0.1 and its own data directory with AOF
 * (appendfsync always, so an acknowledged write survives kill -9). restart() keeps the data.
 */
export class TestRedis {
  proc!: Managed;
  port = 0;
  private dir = tempDir('berth-redis-');

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get dataDir(): string {
    return this.dir.path;
  }

  static async start(): Promise<TestRedis> {
    const r = new TestRedis();
    r.port = await freePort();
    await r.launch();
    return r;
  }

  private async launch(): Promise<void> {
    this.proc = new Managed('redis-server', 'redis-server', [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir.path,
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--save',
      '',
      '--protected-mode',
      'yes',
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
    ]);
    await waitForPort(this.port, 10_000);
  }

  async kill9(): Promise<void> {
    await this.proc.kill9();
  }

  async restart(): Promise<void> {
    await this.proc.stop();
    await this.launch();
  }

  async stop(): Promise<void> {
    await this.proc.stop();
    this.dir.remove();
  }
}
