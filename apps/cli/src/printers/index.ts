import { UsageError } from '../errors';
import { JsonPrinter, NamePrinter, YamlPrinter } from './formats';
import type { PrintContext, Printer } from './printer';
import { TablePrinter } from './table';

export * from './printer';
export * from './columns';
export * from './table';
export * from './formats';

/** The -o values; '' (no -o) is the table. */
export const OUTPUT_FORMATS = ['wide', 'yaml', 'json', 'name'] as const;
export type OutputFormat = '' | (typeof OUTPUT_FORMATS)[number];

export function checkOutputFormat(output: string | undefined): OutputFormat {
  const o = output ?? '';
  if (o === '' || (OUTPUT_FORMATS as readonly string[]).includes(o)) return o as OutputFormat;
  throw new UsageError(
    `unknown output format "${o}": allowed formats are ${OUTPUT_FORMATS.join(', ')}`,
    'omit -o for the default table',
  );
}

export function createPrinter(output: string | undefined, ctx: PrintContext): Printer {
  switch (checkOutputFormat(output)) {
    case 'json':
      return new JsonPrinter();
    case 'yaml':
      return new YamlPrinter();
    case 'name':
      return new NamePrinter(ctx);
    case 'wide':
      return new TablePrinter(ctx, true);
    default:
      return new TablePrinter(ctx, false);
  }
}
