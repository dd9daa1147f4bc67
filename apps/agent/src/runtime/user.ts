import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ContainerConfigError } from './spec';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}
export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 4 || !/^\d+$/.test(f[2]) || !/^\d+$/.test(f[3])) continue;
    out.push({ name: f[0], uid: Number(f[2]), gid: Number(f[3]) });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3 || !/^\d+$/.test(f[2])) continue;
    out.push({ name: f[0], gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) });
  }
  return out;
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids?: number[];
}

/**
 * Resolves a user the way Docker does from an image's `User` ("name", "uid", "name:group",
 * "uid:gid", …) against the image's /etc/passwd and /etc/group, with Kubernetes' runAsUser /
 * runAsGroup overriding. Pure: the file contents are passed in (undefined when missing).
 */
export function resolveUserFrom(
  files: { passwd?: string; group?: string },
  imageUser: string | undefined,
  runAsUser?: number,
  runAsGroup?: number,
): ResolvedUser {
  const passwd = parsePasswd(files.passwd ?? '');
  const groups = parseGroup(files.group ?? '');
  const [userPart, groupPart] = (imageUser ?? '').split(':', 2);
  let uid = 0;
  let gid = 0;
  let name: string | undefined;
  if (runAsUser !== undefined) {
    uid = runAsUser;
    const e = passwd.find((p) => p.uid === uid);
    name = e?.name;
    gid = e?.gid ?? 0;
  } else if (userPart) {
    if (/^\d+$/.test(userPart)) {
      uid = Number(userPart);
      const e = passwd.find((p) => p.uid === uid);
      name = e?.name;
      gid = e?.gid ?? 0;
    } else {
      const e = passwd.find((p) => p.name === userPart);
      if (!e)
        throw new ContainerConfigError('user', `user "${userPart}" not found in the image's /etc/passwd`);
      uid = e.uid;
      gid = e.gid;
      name = e.name;
    }
  } else {
    name = passwd.find((p) => p.uid === 0)?.name ?? 'root';
  }
  if (runAsGroup !== undefined) gid = runAsGroup;
  else if (groupPart && runAsUser === undefined) {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const g = groups.find((x) => x.name === groupPart);
      if (!g)
        throw new ContainerConfigError('user', `group "${groupPart}" not found in the image's /etc/group`);
      gid = g.gid;
    }
  }
  const extra = name
    ? groups.filter((g) => g.members.includes(name!) && g.gid !== gid).map((g) => g.gid)
    : [];
  return extra.length ? { uid, gid, additionalGids: [...new Set(extra)] } : { uid, gid };
}

/**
 * Reads a file inside `rootfs` without following symlinks out of it: every link is resolved
 * against `rootfs` as if it were `/`. Returns undefined when the file does not exist.
 */
export async function readFileInRoot(rootfs: string, file: string): Promise<string | undefined> {
  let rel = file.split('/').filter(Boolean);
  let cur = rootfs;
  for (let hops = 0, i = 0; i < rel.length; i++) {
    const part = rel[i];
    if (part === '.') continue;
    if (part === '..') {
      cur = cur === rootfs ? rootfs : path.dirname(cur);
      continue;
    }
    const next = path.join(cur, part);
    const st = await fs.lstat(next).catch(() => undefined);
    if (!st) return undefined;
    if (st.isSymbolicLink()) {
      if (++hops > 40) throw new Error(`too many symlinks resolving ${file} in ${rootfs}`);
      const target = await fs.readlink(next);
      const restParts = rel.slice(i + 1);
      if (target.startsWith('/')) cur = rootfs;
      rel = [...target.split('/').filter(Boolean), ...restParts];
      i = -1;
      continue;
    }
    cur = next;
  }
  const st = await fs.stat(cur).catch(() => undefined);
  if (!st?.isFile()) return undefined;
  return fs.readFile(cur, 'utf8');
}

/** resolveUserFrom with the image's /etc/passwd and /etc/group read from `rootfs`. */
export async function resolveUser(
  rootfs: string,
  imageUser: string | undefined,
  runAsUser?: number,
  runAsGroup?: number,
): Promise<ResolvedUser> {
  const [passwd, group] = await Promise.all([
    readFileInRoot(rootfs, '/etc/passwd'),
    readFileInRoot(rootfs, '/etc/group'),
  ]);
  return resolveUserFrom({ passwd, group }, imageUser, runAsUser, runAsGroup);
}
