import { readFileSync } from 'node:fs';

/** The parts of a V8 .cpuprofile (node --cpu-prof) this summary reads. */
interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    hitCount?: number;
    children?: number[];
  }>;
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface Frame {
  frame: string;
  selfMs: number;
  selfPct: number;
  totalMs: number;
  totalPct: number;
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const d = url.indexOf('/dist/');
  if (d >= 0) return url.slice(d + 1);
  return url.replace(/^file:\/\//, '');
}

function label(cf: CpuProfile['nodes'][number]['callFrame']): string {
  const fn = cf.functionName || '(anonymous)';
  if (!cf.url) return fn;
  return `${fn} ${shortUrl(cf.url)}:${cf.lineNumber + 1}`;
}

/**
 * Self and total (inclusive) time per function of a .cpuprofile, heaviest self time first. Time
 * of a sample is its timeDelta; a function counted once per sample in totals (recursion).
 */
export function summarizeProfile(
  file: string,
  top = 25,
): { frames: Frame[]; byPackage: Frame[]; berthInclusive: Frame[]; totalMs: number; busyMs: number } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  const selfUs = new Map<string, number>();
  const totalUs = new Map<string, number>();
  const pkgUs = new Map<string, number>();
  let all = 0;
  for (let i = 0; i < samples.length; i++) {
    const dt = Math.max(0, deltas[i] ?? 0);
    all += dt;
    const leaf = byId.get(samples[i]);
    if (!leaf) continue;
    const l = label(leaf.callFrame);
    selfUs.set(l, (selfUs.get(l) ?? 0) + dt);
    const url = leaf.callFrame.url;
    const pkg = !url
      ? leaf.callFrame.functionName || '(vm)'
      : url.includes('node_modules/')
        ? (/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? 'node_modules')
        : url.startsWith('node:')
          ? 'node core'
          : 'berth';
    pkgUs.set(pkg, (pkgUs.get(pkg) ?? 0) + dt);
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const n = byId.get(id)!;
      const nl = label(n.callFrame);
      if (seen.has(nl)) continue;
      seen.add(nl);
      totalUs.set(nl, (totalUs.get(nl) ?? 0) + dt);
    }
  }
  const ms = (us: number): number => Math.round(us / 100) / 10;
  // percentages of the busy time: the idle samples (waiting on I/O, or shutdown) left out
  const busy = all - (selfUs.get('(idle)') ?? 0);
  const pct = (us: number): number => (busy ? Math.round((1000 * us) / busy) / 10 : 0);
  const frames = [...selfUs.entries()]
    .filter(([frame]) => frame !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([frame, us]) => ({
      frame,
      selfMs: ms(us),
      selfPct: pct(us),
      totalMs: ms(totalUs.get(frame) ?? us),
      totalPct: pct(totalUs.get(frame) ?? us),
    }));
  const byPackage = [...pkgUs.entries()]
    .filter(([frame]) => frame !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .map(([frame, us]) => ({ frame, selfMs: ms(us), selfPct: pct(us), totalMs: ms(us), totalPct: pct(us) }));
  // Berth's own functions by inclusive time: where the time goes, callees included
  const berthInclusive = [...totalUs.entries()]
    .filter(([frame]) => / dist\/(apps|libs)\//.test(frame))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([frame, us]) => ({
      frame,
      selfMs: ms(selfUs.get(frame) ?? 0),
      selfPct: pct(selfUs.get(frame) ?? 0),
      totalMs: ms(us),
      totalPct: pct(us),
    }));
  return { frames, byPackage, berthInclusive, totalMs: ms(all), busyMs: ms(busy) };
}
