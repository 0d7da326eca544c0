import type { Readable } from 'node:stream';

export interface ArtifactEntry {
  /** Path relative to the repository's root, `/`-separated. */
  path: string;
  isDir: boolean;
  /** Bytes, when the store says (used to verify downloads). */
  size?: number;
  /** MD5 of the content, when the store says (an S3 ETag of a single-part upload). */
  md5?: string;
}

/** A tree of artifacts somewhere (MLflow's proxy, S3, a directory), rooted at one URI. */
export interface ArtifactRepository {
  /** The root, for messages and the store's record. Never carries credentials. */
  readonly uri: string;
  /** Direct children of `path` (relative to the root; '' is the root). */
  list(path: string): Promise<ArtifactEntry[]>;
  /** The content of the file at `path`. */
  open(path: string): Promise<Readable>;
}

/** Every file under `path`, depth first, with paths relative to the root. */
export async function listFiles(repo: ArtifactRepository, path = ''): Promise<ArtifactEntry[]> {
  const out: ArtifactEntry[] = [];
  for (const entry of await repo.list(path)) {
    if (entry.isDir) out.push(...(await listFiles(repo, entry.path)));
    else out.push(entry);
  }
  return out;
}
