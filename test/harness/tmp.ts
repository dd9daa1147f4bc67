import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh directory under the OS temp dir; remove() deletes it and everything in it. */
export function tempDir(prefix = 'berth-test-'): { path: string; remove(): void } {
  const p = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { path: p, remove: () => rmSync(p, { recursive: true, force: true }) };
}
