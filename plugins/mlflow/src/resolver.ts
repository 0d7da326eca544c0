import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelFormatError, ModelNotFoundError, type ModelMetadata } from '@bento-ts/framework/plugin';
import { LocalArtifactRepository } from './artifacts/local-repo.js';
import { ProxyArtifactRepository } from './artifacts/proxy-repo.js';
import type { ArtifactRepository } from './artifacts/repository.js';
import { RunServerArtifactRepository } from './artifacts/run-server-repo.js';
import { S3ArtifactRepository } from './artifacts/s3-repo.js';
import type { ArtifactListing, LoggedModel, ModelVersion, Run } from './mlflow-api.js';
import { MlflowHttpError, type MlflowRestClient } from './rest-client.js';
import { type ModelsUri, joinPath, parseModelsUri, parseRunsUri } from './uri.js';

/** Where a model's files are, and what MLflow knows about it. */
export interface Resolution {
  repo: ArtifactRepository;
  /** The storage URI the files come from. */
  artifactUri: string;
  /** Store tag parts: the registered name and version, the run, or the logged model. */
  name: string;
  version: string;
  registeredName?: string;
  registeredVersion?: string;
  runId?: string;
  modelId?: string;
  /** Run params, metrics and tags, for /get_model_info. */
  metadata: ModelMetadata;
}

/** `models:/` and `runs:/` may point at each other; MLflow's client follows them the same way. */
const MAX_DEPTH = 5;

function toRecord<T>(list: Array<{ key: string; value: T }> | undefined): Record<string, T> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, kv.value]));
}

/**
 * Resolves MLflow URIs to artifact repositories: `models:/` through the model
 * registry (version, latest, stage, alias) or the MLflow 3 logged-model API,
 * `runs:/` through the run (and, in MLflow 3, the logged models it produced),
 * and storage URIs (`mlflow-artifacts:`, `http(s):`, `s3:`, `file:`) directly.
 */
export class MlflowResolver {
  constructor(private readonly client: MlflowRestClient) {}

  async resolve(uri: string, depth = 0): Promise<Resolution> {
    if (depth > MAX_DEPTH)
      throw new ModelNotFoundError(`${uri}: model URIs refer to each other more than ${MAX_DEPTH} levels deep`);
    if (uri.startsWith('models:')) return this.resolveModels(parseModelsUri(uri), depth);
    if (uri.startsWith('runs:')) return this.resolveRun(uri);
    const repo = this.repository(uri);
    const last = new URL(uri).pathname.split('/').filter(Boolean).pop() ?? 'model';
    return { repo, artifactUri: uri, name: last === 'artifacts' ? 'model' : last, version: '', metadata: {} };
  }

  /** The repository for a storage URI. */
  repository(uri: string, run?: { runId: string; path: string }): ArtifactRepository {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase() ?? '';
    if (scheme === 'mlflow-artifacts' || scheme === 'http' || scheme === 'https')
      return new ProxyArtifactRepository(uri, this.client);
    if (scheme === 's3') return new S3ArtifactRepository(uri, this.client.config.s3);
    if (scheme === 'file' || (scheme === '' && isAbsolute(uri))) {
      const path = scheme === 'file' ? fileURLToPath(uri) : uri;
      if (existsSync(path)) return new LocalArtifactRepository(uri, path);
      // A path on the MLflow server's disk: read it through the server.
      if (run) return new RunServerArtifactRepository(uri, this.client, run.runId, run.path);
      throw new ModelNotFoundError(
        `artifacts at ${uri} are on the MLflow server's disk and not reachable from here; run the server with --serve-artifacts`,
      );
    }
    throw new ModelFormatError(
      `cannot read artifacts at ${this.client.show(uri)}: the scheme "${scheme}" is not supported (mlflow-artifacts, http(s), s3, file)`,
    );
  }

  private async getRun(runId: string): Promise<Run> {
    return (await this.client.call<{ run: Run }>('tracking', '/api/2.0/mlflow/runs/get', { query: { run_id: runId } }))
      .run;
  }

