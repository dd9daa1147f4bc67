import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  formatCause,
  kindFor,
  ManifestError,
  matchLabels,
  parseManifests,
  validate,
  type LabelSelector,
  type ParsedManifest,
} from '@berth/api';
import { manifestFiles } from './files';
import type { SourceObject } from './plan';

/** Where an object of a manifest is: `file:line:col` (its metadata.name), or the file. */
export function locationOf(m: ParsedManifest, field = 'metadata.name'): string {
  const p = m.position(field) ?? m.position('');
  return p ? `${m.file ?? ''}:${p.line}:${p.col}` : (m.file ?? '');
}

export interface NamespaceDefaults {
  /** The namespace for namespaced objects that name none (-n, else the context's, else default). */
  namespace: string;
  /** The namespace given explicitly with -n: an object naming another one is an error. */
  namespaceFlag?: string;
}

/**
 * Fills the namespace of a namespaced object, as kubectl apply does: an object without one gets
 * the default; one whose own namespace differs from an explicit -n is an error (returned, with
 * file:line). Cluster-scoped and unknown kinds are left as they are (validation reports the latter).
 */
export function setNamespace(m: ParsedManifest, ns: NamespaceDefaults): string | undefined {
  const kind = kindFor(m.object.apiVersion, m.object.kind);
  if (!kind?.namespaced || typeof m.object.metadata !== 'object' || m.object.metadata === null)
    return undefined;
  const own = m.object.metadata.namespace;
  if (own && ns.namespaceFlag && own !== ns.namespaceFlag)
    return (
      `${locationOf(m)}: metadata.namespace: the namespace from the object ("${own}") does not ` +
      `match the namespace given with -n ("${ns.namespaceFlag}")`
    );
  if (!own) m.object.metadata.namespace = ns.namespace;
  return undefined;
}

/**
 * Checks manifests the way apply and sync both do: namespace filled (or a mismatch with -n), then
 * validated. Returns the messages (`file:line:col: field: what is wrong`), empty when it is good.
 */
export function checkManifest(m: ParsedManifest, ns: NamespaceDefaults): string[] {
  const nsProblem = setNamespace(m, ns);
  if (nsProblem) return [nsProblem];
  const problems = validate(m.object).map((c) => formatCause(m, c));
  const meta = m.object.metadata as { name?: unknown; generateName?: unknown } | undefined;
  if (!problems.length && meta && typeof meta === 'object' && !meta.name)
    problems.push(
      `${locationOf(m, 'metadata')}: metadata.name: required: apply and sync need a name ` +
        `(generateName${meta.generateName ? ` "${String(meta.generateName)}"` : ''} would make a new object every time)`,
    );
  return problems;
}

/** One file of a synced directory, as the last pass read it. */
export interface SourceFile {
  /** Relative to the synced directory, with `/` separators. */
  file: string;
  /** The file's objects (empty when it is broken). */
  objects: SourceObject[];
  /** Why the file is broken (each `file:line:col: ...`); empty when it is good. */
  errors: string[];
  /** sha256 of the content ('' when it could not be read): the source revision is built from these. */
  digest: string;
}

export interface SourceOptions extends NamespaceDefaults {
  /** Only objects whose labels match are part of the source (the rest are left alone). */
  selector?: LabelSelector;
  /** Read subdirectories (-R); default true. */
  recursive?: boolean;
}

export interface Source {
  files: SourceFile[];
  /** The good files' objects, in file order. */
  objects: SourceObject[];
  /** Relative paths of the files that could not be read, parsed or validated. */
  brokenFiles: string[];
  /** Every error of the broken files. */
  errors: string[];
}

/** The directory does not exist (any more), or is not a directory. */
export class SourceMissingError extends Error {}

interface Cached {
  stamp: string;
  result: SourceFile;
}

/**
 * Reads a directory of manifests for a sync pass. Files are re-read and re-parsed only when their
 * size, mtime, ctime or inode changed since the last pass (an edit of one file among a thousand
 * parses one file). A file that cannot be read, parsed or validated is reported with file:line and
 * contributes no objects; the others are unaffected.
 */
export class SourceReader {
  private cache = new Map<string, Cached>();

  constructor(
    readonly dir: string,
    private readonly opts: SourceOptions,
  ) {}

  async read(): Promise<Source> {
    let st;
    try {
      st = await fs.stat(this.dir);
    } catch {
      throw new SourceMissingError(`the directory ${this.dir} does not exist (any more)`);
    }
    if (!st.isDirectory()) throw new SourceMissingError(`${this.dir} is not a directory`);
    let paths: string[];
    try {
      paths = await manifestFiles(this.dir, this.opts.recursive ?? true);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT')
        throw new SourceMissingError(`the directory ${this.dir} vanished while it was read`);
      throw e;
    }
    const next = new Map<string, Cached>();
    const files: SourceFile[] = [];
    for (const abs of paths) {
      const rel = path.relative(this.dir, abs).split(path.sep).join('/');
      const result = await this.readFile(abs, rel, next);
      if (result) files.push(result);
    }
    this.cache = next;
    const objects = files.flatMap((f) => f.objects);
    const broken = files.filter((f) => f.errors.length);
    return {
      files,
      objects,
      brokenFiles: broken.map((f) => f.file),
      errors: broken.flatMap((f) => f.errors),
    };
  }

  private async readFile(
    abs: string,
    rel: string,
    next: Map<string, Cached>,
  ): Promise<SourceFile | undefined> {
    let stamp: string;
    try {
      const s = await fs.stat(abs);
      stamp = `${s.size}:${s.mtimeMs}:${s.ctimeMs}:${s.ino}`;
    } catch {
      return undefined; // removed between the listing and now: the next pass sees it gone
    }
    const hit = this.cache.get(abs);
    if (hit && hit.stamp === stamp) {
      next.set(abs, hit);
      return hit.result;
    }
    let content: Buffer;
    try {
      content = await fs.readFile(abs);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      return {
        file: rel,
        objects: [],
        errors: [`${rel}: cannot read: ${code ?? (e as Error).message}`],
        digest: '',
      };
    }
    const result = {
      ...this.parse(rel, content),
      digest: createHash('sha256').update(content).digest('hex'),
    };
    next.set(abs, { stamp, result });
    return result;
  }

  private parse(rel: string, content: Buffer): Omit<SourceFile, 'digest'> {
    let manifests: ParsedManifest[];
    try {
      manifests = parseManifests(content, rel);
    } catch (e) {
      const msg = e instanceof ManifestError ? e.message : `${rel}: ${(e as Error).message}`;
      return { file: rel, objects: [], errors: [msg] };
    }
    const errors: string[] = [];
    const objects: SourceObject[] = [];
    for (const m of manifests) {
      const problems = checkManifest(m, this.opts);
      if (problems.length) {
        errors.push(...problems);
        continue;
      }
      if (this.opts.selector && !matchLabels(this.opts.selector, m.object.metadata.labels)) continue;
      objects.push({ object: m.object, file: rel, manifest: m });
    }
    return { file: rel, objects: errors.length ? [] : objects, errors };
  }
}
