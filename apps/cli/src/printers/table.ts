import type { KubeObject } from '@berth/api';
import { columnsFor, type Column } from './columns';
import type { PrintContext, Printer } from './printer';

/** Columns separated by three spaces, uppercase headers, the last column unpadded (as kubectl's tabwriter). */
export function formatTable(rows: string[][], widths?: number[]): { text: string; widths: number[] } {
  const w = widths ? [...widths] : [];
  for (const r of rows) r.forEach((c, i) => (w[i] = Math.max(w[i] ?? 0, c.length)));
  const text = rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i] + 3))).join(''))
    .map((l) => l + '\n')
    .join('');
  return { text, widths: w };
}

export class TablePrinter implements Printer {
  private readonly columns: Column[];
  private widths: number[] | undefined;

  constructor(
    private readonly ctx: PrintContext,
    wide: boolean,
  ) {
    this.columns = columnsFor(ctx.kind, {
      wide,
      allNamespaces: ctx.allNamespaces,
      showLabels: ctx.showLabels,
    });
  }

  private row(o: KubeObject): string[] {
    return this.columns.map((c) => c.cell(o, this.ctx.now));
  }

  print(objects: KubeObject[]): string {
    const rows = [this.columns.map((c) => c.header), ...objects.map((o) => this.row(o))];
    const { text, widths } = formatTable(rows);
    this.widths = widths;
    return text;
  }

  /** A row aligned with the rows printed before; the first one of an empty list brings the header. */
  printEvent(_type: string, obj: KubeObject): string {
    if (!this.widths) return this.print([obj]);
    const { text, widths } = formatTable([this.row(obj)], this.widths);
    this.widths = widths;
    return text;
  }
}
