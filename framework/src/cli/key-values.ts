import { InvalidInputError } from '../errors.js';

/** Repeated `key=value` options as a mapping. */
export function keyValues(list: string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) {
    const i = kv.indexOf('=');
    if (i < 1) throw new InvalidInputError(`${flag} ${kv}: expected key=value`);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}