  private runMetadata(run: Run | undefined): ModelMetadata {
    if (!run) return {};
    const tags = toRecord(run.data?.tags);
    return {
      params: toRecord(run.data?.params),
      metrics: toRecord(run.data?.metrics),
      run_name: run.info.run_name ?? tags['mlflow.runName'],
      experiment_id: run.info.experiment_id,
    };
  }

  private async resolveRun(uri: string): Promise<Resolution> {
    const { runId, path } = parseRunsUri(uri);
    const run = await this.getRun(runId);
    if (run.info.lifecycle_stage === 'deleted') throw new ModelNotFoundError(`run ${runId} is deleted`);
    const metadata = this.runMetadata(run);
    const name = path.split('/').pop() || 'model';
    // MLflow 2 (and MLflow 3 for files logged as run artifacts): the model directory is under the run.
    const listing = await this.client.call<ArtifactListing>('tracking', '/api/2.0/mlflow/artifacts/list', {
      query: { run_id: runId, path },
    });
    if ((listing.files ?? []).some((f) => f.path === joinPath(path, 'MLmodel'))) {
      const artifactUri = joinPath(run.info.artifact_uri, path);
      return {
        repo: this.repository(artifactUri, { runId, path }),
        artifactUri,
        name,
        version: runId,
        runId,
        metadata,
      };
    }
    // MLflow 3: log_model(name=...) stores the files as a logged model produced by the run.
    const logged = await this.loggedModelOfRun(run, path.split('/')[0] ?? 'model');
    if (logged) {
      const inner = path.split('/').slice(1).join('/');
      const artifactUri = joinPath(logged.info.artifact_uri, inner);
      return {
        repo: this.repository(artifactUri),
        artifactUri,
        name,
        version: runId,
        runId,
        modelId: logged.info.model_id,
        metadata,
      };
    }
    const found = (listing.files ?? []).map((f) => f.path).join(', ');
    throw new ModelNotFoundError(
      `run ${runId} has no model at "${path}"${found ? ` (its artifacts there: ${found})` : ''} and no logged model named "${name}"`,
    );
  }

  /** The logged model named `name` that the run produced (the latest step wins), or undefined on a 2.x server. */
  private async loggedModelOfRun(run: Run, name: string): Promise<LoggedModel | undefined> {
    const outputs = [...(run.outputs?.model_outputs ?? [])].sort((a, b) => (b.step ?? 0) - (a.step ?? 0));
    for (const out of outputs) {
      const model = await this.getLoggedModel(out.model_id).catch(() => undefined);
      if (model?.info.name === name) return model;
    }
    try {
      const res = await this.client.call<{ models?: LoggedModel[] }>(
        'tracking',
        '/api/2.0/mlflow/logged-models/search',
        {
          body: {
            experiment_ids: [run.info.experiment_id],
            filter: `name = '${name.replace(/'/g, "\\'")}' AND source_run_id = '${run.info.run_id}'`,
            max_results: 50,
          },
        },
      );
      return res.models?.[0];
    } catch (err) {
      if (err instanceof MlflowHttpError && err.status === 404) return undefined;
      throw err;
    }
  }

  private async getLoggedModel(modelId: string): Promise<LoggedModel> {
    try {
      return (
        await this.client.call<{ model: LoggedModel }>(
          'tracking',
          `/api/2.0/mlflow/logged-models/${encodeURIComponent(modelId)}`,
        )
      ).model;
    } catch (err) {
      if (err instanceof MlflowHttpError && err.status === 404) {
        throw new ModelNotFoundError(
          `models:/${modelId} is an MLflow 3 model ID, and this MLflow server has no logged-model API (MLflow 2.x); use runs:/ or models:/<name>/<version>`,
        );
      }
      throw err;
    }
  }

