import { toJson, toYaml, type KubeObject } from '@berth/api';
import { qualifiedName, type PrintContext, type Printer } from './printer';

function asList(objects: KubeObject[]) {
  return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items: objects };
}

export class JsonPrinter implements Printer {
  print(objects: KubeObject[], single: boolean): string {
    return toJson(single && objects.length === 1 ? objects[0] : asList(objects));
  }
  printEvent(_t: string, obj: KubeObject): string {
    return toJson(obj);
  }
}

export class YamlPrinter implements Printer {
  private printed = false;
  print(objects: KubeObject[], single: boolean): string {
    this.printed = true;
    return toYaml(single && objects.length === 1 ? objects[0] : asList(objects));
  }
  printEvent(_t: string, obj: KubeObject): string {
    const sep = this.printed ? '---\n' : '';
    this.printed = true;
    return sep + toYaml(obj);
  }
}

export class NamePrinter implements Printer {
  constructor(private readonly ctx: PrintContext) {}
  print(objects: KubeObject[]): string {
    return objects.map((o) => qualifiedName(this.ctx.kind, o.metadata?.name) + '\n').join('');
  }
  printEvent(_t: string, obj: KubeObject): string {
    return qualifiedName(this.ctx.kind, obj.metadata?.name) + '\n';
  }
}
