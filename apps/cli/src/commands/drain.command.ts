import { Command } from 'commander';
import { resolveKindName, type KubeObject } from '@berth/api';
import { listAndWatch } from '@berth/client';
import { parseDuration } from '../age';
import { CommandContext, isNotFound } from '../context';
import { deadline } from '../deadline';
import { CliError, EXIT, UsageError } from '../errors';
import type { CliIO } from '../io';
import { setUnschedulable } from './cordon.command';

const PODS = resolveKindName('pods')!;

export interface DrainFlags {
  force?: boolean;
  ignoreDaemonsets?: boolean;
  deleteEmptydirData?: boolean;
  gracePeriod?: string;
  timeout?: string;
  dryRun?: boolean | string;
}

/** kubectl's wording for the pods drain refuses (fatal) or deletes with a warning. */
export const DRAIN_MESSAGES = {
  unmanagedFatal: 'cannot delete Pods that declare no controller (use --force to override)',
  unmanagedWarning: 'deleting Pods that declare no controller',
  localStorageFatal: 'cannot delete Pods with local storage (use --delete-emptydir-data to override)',
  localStorageWarning: 'deleting Pods with local storage',
  daemonSetFatal: 'cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore)',
  daemonSetWarning: 'ignoring DaemonSet-managed Pods',
} as const;

export interface DrainPlan {
  /** The pods to delete. */
  pods: KubeObject[];
  /** message → `namespace/name` of the pods it is about. */
  errors: Map<string, string[]>;
  warnings: Map<string, string[]>;
}

const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

function podId(p: KubeObject): string {
  return `${p.metadata.namespace}/${p.metadata.name}`;
}

function add(m: Map<string, string[]>, message: string, pod: KubeObject): void {
  m.set(message, [...(m.get(message) ?? []), podId(pod)]);
}

/**
 * Which of a node's pods drain deletes, as kubectl decides: pods already being deleted and mirror
 * pods are left alone; DaemonSet pods are skipped with --ignore-daemonsets, else refused; pods
 * with emptyDir volumes need --delete-emptydir-data and pods without a controller need --force
 * (finished pods need neither).
 */
export function planDrain(pods: KubeObject[], flags: DrainFlags): DrainPlan {
  const plan: DrainPlan = { pods: [], errors: new Map(), warnings: new Map() };
  for (const p of pods) {
    if (p.metadata.deletionTimestamp) continue;
    if (p.metadata.annotations?.[MIRROR_ANNOTATION] !== undefined) continue;
    const controller = (p.metadata.ownerReferences ?? []).find((r) => r.controller);
    if (controller?.kind === 'DaemonSet') {
      if (flags.ignoreDaemonsets) add(plan.warnings, DRAIN_MESSAGES.daemonSetWarning, p);
      else add(plan.errors, DRAIN_MESSAGES.daemonSetFatal, p);
      continue;
    }
    const finished = p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
    let refused = false;
    if (!finished && ((p.spec?.volumes ?? []) as { emptyDir?: unknown }[]).some((v) => v.emptyDir)) {
      if (flags.deleteEmptydirData) add(plan.warnings, DRAIN_MESSAGES.localStorageWarning, p);
      else {
        add(plan.errors, DRAIN_MESSAGES.localStorageFatal, p);
        refused = true;
      }
    }
    if (!finished && !controller) {
      if (flags.force) add(plan.warnings, DRAIN_MESSAGES.unmanagedWarning, p);
      else {
        add(plan.errors, DRAIN_MESSAGES.unmanagedFatal, p);
        refused = true;
      }
    }
    if (!refused) plan.pods.push(p);
  }
  return plan;
}

function describeMap(m: Map<string, string[]>): string[] {
  return [...m.entries()].map(([msg, pods]) => `${msg}: ${pods.join(', ')}`);
}

function parseDryRun(v: boolean | string | undefined): boolean {
  if (v === undefined || v === false || v === 'none') return false;
  if (v === true || v === 'client' || v === 'server') return true;
  throw new UsageError(`--dry-run must be none, client or server, not "${v}"`);
}

/**
 * Cordons the node, deletes its pods (those planDrain allows) and waits until they are gone.
 * Refused pods leave the node cordoned and fail with kubectl's reasons; --timeout fails too.
 */
