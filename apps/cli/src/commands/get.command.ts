import { Command } from 'commander';
import { ApiError, type KindInfo, type KubeObject } from '@berth/api';
import { CommandContext, kindArg, splitKindSlashName } from '../context';
import { CliError, EXIT, exitCodeFor, hintFor, messageOf } from '../errors';
import type { CliIO } from '../io';
import { checkOutputFormat, createPrinter } from '../printers';

export interface GetFlags {
  output?: string;
  selector?: string;
  fieldSelector?: string;
  allNamespaces?: boolean;
  watch?: boolean;
  showLabels?: boolean;
  /** Keep metadata.managedFields in -o yaml|json (hidden by default, as kubectl). */
  showManagedFields?: boolean;
}

/** The object without metadata.managedFields (field ownership is noise unless asked for). */
function withoutManagedFields(o: KubeObject): KubeObject {
  if (!o?.metadata || o.metadata.managedFields === undefined) return o;
  const { managedFields: _mf, ...metadata } = o.metadata;
  return { ...o, metadata };
}

export function noResourcesMessage(kind: KindInfo, namespace: string | undefined): string {
  return kind.namespaced && namespace
    ? `No resources found in ${namespace} namespace.\n`
    : 'No resources found\n';
}

export async function runGet(
  ctx: CommandContext,
  kindName: string,
  names: string[],
  flags: GetFlags,
  signal?: AbortSignal,
): Promise<number> {
  checkOutputFormat(flags.output);
  // `get pod/web` as well as `get pod web`
  let kind: KindInfo;
  const slash = splitKindSlashName(kindName);
  if (slash) {
    kind = slash.kind;
    names = [slash.name, ...names];
  } else kind = kindArg(kindName);
  if (flags.allNamespaces && names.length)
    throw new CliError(
      'a name cannot be given with --all-namespaces',
      EXIT.USAGE,
      'drop -A or give -n NAMESPACE',
    );
  const namespace = kind.namespaced && !flags.allNamespaces ? ctx.namespace : undefined;
  const printer = createPrinter(flags.output, {
    kind,
    now: ctx.io.now(),
    allNamespaces: !!flags.allNamespaces,
    showLabels: !!flags.showLabels,
  });

  let objects: KubeObject[] = [];
  let resourceVersion: string | undefined;
  let exit: number = EXIT.OK;
  if (names.length) {
    for (const name of names) {
      try {
        objects.push(await ctx.client.get(kind, namespace, name));
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        ctx.err(`error: ${messageOf(e)}\n`);
        if (e.code === 404 && names.length === 1) {
          const hint = hintFor(e);
          if (hint) ctx.err(hint + '\n');
        }
        if (exit === EXIT.OK) exit = exitCodeFor(e);
      }
    }
  } else {
    const list = await ctx.client.listAll(kind, {
      namespace,
      labelSelector: flags.selector,
      fieldSelector: flags.fieldSelector,
      limit: 500,
    });
    objects = list.items ?? [];
    resourceVersion = list.metadata?.resourceVersion;
  }

  if (!flags.showManagedFields) objects = objects.map(withoutManagedFields);
  const structured = flags.output === 'json' || flags.output === 'yaml';
  if (objects.length || (structured && !names.length)) {
    ctx.out(printer.print(objects, names.length === 1));
  } else if (!names.length && !flags.watch) {
    ctx.err(noResourcesMessage(kind, namespace));
  }
  if (!flags.watch) return exit;

  // -w: one row (or object) per change from here on, resuming after disconnects.
  let fieldSelector = flags.fieldSelector;
  if (names.length === 1)
    fieldSelector = [fieldSelector, `metadata.name=${names[0]}`].filter(Boolean).join(',');
  else if (names.length > 1)
    throw new CliError('watch takes at most one name', EXIT.USAGE, 'use -l to watch several objects');
  if (resourceVersion === undefined) {
    const l = await ctx.client.list(kind, {
      namespace,
      fieldSelector,
      labelSelector: flags.selector,
      limit: 1,
    });
    resourceVersion = l.metadata?.resourceVersion;
  }
  while (!signal?.aborted) {
    const started = Date.now();
    for await (const ev of ctx.client.watch(
      kind,
      { namespace, resourceVersion, labelSelector: flags.selector, fieldSelector, allowBookmarks: true },
      signal,
    )) {
      if (ev.object?.metadata?.resourceVersion) resourceVersion = ev.object.metadata.resourceVersion;
      if (ev.type === 'BOOKMARK') continue;
      ctx.out(
        printer.printEvent(ev.type, flags.showManagedFields ? ev.object : withoutManagedFields(ev.object)),
      );
    }
    // The server closed the watch: reconnect from the last version seen, but never in a busy loop.
    if (Date.now() - started < 1000) await new Promise((r) => setTimeout(r, 1000));
  }
  return exit;
}

export function registerGet(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command('get')
    .description('List objects of a kind, or show some by name')
    .argument(
      '<kind>',
      'pods (po), deployments (deploy), replicasets (rs), nodes (no), namespaces (ns), configmaps (cm), secrets, events (ev)',
    )
    .argument('[name...]', 'names of the objects to show')
    .option('-o, --output <format>', 'wide, yaml, json or name (default: a table)')
    .option('-l, --selector <selector>', 'label selector, e.g. app=web,tier!=db')
    .option('--field-selector <selector>', 'field selector, e.g. spec.nodeName=node-1')
    .option('-A, --all-namespaces', 'list across all namespaces')
    .option('-w, --watch', 'after listing, print every change')
    .option('--show-labels', 'add a LABELS column')
    .option('--show-managed-fields', 'keep metadata.managedFields in -o yaml|json output')
    .addHelpText(
      'after',
      `
Examples:
  berthctl get pods
  berthctl get deploy web -o yaml
  berthctl get pods -A -l app=web -o wide
  berthctl get pods -w`,
    )
    .action(async function (this: Command, kind: string, names: string[], opts: GetFlags) {
      setExit(await runGet(CommandContext.of(this, io), kind, names, opts));
    });
}