  private async resolveModels(parsed: ModelsUri, depth: number): Promise<Resolution> {
    if (parsed.kind === 'model-id') {
      const logged = await this.getLoggedModel(parsed.modelId);
      const run = logged.info.source_run_id
        ? await this.getRun(logged.info.source_run_id).catch(() => undefined)
        : undefined;
      const metadata = this.runMetadata(run);
      if (!run && logged.data)
        Object.assign(metadata, { params: toRecord(logged.data.params), metrics: toRecord(logged.data.metrics) });
      const artifactUri = joinPath(logged.info.artifact_uri, parsed.subpath);
      return {
        repo: this.repository(artifactUri),
        artifactUri,
        name: logged.info.name || 'model',
        version: logged.info.model_id,
        runId: run?.info.run_id,
        modelId: logged.info.model_id,
        metadata,
      };
    }
    const version = await this.findVersion(parsed);
    if (version.status === 'FAILED_REGISTRATION')
      throw new ModelNotFoundError(
        `model ${version.name} version ${version.version} failed to register: ${version.status_message ?? ''}`.trim(),
      );
    if (version.status === 'PENDING_REGISTRATION')
      throw new ModelNotFoundError(
        `model ${version.name} version ${version.version} is still being registered; try again shortly`,
      );
    const { artifact_uri: download } = await this.client.call<{ artifact_uri: string }>(
      'registry',
      '/api/2.0/mlflow/model-versions/get-download-uri',
      {
        query: { name: version.name, version: version.version },
      },
    );
    const target = joinPath(download, parsed.subpath);
    let resolved: Resolution;
    if (target.startsWith('models:') || target.startsWith('runs:')) {
      resolved = await this.resolve(target, depth + 1);
    } else {
      const runId = version.run_id || undefined;
      const run = runId ? await this.getRun(runId).catch(() => undefined) : undefined;
      const root = run?.info.artifact_uri;
      const inRun =
        run && root && target.startsWith(`${root}/`)
          ? { runId: run.info.run_id, path: target.slice(root.length + 1) }
          : undefined;
      resolved = {
        repo: this.repository(target, inRun),
        artifactUri: target,
        name: version.name,
        version: version.version,
        runId,
        modelId: version.model_id || undefined,
        metadata: this.runMetadata(run),
      };
    }
    return {
      ...resolved,
      name: version.name,
      version: version.version,
      registeredName: version.name,
      registeredVersion: version.version,
      runId: resolved.runId ?? (version.run_id || undefined),
      modelId: resolved.modelId ?? (version.model_id || undefined),
    };
  }

  private async findVersion(parsed: Exclude<ModelsUri, { kind: 'model-id' }>): Promise<ModelVersion> {
    const { name } = parsed;
    if (parsed.kind === 'version') {
      return (
        await this.client.call<{ model_version: ModelVersion }>('registry', '/api/2.0/mlflow/model-versions/get', {
          query: { name, version: parsed.version },
        })
      ).model_version;
    }
    if (parsed.kind === 'alias') {
      return (
        await this.client.call<{ model_version: ModelVersion }>('registry', '/api/2.0/mlflow/registered-models/alias', {
          query: { name, alias: parsed.alias },
        })
      ).model_version;
    }
    // latest: the highest version whatever its stage; a stage: the highest version in it (MLflow's semantics).
    const stages = parsed.kind === 'stage' ? [parsed.stage] : undefined;
    let versions: ModelVersion[];
    try {
      versions =
        (
          await this.client.call<{ model_versions?: ModelVersion[] }>(
            'registry',
            '/api/2.0/mlflow/registered-models/get-latest-versions',
            { body: { name, ...(stages ? { stages } : {}) } },
          )
        ).model_versions ?? [];
    } catch (err) {
      if (parsed.kind === 'stage' && err instanceof ModelNotFoundError && /stage/i.test(err.message)) {
        throw new ModelNotFoundError(
          `${err.message} (for an alias, write models:/${name}@${parsed.stage}, or MODEL_VERSION=@${parsed.stage})`,
        );
      }
      throw err;
    }
    const best = versions.sort((a, b) => Number(b.version) - Number(a.version))[0];
    if (!best) {
      throw new ModelNotFoundError(
        stages
          ? `model "${name}" has no version in stage "${parsed.kind === 'stage' ? parsed.stage : ''}"`
          : `No versions of model with name '${name}' found`,
      );
    }
    return best;
  }
}
