import { isAbsolute, resolve } from 'node:path';
import { settingName } from '../config/settings.js';
import { ConfigError } from '../errors.js';
import { schemeOf } from '../plugins/registry.js';
import type { ModelSelector } from '../sdk/decorators/runnable.js';

/** Environment variables that pick a model, in the order they are honoured (as in the seed guide). */
export const MODEL_ENV = {
  uri: settingName('modelUri'),
  runId: settingName('modelRunId'),
  artifactPath: settingName('modelArtifactPath'),
  name: settingName('modelName'),
  version: settingName('modelVersion'),
  /** Set by `bento build` when it packs the model chosen at build time: used when none of the above is. */
  bentoDefault: settingName('defaultModel'),
} as const;

/**
 * The seed's model selection: `MODEL_URI` as given; else `MODEL_RUN_ID` →
 * `runs:/<id>/model` (`MODEL_ARTIFACT_PATH` changes `model`); else `MODEL_NAME`
 * (+ `MODEL_VERSION`, default `latest`) → `models:/<name>/<version>`; else
 * `BENTO_DEFAULT_MODEL` (the model a bento was built with); else
 * `fallback` (relative to the service project); without one, start-up fails
 * with the seed's `Either MODEL_RUN_ID or MODEL_NAME must be set`. A relative
 * `MODEL_URI` path is taken from the working directory. A version that is a
 * registry stage (`Production`) or alias (`@champion`) is passed through as
 * MLflow spells it.
 */
export function modelFromEnv(fallback?: string): (env: Readonly<Record<string, string | undefined>>) => string {
  return (env) => {
    const uri = env[MODEL_ENV.uri]?.trim();
    if (uri) return fromWorkingDirectory(uri);
    const runId = env[MODEL_ENV.runId]?.trim();
    if (runId) return `runs:/${runId}/${env[MODEL_ENV.artifactPath]?.trim() || 'model'}`;
    const name = env[MODEL_ENV.name]?.trim();
    if (name) {
      const version = env[MODEL_ENV.version]?.trim() || 'latest';
      return version.startsWith('@') ? `models:/${name}${version}` : `models:/${name}/${version}`;
    }
    const packed = env[MODEL_ENV.bentoDefault]?.trim();
    if (packed) return packed;
    if (fallback === undefined) {
      throw new ConfigError(
        `Either ${MODEL_ENV.runId} or ${MODEL_ENV.name} must be set (or ${MODEL_ENV.uri}, a model path or URI)`,
      );
    }
    return fallback;
  };
}

/**
 * A model URI a user typed (MODEL_URI, `bento models pull <uri>`): a relative path means "from here", the working
 * directory, not the service project a code-declared default is relative to. Other URIs are returned as they are.
 */
export function fromWorkingDirectory(uri: string): string {
  return schemeOf(uri) === '' && !isAbsolute(uri) ? resolve(process.cwd(), uri) : uri;
}

export function selectModelUri(selector: ModelSelector, env: Readonly<Record<string, string | undefined>>): string {
  return typeof selector === 'function' ? selector(env) : selector;
}
