/**
 * `.bento` archives (tar.gz): `bento export` writes them repeatably (sorted
 * entries, fixed timestamps, no owner data), `bento import` unpacks them as
 * hostile input (store/unpack-archive.ts), and the result must match its
 * SHA256SUMS before it enters the store.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import * as tar from 'tar';
import { BentoIntegrityError, InvalidInputError } from '../errors.js';
import type { BentoStore, StoredBento } from './bento-store.js';
import { DEFAULT_UNPACK_LIMITS, type UnpackLimits, unpackArchive } from '../models/store/unpack-archive.js';
import { listFiles, verifyChecksums } from './checksums.js';
import { readManifest } from './manifest.js';
import { checkTagPart } from './tag.js';

/** 2000-01-01: every entry's mtime, so that the same bento exports to the same bytes. */
const FIXED_MTIME = new Date(Date.UTC(2000, 0, 1));

/** Writes `bento` to `out` (a file, or a directory to write `<name>-<version>.bento` into). Returns the file. */
export async function exportBento(bento: StoredBento, out = '.'): Promise<string> {
  const { name, version } = bento.manifest;
  const target = resolve(existsSync(out) && statSync(out).isDirectory() ? join(out, `${name}-${version}.bento`) : out);
  const files = (await listFiles(bento.path)).map((f) => f.path);
  const partial = `${target}.partial-${randomBytes(4).toString('hex')}`;
  try {
    await tar.c(
      { gzip: { level: 6 }, file: partial, cwd: bento.path, portable: true, mtime: FIXED_MTIME, noDirRecurse: true },
      files,
    );
    await rename(partial, target);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  return target;
}

/** Unpacks a `.bento` archive into the store. Nothing outside the store is ever written. */
export async function importBento(
  file: string,
  store: BentoStore,
  limits: UnpackLimits = DEFAULT_UNPACK_LIMITS,
): Promise<StoredBento> {
  const path = resolve(file);
  if (!existsSync(path) || !statSync(path).isFile()) throw new InvalidInputError(`${path} is not a file`);
  const name = basename(path);
  const staging = await store.staging();
  try {
    await unpackArchive(path, staging, limits, {
      refused: (reason) => new BentoIntegrityError(`refusing to import ${name}: ${reason}`),
      unreadable: (message) =>
        new BentoIntegrityError(`${name} is not a readable .bento archive (truncated or corrupt): ${message}`),
    });
    await verifyChecksums(staging);
    const manifest = await readManifest(staging);
    checkTagPart(manifest.name, 'name');
    checkTagPart(manifest.version, 'version');
    if (manifest.tag !== `${manifest.name}:${manifest.version}`)
      throw new BentoIntegrityError(`its manifest's tag ${manifest.tag} does not match name and version`);
    return await store.commit(staging, manifest);
  } catch (err) {
    await store.discard(staging);
    throw err;
  }
}
