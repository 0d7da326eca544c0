import { createHash } from 'node:crypto';
import {
  BentoError,
  type ModelMetadata,
  type ModelSource,
  type ModelSourceContext,
  ModelSourceUnavailableError,
  type ResolvedModel,
  type StoredModel,
  inspectModelPath,
  tagPart,
} from '@bento-ts/framework/plugin';
import { downloadTree } from './artifacts/download.js';
import { mlflowConfigFromEnv, redact } from './config.js';
import { MlflowResolver, type Resolution } from './resolver.js';
import { MlflowRestClient } from './rest-client.js';
import { parseModelsUri } from './uri.js';

/** URIs that always name the same files: a stored copy is used without asking MLflow. */
function isImmutable(uri: string): boolean {
  if (uri.startsWith('runs:')) return true;
  if (!uri.startsWith('models:')) return false;
  const kind = parseModelsUri(uri).kind;
  return kind === 'version' || kind === 'model-id';
}

/** The seed's wording for every failure to get a model out of MLflow; the error keeps its code. */
function failed(err: unknown, secrets: { secrets: string[] }): never {
  if (err instanceof BentoError) {
    const message = redact(err.message, secrets);
    throw new BentoError(
      err.code,
      message.startsWith('Failed to load model from MLflow') ? message : `Failed to load model from MLflow: ${message}`,
      err.statusCode,
    );
  }
  throw err;
}

async function usable(ctx: ModelSourceContext, model: StoredModel | undefined): Promise<StoredModel | undefined> {
  if (!model) return undefined;
  const problem = await ctx.store.verify(model);
  if (problem) ctx.logger.warn(`stored model ${model.tag} is damaged (${problem}); downloading it again`);
  return problem ? undefined : model;
}

/** What a resolution says about the model that belongs to the URI, not to the files (several URIs may share them). */
function uriFacts(resolution: Resolution): ModelMetadata {
  return {
    ...(resolution.registeredVersion
      ? { registered_name: resolution.registeredName, registered_version: resolution.registeredVersion }
      : {}),
    ...(resolution.runId ? { run_id: resolution.runId } : {}),
    ...(resolution.modelId ? { model_id: resolution.modelId } : {}),
  };
}

async function toResolved(uri: string, stored: StoredModel): Promise<ResolvedModel> {
  const info = await inspectModelPath(stored.path);
  const facts = stored.resolutions?.[uri] ?? {};
  return {
    uri,
    resolvedUri: stored.resolvedUri,
    source: 'mlflow',
    path: info.path,
    format: info.format,
    file: info.file,
    name: typeof facts.registered_name === 'string' ? facts.registered_name : stored.name,
    // A registry version when the URI went through the registry; a run or a bare logged model has none.
    version: typeof facts.registered_version === 'string' ? facts.registered_version : undefined,
    runId: typeof facts.run_id === 'string' ? facts.run_id : stored.runId,
    // MLflow's run params and metrics are the record; the MLmodel's own metadata fills in the rest.
    metadata: { ...info.metadata, ...stored.metadata, ...facts, tag: stored.tag },
  };
}

/**
 * Fetches a model from MLflow into the local store (once) and hands its
 * directory to the framework. Immutable URIs (a version, a run, a model ID)
 * already in the store are used without contacting MLflow; moving ones (latest,
 * a stage, an alias) are resolved each start, and fall back to the copy they
 * last resolved to when MLflow cannot be reached.
 */
export async function fetchModel(uri: string, ctx: ModelSourceContext): Promise<StoredModel> {
  const config = mlflowConfigFromEnv(ctx.env);
  const known = await usable(ctx, await ctx.store.findByUri(uri));
  if (known && isImmutable(uri)) return ctx.store.remember(known, uri);
  const client = new MlflowRestClient(config, ctx.logger);
  try {
    let resolution: Resolution;
    try {
      resolution = await new MlflowResolver(client).resolve(uri);
    } catch (err) {
      if (err instanceof ModelSourceUnavailableError && known) {
        ctx.logger.warn(
          `${redact(err.message, config)}; serving ${known.tag}, the model ${uri} resolved to last (${known.resolvedAt})`,
        );
        return known;
      }
      throw err;
    }
    const name = resolution.registeredName ?? resolution.name;
    const version =
      resolution.version || createHash('sha256').update(resolution.artifactUri).digest('hex').slice(0, 12);
    // The same files may be reached by several URIs (a version, its alias, its run): keep one copy.
    const sameFiles = (await ctx.store.list()).find((m) => m.resolvedUri === resolution.artifactUri);
    const existing = await usable(ctx, sameFiles ?? (await ctx.store.find(`${tagPart(name)}:${tagPart(version)}`)));
    if (existing && existing.resolvedUri === resolution.artifactUri)
      return await ctx.store.remember(existing, uri, uriFacts(resolution));
    const staging = await ctx.store.staging();
    try {
      ctx.logger.info(`downloading ${uri} from ${client.show(resolution.artifactUri)}`);
      await downloadTree(resolution.repo, staging, {
        progress: ctx.progress,
        label: `${name}:${version}`,
        retries: config.retry.maxRetries,
        backoffMs: config.retry.backoffFactor * 1000,
        logger: ctx.logger,
      });
      // Convert what no backend loads as it is (a PyTorch or scikit-learn model), and refuse what cannot be served,
      // before it enters the store.
      const conversion = await ctx.prepare(staging);
      return await ctx.store.commit(staging, {
        ...(conversion ? { conversion } : {}),
        uri,
        name,
        version,
        resolvedUri: resolution.artifactUri,
        source: 'mlflow',
        runId: resolution.runId,
        modelId: resolution.modelId,
        metadata: resolution.metadata,
        resolution: uriFacts(resolution),
      });
    } catch (err) {
      // What went wrong is the download's error; a staging directory that could not be removed is swept later.
      await ctx.store.discard(staging).catch(() => undefined);
      throw err;
    }
  } catch (err) {
    return failed(err, config);
  } finally {
    await client.close();
  }
}

export const mlflowModelSource: ModelSource = {
  name: 'mlflow',
  schemes: ['runs', 'models', 'mlflow-artifacts', 's3'],
  async resolve(uri, ctx) {
    const stored = await fetchModel(uri, ctx);
    try {
      return await toResolved(uri, stored);
    } catch (err) {
      return failed(err, mlflowConfigFromEnv(ctx.env));
    }
  },
};
