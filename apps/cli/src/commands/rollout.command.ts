import { Command } from 'commander';
import { ApiError, resolveKindName, type KindInfo, type KubeObject } from '@berth/api';
import { listAndWatch } from '@berth/client';
import { parseDuration } from '../age';
import { CommandContext, kindArg, splitKindSlashName } from '../context';
import { deadline } from '../deadline';
import { CliError, EXIT, UsageError } from '../errors';
import type { CliIO } from '../io';
import { formatTable, qualifiedName } from '../printers';
import {
  CHANGE_CAUSE_ANNOTATION,
  RESTARTED_AT_ANNOTATION,
  deploymentRolloutState,
  revisionHistory,
  rfc3339,
  rolledBackAnnotations,
  sameTemplate,
  templateWithoutHash,
} from '../workloads';
import { describePodTemplate } from './describe.command';

const DEPLOYMENTS = resolveKindName('deployments')!;
const REPLICASETS = resolveKindName('replicasets')!;

/** `deploy/web`, `deployment web`, `deployments.apps/web`: the Deployment's name, else a usage error. */
export function deploymentTarget(args: string[], sub: string): string {
  let kind: KindInfo;
  let name: string | undefined;
  const slash = args.length ? splitKindSlashName(args[0]) : undefined;
  if (slash) {
    if (args.length > 1) throw new UsageError(`rollout ${sub} takes one deployment, not ${args.length}`);
    kind = slash.kind;
    name = slash.name;
  } else {
    if (!args.length)
      throw new UsageError(`which deployment? give deploy/NAME`, `e.g. berthctl rollout ${sub} deploy/web`);
    kind = kindArg(args[0]);
    name = args[1];
    if (args.length > 2) throw new UsageError(`rollout ${sub} takes one deployment, not ${args.length - 1}`);
  }
  if (kind.kind !== 'Deployment')
    throw new UsageError(
      `rollout ${sub} works on deployments, not ${kind.resource}`,
      `e.g. berthctl rollout ${sub} deploy/web`,
    );
  if (!name) throw new UsageError(`which deployment? give a name`, `e.g. berthctl rollout ${sub} deploy/web`);
  return name;
}

function parseRevision(value: string | undefined, flag: string): number {
  if (value === undefined) return 0;
  if (!/^\d+$/.test(value))
    throw new UsageError(`${flag} must be a revision number (0 or more), not "${value}"`);
  return Number(value);
}

async function historyOf(ctx: CommandContext, deploy: KubeObject): Promise<Map<number, KubeObject>> {
  const rss = await ctx.client.listAll(REPLICASETS, { namespace: deploy.metadata.namespace });
  return revisionHistory(deploy, rss.items ?? []);
}

export async function runHistory(
  ctx: CommandContext,
  args: string[],
  flags: { revision?: string },
): Promise<number> {
  const name = deploymentTarget(args, 'history');
  const revision = parseRevision(flags.revision, '--revision');
  const deploy = await ctx.client.get(DEPLOYMENTS, ctx.namespace, name);
  const history = await historyOf(ctx, deploy);
  const id = qualifiedName(DEPLOYMENTS, name);
  if (revision > 0) {
    const rs = history.get(revision);
    if (!rs)
      throw new CliError(
        `unable to find the specified revision ${revision} of ${id}`,
        EXIT.NOT_FOUND,
        history.size
          ? `known revisions: ${[...history.keys()].join(', ')}`
          : `${id} has no rollout history yet`,
      );
    ctx.out(`${id} with revision #${revision}\n`);
    ctx.out(describePodTemplate(rs.spec?.template ?? {}));
    return EXIT.OK;
  }
  if (!history.size) {
    ctx.err('No rollout history found.\n');
    return EXIT.OK;
  }
  const rows = [
    ['REVISION', 'CHANGE-CAUSE'],
    ...[...history.entries()].map(([r, rs]) => [
      String(r),
      rs.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION] || '<none>',
    ]),
  ];
  ctx.out(`${id}\n${formatTable(rows).text}`);
  return EXIT.OK;
}

