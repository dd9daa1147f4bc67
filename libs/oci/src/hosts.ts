import { DEFAULT_DOMAIN, parseReference } from './reference';

export interface Credentials {
  username: string;
  password: string;
}

/** An endpoint to try for a registry: its base URL (scheme://host[:port]) and the host name for credentials. */
export interface RegistryEndpoint {
  url: string;
  host: string;
  mirror: boolean;
}

/** A docker config.json (or a kubernetes.io/dockerconfigjson secret's `.dockerconfigjson`). */
export interface DockerConfigJson {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
}

export interface RegistryHostsOptions {
  /** registry host → mirror URLs, tried in order before the registry itself, e.g. { 'docker.io': ['http://127.0.0.1:5000'] }. */
  mirrors?: Record<string, string[]>;
  /** Hosts reached over plain http (others use https). Loopback hosts are always insecure, as in Docker. */
  insecure?: string[];
  /** Credentials by host, e.g. from a docker config json (see parseDockerConfig). */
  credentials?: Record<string, Credentials>;
}

/** Canonical host key for docker config json entries: "https://index.docker.io/v1/" → "docker.io". */
export function normalizeRegistryHost(key: string): string {
  let h = key.trim().replace(/^[a-z]+:\/\//i, '');
  h = h.split('/')[0].toLowerCase();
  if (h === 'index.docker.io' || h === 'registry-1.docker.io' || h === 'registry.hub.docker.com')
    h = DEFAULT_DOMAIN;
  return h;
}

/**
 * Reads the credentials of a docker config json: `{auths: {host: {auth: base64("user:pass")}}}`
 * (username/password fields are accepted too). Throws naming the entry when one is malformed.
 */
export function parseDockerConfig(json: string | DockerConfigJson): Record<string, Credentials> {
  let doc: DockerConfigJson;
  if (typeof json === 'string') {
    try {
      doc = JSON.parse(json) as DockerConfigJson;
    } catch (e) {
      throw new Error(`docker config json is not valid JSON: ${(e as Error).message}`);
    }
  } else doc = json;
  const out: Record<string, Credentials> = {};
  if (!doc || typeof doc !== 'object') throw new Error('docker config json must be an object with "auths"');
  const auths = doc.auths ?? {};
  if (typeof auths !== 'object') throw new Error('docker config json: "auths" must be an object');
  for (const [key, entry] of Object.entries(auths)) {
    if (!entry || typeof entry !== 'object')
      throw new Error(`docker config json: auths["${key}"] must be an object`);
    let username = entry.username;
    let password = entry.password;
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString();
      const colon = decoded.indexOf(':');
      if (colon < 0)
        throw new Error(`docker config json: auths["${key}"].auth must be base64("user:password")`);
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
    if (username === undefined || password === undefined) continue;
    out[normalizeRegistryHost(key)] = { username, password };
  }
  return out;
}

function isLoopback(host: string): boolean {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * Where to reach each registry: mirrors first, then the registry itself (docker.io is served by
 * registry-1.docker.io), over http for insecure hosts and https otherwise; and who to log in as.
 */
export class RegistryHosts {
  private readonly mirrors: Record<string, string[]>;
  private readonly insecure: Set<string>;
  private readonly creds: Record<string, Credentials>;

  constructor(opts: RegistryHostsOptions = {}) {
    this.mirrors = {};
    for (const [host, urls] of Object.entries(opts.mirrors ?? {}))
      this.mirrors[normalizeRegistryHost(host)] = urls.map((u) => u.replace(/\/+$/, ''));
    this.insecure = new Set((opts.insecure ?? []).map(normalizeRegistryHost));
    this.creds = {};
    for (const [h, c] of Object.entries(opts.credentials ?? {})) this.creds[normalizeRegistryHost(h)] = c;
  }

  /** Parses `docker.io=http://127.0.0.1:5000` (repeatable flag / env form) into a mirrors map. */
  static parseMirrorFlags(flags: string[]): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const f of flags) {
      const eq = f.indexOf('=');
      if (eq <= 0 || !/^https?:\/\/[^/]+/.test(f.slice(eq + 1)))
        throw new Error(
          `invalid registry mirror "${f}": expected HOST=URL, e.g. docker.io=http://127.0.0.1:5000`,
        );
      (out[normalizeRegistryHost(f.slice(0, eq))] ??= []).push(f.slice(eq + 1));
    }
    return out;
  }

  isInsecure(host: string): boolean {
    const h = normalizeRegistryHost(host);
    return this.insecure.has(h) || isLoopback(h);
  }

  /** Endpoints to try in order for a registry host (mirrors first). */
  endpoints(domain: string): RegistryEndpoint[] {
    const d = normalizeRegistryHost(domain);
    const out: RegistryEndpoint[] = (this.mirrors[d] ?? []).map((url) => ({
      url,
      host: normalizeRegistryHost(url),
      mirror: true,
    }));
    const origin = d === DEFAULT_DOMAIN ? 'registry-1.docker.io' : d;
    out.push({ url: `${this.isInsecure(d) ? 'http' : 'https'}://${origin}`, host: d, mirror: false });
    return out;
  }

  /** Credentials configured for a host (mirrors are looked up by their own host). */
  credentials(host: string): Credentials | undefined {
    return this.creds[normalizeRegistryHost(host)];
  }
}

/**
 * The credentials for an image from a list of docker config jsons (a pod's imagePullSecrets, in
 * order): the first entry whose host is the image's registry. Malformed configs are skipped.
 */
export function pickCredentials(
  reference: string,
  configs: Array<string | DockerConfigJson>,
): Credentials | undefined {
  const domain = normalizeRegistryHost(parseReference(reference).domain);
  for (const c of configs) {
    let creds: Record<string, Credentials>;
    try {
      creds = parseDockerConfig(c);
    } catch {
      continue;
    }
    if (creds[domain]) return creds[domain];
  }
  return undefined;
}
