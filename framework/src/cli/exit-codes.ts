import { BentoError } from '../errors.js';

/**
 * What `bento` exits with, the same for every command, so scripts can tell a
 * typo from a missing bento from a failure:
 * 0 done; 1 the work failed (a build, a download, a server that could not start);
 * 2 the command line or the configuration is wrong; 3 what it names does not exist.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, notFound: 3 } as const;

const USAGE = new Set([
  'USAGE_ERROR',
  'CONFIG_ERROR',
  'SERVICE_DEFINITION_ERROR',
  'DEPLOY_ERROR',
  'INVALID_INPUT',
  'PORT_UNAVAILABLE',
]);
const NOT_FOUND = new Set(['BENTO_NOT_FOUND', 'MODEL_NOT_FOUND', 'MODEL_SOURCE_NOT_FOUND']);

export function exitCodeFor(err: unknown): number {
  if (!(err instanceof BentoError)) return EXIT.failed;
  if (USAGE.has(err.code)) return EXIT.usage;
  if (NOT_FOUND.has(err.code)) return EXIT.notFound;
  return EXIT.failed;
}
