import { readSettings, settingName } from '../../config/settings.js';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { InvalidInputError, ModelNotFoundError, ModelStoreError } from '../../errors.js';
import type { ConversionRecord } from '../converted-model.js';
import type { ModelMetadata } from '../model.js';

/** Environment variable naming the store's root (as BENTOML_HOME does); models live under `<root>/models`. */
export const BENTO_HOME_ENV = settingName('bentoHome');
const MANIFEST = 'bento-model.json';
const TAG_PART = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface StoredFile {
  path: string;
  size: number;
  sha256: string;
}

/** What the store keeps beside a model's files (`bento-model.json`). */
export interface StoredModel {
  /** `name:version`. */
  tag: string;
  name: string;
  version: string;
  /** Every URI that has resolved to this model, so it can be found again without its source. */
  uris: string[];
  /** What each of those URIs said about the model when it was resolved (registry version, run...), by URI. */
  resolutions: Record<string, ModelMetadata>;
  /** The URI it was downloaded from (e.g. `mlflow-artifacts:/1/models/m-…/artifacts`). */
  resolvedUri: string;
  source: string;
  runId?: string;
  modelId?: string;
  metadata: ModelMetadata;
  /** How the model was converted for serving (source flavor, library versions, opset, parity), when it was. */
  conversion?: ConversionRecord;
  files: StoredFile[];
  size: number;
  createdAt: string;
  /** Last time a URI was resolved to it (ISO); picks the newest among several candidates. */
  resolvedAt: string;
  /** Directory of the model's files. */
  path: string;
}

export type NewModel = Omit<
  StoredModel,
  'tag' | 'files' | 'size' | 'createdAt' | 'resolvedAt' | 'path' | 'uris' | 'resolutions'
> & {
  uri: string;
  /** What `uri` says about the model (e.g. its registry version), kept per URI. */
  resolution?: ModelMetadata;
};

export function storeRoot(env: Readonly<Record<string, string | undefined>>): string {
  return readSettings(env).bentoHome;
}

/** Turns any name into a tag part: what the filesystem and `name:version` syntax allow. */
export function tagPart(value: string): string {
  const cleaned = value
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 128);
  return cleaned || 'model';
}

export function parseTag(tag: string): { name: string; version: string } {
  const i = tag.lastIndexOf(':');
  const [name, version] = i < 0 ? [tag, ''] : [tag.slice(0, i), tag.slice(i + 1)];
  if (!TAG_PART.test(name) || (version && !TAG_PART.test(version))) {
    throw new InvalidInputError(`"${tag}" is not a model tag: expected name:version (letters, digits, . _ -)`);
  }
  return { name, version };
}

/** The SHA-256 of a file, streamed. */
export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/**
 * One value for a directory's content: SHA-256 over its sorted files' SHA-256s and paths (as a store manifest lists
 * them, so a stored model's digest is its directory's).
 */
export async function directoryDigest(dir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const path of await filesUnder(dir)) hash.update(`${await sha256Of(join(dir, path))}  ${path}\n`);
  return hash.digest('hex');
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/'));
  }
  return out.filter((f) => f !== MANIFEST).sort();
}

/** A staging directory or replaced copy this old is abandoned, whoever made it. */
const LEFTOVER_MAX_AGE_MS = 24 * 3600 * 1000;
/** Marks a model directory a commit moved aside while it put the new copy in its place. */
const OLD_MARK = '.old-';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A name that says which process on which host made it, and when: `<pid>-<ms>-<random>@<host>`. */
function ownedName(): string {
  return `${process.pid}-${Date.now()}-${randomBytes(6).toString('hex')}@${hostname()}`;
}

/** Whether what `ownedName()` named is left from a process gone from this host, or a day old. */
function abandoned(owner: string): boolean {
  const [local, host] = owner.split('@');
  const [pid, created] = local.split('-').map(Number);
  // A process ID means something only on its own host: a store shared by several machines or containers keeps
  // the others' work until it is a day old.
  const dead = host === hostname() && Number.isInteger(pid) && pid !== process.pid && !processAlive(pid);
  return dead || Date.now() - (created ?? 0) > LEFTOVER_MAX_AGE_MS;
}

/**
 * Writes a manifest whole or not at all: a new file beside it, renamed over it. A process killed while writing
 * in place would leave a truncated manifest, and the model (and a listing of the store) unreadable.
 */
async function writeManifest(dir: string, model: StoredModel): Promise<void> {
  const temp = join(dir, `${MANIFEST}.${ownedName()}.tmp`);
  await writeFile(temp, JSON.stringify({ ...model, path: undefined }, null, 2));
  await rename(temp, join(dir, MANIFEST));
}

