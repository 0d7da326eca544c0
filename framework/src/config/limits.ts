import { ConfigError } from '../errors.js';

/** Bounds on what one request may make the server do. All configurable; all enforced before work is done. */
export interface Limits {
  /** Largest request body, in bytes (413 above it). */
  maxBodyBytes: number;
  /** Largest image, in pixels (width × height of the frame decoded: an animated image's first); checked from the header, before decoding. */
  maxImagePixels: number;
  /** Files in one multipart request. */
  maxFiles: number;
  /** Non-file fields in one multipart request. */
  maxFields: number;
  /** Largest request header block, in bytes. */
  maxHeaderBytes: number;
  /**
   * How long an idle keep-alive connection stays open, in ms. Longer than the idle timeout of the load balancers
   * and clients in front (60 s for most): whoever closes an idle connection first must be the client, or a request
   * it sends as the server closes is reset, unanswered.
   */
  keepAliveTimeoutMs: number;
  /** How long a request's headers and body may take to arrive, in ms (408 past it): a slow client's bound. */
  receiveTimeoutMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxBodyBytes: 20 * 1024 * 1024,
  maxImagePixels: 25_000_000,
  maxFiles: 8,
  maxFields: 16,
  maxHeaderBytes: 16 * 1024,
  keepAliveTimeoutMs: 72_000,
  receiveTimeoutMs: 60_000,
};

/** Environment variables that override each limit. */
export const LIMIT_ENV: Record<keyof Limits, string> = {
  maxBodyBytes: 'BENTO_MAX_BODY_BYTES',
  maxImagePixels: 'BENTO_MAX_IMAGE_PIXELS',
  maxFiles: 'BENTO_MAX_FILES',
  maxFields: 'BENTO_MAX_FIELDS',
  maxHeaderBytes: 'BENTO_MAX_HEADER_BYTES',
  keepAliveTimeoutMs: 'BENTO_KEEP_ALIVE_TIMEOUT_MS',
  receiveTimeoutMs: 'BENTO_RECEIVE_TIMEOUT_MS',
};

function envPositive(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: number,
  integer: boolean,
): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!(integer ? Number.isInteger(value) : Number.isFinite(value)) || value <= 0)
    throw new ConfigError(`${name} must be a positive ${integer ? 'integer' : 'number'}, got "${raw}"`);
  return value;
}

/** Reads a positive integer from the environment, or returns the fallback when unset. */
export function envInt(env: Readonly<Record<string, string | undefined>>, name: string, fallback: number): number {
  return envPositive(env, name, fallback, true);
}

/** Reads a positive number (fractions allowed) from the environment, or returns the fallback when unset. */
export function envNumber(env: Readonly<Record<string, string | undefined>>, name: string, fallback: number): number {
  return envPositive(env, name, fallback, false);
}

export function limitsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  base: Limits = DEFAULT_LIMITS,
): Limits {
  const out = { ...base };
  for (const key of Object.keys(LIMIT_ENV) as Array<keyof Limits>) out[key] = envInt(env, LIMIT_ENV[key], base[key]);
  return out;
}
