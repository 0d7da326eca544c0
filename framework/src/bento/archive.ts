/**
 * `.bento` archives (tar.gz): `bento export` writes them repeatably (sorted
 * entries, fixed timestamps, no owner data), `bento import` unpacks them as
 * hostile input: every entry is checked before anything is written, only plain
 * files and directories are accepted, the total size is bounded, and the result
 * must match its SHA256SUMS before it enters the store.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import * as tar from 'tar';
import { BentoIntegrityError, InvalidInputError } from '../errors.js';
import type { BentoStore, StoredBento } from './bento-store.js';
import { listFiles, verifyChecksums } from './checksums.js';
import { readManifest } from './manifest.js';
import { checkTagPart } from './tag.js';

/** 2000-01-01: every entry's mtime, so that the same bento exports to the same bytes. */
const FIXED_MTIME = new Date(Date.UTC(2000, 0, 1));

export interface ImportLimits {
  /** Largest total of unpacked file sizes (default 20 GiB; BENTO_IMPORT_MAX_BYTES). */
  maxBytes: number;
  /** Most entries (default 200 000). */
  maxEntries: number;
}

export const DEFAULT_IMPORT_LIMITS: ImportLimits = { maxBytes: 20 * 1024 ** 3, maxEntries: 200_000 };

/** Writes `bento` to `out` (a file, or a directory to write `<name>-<version>.bento` into). Returns the file. */
export async function exportBento(bento: StoredBento, out = '.'): Promise<string> {
  const { name, version } = bento.manifest;
  const target = resolve(existsSync(out) && statSync(out).isDirectory() ? join(out, `${name}-${version}.bento`) : out);
  const files = (await listFiles(bento.path)).map((f) => f.path);
  const partial = `${target}.partial-${randomBytes(4).toString('hex')}`;
  try {
    await tar.c({ gzip: { level: 6 }, file: partial, cwd: bento.path, portable: true, mtime: FIXED_MTIME, noDirRecurse: true }, files);
    await rename(partial, target);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  return target;
}

const ACCEPTED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);

/** Why an archive entry may not be unpacked, or undefined when it may. */
function refusal(path: string, type: string): string | undefined {
  if (!ACCEPTED_TYPES.has(type)) {
    const what = type === 'SymbolicLink' || type === 'Link' ? 'a link' : type.includes('Device') || type === 'FIFO' ? 'a device or FIFO' : `of type ${type}`;
    return `entry "${path}" is ${what}; a bento holds plain files only`;
  }
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path) || path.startsWith('\\')) return `entry "${path}" has an absolute path`;
  const parts = path.split(/[\\/]+/);
  if (parts.includes('..')) return `entry "${path}" climbs out of the archive with ".."`;
  if (path.includes('\0')) return `entry "${path}" has a NUL byte in its name`;
  return undefined;
}

function archiveError(file: string, err: unknown): Error {
  if (err instanceof BentoIntegrityError) return err;
  const msg = (err as Error).message ?? String(err);
  return new BentoIntegrityError(`${basename(file)} is not a readable .bento archive (truncated or corrupt): ${msg}`);
}

/** Checks every entry of an archive without writing anything. */
async function scan(file: string, limits: ImportLimits): Promise<void> {
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
        if (!problem && total > limits.maxBytes) problem = `it unpacks to more than ${limits.maxBytes} bytes (BENTO_IMPORT_MAX_BYTES)`;
        entry.resume();
      },
    });
  } catch (err) {
    throw archiveError(file, err);
  }
  if (problem) throw new BentoIntegrityError(`refusing to import ${basename(file)}: ${problem}`);
  if (count === 0) throw new BentoIntegrityError(`${basename(file)} is empty: not a .bento archive`);
}

/** Unpacks a `.bento` archive into the store. Nothing outside the store is ever written. */
export async function importBento(file: string, store: BentoStore, limits: ImportLimits = DEFAULT_IMPORT_LIMITS): Promise<StoredBento> {
  const path = resolve(file);
  if (!existsSync(path) || !statSync(path).isFile()) throw new InvalidInputError(`${path} is not a file`);
  await scan(path, limits);
  const staging = await store.staging();
  try {
    try {
      await tar.x({
        file: path,
        cwd: staging,
        strict: true,
        preservePaths: false,
        preserveOwner: false,
        // A second line of defence: scan() has refused these already.
        filter: (p, entry) => refusal(p, (entry as tar.ReadEntry).type ?? 'File') === undefined,
      });
    } catch (err) {
      throw archiveError(path, err);
    }
    await verifyChecksums(staging);
    const manifest = await readManifest(staging);
    checkTagPart(manifest.name, 'name');
    checkTagPart(manifest.version, 'version');
    if (manifest.tag !== `${manifest.name}:${manifest.version}`) throw new BentoIntegrityError(`its manifest's tag ${manifest.tag} does not match name and version`);
    return await store.commit(staging, manifest);
  } catch (err) {
    await store.discard(staging);
    throw err;
  }
}
