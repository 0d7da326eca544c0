/**
 * The service as it will run: what its decorators declare, with bento.yaml's deployment-time overrides (`traffic`,
 * `apis`, `runners`) and the environment's batching settings applied, in that order. Serving, building (the
 * manifest, the OpenAPI document) and deploying all read this one object, so none of them can disagree about,
 * say, a method's queue size.
 *
 * Values derived from others are derived here, after the merge: a method's default queue size follows the batch
 * size it ends up with, wherever that size was set.
 */
import type { BatchingConfig, BentoYaml } from '../config/bento-yaml.js';
import type { Settings } from '../config/settings.js';
import { ConfigError, ServiceDefinitionError } from '../errors.js';
import { type ApiDefinition, getApis } from '../sdk/decorators/api.js';
import { type MethodDefinition, defaultMaxQueueSize, getMethods } from '../sdk/decorators/method.js';
import { type RunnableDefinition, getRunnableDefinition } from '../sdk/decorators/runnable.js';
import { type ServiceDefinition, getServiceDefinition } from '../sdk/decorators/service.js';
import type { Constructor } from '../sdk/metadata.js';

/** A runnable method with every batching setting decided. */
export interface ResolvedMethod extends Omit<MethodDefinition, 'maxQueueSize'> {
  maxQueueSize: number;
}

export interface ResolvedRunner {
  cls: Constructor;
  /** The `@runnable` definition, with bento.yaml's `workers` and `threadsPerWorker` applied. */
  definition: RunnableDefinition;
  methods: ResolvedMethod[];
}

export interface ResolvedService {
  cls: Constructor;
  /** The `@service` definition, with bento.yaml's `traffic` applied. */
  definition: ServiceDefinition;
  /** Every `@api`, with bento.yaml's per-API `traffic` applied. */
  apis: ApiDefinition[];
  /** In the order the service's constructor asks for them. */
  runners: ResolvedRunner[];
}

/** What of bento.yaml the definition reads. */
export type DefinitionConfig = Pick<BentoYaml, 'traffic' | 'apis' | 'runners'>;

/**
 * Resolves a `@service` class. `serving` holds the serving settings that apply to every batchable method
 * (`BENTO_MAX_BATCH_SIZE`, `BENTO_MAX_LATENCY_MS`); a build passes none, as those apply where the bento is served. A bento.yaml name
 * that matches no API, runner or method is an error: a typo would otherwise be silently ignored.
 */
export function resolveService(
  cls: Constructor,
  config: DefinitionConfig,
  serving: Partial<Pick<Settings, 'maxBatchSize' | 'maxLatencyMs'>> = {},
): ResolvedService {
  const declared = getServiceDefinition(cls);
  if (!declared) throw new ServiceDefinitionError(`${cls.name} is not decorated with @service()`);
  const apis = getApis(cls);
  const apiNames = new Set(apis.map((a) => a.name));
  for (const name of Object.keys(config.apis ?? {})) {
    if (!apiNames.has(name))
      throw new ConfigError(
        `bento.yaml apis.${name}: the service has no API "${name}" (it has ${[...apiNames].join(', ')})`,
      );
  }
  const byName = new Map<string, Constructor>();
  for (const runnable of declared.runnables) {
    const def = getRunnableDefinition(runnable);
    if (!def)
      throw new ServiceDefinitionError(
        `${runnable.name} is injected with @runner() but is not decorated with @runnable()`,
      );
    byName.set(def.name, runnable);
  }
  for (const [name, o] of Object.entries(config.runners ?? {})) {
    const runnable = byName.get(name);
    if (!runnable)
      throw new ConfigError(
        `bento.yaml runners.${name}: the service has no runner "${name}" (it has ${[...byName.keys()].join(', ')})`,
      );
    const methods = new Set(getMethods(runnable).map((m) => m.name));
    for (const m of Object.keys(o.batching ?? {})) {
      if (!methods.has(m))
        throw new ConfigError(`bento.yaml runners.${name}.batching.${m}: runner "${name}" has no method "${m}"`);
    }
  }
  const fromEnv: BatchingConfig = { maxBatchSize: serving.maxBatchSize, maxLatencyMs: serving.maxLatencyMs };
  const runners = declared.runnables.map((runnable): ResolvedRunner => {
    const def = getRunnableDefinition(runnable)!;
    const o = config.runners?.[def.name];
    return {
      cls: runnable,
      definition: {
        ...def,
        workers: o?.workers ?? def.workers,
        threadsPerWorker: o?.threadsPerWorker ?? def.threadsPerWorker,
      },
      methods: getMethods(runnable).map((m) => resolveMethod(m, o?.batching?.[m.name], fromEnv)),
    };
  });
  return {
    cls,
    definition: config.traffic ? { ...declared, traffic: { ...declared.traffic, ...config.traffic } } : declared,
    apis: apis.map((a) => {
      const traffic = config.apis?.[a.name]?.traffic;
      return traffic === undefined ? a : { ...a, traffic };
    }),
    runners,
  };
}

/** The environment (one setting for every method) wins over bento.yaml's per-method config, which wins over the code. */
function resolveMethod(
  declared: MethodDefinition,
  fromYaml: BatchingConfig | undefined,
  fromEnv: BatchingConfig,
): ResolvedMethod {
  const maxBatchSize = fromEnv.maxBatchSize ?? fromYaml?.maxBatchSize ?? declared.maxBatchSize;
  const maxLatencyMs = fromEnv.maxLatencyMs ?? fromYaml?.maxLatencyMs ?? declared.maxLatencyMs;
  const maxQueueSize = fromYaml?.maxQueueSize ?? declared.maxQueueSize ?? defaultMaxQueueSize(maxBatchSize);
  return { ...declared, maxBatchSize, maxLatencyMs, maxQueueSize };
}
