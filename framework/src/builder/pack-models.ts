import { createHash } from 'node:crypto';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelRef } from '../config/bento-yaml.js';
import type { Project } from '../config/project.js';
import { BuildError } from '../errors.js';
import type { ManifestModel, ManifestSourceModel } from '../bento/manifest.js';
import { selectModelUri } from '../models/model-selector.js';
import { schemeOf } from '../plugins/registry.js';
import type { RunnableDefinition } from '../sdk/decorators/runnable.js';
import { resolveModel } from '../models/resolve-model.js';
import type { Registry } from '../plugins/registry.js';
import type { Logger } from '../plugins/types.js';
import { ModelStore, type StoredModel } from '../models/store/model-store.js';

/**
 * The models the runners' code names by a path inside the service project (`./model`, the default when the
 * environment chooses none): they travel in `src/` with the service's files, so `bento list` can count them.
 * `files` are the packed files, relative to `serviceDir`, with their sizes.
 */
export function modelsInSources(
  runners: RunnableDefinition[],
  serviceDir: string,
  files: Map<string, number>,
): ManifestSourceModel[] {
  const out: ManifestSourceModel[] = [];
  for (const runner of runners) {
    let uri: string;
    try {
      uri = selectModelUri(runner.model, {});
    } catch {
      continue; // a selector that needs the environment names no default
    }
    const scheme = schemeOf(uri);
    if (scheme !== '' && scheme !== 'file') continue;
    const path = scheme === 'file' ? fileURLToPath(uri) : resolve(serviceDir, uri);
    const rel = relative(serviceDir, path).split(sep).join('/');
    if (rel.startsWith('..') || isAbsolute(rel) || out.some((m) => m.path === `src/${rel}`)) continue;
    let size = 0;
    for (const [file, bytes] of files) if (file === rel || file.startsWith(`${rel}/`)) size += bytes;
    if (size > 0) out.push({ uri, path: `src/${rel}`, size });
  }
  return out;
}

/** One value for a model's content: SHA-256 over its sorted file list of paths and SHA-256s. */
export function modelDigest(model: StoredModel): string {
  const hash = createHash('sha256');
  for (const f of [...model.files].sort((a, b) => (a.path < b.path ? -1 : 1))) hash.update(`${f.sha256}  ${f.path}\n`);
  return hash.digest('hex');
}

/**
 * Resolves every model of bento.yaml's `models` through its source (into the
 * BENTO_HOME store, downloading if needed) and copies it into the bento's own
 * model store, so the bento serves without the source.
 */
export async function packModels(
  refs: ModelRef[],
  bentoDir: string,
  ctx: { registry: Registry; project: Project; env: Readonly<Record<string, string | undefined>>; logger: Logger },
): Promise<ManifestModel[]> {
  const home = ModelStore.fromEnv(ctx.env);
  const packed = new ModelStore(bentoDir);
  const out: ManifestModel[] = [];
  for (const ref of refs) {
    ctx.logger.info(`packing model ${ref.uri}`);
    const resolved = await resolveModel(
      ctx.registry,
      ref.uri,
      { ...ctx.project, modelStoreRoot: undefined },
      ctx.env,
      ctx.logger,
    );
    const stored = await home.findByUri(ref.uri);
    if (!stored) {
      throw new BuildError(
        `model ${ref.uri} resolved to ${resolved.path}, outside the model store: the "${resolved.source}" source does not keep ` +
          'its models in ctx.store, so bento build cannot pack it (docs/plugins.md, "Keeping models in the store"). ' +
          'A model directory inside the project needs no packing: leave it out of models: and it travels with the service files.',
      );
    }
    const problem = await home.verify(stored, true);
    if (problem)
      throw new BuildError(
        `model ${stored.tag} in the store is damaged (${problem}); delete it (bento models delete ${stored.tag}) and build again`,
      );
    let copy = (await packed.find(stored.tag)) ?? (await packed.adopt(stored));
    // A moving URI (latest, a stage, an alias) is pinned to the registry version it resolved to, which the packed copy answers to.
    const facts = stored.resolutions?.[ref.uri] ?? {};
    const pinned =
      typeof facts.registered_name === 'string' && typeof facts.registered_version === 'string'
        ? `models:/${facts.registered_name}/${facts.registered_version}`
        : ref.uri;
    if (!copy.uris.includes(pinned)) copy = await packed.remember(copy, pinned, facts, copy.resolvedAt);
    out.push({
      uri: ref.uri,
      ...(ref.alias ? { alias: ref.alias } : {}),
      tag: copy.tag,
      pinned_uri: pinned,
      resolved_uri: stored.resolvedUri,
      source: stored.source,
      size: stored.size,
      sha256: modelDigest(stored),
    });
  }
  return out;
}
