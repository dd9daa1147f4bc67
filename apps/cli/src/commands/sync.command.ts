import { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { kindFor, parseLabelSelector, toYaml } from '@berth/api';
import {
  defaultSyncName,
  listSyncs,
  SourceMissingError,
  Syncer,
  validSyncName,
  type DriftCorrection,
  type InventoryEntry,
  type PassResult,
  type SyncStatus,
} from '@berth/sync';
import { age } from '../age';
import { CommandContext } from '../context';
import { CliError, EXIT, UsageError } from '../errors';
import type { CliIO } from '../io';
import { formatTable, qualifiedName } from '../printers';

export interface SyncFlags {
  watch?: boolean;
  prune?: boolean;
  dryRun?: boolean;
  selector?: string;
  allowEmpty?: boolean;
  name?: string;
  recursive?: boolean;
}

/** `deployment.apps/web` (with the namespace when -A-like output needs it). */
export function entryLabel(e: InventoryEntry): string {
  const k = kindFor(e.apiVersion, e.kind);
  return k ? qualifiedName(k, e.name) : `${e.kind.toLowerCase()}/${e.name}`;
}

function where(e: InventoryEntry): string {
  return e.namespace ? ` -n ${e.namespace}` : '';
}

/** What a pass printed: one line per object that changed (all of them in a one-shot run). */
export function printPass(ctx: CommandContext, r: PassResult, opts: { all: boolean; dir: string }): void {
  const suffix = r.dryRun ? ' (server dry run)' : '';
  for (const a of r.applied) {
    if (!opts.all && a.verb === 'unchanged') continue;
    ctx.out(`${entryLabel(a.entry)}${where(a.entry)} ${a.verb}${suffix}\n`);
  }
  for (const p of r.pruned) {
    const what =
      p.outcome === 'kept'
        ? 'not pruned (no longer carries the sync label)'
        : p.outcome === 'gone'
          ? 'pruned (already gone)'
          : 'pruned';
    ctx.out(`${entryLabel(p.entry)}${where(p.entry)} ${what}${suffix}\n`);
  }
  for (const h of r.held) {
    if (opts.all) ctx.out(`${entryLabel(h)}${where(h)} kept (${h.file} is broken)\n`);
  }
  for (const e of r.errors) ctx.err(`error: ${e}\n`);
  if (r.stalled) {
    ctx.err(`error: ${r.stalled}\n`);
    return;
  }
  const s = r.status;
  const rev = r.revision ? ` at ${shortRevision(r.revision)}` : '';
  ctx.out(
    `${r.dryRun ? 'would sync' : 'synced'} ${opts.dir}${rev}: ${s.created} created, ${s.configured} configured, ` +
      `${s.unchanged} unchanged, ${s.pruned} pruned, ${s.failed} failed` +
      `${r.errors.length ? `, ${r.errors.length} error(s)` : ''} (${r.durationMs} ms)\n`,
  );
}

function shortRevision(rev: string): string {
  return rev.startsWith('sha256:') ? rev.slice(0, 19) : rev.slice(0, 12);
}

export async function runSync(
  ctx: CommandContext,
  dir: string,
  flags: SyncFlags,
  signal?: AbortSignal,
): Promise<number> {
  if (flags.watch && flags.dryRun) throw new UsageError('--dry-run and --watch cannot be combined');
  const name = flags.name ?? defaultSyncName(dir);
  const bad = validSyncName(name);
  if (bad) throw new UsageError(bad, 'pick one with --name');
  let selector;
  if (flags.selector !== undefined) {
    try {
      selector = parseLabelSelector(flags.selector);
    } catch (e) {
      throw new UsageError(`--selector: ${(e as Error).message}`);
    }
  }
  const st = await stat(dir).catch(() => undefined);
  if (!st)
    throw new CliError(
      `the directory "${dir}" does not exist`,
      EXIT.NOT_FOUND,
      'pass the directory of manifests to sync',
    );
  if (!st.isDirectory())
    throw new CliError(
      `"${dir}" is not a directory`,
      EXIT.INVALID,
      'to apply one file use berthctl apply -f FILE',
    );
  let first = true;
  const syncer = new Syncer({
    client: ctx.client,
    dir,
    name,
    prune: !!flags.prune,
    dryRun: !!flags.dryRun,
    allowEmpty: !!flags.allowEmpty,
    namespace: ctx.namespace,
    namespaceFlag: ctx.namespaceFlag,
    selector,
    recursive: flags.recursive !== false,
    runner: 'berthctl',
    stopWhenDirectoryVanishes: true,
    // Problems in watch mode (the server gone, a drift that cannot be put back) go to stderr.
    log: (level, msg, fields) => {
      if (level === 'info') return;
      const detail = fields?.err ? `: ${String(fields.err)}` : '';
      const what = fields?.object ? ` (${String(fields.object)})` : '';
      if (msg !== 'sync pass')
        ctx.err(`${level === 'error' ? 'error' : 'warning'}: ${msg}${what}${detail}\n`);
    },
    onPass: flags.watch
      ? (r) => {
          // The first pass lists every object; later ones only what changed.
          printPass(ctx, r, { all: first, dir });
          first = false;
        }
      : undefined,
    onDrift: (d: DriftCorrection) =>
      ctx.out(`${entryLabel(d.entry)}${where(d.entry)} ${d.action}: ${d.message}\n`),
  });
  if (!flags.watch) {
    const r = await syncer.pass();
    printPass(ctx, r, { all: true, dir });
    return r.stalled || r.errors.length ? EXIT.FAILURE : EXIT.OK;
  }
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  signal?.addEventListener('abort', onSignal, { once: true });
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await syncer.watch(ac.signal);
  } catch (e) {
    if (e instanceof SourceMissingError) {
      ctx.err(`error: the sync stopped: ${e.message}\n`);
      return EXIT.FAILURE;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return EXIT.OK;
}

/** `berthctl sync status [NAME]`: every sync's last pass, or one sync's in detail. */
export async function runSyncStatus(
  ctx: CommandContext,
  name: string | undefined,
  output?: string,
): Promise<number> {
  const all = await listSyncs(ctx.client);
  const chosen = name ? all.filter((s) => s.sync === name) : all;
  if (name && !chosen.length)
    throw new CliError(
      `no sync named ${JSON.stringify(name)}`,
      EXIT.NOT_FOUND,
      all.length ? `known: ${all.map((s) => s.sync).join(', ')}` : 'run berthctl sync DIR first',
    );
  if (output === 'json' || output === 'yaml') {
    const doc = chosen.map((s) => ({ name: s.sync, objects: s.entries.length, ...(s.status ?? {}) }));
    const body = name ? doc[0] : doc;
    ctx.out(output === 'json' ? JSON.stringify(body, null, 2) + '\n' : toYaml(body));
    return EXIT.OK;
  }
  if (output !== undefined && output !== 'wide')
    throw new UsageError(`unknown output format ${JSON.stringify(output)}`, 'use -o json, yaml or wide');
  if (!chosen.length) {
    ctx.err('No syncs found.\n');
    return EXIT.OK;
  }
  const now = ctx.io.now();
  if (!name) {
    const rows = [
      [
        'NAME',
        'PHASE',
        'REVISION',
        'LAST SYNC',
        'OBJECTS',
        'CREATED',
        'CONFIGURED',
        'PRUNED',
        'FAILED',
        'DIRECTORY',
      ],
    ];
    for (const s of chosen) {
      const st: Partial<SyncStatus> = s.status ?? {};
      rows.push([
        s.sync,
        st.phase ?? 'Unknown',
        st.revision ? shortRevision(st.revision) : '<none>',
        st.lastSyncTime ? age(st.lastSyncTime, now) : '<never>',
        String(s.entries.length),
        String(st.created ?? 0),
        String(st.configured ?? 0),
        String(st.pruned ?? 0),
        String(st.failed ?? 0),
        st.directory ?? '',
      ]);
    }
    ctx.out(formatTable(rows).text);
    return EXIT.OK;
  }
  const s = chosen[0];
  const st: Partial<SyncStatus> = s.status ?? {};
  const lines = [
    `Name:         ${s.sync}`,
    `Directory:    ${st.directory ?? ''}`,
    `Runner:       ${st.runner ?? ''}`,
    `Revision:     ${st.revision ?? '<none>'}`,
    `Phase:        ${st.phase ?? 'Unknown'}`,
    `Last sync:    ${st.lastSyncTime ? `${st.lastSyncTime} (${age(st.lastSyncTime, now)} ago)` : '<never>'}`,
    `Last pass:    ${st.message ?? ''}`,
    `Objects:      ${s.entries.length}${st.held ? ` (${st.held} kept from broken files)` : ''}`,
    `Inventory:    kube-system/${s.object?.metadata.name ?? ''}`,
  ];
  if (st.errors?.length) {
    lines.push('Errors:');
    for (const e of st.errors) lines.push(`  ${e.replace(/\n/g, '\n  ')}`);
  }
  if (output === 'wide' || s.entries.length <= 50) {
    lines.push('Inventory objects:');
    for (const e of s.entries)
      lines.push(`  ${entryLabel(e)}${e.namespace ? ` (${e.namespace})` : ''}  ${e.file}`);
  }
  ctx.out(lines.join('\n') + '\n');
  return EXIT.OK;
}

export function registerSync(program: Command, io: CliIO, setExit: (code: number) => void): void {
  const sync = program
    .command('sync')
    .description(
      'Keep the cluster in sync with a directory of manifests (GitOps): apply, prune, put drift back',
    )
    .argument('[dir]', 'the directory of manifests (usually a git checkout)')
    .option('-w, --watch', 'keep watching: sync on every change, put back what others change')
    .option('--prune', 'delete objects this sync applied whose manifests left the directory')
    .option('--dry-run', 'only show what would be applied and pruned (validated by the server)')
    .option('-l, --selector <selector>', 'only sync objects with these labels, e.g. tier=web')
    .option('--allow-empty', 'let a pass prune everything when the directory has no objects left')
    .option('--name <name>', "the sync's name (default: the directory's name); labels its objects")
    .option('--no-recursive', 'only the top level of the directory')
    .addHelpText(
      'after',
      `
Every object applied carries the label sync.berth.dev/name=NAME and the annotation
sync.berth.dev/file=PATH; the sync's inventory and last status are kept in the ConfigMap
kube-system/berth-sync-NAME. Only objects in that inventory are ever pruned.

Examples:
  berthctl sync ./manifests                 # one pass
  berthctl sync ./manifests --prune --watch # follow the directory, prune, self-heal
  berthctl sync ./manifests --dry-run --prune
  berthctl sync status
  berthctl sync status manifests`,
    )
    .action(async function (this: Command, dir: string | undefined, opts: SyncFlags) {
      if (!dir) throw new UsageError('sync needs a directory', 'berthctl sync DIR [--watch] [--prune]');
      setExit(await runSync(CommandContext.of(this, io), dir, opts));
    });
  sync
    .command('status')
    .description("Show each sync's last pass: revision, time, objects applied/pruned/failed and errors")
    .argument('[name]', 'one sync, in detail')
    .option('-o, --output <format>', 'json, yaml or wide')
    .action(async function (this: Command, name: string | undefined, opts: { output?: string }) {
      setExit(await runSyncStatus(CommandContext.of(this, io), name, opts.output));
    });
}
