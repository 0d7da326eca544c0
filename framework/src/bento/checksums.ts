import { lstat, readFile, readdir, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { BentoIntegrityError } from '../errors.js';
import { sha256Of } from '../models/store/model-store.js';

/** The file in a bento listing the SHA-256 of every other file (`sha256sum -c` reads it). */
export const CHECKSUMS_FILE = 'SHA256SUMS';

export interface FileEntry {
  path: string;
  size: number;
}

/**
 * Every regular file under `dir` (POSIX paths, sorted). Anything else (a link,
 * a device, a socket) is an error: a bento holds plain files only.
 */
export async function listFiles(dir: string): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const full = join(entry.parentPath, entry.name);
    const path = relative(dir, full).split(sep).join('/');
    if (entry.isDirectory()) continue;
    if (!entry.isFile())
      throw new BentoIntegrityError(`${path} in ${dir} is not a regular file; a bento holds plain files only`);
    out.push({ path, size: (await lstat(full)).size });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Writes SHA256SUMS for every file of `dir`; returns the total size of the files. */
export async function writeChecksums(dir: string): Promise<number> {
  const files = (await listFiles(dir)).filter((f) => f.path !== CHECKSUMS_FILE);
  const lines: string[] = [];
  for (const f of files) lines.push(`${await sha256Of(join(dir, f.path))}  ${f.path}`);
  await writeFile(join(dir, CHECKSUMS_FILE), lines.join('\n') + '\n');
  return files.reduce((n, f) => n + f.size, 0);
}

/**
 * Checks a bento directory against its SHA256SUMS: every listed file present
 * with its hash, nothing else there. Throws BentoIntegrityError naming the first problem.
 */
export async function verifyChecksums(dir: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(join(dir, CHECKSUMS_FILE), 'utf8');
  } catch {
    throw new BentoIntegrityError(`${CHECKSUMS_FILE} is missing: not a bento, or a damaged one`);
  }
  const expected = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
    if (!m)
      throw new BentoIntegrityError(`${CHECKSUMS_FILE} has a malformed line: ${JSON.stringify(line.slice(0, 100))}`);
    expected.set(m[2], m[1]);
  }
  const present = (await listFiles(dir)).filter((f) => f.path !== CHECKSUMS_FILE);
  for (const f of present) {
    if (!expected.has(f.path)) throw new BentoIntegrityError(`${f.path} is not listed in ${CHECKSUMS_FILE}`);
  }
  const have = new Set(present.map((f) => f.path));
  for (const [path, sha] of expected) {
    if (!have.has(path)) throw new BentoIntegrityError(`${path} is listed in ${CHECKSUMS_FILE} but missing`);
    if ((await sha256Of(join(dir, path))) !== sha)
      throw new BentoIntegrityError(`${path} does not match its SHA-256 in ${CHECKSUMS_FILE}`);
  }
}
