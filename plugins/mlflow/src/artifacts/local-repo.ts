import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { joinPath } from '../uri.js';
import type { ArtifactEntry, ArtifactRepository } from './repository.js';

/** Artifacts on this machine's filesystem (`file://` or absolute artifact roots on a shared volume). */
export class LocalArtifactRepository implements ArtifactRepository {
  constructor(
    readonly uri: string,
    private readonly root: string,
  ) {}

  async list(path: string): Promise<ArtifactEntry[]> {
    const dir = join(this.root, path);
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    return Promise.all(
      entries.map(async (e) => ({
        path: joinPath(path, e.name),
        isDir: e.isDirectory(),
        size: e.isDirectory() ? undefined : (await stat(join(dir, e.name))).size,
      })),
    );
  }

  async open(path: string) {
    return createReadStream(join(this.root, path));
  }
}