export async function runDrain(
  ctx: CommandContext,
  node: string,
  flags: DrainFlags,
  signal?: AbortSignal,
): Promise<number> {
  node = node.replace(/^(nodes?|no)\//, '');
  const dryRun = parseDryRun(flags.dryRun);
  let timeoutMs = 0;
  let gracePeriodSeconds: number | undefined;
  try {
    if (flags.timeout !== undefined) timeoutMs = parseDuration(flags.timeout);
  } catch (e) {
    throw new UsageError(`--timeout: ${(e as Error).message}`);
  }
  if (flags.gracePeriod !== undefined) {
    const g = Number(flags.gracePeriod);
    if (!Number.isInteger(g) || g < -1)
      throw new UsageError(
        `--grace-period must be a whole number of seconds (-1 = the pod's own), not "${flags.gracePeriod}"`,
      );
    if (g >= 0) gracePeriodSeconds = g;
  }

  await setUnschedulable(ctx, node, true, dryRun);
  const list = await ctx.client.listAll(PODS, { fieldSelector: `spec.nodeName=${node}` });
  const plan = planDrain(list.items ?? [], flags);
  for (const w of describeMap(plan.warnings)) ctx.err(`Warning: ${w}\n`);
  if (plan.errors.size)
    throw new CliError(
      `unable to drain node "${node}": ${describeMap(plan.errors).join('; ')}`,
      EXIT.FAILURE,
      `node/${node} stays cordoned; \`berthctl uncordon ${node}\` undoes that`,
    );
  if (dryRun) {
    for (const p of plan.pods) ctx.out(`evicting pod ${podId(p)} (dry run)\n`);
    ctx.out(`node/${node} drained (dry run)\n`);
    return EXIT.OK;
  }

  const pending = new Map<string, KubeObject>(); // uid → pod
  for (const p of plan.pods) {
    ctx.err(`evicting pod ${podId(p)}\n`);
    try {
      await ctx.client.delete(PODS, p.metadata.namespace, p.metadata.name!, { gracePeriodSeconds });
      pending.set(p.metadata.uid ?? podId(p), p);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      ctx.out(`pod/${p.metadata.name} deleted\n`);
    }
  }
  if (pending.size) await waitDeleted(ctx, node, pending, timeoutMs, flags.timeout, signal);
  ctx.out(`node/${node} drained\n`);
  return EXIT.OK;
}

/** Waits (with a watch on the node's pods) until none of `pending` exists; prints each as it goes. */
async function waitDeleted(
  ctx: CommandContext,
  node: string,
  pending: Map<string, KubeObject>,
  timeoutMs: number,
  timeoutText: string | undefined,
  signal?: AbortSignal,
): Promise<void> {
  const gone = (uid: string) => {
    const p = pending.get(uid);
    if (!p) return;
    pending.delete(uid);
    ctx.out(`pod/${p.metadata.name} deleted\n`);
  };
  const dl = deadline(signal, timeoutMs);
  try {
    for await (const ev of listAndWatch(
      ctx.client,
      PODS,
      { fieldSelector: `spec.nodeName=${node}` },
      dl.signal,
    )) {
      if (ev.type === 'SYNC') {
        const present = new Set(ev.items.map((p) => p.metadata.uid ?? podId(p)));
        for (const uid of [...pending.keys()]) if (!present.has(uid)) gone(uid);
      } else if (ev.type === 'DELETED') gone(ev.object.metadata.uid ?? podId(ev.object));
      if (!pending.size) return;
    }
  } finally {
    dl.dispose();
  }
  if (dl.timedOut)
    throw new CliError(
      `unable to drain node "${node}": timed out after ${timeoutText} waiting for pods to be deleted: ${[
        ...pending.values(),
      ]
        .map(podId)
        .join(', ')}`,
      EXIT.FAILURE,
      'the agent on the node may be down; the pods go once their finalizers are done',
    );
  throw new CliError(`unable to drain node "${node}": interrupted`, EXIT.FAILURE);
}

export function registerDrain(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command('drain')
    .description('Cordon a node and delete its pods (for maintenance)')
    .argument('<node>', 'the node')
    .option('--force', 'also delete pods that no controller will replace')
    .option('--ignore-daemonsets', 'leave DaemonSet-managed pods')
    .option('--delete-emptydir-data', 'also delete pods with emptyDir volumes (their data is lost)')
    .option('--grace-period <seconds>', "seconds each pod gets to stop (-1: the pod's own)", '-1')
    .option('--timeout <duration>', 'give up after this long, e.g. 5m; 0 = never', '0')
    .option('--dry-run [strategy]', 'none, client or server: only show what would be deleted')
    .addHelpText(
      'after',
      '\nExamples:\n  berthctl drain node-1\n  berthctl drain node-1 --force --delete-emptydir-data --timeout 2m',
    )
    .action(async function (this: Command, node: string, opts: DrainFlags) {
      setExit(await runDrain(CommandContext.of(this, io), node, opts));
    });
}
