import type { BatchingConfig, BentoYaml } from '../config/bento-yaml.js';
import { ConfigError } from '../errors.js';
import type { ApiDefinition } from '../sdk/decorators/api.js';
import type { RunnableDefinition } from '../sdk/decorators/runnable.js';
import type { ServiceDefinition } from '../sdk/decorators/service.js';
import { type Constructor, getMethods, getRunnableDefinition } from '../sdk/metadata.js';

export interface Overridden {
  definition: ServiceDefinition;
  apis: ApiDefinition[];
  /** Per runner name: its definition with bento.yaml's workers and threads applied. */
  runnables: Map<Constructor, RunnableDefinition>;
  /** Per runner name, per method: batching overrides from bento.yaml. */
  batching: Record<string, Record<string, BatchingConfig>>;
}

/**
 * Applies bento.yaml's deployment-time overrides (`traffic`, `apis`, `runners`)
 * to what the code declares. A name that matches no API, runner or method is an
 * error: a typo would otherwise be silently ignored.
 */
export function applyOverrides(config: Pick<BentoYaml, 'traffic' | 'apis' | 'runners'>, definition: ServiceDefinition, apis: ApiDefinition[]): Overridden {
  const apiNames = new Set(apis.map((a) => a.name));
  for (const name of Object.keys(config.apis ?? {})) {
    if (!apiNames.has(name)) throw new ConfigError(`bento.yaml apis.${name}: the service has no API "${name}" (it has ${[...apiNames].join(', ')})`);
  }
  const runnables = new Map<Constructor, RunnableDefinition>();
  const batching: Record<string, Record<string, BatchingConfig>> = {};
  const byName = new Map(definition.runnables.map((r) => [getRunnableDefinition(r)?.name, r] as const));
  for (const [name, o] of Object.entries(config.runners ?? {})) {
    const cls = byName.get(name);
    if (!cls) throw new ConfigError(`bento.yaml runners.${name}: the service has no runner "${name}" (it has ${[...byName.keys()].join(', ')})`);
    const methods = new Set(getMethods(cls).map((m) => m.name));
    for (const m of Object.keys(o.batching ?? {})) {
      if (!methods.has(m)) throw new ConfigError(`bento.yaml runners.${name}.batching.${m}: runner "${name}" has no method "${m}"`);
    }
    batching[name] = o.batching ?? {};
  }
  for (const cls of definition.runnables) {
    const def = getRunnableDefinition(cls);
    if (!def) continue;
    const o = config.runners?.[def.name];
    runnables.set(cls, { ...def, workers: o?.workers ?? def.workers, threadsPerWorker: o?.threadsPerWorker ?? def.threadsPerWorker });
  }
  return {
    definition: config.traffic ? { ...definition, traffic: { ...definition.traffic, ...config.traffic } } : definition,
    apis: apis.map((a) => {
      const traffic = config.apis?.[a.name]?.traffic;
      return traffic === undefined ? a : { ...a, traffic };
    }),
    runnables,
    batching,
  };
}
