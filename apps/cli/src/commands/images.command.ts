import { Command } from 'commander';
import { kindFor, type KubeObject } from '@berth/api';
import { CommandContext } from '../context';
import { EXIT } from '../errors';
import type { CliIO } from '../io';
import { formatTable } from '../printers/table';

const NODE = kindFor('v1', 'Node')!;

/** Splits a reference into repository, tag and digest as `docker images` shows them. */
export function splitImageName(name: string): { repo: string; tag: string; digest: string } {
  const at = name.indexOf('@');
  const digest = at >= 0 ? name.slice(at + 1) : '';
  const rest = at >= 0 ? name.slice(0, at) : name;
  const colon = rest.lastIndexOf(':');
  const tagged = colon > rest.lastIndexOf('/');
  return {
    repo: tagged ? rest.slice(0, colon) : rest,
    tag: tagged ? rest.slice(colon + 1) : '<none>',
    digest,
  };
}

function humanSize(bytes: number | undefined): string {
  if (bytes === undefined) return '<unknown>';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)}${units[i]}`;
}

/**
 * The images the agents report in their Node's status.images (Kubernetes keeps them there): one row
 * per tag, with the digest the node holds and the size it reported.
 */
export function imageRows(nodes: KubeObject[], withNode: boolean): string[][] {
  const rows: string[][] = [];
  for (const n of nodes) {
    for (const img of (n.status?.images ?? []) as Array<{ names?: string[]; sizeBytes?: number }>) {
      const names = img.names ?? [];
      const digest = names.map((x) => splitImageName(x).digest).find(Boolean) ?? '';
      const tags = names.filter((x) => !x.includes('@'));
      for (const t of tags.length ? tags : names.slice(0, 1)) {
        const s = splitImageName(t);
        const row = [s.repo, s.tag, digest ? digest.slice(0, 19) : '<none>', humanSize(img.sizeBytes)];
        rows.push(withNode ? [n.metadata.name!, ...row] : row);
      }
    }
  }
  return rows.sort((a, b) => a.join(' ').localeCompare(b.join(' ')));
}

export function registerImages(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command('images')
    .description("List the images the nodes hold (from each Node's status.images)")
    .argument('[nodes...]', 'only these nodes')
    .addHelpText('after', '\nExamples:\n  berthctl images\n  berthctl images node-1')
    .action(async function (this: Command, names: string[]) {
      const ctx = CommandContext.of(this, io);
      const nodes = names.length
        ? await Promise.all(names.map((n) => ctx.client.get<KubeObject>(NODE, undefined, n)))
        : (await ctx.client.listAll<KubeObject>(NODE, {})).items;
      const withNode = nodes.length > 1 || names.length === 0;
      const rows = imageRows(nodes, withNode);
      if (!rows.length) {
        io.err('No images found.\n');
        setExit(EXIT.OK);
        return;
      }
      const header = ['REPOSITORY', 'TAG', 'DIGEST', 'SIZE'];
      io.out(formatTable([withNode ? ['NODE', ...header] : header, ...rows]).text);
      setExit(EXIT.OK);
    });
}
