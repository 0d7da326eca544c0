import { ConfigError } from '../errors.js';

/**
 * Turns a setting's raw value into what the code uses. `raw` is undefined when the setting is unset or blank; a
 * value that does not parse is a ConfigError naming the setting, so a typo stops the server instead of being
 * taken for the default.
 */
export type Parse<T> = (raw: string | undefined, name: string) => T;

function numeric(what: string, test: (n: number) => boolean) {
  function parse(fallback: number): Parse<number>;
  function parse(): Parse<number | undefined>;
  function parse(fallback?: number): Parse<number | undefined> {
    return (raw, name) => {
      if (raw === undefined) return fallback;
      const value = Number(raw);
      if (!test(value)) throw new ConfigError(`${name} must be ${what}, got "${raw}"`);
      return value;
    };
  }
  return parse;
}

/** A positive integer; without a fallback, undefined when unset (another layer, bento.yaml or code, decides). */
export const positiveInt = numeric('a positive integer', (n) => Number.isInteger(n) && n > 0);
/** A positive number, fractions allowed. */
export const positiveNumber = numeric('a positive number', (n) => Number.isFinite(n) && n > 0);

/** An integer of 0 or more. */
export const nonNegativeInt = numeric('an integer of 0 or more', (n) => Number.isInteger(n) && n >= 0);

/** A TCP port: 0 (any free port) to 65535. */
export const port = numeric('an integer from 0 to 65535', (n) => Number.isInteger(n) && n >= 0 && n <= 65535);

export function text(fallback: string): Parse<string>;
export function text(): Parse<string | undefined>;
export function text(fallback?: string): Parse<string | undefined> {
  return (raw) => raw ?? fallback;
}

/** One of `values`, as written. */
export function oneOf<const V extends string>(values: readonly V[], fallback: V): Parse<V>;
export function oneOf<const V extends string>(values: readonly V[]): Parse<V | undefined>;
export function oneOf<const V extends string>(values: readonly V[], fallback?: V): Parse<V | undefined> {
  return (raw, name) => {
    if (raw === undefined) return fallback;
    if (!(values as readonly string[]).includes(raw))
      throw new ConfigError(`${name} must be one of ${values.join(', ')}, got "${raw}"`);
    return raw as V;
  };
}

/** Set to anything (as NO_COLOR and BENTO_DEBUG are read): true. */
export const isSet: Parse<boolean> = (raw) => raw !== undefined;

/** A comma-separated list of numbers. */
export const numberList: Parse<number[] | undefined> = (raw, name) => {
  if (raw === undefined) return undefined;
  const list = raw.split(',').map((s) => Number(s.trim()));
  if (!list.every((n) => Number.isFinite(n))) throw new ConfigError(`${name} must be a list of numbers, got "${raw}"`);
  return list;
};

/** A comma-separated list of names, each trimmed. */
export const nameList: Parse<string[] | undefined> = (raw) => raw?.split(',').map((s) => s.trim());

/** A process count: a positive integer, or `cpu_count` for one per core. */
export const processCount: Parse<number | 'cpu_count' | undefined> = (raw, name) => {
  if (raw === undefined || raw === 'cpu_count') return raw;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new ConfigError(`${name} must be a positive integer or "cpu_count", got "${raw}"`);
  return n;
};

/** A count of pixels: 0 or more. */
export const pixelCount = numeric(
  'a whole number of pixels (0 sends every image to sharp)',
  (n) => Number.isInteger(n) && n >= 0,
);

/** An HTTP header name, lowercased. */
export function headerName(fallback: string): Parse<string> {
  return (raw, name) => {
    if (raw === undefined) return fallback;
    if (!/^[A-Za-z0-9-]+$/.test(raw)) throw new ConfigError(`${name} "${raw}" is not a header name`);
    return raw.toLowerCase();
  };
}

/**
 * A positive integer a plugin or a service reads for itself from `env` (its own settings, outside the framework's
 * catalogue), else `fallback`.
 */
export function envInt(env: Readonly<Record<string, string | undefined>>, name: string, fallback: number): number {
  return positiveInt(fallback)(env[name]?.trim() || undefined, name);
}
