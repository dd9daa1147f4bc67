import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { constants as osConstants } from 'node:os';
import type { ExecOutcome, TerminalSize } from '@berth/api';

/** A command running in a container for `pods/{name}/exec`. */
export interface ExecProcess {
  /** The process's stdin (undefined unless stdin was asked for); end() closes it. */
  stdin?: Writable;
  /** Its stdout, or with a TTY the terminal's output. */
  stdout: Readable;
  /** Its stderr (undefined with a TTY: the terminal carries both). */
  stderr?: Readable;
  /** Sets the terminal size (TTY only; ignored otherwise). */
  resize(size: TerminalSize): void;
  /** Settles once the process is gone and its output has been read. */
  done: Promise<ExecOutcome>;
  /** Ends the process (the client went away): SIGKILL to the command, then to runc. */
  kill(): void;
}

export interface ExecRequest {
  /** runc container id (only containers the agent runs). */
  id: string;
  command: string[];
  stdin: boolean;
  tty: boolean;
  /** Initial terminal size with a TTY. */
  size?: TerminalSize;
}

export interface ExecRunner {
  start(req: ExecRequest): ExecProcess;
}

/**
 * Keeps a pseudo-terminal for `runc exec --tty`: runc run in the foreground wants its own stdio to
 * be a terminal (it copies between it and the container's console and passes the size on at each
 * SIGWINCH). Node cannot open a pty, so this python3 helper opens one, makes it runc's controlling
 * terminal in raw mode, and copies: fd 0 → terminal, terminal → fd 1; fd 3 takes "COLS ROWS"
 * lines (TIOCSWINSZ on the master, the kernel then signals runc). SIGTERM is passed on to runc.
 * Exits with runc's status (128+N for a signal). Stdin EOF leaves the terminal open.
 */
export const TTY_HELPER = String.raw`
import fcntl, os, select, signal, struct, sys, termios, tty
cols, rows = int(sys.argv[1]), int(sys.argv[2])
argv = sys.argv[3:]
master, slave = os.openpty()
tty.setraw(slave)
def setsize(c, r):
    if c > 0 and r > 0:
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack('HHHH', r, c, 0, 0))
setsize(cols, rows)
pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.closerange(3, 256)
    os.execv(argv[0], argv)
os.close(slave)
signal.signal(signal.SIGTERM, lambda s, f: os.kill(pid, signal.SIGTERM))
reads = [0, 3, master]
ctl = b''
while True:
    r, _, _ = select.select(reads, [], [])
    if master in r:
        try:
            data = os.read(master, 65536)
        except OSError:
            data = b''
        if not data:
            break
        while data:
            data = data[os.write(1, data):]
    if 0 in r:
        data = os.read(0, 65536)
        if not data:
            reads.remove(0)
        while data:
            data = data[os.write(master, data):]
    if 3 in r:
        data = os.read(3, 4096)
        if not data:
            reads.remove(3)
        ctl += data
        while b'\n' in ctl:
            line, ctl = ctl.split(b'\n', 1)
            try:
                c, rr = line.split()
                setsize(int(c), int(rr))
            except ValueError:
                pass
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
sys.exit(128 - code if code < 0 else code)
`;

function pythonPath(): string {
  return ['/usr/bin/python3', '/bin/python3'].find((p) => existsSync(p)) ?? 'python3';
}

/**
 * Runs `runc exec` in a container the agent manages, with stdin/stdout/stderr piped (runc copies
 * them to the command), or through the TTY helper with `--tty`. `--pid-file` records the command's
 * host pid so kill() can end the command itself: runc passes SIGTERM on but a SIGKILLed runc would
 * leave the command running in the container.
 */
export class RuncExecRunner implements ExecRunner {
  constructor(
    private readonly o: {
      runtimeBinary: string;
      runtimeRoot: string;
      /** Directory for the pid files (created when missing). */
      pidDir: string;
      python?: string;
      /** After kill(), how long runc gets before SIGKILL (default 2 s). */
      killGraceMs?: number;
    },
  ) {}

  start(req: ExecRequest): ExecProcess {
    if (!/^[0-9a-zA-Z_.-]+$/.test(req.id)) throw new Error(`invalid container id ${JSON.stringify(req.id)}`);
    if (!req.command.length) throw new Error('no command');
    const pidFile = path.join(this.o.pidDir, `${req.id}-${randomBytes(6).toString('hex')}.pid`);
    const runcArgs = [
      this.o.runtimeBinary,
      '--root',
      this.o.runtimeRoot,
      'exec',
      '--pid-file',
      pidFile,
      ...(req.tty ? ['--tty'] : []),
      req.id,
      ...req.command,
    ];
    let child: ChildProcess;
    let helperErr = '';
    let control: Writable | undefined;
    mkdirSync(this.o.pidDir, { recursive: true, mode: 0o700 });
    if (req.tty) {
      const size = req.size ?? { width: 0, height: 0 };
      child = spawn(
        this.o.python ?? pythonPath(),
        ['-c', TTY_HELPER, String(size.width), String(size.height), ...runcArgs],
        { stdio: [req.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe'] },
      );
      control = child.stdio[3] as Writable;
      control.on('error', () => undefined);
      // the helper's own failures (a python traceback); runc's messages go to the terminal
      child.stderr!.on('data', (b: Buffer) => (helperErr = (helperErr + b.toString()).slice(-4096)));
    } else {
      child = spawn(runcArgs[0], runcArgs.slice(1), {
        stdio: [req.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      });
    }
    child.stdin?.on('error', () => undefined);
    let exited = false;
    const done = new Promise<ExecOutcome>((resolve) => {
      let spawnError: string | undefined;
      child.once('error', (e) => (spawnError = `cannot run ${runcArgs[0]}: ${e.message}`));
      child.once('close', (code, signal) => {
        exited = true;
        void fs.rm(pidFile, { force: true });
        if (spawnError) return resolve({ error: spawnError });
        if (helperErr.includes('Traceback'))
          return resolve({ error: `the TTY helper failed: ${helperErr.trim().split('\n').pop()}` });
        if (code !== null) return resolve({ exitCode: code });
        const n = signal ? (osConstants.signals as Record<string, number>)[signal] : undefined;
        resolve({ exitCode: 128 + (n ?? 0) });
      });
    });
    const signalPid = (pid: number | undefined, sig: NodeJS.Signals): void => {
      if (!pid) return;
      try {
        process.kill(pid, sig);
      } catch {
        /* gone */
      }
    };
    return {
      stdin: child.stdin ?? undefined,
      stdout: child.stdout!,
      stderr: req.tty ? undefined : child.stderr!,
      resize: (s) => {
        if (req.tty && control && !control.destroyed && s.width > 0 && s.height > 0)
          control.write(`${s.width} ${s.height}\n`);
      },
      done,
      kill: () => {
        if (exited) return;
        let pid: number | undefined;
        try {
          pid = Number(readFileSync(pidFile, 'utf8').trim()) || undefined;
        } catch {
          /* not started yet */
        }
        signalPid(pid, 'SIGKILL');
        signalPid(child.pid, 'SIGTERM');
        const t = setTimeout(() => {
          if (!exited) signalPid(child.pid, 'SIGKILL');
        }, this.o.killGraceMs ?? 2000);
        t.unref();
      },
    };
  }
}
