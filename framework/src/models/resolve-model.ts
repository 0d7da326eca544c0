import { join } from 'node:path';
import type { Project } from '../config/project.js';
import { ModelLoadError } from '../errors.js';
import type { Registry } from '../plugins/registry.js';
import type { Logger, ResolvedModel } from '../plugins/types.js';
import { ModelStore } from '../store/model-store.js';

/** Hands `uri` to the model source that claims its scheme, with the project's context and the local model store. */
export async function resolveModel(
  registry: Registry,
  uri: string,
  project: Project,
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
): Promise<ResolvedModel> {
  const source = registry.sourceFor(uri);
  const model = await source.resolve(uri, {
    cwd: project.serviceDir,
    cacheDir: join(project.root, '.bento', 'cache'),
    store: project.modelStoreRoot ? new ModelStore(project.modelStoreRoot) : ModelStore.fromEnv(env),
    progress: process.stderr.isTTY === true,
    env,
    logger,
  });
  if (!model?.path || !model.format) throw new ModelLoadError(`model source "${source.name}" returned no path or format for ${uri}`);
  return model;
}
