/** A parsed WWW-Authenticate challenge, e.g. `Bearer realm="https://auth",service="reg",scope="repository:a:pull"`. */
export interface AuthChallenge {
  scheme: 'basic' | 'bearer' | string;
  params: Record<string, string>;
}

/**
 * Parses a WWW-Authenticate header value into its challenges (RFC 7235: scheme followed by
 * comma-separated auth-params whose values are tokens or quoted strings with backslash escapes).
 * Several challenges may appear in one header; parameter names are lower-cased.
 */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const out: AuthChallenge[] = [];
  let i = 0;
  const n = header.length;
  const skipWs = () => {
    while (i < n && /[\s,]/.test(header[i])) i++;
  };
  const readToken = () => {
    const start = i;
    while (i < n && /[!#$%&'*+.^_`|~0-9A-Za-z/-]/.test(header[i])) i++;
    return header.slice(start, i);
  };
  while (i < n) {
    skipWs();
    const scheme = readToken();
    if (!scheme) {
      i++;
      continue;
    }
    const ch: AuthChallenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(ch);
    for (;;) {
      while (i < n && /[\s]/.test(header[i])) i++;
      const save = i;
      const name = readToken();
      while (i < n && header[i] === ' ') i++;
      if (!name || header[i] !== '=') {
        i = save; // next challenge (or token68, which registries do not use)
        break;
      }
      i++; // '='
      while (i < n && header[i] === ' ') i++;
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i++];
        }
        i++; // closing quote
      } else {
        const start = i;
        while (i < n && header[i] !== ',' && !/\s/.test(header[i])) i++;
        value = header.slice(start, i);
      }
      ch.params[name.toLowerCase()] = value;
      while (i < n && header[i] === ' ') i++;
      if (header[i] === ',') {
        i++;
        continue;
      }
      break;
    }
  }
  return out;
}

/** The scope for pulling a repository, as the distribution token spec writes it. */
export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}
