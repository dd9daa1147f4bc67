import { Command, Option } from 'commander';
import { ApiError, formatCause, kindFor, type ParsedManifest } from '@berth/api';
import { applyObject, checkManifest, locationOf } from '@berth/sync';
import { CommandContext, collect, isNotFound } from '../context';
import { CliError, EXIT, exitCodeFor, messageOf } from '../errors';
import type { CliIO } from '../io';
import { applyOrder, collectFiles, readManifests } from '../manifests';
import { qualifiedName } from '../printers';

export type DryRun = 'none' | 'client' | 'server';

export interface ApplyFlags {
  filename: string[];
  recursive?: boolean;
  dryRun?: DryRun;
}

export async function runApply(ctx: CommandContext, flags: ApplyFlags): Promise<number> {
  const dryRun: DryRun = flags.dryRun ?? 'none';
  const files = await collectFiles(flags.filename, !!flags.recursive);
  if (!files.length)
    throw new CliError(
      `no manifest files (*.yaml, *.yml, *.json) found in ${flags.filename.join(', ')}`,
      EXIT.INVALID,
      flags.recursive ? undefined : 'use -R to include subdirectories',
    );
  const { manifests, failures } = await readManifests(files, ctx.io.readStdin);
  const codes: number[] = [];
  for (const f of failures) {
    ctx.err(f.message + '\n');
    codes.push(EXIT.INVALID);
  }
  const valid: ParsedManifest[] = [];
  for (const m of manifests) {
    const problems = checkManifest(m, { namespace: ctx.namespace, namespaceFlag: ctx.namespaceFlag });
    if (problems.length) {
      for (const p of problems) ctx.err(p + '\n');
      codes.push(EXIT.INVALID);
      continue;
    }
    valid.push(m);
  }
  const suffix = dryRun === 'client' ? ' (dry run)' : dryRun === 'server' ? ' (server dry run)' : '';
  let applied = 0;
  for (const m of applyOrder(valid)) {
    const obj = m.object;
    const kind = kindFor(obj.apiVersion, obj.kind)!;
    const label = qualifiedName(kind, obj.metadata.name);
    try {
      let verb: string;
      if (dryRun === 'client') {
        let exists = true;
        try {
          await ctx.client.get(kind, obj.metadata.namespace, obj.metadata.name!);
        } catch (e) {
          if (!isNotFound(e)) throw e;
          exists = false;
        }
        verb = exists ? 'configured' : 'created';
      } else {
        ({ verb } = await applyObject(ctx.client, obj, {
          fieldManager: 'berthctl',
          dryRun: dryRun === 'server',
          force: true,
        }));
      }
      ctx.out(`${label} ${verb}${suffix}\n`);
      applied++;
    } catch (e) {
      codes.push(exitCodeFor(e));
      const causes = e instanceof ApiError ? (e.details?.causes ?? []) : [];
      if (causes.length) {
        ctx.err(`${locationOf(m)}: ${label}: ${messageOf(e)}\n`);
        for (const c of causes) ctx.err(formatCause(m, c) + '\n');
      } else {
        ctx.err(`${locationOf(m)}: ${label}: ${messageOf(e)}\n`);
      }
      // An unreachable server fails every object the same way: stop at the first.
      if (!(e instanceof ApiError)) {
        codes.push(EXIT.FAILURE);
        break;
      }
    }
  }
  if (!codes.length) return EXIT.OK;
  const total = manifests.length + failures.length;
  ctx.err(
    `error: ${total - applied} of ${total} ${total === 1 ? 'object was' : 'objects were'} not applied` +
      `${failures.length ? ` (${failures.length} unreadable ${failures.length === 1 ? 'file' : 'files'})` : ''}; ` +
      'fix the errors above and apply again\n',
  );
  return codes.every((c) => c === EXIT.INVALID) ? EXIT.INVALID : (codes.find((c) => c !== EXIT.INVALID) ?? 1);
}

export function registerApply(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command('apply')
    .description('Create or update objects from manifest files (server-side apply)')
    .requiredOption(
      '-f, --filename <path>',
      'a manifest file, a directory of manifests, or - for stdin (repeatable)',
      collect,
    )
    .option('-R, --recursive', 'also read the subdirectories of a directory given with -f')
    .addOption(
      new Option(
        '--dry-run [strategy]',
        'only show what would happen: client (no server call) or server (validated by the server)',
      )
        .choices(['none', 'client', 'server'])
        .preset('client'),
    )
    .addHelpText(
      'after',
      `
Examples:
  berthctl apply -f web.yaml
  berthctl apply -f manifests/ -R
  cat web.yaml | berthctl apply -f -
  berthctl apply -f web.yaml --dry-run=server`,
    )
    .action(async function (this: Command, opts: ApplyFlags) {
      setExit(await runApply(CommandContext.of(this, io), opts));
    });
}
