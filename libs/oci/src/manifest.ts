import { InvalidManifestError } from './errors';

/** Media types the puller understands (OCI image spec v1 and Docker image manifest v2 schema 2). */
export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OciLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

/** Accept header for manifest requests: never schema 1 (a registry falls back to it without this). */
export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestList,
  MediaType.DockerManifest,
].join(', ');

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** The image configuration (only the fields Berth uses are typed; the rest is kept as is). */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    ExposedPorts?: Record<string, object>;
    Volumes?: Record<string, object>;
    Labels?: Record<string, string>;
    StopSignal?: string;
  };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: unknown[];
  [key: string]: unknown;
}

export type ParsedManifest =
  | { kind: 'manifest'; mediaType: string; manifest: ImageManifest }
  | { kind: 'index'; mediaType: string; index: ImageIndex };

const SHA256 = /^sha256:[a-f0-9]{64}$/;

function checkDescriptor(d: unknown, field: string): Descriptor {
  if (!d || typeof d !== 'object') throw new InvalidManifestError(`${field}: must be a descriptor object`);
  const o = d as Record<string, unknown>;
  if (typeof o.mediaType !== 'string') throw new InvalidManifestError(`${field}.mediaType: must be a string`);
  if (typeof o.digest !== 'string' || !SHA256.test(o.digest))
    throw new InvalidManifestError(
      `${field}.digest: must be sha256:<64 hex>, got ${JSON.stringify(o.digest)}`,
    );
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0)
    throw new InvalidManifestError(`${field}.size: must be a non-negative integer`);
  return o as unknown as Descriptor;
}

/**
 * Parses a manifest or index body. `contentType` is the response's Content-Type; the body's own
 * mediaType wins when present. Schema 1 and unknown types are refused with a clear error.
 */
export function parseManifest(body: Buffer | string, contentType?: string): ParsedManifest {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(body.toString()) as Record<string, unknown>;
  } catch (e) {
    throw new InvalidManifestError(`manifest is not JSON: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== 'object') throw new InvalidManifestError('manifest must be a JSON object');
  if (doc.schemaVersion === 1)
    throw new InvalidManifestError(
      'manifest schema 1 is not supported (push the image as v2 schema 2 or OCI)',
    );
  const ct = contentType?.split(';')[0].trim();
  const mediaType =
    (typeof doc.mediaType === 'string' && doc.mediaType) ||
    (ct && ct !== 'application/json' && ct !== 'application/octet-stream' ? ct : '') ||
    (Array.isArray(doc.manifests) ? MediaType.OciIndex : MediaType.OciManifest);
  if (doc.schemaVersion !== 2)
    throw new InvalidManifestError(`schemaVersion: must be 2, got ${String(doc.schemaVersion)}`);
  if (mediaType === MediaType.OciIndex || mediaType === MediaType.DockerManifestList) {
    if (!Array.isArray(doc.manifests))
      throw new InvalidManifestError('manifests: an index must list manifests');
    doc.manifests.forEach((m, i) => checkDescriptor(m, `manifests[${i}]`));
    return { kind: 'index', mediaType, index: doc as unknown as ImageIndex };
  }
  if (mediaType === MediaType.OciManifest || mediaType === MediaType.DockerManifest) {
    checkDescriptor(doc.config, 'config');
    if (!Array.isArray(doc.layers)) throw new InvalidManifestError('layers: must be an array');
    doc.layers.forEach((l, i) => checkDescriptor(l, `layers[${i}]`));
    return { kind: 'manifest', mediaType, manifest: doc as unknown as ImageManifest };
  }
  throw new InvalidManifestError(
    `unsupported manifest media type "${mediaType}" (supported: OCI manifest/index, Docker v2 schema 2 manifest/list)`,
  );
}

export function parseImageConfig(body: Buffer | string): ImageConfig {
  let doc: ImageConfig;
  try {
    doc = JSON.parse(body.toString()) as ImageConfig;
  } catch (e) {
    throw new InvalidManifestError(`image config is not JSON: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || !doc.rootfs || !Array.isArray(doc.rootfs.diff_ids))
    throw new InvalidManifestError('image config: rootfs.diff_ids must be an array');
  doc.rootfs.diff_ids.forEach((d, i) => {
    if (typeof d !== 'string' || !SHA256.test(d))
      throw new InvalidManifestError(`image config: rootfs.diff_ids[${i}] must be sha256:<64 hex>`);
  });
  return doc;
}

export type LayerCompression = 'gzip' | 'none' | 'zstd';

/** How a layer blob is compressed, from its media type. Unknown types are refused. */
export function layerCompression(mediaType: string): LayerCompression {
  switch (mediaType) {
    case MediaType.OciLayerGzip:
    case MediaType.OciLayerNondistributableGzip:
    case MediaType.DockerLayerGzip:
    case MediaType.DockerForeignLayerGzip:
      return 'gzip';
    case MediaType.OciLayer:
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar':
      return 'none';
    case MediaType.OciLayerZstd:
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd':
      return 'zstd';
    default:
      throw new InvalidManifestError(`unsupported layer media type "${mediaType}"`);
  }
}

/** chainID(L0) = diffID(L0); chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln)). */
export function chainIDs(diffIDs: string[], sha256: (s: string) => string): string[] {
  const out: string[] = [];
  for (const d of diffIDs) out.push(out.length === 0 ? d : `sha256:${sha256(`${out[out.length - 1]} ${d}`)}`);
  return out;
}
