import { Command } from 'commander';
import { resolveKindName } from '@berth/api';
import { CommandContext } from '../context';
import { EXIT, UsageError } from '../errors';
import type { CliIO } from '../io';

const NODES = resolveKindName('nodes')!;

/**
 * Marks a node (un)schedulable through spec.unschedulable. Prints `node/x cordoned`, or
 * `node/x already cordoned` when there was nothing to change. `dryRun` writes nothing.
 */
export async function setUnschedulable(
  ctx: CommandContext,
  node: string,
  unschedulable: boolean,
  dryRun = false,
): Promise<void> {
  const current = await ctx.client.get(NODES, undefined, node);
  const word = unschedulable ? 'cordoned' : 'uncordoned';
  const suffix = dryRun ? ' (dry run)' : '';
  if (!!current.spec?.unschedulable === unschedulable) {
    ctx.out(`node/${node} already ${word}${suffix}\n`);
    return;
  }
  if (!dryRun)
    await ctx.client.patch(NODES, undefined, node, {
      spec: { unschedulable: unschedulable ? true : null },
    });
  ctx.out(`node/${node} ${word}${suffix}\n`);
}

export async function runCordon(
  ctx: CommandContext,
  nodes: string[],
  unschedulable: boolean,
): Promise<number> {
  if (!nodes.length)
    throw new UsageError(
      'which node? give its name',
      `e.g. berthctl ${unschedulable ? '' : 'un'}cordon node-1`,
    );
  for (const n of nodes) await setUnschedulable(ctx, n.replace(/^(nodes?|no)\//, ''), unschedulable);
  return EXIT.OK;
}

export function registerCordon(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command('cordon')
    .description('Mark nodes unschedulable: no new pods are placed on them')
    .argument('[nodes...]', 'node names')
    .addHelpText('after', '\nExamples:\n  berthctl cordon node-1')
    .action(async function (this: Command, nodes: string[]) {
      setExit(await runCordon(CommandContext.of(this, io), nodes, true));
    });
  program
    .command('uncordon')
    .description('Mark nodes schedulable again')
    .argument('[nodes...]', 'node names')
    .addHelpText('after', '\nExamples:\n  berthctl uncordon node-1')
    .action(async function (this: Command, nodes: string[]) {
      setExit(await runCordon(CommandContext.of(this, io), nodes, false));
    });
}
