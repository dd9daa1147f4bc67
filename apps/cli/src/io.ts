import type { Readable, Writable } from 'node:stream';

/** Where a command reads and writes: the real process, or a fake in tests. */
export interface CliIO {
  /** The process's byte streams (exec copies bytes, not text); absent in fakes. */
  raw?: { stdin: Readable & { isTTY?: boolean }; stdout: Writable; stderr: Writable };
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  readStdin(): Promise<string>;
  now(): number;
}

export function processIO(): CliIO {
  return {
    raw: { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    env: process.env,
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    now: () => Date.now(),
  };
}
