import { StringDecoder } from 'node:string_decoder';

/**
 * Splits a byte stream into lines, whatever the chunk boundaries (a line, or a multi-byte UTF-8
 * character, may be cut anywhere). Empty lines are skipped; a last line without '\n' is yielded at the end.
 */
export async function* readLines(source: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  const parts: string[] = [];
  for await (const chunk of source) {
    let text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let nl = text.indexOf('\n');
    while (nl >= 0) {
      parts.push(text.slice(0, nl));
      const line = parts.join('').replace(/\r$/, '');
      parts.length = 0;
      if (line.trim()) yield line;
      text = text.slice(nl + 1);
      nl = text.indexOf('\n');
    }
    if (text) parts.push(text);
  }
  parts.push(decoder.end());
  const last = parts.join('').replace(/\r$/, '');
  if (last.trim()) yield last;
}
