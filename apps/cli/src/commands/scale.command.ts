import { Command } from 'commander';
import type { KindInfo } from '@berth/api';
import { CommandContext, kindArg, splitKindSlashName } from '../context';
import { CliError, EXIT } from '../errors';
import type { CliIO } from '../io';
import { qualifiedName } from '../printers';

export async function runScale(
  ctx: CommandContext,
  args: string[],
  flags: { replicas?: string },
): Promise<number> {
  const replicas = Number(flags.replicas);
  if (flags.replicas === undefined || !Number.isInteger(replicas) || replicas < 0)
    throw new CliError(
      `--replicas must be a whole number of at least 0${flags.replicas === undefined ? '' : `, not "${flags.replicas}"`}`,
      EXIT.USAGE,
      'e.g. berthctl scale deploy web --replicas=3',
    );
  const targets: { kind: KindInfo; name: string }[] = [];
  const slash = args.length ? splitKindSlashName(args[0]) : undefined;
  if (slash) {
    for (const a of args) {
      const s = splitKindSlashName(a);
      if (!s) throw new CliError(`"${a}" is not KIND/NAME`, EXIT.USAGE);
      targets.push(s);
    }
  } else if (args.length >= 2) {
    const kind = kindArg(args[0]);
    for (const name of args.slice(1)) targets.push({ kind, name });
  } else
    throw new CliError('what should be scaled?', EXIT.USAGE, 'e.g. berthctl scale deploy web --replicas=3');
  for (const t of targets) {
    if (!t.kind.hasScale)
      throw new CliError(
        `${t.kind.resource} cannot be scaled`,
        EXIT.USAGE,
        'scale deployments or replicasets',
      );
  }
  for (const t of targets) {
    await ctx.client.setScale(t.kind, ctx.namespace, t.name, replicas);
    ctx.out(`${qualifiedName(t.kind, t.name)} scaled\n`);
  }
  return EXIT.OK;
}

export function registerScale(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command('scale')
    .description('Set the number of replicas of deployments or replicasets')
    .argument('<args...>', 'KIND NAME... or KIND/NAME...')
    .option('--replicas <n>', 'the new number of replicas')
    .addHelpText(
      'after',
      '\nExamples:\n  berthctl scale deploy web --replicas=3\n  berthctl scale deployment/web --replicas 0',
    )
    .action(async function (this: Command, args: string[], opts: { replicas?: string }) {
      setExit(await runScale(CommandContext.of(this, io), args, opts));
    });
}