/**
 * The model store as a model source uses it (`ModelSourceContext.store`): what plugins may rely on, and all they get.
 * docs/plugins.md ("Keeping models in the store") shows a source that keeps its models here.
 */
export interface ModelStoreAccess {
  /** A fresh, empty directory on the store's filesystem to download into; `commit` it, or `discard` it. */
  staging(): Promise<string>;
  /** Moves a complete staging directory into the store as `name:version`, with a manifest of its files' sizes and SHA-256s. */
  commit(staging: string, model: NewModel): Promise<StoredModel>;
  /** Removes a staging directory that will not be committed. */
  discard(staging: string): Promise<void>;
  /** The model stored as `name:version`, if any. */
  find(tag: string): Promise<StoredModel | undefined>;
  /** The stored model `uri` last resolved to, if any. */
  findByUri(uri: string): Promise<StoredModel | undefined>;
  /** Records that `uri` (also) names this model, and what it said about it. */
  remember(model: StoredModel, uri: string, resolution?: ModelMetadata, at?: string): Promise<StoredModel>;
  /** What is wrong with a stored model's files (one missing, a wrong size; a wrong SHA-256 when `deep`), or undefined. */
  verify(model: StoredModel, deep?: boolean): Promise<string | undefined>;
  /** Every stored model. */
  list(): Promise<StoredModel[]>;
}

/**
 * The local model store: models downloaded once, kept as `<root>/models/<name>/<version>/`
 * with a manifest of their files (sizes and SHA-256), and reused. A model appears
 * only once complete: it is written into a temporary directory beside its place
 * and renamed into it.
 */
export class ModelStore implements ModelStoreAccess {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  static fromEnv(env: Readonly<Record<string, string | undefined>>): ModelStore {
    return new ModelStore(storeRoot(env));
  }

  private get modelsDir(): string {
    return join(this.root, 'models');
  }

  private dirOf(name: string, version: string): string {
    return join(this.modelsDir, name, version);
  }