export async function runUndo(
  ctx: CommandContext,
  args: string[],
  flags: { toRevision?: string; dryRun?: boolean },
): Promise<number> {
  const name = deploymentTarget(args, 'undo');
  const toRevision = parseRevision(flags.toRevision, '--to-revision');
  for (let attempt = 0; ; attempt++) {
    const deploy = await ctx.client.get(DEPLOYMENTS, ctx.namespace, name);
    const id = qualifiedName(DEPLOYMENTS, name);
    if (deploy.spec?.paused)
      throw new CliError(
        `you cannot roll back a paused deployment: ${id} has spec.paused=true`,
        EXIT.CONFLICT,
        'set spec.paused to false and try again',
      );
    const history = await historyOf(ctx, deploy);
    let target: number;
    if (toRevision === 0) {
      const revisions = [...history.keys()];
      if (revisions.length < 2)
        throw new CliError(
          `no last revision to roll back to: ${id} has ${revisions.length ? 'only revision ' + revisions[0] : 'no rollout history'}`,
          EXIT.NOT_FOUND,
          'see `berthctl rollout history deploy/' + name + '`',
        );
      target = revisions[revisions.length - 2];
    } else target = toRevision;
    const rs = history.get(target);
    if (!rs)
      throw new CliError(
        `unable to find the specified revision ${target} in the history of ${id}`,
        EXIT.NOT_FOUND,
        history.size
          ? `known revisions: ${[...history.keys()].join(', ')}`
          : `${id} has no rollout history yet`,
      );
    if (sameTemplate(rs.spec?.template, deploy.spec?.template)) {
      ctx.out(`${id} skipped rollback (current template already matches revision ${target})\n`);
      return EXIT.OK;
    }
    // A JSON patch pinned to the version read: if the Deployment changed meanwhile it is a 409
    // Conflict rather than a rollback over someone else's write.
    const patch = [
      { op: 'replace', path: '/metadata/resourceVersion', value: deploy.metadata.resourceVersion },
      { op: 'replace', path: '/spec/template', value: templateWithoutHash(rs.spec?.template) },
      { op: 'add', path: '/metadata/annotations', value: rolledBackAnnotations(deploy, rs) },
    ];
    try {
      await ctx.client.patch(DEPLOYMENTS, ctx.namespace, name, patch, 'json', { dryRun: flags.dryRun });
    } catch (e) {
      // The controller writes the Deployment's status all the time: read again and retry a few
      // times; a change by someone else is seen on the next read (and may make the undo moot).
      if (e instanceof ApiError && e.code === 409 && attempt < 4) continue;
      throw e;
    }
    ctx.out(`${id} rolled back${flags.dryRun ? ' (dry run)' : ''}\n`);
    return EXIT.OK;
  }
}

export async function runRestart(ctx: CommandContext, args: string[]): Promise<number> {
  const name = deploymentTarget(args, 'restart');
  const deploy = await ctx.client.get(DEPLOYMENTS, ctx.namespace, name);
  const id = qualifiedName(DEPLOYMENTS, name);
  if (deploy.spec?.paused)
    throw new CliError(
      `can't restart paused deployment ${id}`,
      EXIT.CONFLICT,
      'set spec.paused to false first',
    );
  const patch = {
    spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: rfc3339(ctx.io.now()) } } } },
  };
  await ctx.client.patch(DEPLOYMENTS, ctx.namespace, name, patch, 'merge');
  ctx.out(`${id} restarted\n`);
  return EXIT.OK;
}

export interface StatusFlags {
  timeout?: string;
  watch?: string | boolean;
}

