/**
 * Image references as Docker users write them, normalised the way Docker does:
 *   busybox                 -> docker.io/library/busybox:latest
 *   library/busybox:1.36    -> docker.io/library/busybox:1.36
 *   host:5000/a/b@sha256:…  -> host:5000/a/b@sha256:…
 * Grammar follows the distribution reference rules (lower-case path components separated by
 * '.', '_', '__' or '-'; tag [\w][\w.-]{0,127}; digest algorithm:hex).
 */
export interface ImageReference {
  /** Registry host (with port), e.g. docker.io or 127.0.0.1:5000 */
  domain: string;
  /** Repository path within the registry, e.g. library/busybox */
  path: string;
  tag?: string;
  digest?: string;
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
export const DEFAULT_DOMAIN = 'docker.io';

export class ReferenceError extends Error {}

function isDomain(s: string): boolean {
  if (s === 'localhost') return true;
  if (s.startsWith('[')) return /^\[[0-9a-fA-F:.]+\](?::\d+)?$/.test(s);
  const [host, port, ...rest] = s.split(':');
  if (rest.length || (port !== undefined && !/^\d{1,5}$/.test(port))) return false;
  return host.split('.').every((c) => DOMAIN_COMPONENT.test(c));
}

export function parseReference(input: string): ImageReference {
  if (!input || input.length > 255 + 128 + 80)
    throw new ReferenceError(`invalid reference format: "${input}"`);
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new ReferenceError(`invalid digest "${digest}" in reference "${input}"`);
    if (digest.startsWith('sha256:') && !/^sha256:[a-f0-9]{64}$/.test(digest))
      throw new ReferenceError(`invalid sha256 digest "${digest}" in reference "${input}"`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new ReferenceError(`invalid tag "${tag}" in reference "${input}"`);
  }
  const parts = rest.split('/');
  let domain = DEFAULT_DOMAIN;
  if (
    parts.length > 1 &&
    (parts[0].includes('.') ||
      parts[0].includes(':') ||
      parts[0] === 'localhost' ||
      parts[0] !== parts[0].toLowerCase())
  ) {
    domain = parts.shift()!;
    if (!isDomain(domain))
      throw new ReferenceError(`invalid registry host "${domain}" in reference "${input}"`);
  }
  if (domain === 'index.docker.io') domain = DEFAULT_DOMAIN;
  if (!parts.length || parts.some((p) => !PATH_COMPONENT.test(p)))
    throw new ReferenceError(
      `invalid reference format: repository name in "${input}" must be lowercase letters, digits and separators`,
    );
  if (domain === DEFAULT_DOMAIN && parts.length === 1) parts.unshift('library');
  const path = parts.join('/');
  if (domain.length + path.length + 1 > 255)
    throw new ReferenceError(`repository name in "${input}" is longer than 255 characters`);
  if (!tag && !digest) tag = 'latest';
  return { domain, path, tag, digest };
}

export function formatReference(r: ImageReference): string {
  let s = `${r.domain}/${r.path}`;
  if (r.tag) s += `:${r.tag}`;
  if (r.digest) s += `@${r.digest}`;
  return s;
}

/** True when the reference was written with an explicit tag or digest other than `latest`. */
export function hasPinnedVersion(input: string): boolean {
  try {
    const at = input.includes('@');
    if (at) return true;
    const lastSlash = input.lastIndexOf('/');
    const colon = input.lastIndexOf(':');
    return colon > lastSlash && input.slice(colon + 1) !== 'latest';
  } catch {
    return false;
  }
}