  /**
   * A fresh, empty directory on the store's filesystem to download into; pass it to `commit`. Its name holds the
   * process ID and host, so that what a killed process left behind can be told from a download under way elsewhere.
   */
  async staging(): Promise<string> {
    await this.sweep();
    const dir = join(this.modelsDir, '.staging', ownedName());
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /**
   * Removes what killed processes left: staging directories (a download cut short) and the replaced copies a commit
   * had moved aside (`<version>.old-…`), when their process on this host is gone or they are a day old. Neither is
   * ever read as a model; this only gives their space back.
   */
  private async sweep(): Promise<void> {
    const staging = join(this.modelsDir, '.staging');
    const leftovers = (await readdir(staging).catch(() => [] as string[])).map((name) => ({
      dir: join(staging, name),
      owner: name,
    }));
    for (const name of await readdir(this.modelsDir).catch(() => [] as string[])) {
      if (name.startsWith('.')) continue;
      for (const version of await readdir(join(this.modelsDir, name)).catch(() => [] as string[])) {
        const at = version.indexOf(OLD_MARK);
        if (at > 0)
          leftovers.push({ dir: join(this.modelsDir, name, version), owner: version.slice(at + OLD_MARK.length) });
      }
    }
    for (const { dir, owner } of leftovers) {
      if (abandoned(owner)) await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Moves a complete staging directory into the store as `name:version`, with its manifest.
   * An existing model of that tag is replaced only after the new one is in place.
   */
  async commit(staging: string, model: NewModel): Promise<StoredModel> {
    const name = tagPart(model.name);
    const version = tagPart(model.version);
    const files: StoredFile[] = [];
    for (const path of await filesUnder(staging)) {
      const full = join(staging, path);
      files.push({ path, size: (await stat(full)).size, sha256: await sha256Of(full) });
    }
    const now = new Date().toISOString();
    const { uri, resolution, ...rest } = model;
    const stored: StoredModel = {
      ...rest,
      name,
      version,
      tag: `${name}:${version}`,
      uris: [uri],
      resolutions: { [uri]: resolution ?? {} },
      files,
      size: files.reduce((n, f) => n + f.size, 0),
      createdAt: now,
      resolvedAt: now,
      path: this.dirOf(name, version),
    };
    await writeManifest(staging, stored);
    await mkdir(join(this.modelsDir, name), { recursive: true });
    const target = this.dirOf(name, version);
    const old = `${target}${OLD_MARK}${ownedName()}`;
    const hadOld = await rename(target, old).then(
      () => true,
      () => false,
    );
    await rename(staging, target);
    if (hadOld) await rm(old, { recursive: true, force: true });
    return stored;
  }

  /**
   * Copies a model of another store into this one (same tag, same manifest),
   * through staging, so the copy is complete or absent. Used to pack models
   * into a bento.
   */
  async adopt(model: StoredModel): Promise<StoredModel> {
    const staging = await this.staging();
    try {
      for (const f of model.files) {
        await mkdir(join(staging, f.path, '..'), { recursive: true });
        await copyFile(join(model.path, f.path), join(staging, f.path));
      }
      // resolvedAt changes whenever the source is asked again; a packed copy keeps a fixed one so that packing is repeatable.
      const copy: StoredModel = { ...model, resolvedAt: model.createdAt, path: this.dirOf(model.name, model.version) };
      await writeManifest(staging, copy);
      await mkdir(join(this.modelsDir, model.name), { recursive: true });
      await rename(staging, copy.path);
      await rmdir(join(this.modelsDir, '.staging')).catch(() => undefined);
      return copy;
    } catch (err) {
      await this.discard(staging);
      throw err;
    }
  }

  async discard(staging: string): Promise<void> {
    await rm(staging, { recursive: true, force: true });
  }

  /** The model of `tag` (`name:version`; `name` alone is its newest), or undefined. */
  async find(tag: string): Promise<StoredModel | undefined> {
    const { name, version } = parseTag(tag);
    if (version) return this.read(name, version);
    const versions = (await this.list()).filter((m) => m.name === name);
    return versions.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
  }

  async get(tag: string): Promise<StoredModel> {
    const model = await this.find(tag);
    if (!model)
      throw new ModelNotFoundError(`no model ${tag} in the store at ${this.modelsDir} (see: bento models list)`);
    return model;
  }

  /** The newest model that `uri` has resolved to before, for use when its source cannot be reached. */
  async findByUri(uri: string): Promise<StoredModel | undefined> {
    const matches = (await this.list()).filter((m) => m.uris.includes(uri));
    return matches.sort((a, b) => b.resolvedAt.localeCompare(a.resolvedAt))[0];
  }

  /** Records that `uri` now resolves to this model (and what it said about it, when it was asked). */
  async remember(
    model: StoredModel,
    uri: string,
    resolution?: ModelMetadata,
    at = new Date().toISOString(),
  ): Promise<StoredModel> {
    const updated = {
      ...model,
      uris: model.uris.includes(uri) ? model.uris : [...model.uris, uri],
      resolutions: { ...model.resolutions, [uri]: resolution ?? model.resolutions?.[uri] ?? {} },
      resolvedAt: at,
    };
    await writeManifest(model.path, updated);
    return updated;
  }

  /**
   * Checks that every file of the manifest is there with its size (and, when
   * `deep`, its SHA-256); a model that fails is treated as absent by sources.
   */
  async verify(model: StoredModel, deep = false): Promise<string | undefined> {
    for (const f of model.files) {
      const full = join(model.path, f.path);
      const size = await stat(full).then(
        (s) => s.size,
        () => -1,
      );
      if (size < 0) return `${f.path} is missing`;
      if (size !== f.size) return `${f.path} has ${size} bytes, ${f.size} expected`;
      if (deep && (await sha256Of(full)) !== f.sha256) return `${f.path} does not match its SHA-256`;
    }
    return undefined;
  }

  async list(): Promise<StoredModel[]> {
    const out: StoredModel[] = [];
    const names = await readdir(this.modelsDir).catch(() => [] as string[]);
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const versions = await readdir(join(this.modelsDir, name)).catch(() => [] as string[]);
      for (const version of versions) {
        if (version.includes(OLD_MARK)) continue;
        const model = await this.read(name, version);
        if (model) out.push(model);
      }
    }
    return out.sort((a, b) => a.tag.localeCompare(b.tag));
  }

  async delete(tag: string): Promise<StoredModel> {
    const model = await this.get(tag);
    await rm(model.path, { recursive: true, force: true });
    // The name's directory goes too once its last version has.
    await rmdir(join(this.modelsDir, model.name)).catch(() => undefined);
    return model;
  }

  private async read(name: string, version: string): Promise<StoredModel | undefined> {
    const dir = this.dirOf(name, version);
    let text: string;
    try {
      text = await readFile(join(dir, MANIFEST), 'utf8');
    } catch {
      return undefined;
    }
    try {
      return { ...(JSON.parse(text) as StoredModel), path: dir };
    } catch (err) {
      throw new ModelStoreError(
        `${join(dir, MANIFEST)} is damaged (${(err as Error).message}); delete the model with: bento models delete ${name}:${version}`,
      );
    }
  }
}
