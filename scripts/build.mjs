// Compiles every TypeScript file under apps/, libs/, test/ and bench/ into dist/ with SWC
// (one file at a time, no bundling, no type-check: `npm run typecheck` does that with tsc).
// Path aliases @berth/<lib> are rewritten to relative requires of dist/libs/<lib>/src.
// Incremental: a file is recompiled only when its source is newer; outputs whose source
// is gone are deleted so stale specs never run.
import { transformFile } from '@swc/core';
import { promises as fs } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const out = path.join(root, 'dist');
const roots = ['apps', 'libs', 'test', 'bench'];
const copyExt = new Set(['.lua', '.json']);
const aliases = {
  '@berth/api': 'libs/api/src',
  '@berth/store': 'libs/store/src',
  '@berth/client': 'libs/client/src',
  '@berth/oci': 'libs/oci/src',
  '@berth/controllers': 'libs/controllers/src',
  '@berth/sync': 'libs/sync/src',
  '@berth/testing': 'test/harness',
};

async function walk(dir, acc) {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return acc;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && !e.name.startsWith('.')) await walk(p, acc);
    } else acc.push(p);
  }
  return acc;
}

async function mtime(p) {
  try {
    return (await fs.stat(p)).mtimeMs;
  } catch {
    return -1;
  }
}

function rewriteAliases(code, outFile) {
  return code.replace(/require\((["'])(@berth\/[a-z-]+)\1\)/g, (m, q, spec) => {
    const target = aliases[spec];
    if (!target) return m;
    let rel = path.relative(path.dirname(outFile), path.join(out, target));
    if (!rel.startsWith('.')) rel = './' + rel;
    return `require(${q}${rel}${q})`;
  });
}

const swcOptions = {
  sourceMaps: 'inline',
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
    target: 'es2022',
    keepClassNames: true,
  },
  module: { type: 'commonjs', strict: true },
  swcrc: false,
};

const expected = new Set();
let built = 0;
const files = [];
for (const r of roots) await walk(path.join(root, r), files);
const work = files.map(async (src) => {
  const rel = path.relative(root, src);
  const ext = path.extname(src);
  if (ext === '.ts' && !src.endsWith('.d.ts')) {
    const dst = path.join(out, rel.slice(0, -3) + '.js');
    expected.add(dst);
    if ((await mtime(dst)) >= (await mtime(src))) return;
    const { code } = await transformFile(src, { ...swcOptions, filename: src });
    await fs.mkdir(path.dirname(dst), { recursive: true });
    await fs.writeFile(dst, rewriteAliases(code, dst));
    built++;
  } else if (copyExt.has(ext) && rel.includes('/src/')) {
    const dst = path.join(out, rel);
    expected.add(dst);
    if ((await mtime(dst)) >= (await mtime(src))) return;
    await fs.mkdir(path.dirname(dst), { recursive: true });
    await fs.copyFile(src, dst);
    built++;
  }
});
const results = await Promise.allSettled(work);
const failed = results.filter((r) => r.status === 'rejected');
for (const f of failed) console.error(String(f.reason?.message ?? f.reason));
let removed = 0;
for (const f of await walk(out, [])) {
  if (!expected.has(f)) {
    await fs.rm(f, { force: true });
    removed++;
  }
}
console.error(`build: ${built} compiled, ${removed} stale removed, ${failed.length} failed`);
process.exit(failed.length ? 1 : 0);
