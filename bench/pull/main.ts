/**
 * bench/pull: pull + unpack of a large multi-layer image from a local Distribution registry with
 * Berth's ImageService, next to `skopeo copy` + `umoci unpack` of the same image in the same run.
 *   npm run bench -- pull [--layers N] [--mb-per-layer M] [--runs R]
 * The image is synthetic (debootstrap is not installed here): per layer, half incompressible
 * random files and half compressible text in many small files, pushed as OCI with skopeo.
 * Every run starts from an empty store (cold); one warm Berth pull (everything present) is timed
 * too. Ends with one JSON line.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ImageService } from '@berth/oci';
import { startRegistry } from '@berth/testing';
import { printTable, round, summarize } from '../common/stats';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const LAYERS = arg('layers', 5);
const MB_PER_LAYER = arg('mb-per-layer', 20);
const RUNS = arg('runs', 3);

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

const WORDS =
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua'.split(
    ' ',
  );
function text(bytes: number): string {
  let s = '';
  while (s.length < bytes)
    s += WORDS[(Math.random() * WORDS.length) | 0] + (Math.random() < 0.1 ? '\n' : ' ');
  return s.slice(0, bytes);
}

async function buildImage(work: string, host: string): Promise<{ ref: string; uncompressed: number }> {
  const layout = path.join(work, 'oci');
  const bundle = path.join(work, 'bundle');
  await run('umoci', ['init', '--layout', layout]);
  await run('umoci', ['new', '--image', `${layout}:big`]);
  await run('umoci', ['unpack', '--image', `${layout}:big`, bundle]);
  let uncompressed = 0;
  const half = (MB_PER_LAYER << 20) / 2;
  for (let l = 0; l < LAYERS; l++) {
    const dir = path.join(bundle, 'rootfs', `layer${l}`);
    mkdirSync(path.join(dir, 'bin'), { recursive: true });
    mkdirSync(path.join(dir, 'share'), { recursive: true });
    for (let i = 0; i < 8; i++) writeFileSync(path.join(dir, 'bin', `blob${i}`), randomBytes(half / 8));
    for (let i = 0; i < 1000; i++) writeFileSync(path.join(dir, 'share', `doc${i}.txt`), text(half / 1000));
    uncompressed += half * 2;
    await run('umoci', ['repack', '--refresh-bundle', '--image', `${layout}:big`, bundle]);
  }
  const ref = `${host}/bench/big:1`;
  await run('skopeo', [
    'copy',
    '--quiet',
    '--dest-tls-verify=false',
    '--format',
    'oci',
    `oci:${layout}:big`,
    `docker://${ref}`,
  ]);
  return { ref, uncompressed };
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = process.hrtime.bigint();
  const r = await fn();
  return [Number(process.hrtime.bigint() - t) / 1e6, r];
}

async function main(): Promise<void> {
  const reg = await startRegistry();
  const work = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-pull-'));
  try {
    console.error(`building a ${LAYERS}-layer image, ~${LAYERS * MB_PER_LAYER} MB uncompressed ...`);
    const img = await buildImage(work, reg.host);
    const berth: number[] = [];
    const warm: number[] = [];
    const skopeo: number[] = [];
    const umoci: number[] = [];
    let compressed = 0;
    // Berth and the peer alternate, so a noisy neighbour on the machine hurts both alike.
    for (let r = 0; r < RUNS; r++) {
      const root = path.join(work, `berth${r}`);
      const svc = new ImageService({ root });
      const [ms, rec] = await timed(() => svc.pull(img.ref));
      berth.push(ms);
      compressed = rec.size;
      warm.push((await timed(() => svc.pull(img.ref)))[0]);
      rmSync(root, { recursive: true, force: true });

      const dir = path.join(work, `peer${r}`);
      mkdirSync(dir);
      const [s] = await timed(() =>
        run('skopeo', [
          'copy',
          '--quiet',
          '--src-tls-verify=false',
          `docker://${img.ref}`,
          `oci:${dir}/oci:big`,
        ]),
      );
      const [u] = await timed(() => run('umoci', ['unpack', '--image', `${dir}/oci:big`, `${dir}/bundle`]));
      skopeo.push(s);
      umoci.push(u);
      rmSync(dir, { recursive: true, force: true });
      console.error(
        `run ${r + 1}/${RUNS}: berth ${round(ms, 0)} ms, skopeo ${round(s, 0)} ms + umoci ${round(u, 0)} ms`,
      );
    }
    const b = summarize(berth);
    const w = summarize(warm);
    const peer = summarize(skopeo.map((s, i) => s + umoci[i]));
    printTable([
      { what: 'berth pull + unpack (cold)', runs: b.n, p50_ms: round(b.p50, 0), mean_ms: round(b.mean, 0) },
      {
        what: 'berth pull (warm, all present)',
        runs: w.n,
        p50_ms: round(w.p50, 1),
        mean_ms: round(w.mean, 1),
      },
      {
        what: 'skopeo copy',
        runs: RUNS,
        p50_ms: round(summarize(skopeo).p50, 0),
        mean_ms: round(summarize(skopeo).mean, 0),
      },
      {
        what: 'umoci unpack',
        runs: RUNS,
        p50_ms: round(summarize(umoci).p50, 0),
        mean_ms: round(summarize(umoci).mean, 0),
      },
      {
        what: 'skopeo copy + umoci unpack',
        runs: peer.n,
        p50_ms: round(peer.p50, 0),
        mean_ms: round(peer.mean, 0),
      },
    ]);
    console.log(
      JSON.stringify({
        bench: 'pull',
        image: { layers: LAYERS, compressedBytes: compressed, uncompressedBytes: img.uncompressed },
        runs: RUNS,
        berthColdP50Ms: round(b.p50, 1),
        berthWarmP50Ms: round(w.p50, 1),
        peer: 'skopeo copy + umoci unpack',
        peerP50Ms: round(peer.p50, 1),
        skopeoP50Ms: round(summarize(skopeo).p50, 1),
        umociP50Ms: round(summarize(umoci).p50, 1),
        speedup: round(peer.p50 / b.p50, 2),
      }),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
    await reg.stop();
  }
}

main().catch((e: unknown) => {
  console.error(`error: ${(e as Error).stack ?? String(e)}`);
  process.exit(1);
});