function parseWatchFlag(v: string | boolean | undefined): boolean {
  if (v === undefined || v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw new UsageError(`--watch must be true or false, not "${String(v)}"`);
}

/**
 * Waits for a Deployment's rollout: prints kubectl's progress lines (to stderr, as they change)
 * and `deployment "x" successfully rolled out` (stdout). Fails when the Progressing condition says
 * ProgressDeadlineExceeded, the Deployment is deleted, or --timeout passes.
 */
export async function runStatus(
  ctx: CommandContext,
  args: string[],
  flags: StatusFlags,
  signal?: AbortSignal,
): Promise<number> {
  const name = deploymentTarget(args, 'status');
  const watch = parseWatchFlag(flags.watch);
  let timeoutMs = 0;
  try {
    timeoutMs = flags.timeout === undefined ? 0 : parseDuration(flags.timeout);
  } catch (e) {
    throw new UsageError(`--timeout: ${(e as Error).message}`);
  }
  const namespace = ctx.namespace;
  // A 404 here is the not-found exit code.
  const first = await ctx.client.get(DEPLOYMENTS, namespace, name);
  let last = '';
  const report = (d: KubeObject): boolean => {
    const state = deploymentRolloutState(d);
    if (state.failed) throw new CliError(state.message, EXIT.FAILURE);
    if (state.done) {
      ctx.out(state.message + '\n');
      return true;
    }
    if (state.message !== last) ctx.err(state.message + '\n');
    last = state.message;
    return false;
  };
  if (report(first) || !watch) return EXIT.OK;

  const dl = deadline(signal, timeoutMs);
  try {
    for await (const ev of listAndWatch(
      ctx.client,
      DEPLOYMENTS,
      { namespace, fieldSelector: `metadata.name=${name}` },
      dl.signal,
    )) {
      let d: KubeObject | undefined;
      if (ev.type === 'SYNC') {
        d = ev.items.find((o) => o.metadata.name === name);
        if (!d) throw new CliError(`deployment "${name}" was deleted`, EXIT.NOT_FOUND);
      } else if (ev.type === 'DELETED') {
        throw new CliError(`deployment "${name}" was deleted`, EXIT.NOT_FOUND);
      } else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') d = ev.object;
      if (d && report(d)) return EXIT.OK;
    }
  } finally {
    dl.dispose();
  }
  if (dl.timedOut)
    throw new CliError(
      `timed out waiting for deployment "${name}" rollout to finish (--timeout ${flags.timeout})`,
      EXIT.FAILURE,
      `see \`berthctl describe deploy/${name}\` and its events`,
    );
  return EXIT.FAILURE;
}

export function registerRollout(program: Command, io: CliIO, setExit: (code: number) => void): void {
  const rollout = program
    .command('rollout')
    .description('Manage the rollout of deployments: status, history, undo, restart')
    .addHelpText(
      'after',
      `
Examples:
  berthctl rollout status deploy/web --timeout 5m
  berthctl rollout history deploy/web
  berthctl rollout undo deploy/web --to-revision 2
  berthctl rollout restart deploy/web`,
    );
  rollout
    .command('status')
    .description('Wait until a deployment has rolled out (non-zero exit on failure or timeout)')
    .argument('<args...>', 'deploy/NAME (or deployment NAME)')
    .option('--timeout <duration>', 'give up after this long, e.g. 5m; 0 = never', '0')
    .option('-w, --watch [bool]', 'wait for the rollout to finish (--watch=false: print the state once)')
    .action(async function (this: Command, args: string[], opts: StatusFlags) {
      setExit(await runStatus(CommandContext.of(this, io), args, opts));
    });
  rollout
    .command('history')
    .description("List a deployment's revisions, or show the pod template of one")
    .argument('<args...>', 'deploy/NAME (or deployment NAME)')
    .option('--revision <n>', 'show the pod template of this revision')
    .action(async function (this: Command, args: string[], opts: { revision?: string }) {
      setExit(await runHistory(CommandContext.of(this, io), args, opts));
    });
  rollout
    .command('undo')
    .description('Roll a deployment back to its previous revision, or to --to-revision')
    .argument('<args...>', 'deploy/NAME (or deployment NAME)')
    .option('--to-revision <n>', 'the revision to roll back to (default: the previous one)')
    .option('--dry-run', 'let the server check the change without making it')
    .action(async function (this: Command, args: string[], opts: { toRevision?: string; dryRun?: boolean }) {
      setExit(await runUndo(CommandContext.of(this, io), args, opts));
    });
  rollout
    .command('restart')
    .description('Restart the pods of a deployment with a rolling update')
    .argument('<args...>', 'deploy/NAME (or deployment NAME)')
    .action(async function (this: Command, args: string[]) {
      setExit(await runRestart(CommandContext.of(this, io), args));
    });
}
