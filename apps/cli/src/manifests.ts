import { promises as fs } from 'node:fs';
import { ManifestError, parseManifests, type ParsedManifest } from '@berth/api';
import { applyOrder, manifestFiles } from '@berth/sync';
import { CliError, EXIT } from './errors';

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
    out.push(...(await manifestFiles(arg, recursive)));
  }
  return out;
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

/** The order apply uses (shared with the GitOps sync): Namespaces, ConfigMaps, Secrets, the rest. */
export { applyOrder };
