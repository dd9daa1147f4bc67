import { Command } from 'commander';
import { ApiError, formatCause, kindFor, type KindInfo } from '@berth/api';
import type { PropagationPolicy } from '@berth/client';
import { CommandContext, collect, isNotFound, kindArg, splitKindSlashName } from '../context';
import { CliError, EXIT, exitCodeFor, messageOf } from '../errors';
import type { CliIO } from '../io';
import { collectFiles, readManifests } from '../manifests';

export interface DeleteFlags {
  filename?: string[];
  recursive?: boolean;
  wait?: boolean;
  ignoreNotFound?: boolean;
  /** background|foreground|orphan|true|false; a bare --cascade is true. */
  cascade?: string | boolean;
}

interface Target {
  kind: KindInfo;
  namespace?: string;
  name: string;
  /** Where it came from (file:line:col) for -f. */
  origin?: string;
}

/** `deployment.apps "web"`, `pod "x"` */
function label(kind: KindInfo, name: string): string {
  return `${kind.singular}${kind.group ? '.' + kind.group : ''} "${name}"`;
}

/** Waits until the object is gone: a watch on its name from the version last seen, re-checked on every end. */
async function waitGone(ctx: CommandContext, t: Target): Promise<void> {
  for (;;) {
    let rv: string;
    try {
      const o = await ctx.client.get(t.kind, t.namespace, t.name);
      rv = o.metadata.resourceVersion ?? '';
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 30_000);
    try {
      for await (const ev of ctx.client.watch(
        t.kind,
        { namespace: t.namespace, resourceVersion: rv, fieldSelector: `metadata.name=${t.name}` },
        ac.signal,
      )) {
        if (ev.type === 'DELETED') return;
      }
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 410)) throw e;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * --cascade as kubectl takes it: background (the default: owned objects are deleted afterwards),
 * foreground (the object stays until its owned objects are gone), orphan (they are kept); the
 * old booleans true = background and false = orphan.
 */
export function cascadePolicy(cascade: string | boolean | undefined): PropagationPolicy {
  switch (String(cascade ?? 'background').toLowerCase()) {
    case 'background':
    case 'true':
      return 'Background';
    case 'foreground':
      return 'Foreground';
    case 'orphan':
    case 'false':
      return 'Orphan';
    default:
      throw new CliError(
        `invalid --cascade value "${cascade}": must be "background", "foreground" or "orphan"`,
        EXIT.USAGE,
      );
  }
}

export async function runDelete(ctx: CommandContext, args: string[], flags: DeleteFlags): Promise<number> {
  const propagationPolicy = cascadePolicy(flags.cascade);
  const targets: Target[] = [];
  const codes: number[] = [];
  if (flags.filename?.length) {
    if (args.length) throw new CliError('give either -f or KIND NAME..., not both', EXIT.USAGE);
    const files = await collectFiles(flags.filename, !!flags.recursive);
    const { manifests, failures } = await readManifests(files, ctx.io.readStdin);
    for (const f of failures) {
      ctx.err(f.message + '\n');
      codes.push(EXIT.INVALID);
    }
    for (const m of manifests) {
      const kind = kindFor(m.object.apiVersion, m.object.kind);
      const name = m.object.metadata?.name;
      if (!kind || !name) {
        ctx.err(
          formatCause(m, {
            field: kind ? 'metadata.name' : 'kind',
            message: kind ? 'Required value' : `unknown kind ${m.object.apiVersion}/${m.object.kind}`,
          }) + '\n',
        );
        codes.push(EXIT.INVALID);
        continue;
      }
      const p = m.position('metadata.name');
      targets.push({
        kind,
        name,
        namespace: kind.namespaced ? (m.object.metadata.namespace ?? ctx.namespace) : undefined,
        origin: p ? `${m.file}:${p.line}:${p.col}` : m.file,
      });
    }
  } else {
    if (!args.length)
      throw new CliError(
        'nothing to delete',
        EXIT.USAGE,
        'give -f FILE or KIND NAME... (e.g. berthctl delete pod web)',
      );
    const first = splitKindSlashName(args[0]);
    if (first || args.every((a) => a.includes('/'))) {
      for (const a of args) {
        const s = splitKindSlashName(a);
        if (!s)
          throw new CliError(`"${a}" is not KIND/NAME`, EXIT.USAGE, 'mix no KIND NAME with KIND/NAME forms');
        targets.push({
          kind: s.kind,
          name: s.name,
          namespace: s.kind.namespaced ? ctx.namespace : undefined,
        });
      }
    } else {
      const kind = kindArg(args[0]);
      if (args.length < 2)
        throw new CliError(
          `which ${kind.singular}? give a name`,
          EXIT.USAGE,
          `e.g. berthctl delete ${kind.singular} NAME`,
        );
      for (const name of args.slice(1))
        targets.push({ kind, name, namespace: kind.namespaced ? ctx.namespace : undefined });
    }
  }
  const deleted: Target[] = [];
  for (const t of targets) {
    try {
      await ctx.client.delete(t.kind, t.namespace, t.name, { propagationPolicy });
      ctx.out(`${label(t.kind, t.name)} deleted\n`);
      deleted.push(t);
    } catch (e) {
      if (isNotFound(e) && flags.ignoreNotFound) continue;
      ctx.err(`error: ${t.origin ? t.origin + ': ' : ''}${messageOf(e)}\n`);
      codes.push(exitCodeFor(e));
      if (!(e instanceof ApiError)) break;
    }
  }
  if (flags.wait) for (const t of deleted) await waitGone(ctx, t);
  return codes.length ? codes[0] : EXIT.OK;
}

export function registerDelete(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command('delete')
    .description('Delete objects by kind and name, or those named in manifest files')
    .argument('[args...]', 'KIND NAME... or KIND/NAME...')
    .option('-f, --filename <path>', 'delete the objects in this file or directory (repeatable)', collect)
    .option('-R, --recursive', 'with -f DIR: include subdirectories')
    .option('--wait', 'wait until the objects are really gone (finalizers done)')
    .option('--ignore-not-found', 'treat objects that do not exist as deleted')
    .option(
      '--cascade [policy]',
      "what happens to owned objects (a Deployment's ReplicaSets and pods): background (default: deleted after it), foreground (deleted before it) or orphan (kept)",
      'background',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  berthctl delete pod web\n  berthctl delete -f web.yaml --wait\n  berthctl delete deploy/web cm/settings',
    )
    .action(async function (this: Command, args: string[], opts: DeleteFlags) {
      setExit(await runDelete(CommandContext.of(this, io), args, opts));
    });
}
