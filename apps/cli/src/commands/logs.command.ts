import { Command } from 'commander';
import { CommandContext } from '../context';
import { CliError, EXIT } from '../errors';
import type { CliIO } from '../io';

export interface LogsFlags {
  container?: string;
  follow?: boolean;
  previous?: boolean;
  tail?: string;
}

/** Copies a pod's log to stdout (following it with -f until the container ends or Ctrl-C). */
export async function runLogs(ctx: CommandContext, pod: string, flags: LogsFlags): Promise<number> {
  const name = pod.startsWith('pod/') ? pod.slice(4) : pod.startsWith('pods/') ? pod.slice(5) : pod;
  let tailLines: number | undefined;
  if (flags.tail !== undefined && flags.tail !== '-1') {
    tailLines = Number(flags.tail);
    if (!Number.isInteger(tailLines) || tailLines < 0)
      throw new CliError(`--tail must be a whole number (or -1 for all), not "${flags.tail}"`, EXIT.USAGE);
  }
  const stream = ctx.client.logs(ctx.namespace, name, {
    container: flags.container,
    follow: flags.follow,
    previous: flags.previous,
    tailLines,
  });
  for await (const chunk of stream) ctx.out((chunk as Buffer).toString());
  return EXIT.OK;
}

export function registerLogs(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command('logs')
    .description("Print a pod's container log")
    .argument('<pod>', 'the pod (NAME or pod/NAME)')
    .option('-c, --container <name>', 'the container (default: the only one)')
    .option('-f, --follow', 'keep printing as the container writes')
    .option('-p, --previous', 'the log of the previous (restarted) instance')
    .option('--tail <lines>', 'only the last lines (-1 = all)')
    .addHelpText(
      'after',
      '\nExamples:\n  berthctl logs web-7d9f-abcde\n  berthctl logs -f web-7d9f-abcde -c app --tail 20',
    )
    .action(async function (this: Command, pod: string, opts: LogsFlags) {
      setExit(await runLogs(CommandContext.of(this, io), pod, opts));
    });
}
