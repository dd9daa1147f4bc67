import { Writable } from 'node:stream';
import { Command } from 'commander';
import { execInPod, readCa, type ExecStreams } from '@berth/client';
import { CommandContext } from '../context';
import { CliError, EXIT, UsageError } from '../errors';
import type { CliIO } from '../io';

export interface ExecFlags {
  container?: string;
  stdin?: boolean;
  tty?: boolean;
}

/** A Writable over the CLI's text output (fakes in tests have no byte streams). */
function textSink(write: (s: string) => void): Writable {
  return new Writable({
    decodeStrings: false,
    write(chunk: Buffer, _enc, cb) {
      write(chunk.toString());
      cb();
    },
  });
}

/**
 * Runs a command in a pod's container through pods/{name}/exec (the WebSocket channel protocol
 * kubectl speaks) and exits with the command's exit code.
 */
export async function runExec(
  ctx: CommandContext,
  pod: string,
  command: string[],
  flags: ExecFlags,
): Promise<number> {
  const name = pod.startsWith('pod/') ? pod.slice(4) : pod.startsWith('pods/') ? pod.slice(5) : pod;
  if (!command.length)
    throw new UsageError(
      'you must specify at least one command for the container',
      'berthctl exec POD [-c CONTAINER] [-i] [-t] -- COMMAND [ARGS...]',
    );
  const raw = ctx.io.raw;
  let tty = !!flags.tty;
  if (tty && !(flags.stdin && raw?.stdin.isTTY)) {
    ctx.err('Unable to use a TTY - input is not a terminal or the right kind of file\n');
    tty = false;
  }
  const stdin = raw?.stdin as (NodeJS.ReadStream & { setRawMode?: (b: boolean) => void }) | undefined;
  const out = raw?.stdout as (NodeJS.WriteStream & { columns?: number; rows?: number }) | undefined;
  const streams: ExecStreams = {
    stdin: flags.stdin ? stdin : undefined,
    stdout: raw?.stdout ?? textSink((s) => ctx.out(s)),
    stderr: raw?.stderr ?? textSink((s) => ctx.err(s)),
    terminal:
      tty && out
        ? {
            size: () => (out.columns && out.rows ? { width: out.columns, height: out.rows } : undefined),
            onResize: (cb) => {
              out.on('resize', cb);
              return () => out.off('resize', cb);
            },
          }
        : undefined,
  };
  if (flags.stdin && !stdin) throw new CliError('-i needs a standard input to read', EXIT.USAGE);
  const c = ctx.connection;
  if (tty) stdin?.setRawMode?.(true);
  try {
    const outcome = await execInPod(
      {
        server: c.server,
        token: c.token,
        ca: c.ca && c.server.startsWith('https:') ? readCa(c.ca) : undefined,
      },
      ctx.namespace,
      name,
      {
        command,
        container: flags.container,
        stdin: !!flags.stdin,
        stdout: true,
        stderr: !tty,
        tty,
      },
      streams,
    );
    if ('error' in outcome) throw new CliError(outcome.error, EXIT.FAILURE);
    return outcome.exitCode;
  } finally {
    if (tty) stdin?.setRawMode?.(false);
  }
}

export function registerExec(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command('exec')
    .description("Run a command in a pod's container; exits with the command's exit code")
    .argument('<pod>', 'the pod (NAME or pod/NAME)')
    .argument('[command...]', 'the command and its arguments, after --')
    .option('-c, --container <name>', 'the container (default: the only one)')
    .option('-i, --stdin', "pass standard input to the command (closing it closes the command's)")
    .option('-t, --tty', 'allocate a terminal (with -i, when standard input is a terminal)')
    .addHelpText(
      'after',
      '\nExamples:\n  berthctl exec web-7d9f-abcde -- ls /\n  berthctl exec -it web-7d9f-abcde -c app -- sh\n' +
        '  echo hi | berthctl exec -i web-7d9f-abcde -- cat',
    )
    .action(async function (this: Command, pod: string, command: string[], opts: ExecFlags) {
      setExit(await runExec(CommandContext.of(this, io), pod, command, opts));
    });
}
