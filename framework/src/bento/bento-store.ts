import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BentoExistsError, BentoNotFoundError } from '../errors.js';
import { storeRoot } from '../models/store/model-store.js';
import { listFiles } from './checksums.js';
import { type BentoManifest, readManifest } from './manifest.js';
import { formatTag, parseBentoTag } from './tag.js';

export interface StoredBento {
  manifest: BentoManifest;
  path: string;
  /** Bytes of all the bento's files. */
  size: number;
}

/**
 * Built bentos, kept as `<BENTO_HOME>/bentos/<name>/<version>/` beside the
 * model store. A bento appears only once complete (staging + rename) and is
 * never changed afterwards.
 */
export class BentoStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  static fromEnv(env: Readonly<Record<string, string | undefined>>): BentoStore {
    return new BentoStore(storeRoot(env));
  }

  get dir(): string {
    return join(this.root, 'bentos');
  }

  pathOf(name: string, version: string): string {
    return join(this.dir, name, version);
  }

  /** A fresh directory on the store's filesystem to build or unpack into; pass it to `commit`. */
  async staging(): Promise<string> {
    const dir = join(this.dir, '.staging', `${Date.now()}-${randomBytes(6).toString('hex')}`);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  async discard(staging: string): Promise<void> {
    await rm(staging, { recursive: true, force: true });
  }

  /** Moves a complete bento into its place. A bento of the same tag is never overwritten. */
  async commit(staging: string, manifest: BentoManifest): Promise<StoredBento> {
    const target = this.pathOf(manifest.name, manifest.version);
    await mkdir(join(this.dir, manifest.name), { recursive: true });
    try {
      await rename(staging, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        throw new BentoExistsError(
          `bento ${manifest.tag} already exists at ${target}; delete it first (bento delete ${manifest.tag})`,
        );
      }
      throw err;
    }
    return this.read(target);
  }

  private async read(path: string): Promise<StoredBento> {
    const manifest = await readManifest(path);
    const size = (await listFiles(path)).reduce((n, f) => n + f.size, 0);
    return { manifest, path, size };
  }

  /** Every stored bento (optionally of one name), newest first. */
  async list(name?: string): Promise<StoredBento[]> {
    const names = name
      ? [name]
      : (await readdir(this.dir).catch(() => [] as string[])).filter((n) => !n.startsWith('.'));
    const out: StoredBento[] = [];
    for (const n of names) {
      for (const version of await readdir(join(this.dir, n)).catch(() => [] as string[])) {
        const bento = await this.read(this.pathOf(n, version)).catch(() => undefined);
        if (bento) out.push(bento);
      }
    }
    return out.sort((a, b) => newestFirst(a.manifest, b.manifest));
  }

  /** The bento of `tag`; `name` or `name:latest` is the newest of that name. */
  async find(tag: string): Promise<StoredBento | undefined> {
    const { name, version } = parseBentoTag(tag);
    if (!version) return (await this.list(name))[0];
    return this.read(this.pathOf(name, version)).catch(() => undefined);
  }

  async get(tag: string): Promise<StoredBento> {
    const bento = await this.find(tag);
    if (!bento)
      throw new BentoNotFoundError(`no bento ${formatTag(parseBentoTag(tag))} in ${this.dir} (see: bento list)`);
    return bento;
  }

  async delete(tag: string): Promise<StoredBento> {
    const bento = await this.get(tag);
    // Renamed away first so that a half-deleted bento is never found.
    const doomed = join(this.dir, '.staging', `delete-${randomBytes(6).toString('hex')}`);
    await mkdir(join(this.dir, '.staging'), { recursive: true });
    await rename(bento.path, doomed);
    await rm(doomed, { recursive: true, force: true });
    await rmdir(join(this.dir, bento.manifest.name)).catch(() => undefined);
    return bento;
  }
}

function newestFirst(a: BentoManifest, b: BentoManifest): number {
  return b.creation_time.localeCompare(a.creation_time) || b.version.localeCompare(a.version);
}
