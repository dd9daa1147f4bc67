import { OciError } from './errors';
import type { Descriptor, ImageIndex, Platform } from './manifest';

const ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  mips: 'mips',
  mipsel: 'mipsle',
  loong64: 'loong64',
};

/** The OCI architecture name of a Node `process.arch` value (x64 → amd64, ia32 → 386, …). */
export function ociArch(nodeArch: string): string {
  return ARCH[nodeArch] ?? nodeArch;
}

/** The platform of this host, as OCI names it. */
export function hostPlatform(): Platform {
  const architecture = ociArch(process.arch);
  const p: Platform = { os: 'linux', architecture };
  if (architecture === 'arm')
    p.variant = `v${String((process.config.variables as { arm_version?: string }).arm_version ?? '7')}`;
  if (architecture === 'arm64') p.variant = 'v8';
  return p;
}

/** Parses "linux/amd64" or "linux/arm/v7". */
export function parsePlatform(s: string): Platform {
  const [os, architecture, variant, ...rest] = s.split('/');
  if (!os || !architecture || rest.length)
    throw new OciError(
      'NoMatchingPlatform',
      `invalid platform "${s}": expected os/arch[/variant], e.g. linux/amd64`,
    );
  return variant ? { os, architecture, variant } : { os, architecture };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

function normVariant(arch: string, v: string | undefined): string | undefined {
  if (arch === 'arm64') return !v || v === 'v8' ? undefined : v;
  if (arch === 'arm') return v ?? 'v7';
  return undefined; // variants matter only for arm
}

/** True when a manifest for `candidate` runs on `want` (os and arch equal; variant only for arm). */
export function platformMatches(want: Platform, candidate: Platform): boolean {
  if (candidate.os !== want.os || ociArch(candidate.architecture) !== ociArch(want.architecture))
    return false;
  return (
    normVariant(want.architecture, want.variant) === normVariant(candidate.architecture, candidate.variant)
  );
}

/**
 * Picks the manifest for `want` from an index / manifest list. Entries without a platform and
 * attestation manifests (unknown/unknown) are skipped. The first match wins (index order is the
 * registry's preference order).
 */
export function selectManifest(index: ImageIndex, want: Platform): Descriptor {
  const found = index.manifests.find((m) => m.platform && platformMatches(want, m.platform));
  if (found) return found;
  const have = index.manifests
    .filter((m) => m.platform && m.platform.os !== 'unknown')
    .map((m) => formatPlatform(m.platform!));
  throw new OciError(
    'NoMatchingPlatform',
    `no manifest for platform ${formatPlatform(want)} in the image index (available: ${have.join(', ') || 'none'})`,
  );
}
