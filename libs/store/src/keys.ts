import type { KindInfo } from '@berth/api';

/**
 * Redis key layout. Everything lives under one prefix (default `berth:`) so several Berth
 * installations can share a Redis, and so tests can tell their keys apart.
 *
 *   {p}rev                          global revision counter (the resourceVersion), INCR only
 *   {p}o:{resource}:{member}        object JSON; member is `ns/name` (namespaced) or `name`
 *   {p}a:{resource}:{member}        hash manager -> last applied configuration JSON
 *   {p}i:{resource}                 sorted set (score 0, lexical order) of every member of a kind
 *   {p}i:{resource}:ns:{ns}         ... of one namespace
 *   {p}i:pods:node:{nodeName}       ... of pods bound to one node ('' = unbound)
 *   {p}s:{resource}                 stream of changes, entry id `<rev>-0`
 *   {p}last                         hash resource -> revision of the newest stream entry
 */
export class Keys {
  constructor(readonly prefix = 'berth:') {}

  get rev(): string {
    return `${this.prefix}rev`;
  }

  get last(): string {
    return `${this.prefix}last`;
  }

  member(kind: KindInfo, namespace: string | undefined, name: string): string {
    return kind.namespaced ? `${namespace ?? ''}/${name}` : name;
  }

  objectPrefix(kind: KindInfo): string {
    return `${this.prefix}o:${kind.resource}:`;
  }

  object(kind: KindInfo, member: string): string {
    return this.objectPrefix(kind) + member;
  }

  applied(kind: KindInfo, member: string): string {
    return `${this.prefix}a:${kind.resource}:${member}`;
  }

  namespaceObject(ns: string): string {
    return `${this.prefix}o:namespaces:${ns}`;
  }

  kindIndex(kind: KindInfo): string {
    return `${this.prefix}i:${kind.resource}`;
  }

  nsIndex(kind: KindInfo, ns: string): string {
    return `${this.prefix}i:${kind.resource}:ns:${ns}`;
  }

  nodeIndex(nodeName: string): string {
    return `${this.prefix}i:pods:node:${nodeName}`;
  }

  stream(kind: KindInfo): string {
    return `${this.prefix}s:${kind.resource}`;
  }
}
