import { cp } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Project } from '../config/project.js';
import { prepareModelDir } from '../convert/prepare-model.js';
import { ModelLoadError } from '../errors.js';
import type { Registry } from '../plugins/registry.js';
import type { Logger, ResolvedModel } from '../plugins/types.js';
import { ModelStore, directoryDigest, storeRoot, tagPart } from './store/model-store.js';
import { CONVERTED_DIR } from './converted-model.js';
import { inspectModelPath } from './model-dir.js';

/**
 * A model a source left where it found it (a local path) but no backend loads as it is: copied into the store and
 * converted there, once, under a version that is its content's digest; the same files are never converted twice,
 * and changed files are converted again.
 */
async function storeConverted(
  model: ResolvedModel,
  store: ModelStore,
  prepare: (dir: string) => ReturnType<typeof prepareModelDir>,
): Promise<ResolvedModel> {
  const name = tagPart(model.name ?? basename(model.path));
  const version = (await directoryDigest(model.path)).slice(0, 12);
  let stored = await store.find(`${name}:${version}`);
  if (stored && (await store.verify(stored)) === undefined) {
    stored = await store.remember(stored, model.uri);
  } else {
    const staging = await store.staging();
    try {
      await cp(model.path, staging, { recursive: true, filter: (src) => !basename(src).startsWith(CONVERTED_DIR) });
      const conversion = await prepare(staging);
      stored = await store.commit(staging, {
        uri: model.uri,
        name,
        version,
        resolvedUri: model.resolvedUri ?? `file://${model.path}`,
        source: model.source,
        runId: model.runId,
        metadata: {},
        ...(conversion ? { conversion } : {}),
      });
    } catch (err) {
      await store.discard(staging).catch(() => undefined);
      throw err;
    }
  }
  const info = await inspectModelPath(stored.path);
  return {
    ...model,
    path: stored.path,
    format: info.format,
    file: info.file,
    metadata: { ...model.metadata, ...info.metadata, tag: stored.tag },
  };
}

/**
 * Hands `uri` to the model source that claims its scheme, with the project's context and the local model store. A
 * model no backend loads as it is is converted first (convert/prepare-model.ts): by the source before it stores it,
 * or here, into the store, for a source that keeps models where they are.
 */
export async function resolveModel(
  registry: Registry,
  uri: string,
  project: Project,
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
): Promise<ResolvedModel> {
  const source = registry.sourceFor(uri);
  const store = project.modelStoreRoot ? new ModelStore(project.modelStoreRoot) : ModelStore.fromEnv(env);
  const progress = process.stderr.isTTY === true;
  const prepare = (dir: string) =>
    prepareModelDir(dir, { registry, env, logger, progress, home: storeRoot(env), label: uri });
  const model = await source.resolve(uri, {
    cwd: project.serviceDir,
    cacheDir: join(project.root, '.bento', 'cache'),
    store,
    progress,
    env,
    logger,
    prepare,
  });
  if (!model?.path || !model.format)
    throw new ModelLoadError(`model source "${source.name}" returned no path or format for ${uri}`);
  return registry.loads(model.format) ? model : storeConverted(model, store, prepare);
}
