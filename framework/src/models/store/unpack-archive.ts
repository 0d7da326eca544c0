/**
 * Unpacks a tar(.gz) archive that came from elsewhere (a `.bento` to import, a model tarball from a web server) as
 * hostile input: every entry is checked before anything is written, only plain files and directories are taken,
 * nothing lands outside the target directory, and the entry count and unpacked size are bounded (a small gzip can
 * unpack to terabytes).
 */
import * as tar from 'tar';
import { readSettings } from '../../config/settings.js';

export interface UnpackLimits {
  /** Largest total of unpacked file sizes. */
  maxBytes: number;
  /** Most entries. */
  maxEntries: number;
}

/** 20 GiB and 200,000 entries. */
export const DEFAULT_UNPACK_LIMITS: UnpackLimits = { maxBytes: readSettings({}).importMaxBytes, maxEntries: 200_000 };

/** The limits with `BENTO_IMPORT_MAX_BYTES` from `env` applied. */
export function unpackLimits(env: Readonly<Record<string, string | undefined>>): UnpackLimits {
  return { ...DEFAULT_UNPACK_LIMITS, maxBytes: readSettings(env).importMaxBytes };
}

/** How a caller names what went wrong, in its own error class. */
export interface UnpackErrors {
  /** The archive holds something it may not (a link, an escape, too much): `reason` says what. */
  refused(reason: string): Error;
  /** The archive cannot be read (truncated, corrupt, not a tarball). */
  unreadable(message: string): Error;
}

const ACCEPTED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);

/** Why an archive entry may not be unpacked, or undefined when it may. */
function refusal(path: string, type: string): string | undefined {
  if (!ACCEPTED_TYPES.has(type)) {
    const what =
      type === 'SymbolicLink' || type === 'Link'
        ? 'a link'
        : type.includes('Device') || type === 'FIFO'
          ? 'a device or FIFO'
          : `of type ${type}`;
    return `entry "${path}" is ${what}; only plain files and directories are taken`;
  }
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path) || path.startsWith('\\'))
    return `entry "${path}" has an absolute path`;
  if (path.split(/[\\/]+/).includes('..')) return `entry "${path}" climbs out of the archive with ".."`;
  if (path.includes('\0')) return `entry "${path}" has a NUL byte in its name`;
  return undefined;
}

/** Reads every entry header without writing anything; the first problem found, if any. */
async function scan(file: string, limits: UnpackLimits, errors: UnpackErrors): Promise<void> {
  let total = 0;
  let count = 0;
  let problem: string | undefined;
  try {
    await tar.t({
      file,
      strict: true,
      onReadEntry: (entry) => {
        count++;
        total += entry.size ?? 0;
        problem ??= refusal(entry.path, entry.type);
        if (!problem && count > limits.maxEntries) problem = `it has more than ${limits.maxEntries} entries`;
        if (!problem && total > limits.maxBytes)
          problem = `it unpacks to more than ${limits.maxBytes} bytes (BENTO_IMPORT_MAX_BYTES)`;
        entry.resume();
      },
    });
  } catch (err) {
    throw errors.unreadable((err as Error).message ?? String(err));
  }
  if (problem) throw errors.refused(problem);
  if (count === 0) throw errors.refused('it is empty');
}

/** Unpacks `file` into `dir` (an empty directory the caller discards on failure), refusing it whole if any entry is unsafe. */
export async function unpackArchive(
  file: string,
  dir: string,
  limits: UnpackLimits,
  errors: UnpackErrors,
): Promise<void> {
  await scan(file, limits, errors);
  try {
    await tar.x({
      file,
      cwd: dir,
      strict: true,
      preservePaths: false,
      preserveOwner: false,
      // A second line of defence: the scan has refused these already, and the archive may have changed since.
      filter: (path, entry) => refusal(path, (entry as tar.ReadEntry).type ?? 'File') === undefined,
    });
  } catch (err) {
    throw errors.unreadable((err as Error).message ?? String(err));
  }
}
