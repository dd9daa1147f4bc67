import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ManifestError, parseManifests, type ParsedManifest } from '@berth/api';
import { CliError, EXIT } from './errors';

const MANIFEST_EXT = new Set(['.yaml', '.yml', '.json']);

/** A file that could not be read or parsed, with where (file:line:col) when known. */
export interface ManifestFailure {
  file: string;
  message: string;
}

/**
 * The files an -f argument names: a file as it is; a directory's *.yaml, *.yml and *.json files
 * (with `recursive`, in subdirectories too), sorted by path, hidden files and directories skipped;
 * '-' for stdin. A path that does not exist is a CliError.
 */
export async function collectFiles(args: string[], recursive: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const arg of args) {
    if (arg === '-') {
      out.push('-');
      continue;
    }
    let st;
    try {
      st = await fs.stat(arg);
    } catch (e) {
      throw new CliError(
        `the path "${arg}" does not exist`,
        EXIT.NOT_FOUND,
        'pass a manifest file, a directory of manifests, or - for stdin',
      );
    }
    if (!st.isDirectory()) {
      out.push(arg);
      continue;
    }
    const found: string[] = [];
    await walk(arg, recursive, found);
    out.push(...found.sort());
  }
  return out;
}

async function walk(dir: string, recursive: boolean, acc: string[]): Promise<void> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (recursive) await walk(p, recursive, acc);
    } else if (MANIFEST_EXT.has(path.extname(e.name).toLowerCase())) {
      let isFile = e.isFile();
      if (e.isSymbolicLink()) isFile = (await fs.stat(p).catch(() => undefined))?.isFile() ?? false;
      if (isFile) acc.push(p);
    }
  }
}

export interface ReadResult {
  manifests: ParsedManifest[];
  failures: ManifestFailure[];
}

/** Reads and parses every file; a file that fails is reported and the others still count. */
export async function readManifests(files: string[], readStdin: () => Promise<string>): Promise<ReadResult> {
  const manifests: ParsedManifest[] = [];
  const failures: ManifestFailure[] = [];
  for (const file of files) {
    const name = file === '-' ? '<stdin>' : file;
    let content: string | Buffer;
    try {
      content = file === '-' ? await readStdin() : await fs.readFile(file);
    } catch (e) {
      failures.push({
        file: name,
        message: `${name}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      });
      continue;
    }
    try {
      manifests.push(...parseManifests(content, name));
    } catch (e) {
      if (e instanceof ManifestError) failures.push({ file: name, message: e.message });
      else failures.push({ file: name, message: `${name}: ${(e as Error).message}` });
    }
  }
  return { manifests, failures };
}

const FIRST_KINDS = ['Namespace', 'ConfigMap', 'Secret'];

/** Namespaces, then ConfigMaps, then Secrets, then everything else, each group in file order. */
export function applyOrder<T extends { object: { kind?: string } }>(items: T[]): T[] {
  const rank = (t: T) => {
    const i = FIRST_KINDS.indexOf(t.object.kind ?? '');
    return i < 0 ? FIRST_KINDS.length : i;
  };
  return items
    .map((t, i) => ({ t, i }))
    .sort((a, b) => rank(a.t) - rank(b.t) || a.i - b.i)
    .map((x) => x.t);
}
