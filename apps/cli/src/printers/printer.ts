import type { KindInfo, KubeObject, WatchEventType } from '@berth/api';

export interface PrintContext {
  kind: KindInfo;
  now: number;
  allNamespaces?: boolean;
  showLabels?: boolean;
}

/** One output format of `get` (and the other commands that print objects). */
export interface Printer {
  /**
   * The objects of one get. `single` is true when exactly one object was asked for by name (yaml and
   * json then print the object itself rather than a List).
   */
  print(objects: KubeObject[], single: boolean): string;
  /** One watch event, printed after the first print(). */
  printEvent(type: WatchEventType, obj: KubeObject): string;
}

/** `deployment.apps/web`, `pod/x`. */
export function qualifiedName(kind: KindInfo, name: string | undefined): string {
  return `${kind.singular}${kind.group ? '.' + kind.group : ''}/${name ?? ''}`;
}
