/**
 * How every command prints: `-o json` (and `-o yaml` where it fits) for
 * scripts, text for people. Results go to stdout; progress and errors to
 * stderr, so `-o json` output is always parseable.
 */
import { stringify as stringifyYaml } from 'yaml';
import { UsageError } from '../errors.js';

export type OutputFormat = 'text' | 'table' | 'json' | 'yaml' | 'path' | 'tag' | 'env';

export function checkFormat(format: string, allowed: OutputFormat[]): OutputFormat {
  if (!allowed.includes(format as OutputFormat))
    throw new UsageError(`-o ${format} is not one of ${allowed.join(', ')}`);
  return format as OutputFormat;
}

/** Writes `value` as JSON or YAML when asked, else the text `forPeople` makes. */
export function emit(format: OutputFormat, value: unknown, forPeople: () => string): void {
  if (format === 'json') process.stdout.write(JSON.stringify(value, null, 2) + '\n');
  else if (format === 'yaml') process.stdout.write(stringifyYaml(value, { lineWidth: 0 }));
  else process.stdout.write(forPeople());
}

/** Columns padded to their widest cell; the first row is the header. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] + 3)))
          .join('')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** Bytes as people read them (decimal units, as `bentoml list`). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let n = bytes;
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}
