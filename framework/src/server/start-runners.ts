/**
 * Starting a service's runners: for each, its model resolved and loaded in a pool of worker threads, the proxy the
 * service is injected with (adaptive batching for batchable methods), and what the standard protocols call. A
 * runner with variants (canary, A/B, shadow) gets a pool per variant behind one routed proxy.
 */
import { basename } from 'node:path';
import type { DependencyContainer } from 'tsyringe';
import type { Project } from '../config/project.js';
import type { Settings } from '../config/settings.js';
import type { ResolvedRunner, ResolvedService } from '../definition/resolve-service.js';
import { ConfigError } from '../errors.js';
import { resolveModel } from '../models/resolve-model.js';
import { selectModelUri } from '../models/model-selector.js';
import type { ModelLabels, ServerMetrics } from '../observability/metrics.js';
import type { CallTracer } from '../observability/tracing.js';
import type { PluginRef } from '../plugins/loader.js';
import type { Registry } from '../plugins/registry.js';
import type { Logger } from '../plugins/types.js';
import type { InferenceTarget } from '../protocols/inference-target.js';
import { modelLabel } from '../request/answered-by.js';
import type { ModelInfo } from '../runner/model-info.js';
import { createRoutedRunner, createRunner } from '../runner/runner-proxy.js';
import { RunnerPool, resolveWorkerCount, signatureChange } from '../runner/runner-pool.js';
import {
  type VariantConfig,
  type VariantsConfig,
  VariantRouter,
  checkVariants,
  variantsFromEnv,
} from '../runner/variants.js';
import type { RunnableDefinition } from '../sdk/decorators/runnable.js';
import { runnerToken } from '../sdk/decorators/runner.js';
import type { Tensor } from '../tensor/tensor.js';

export interface StartedRunners {
  targets: InferenceTarget[];
  /** Whether any runner serves variants (the server then names the variant that answered). */
  variants: boolean;
}

/**
 * Starts every runner of `service` and registers its proxy in `scope`. The pools go into `pools` as they start, so
 * that the caller can close those already running when a later one fails.
 */
export async function startRunners(
  service: ResolvedService,
  ctx: RunnerContext,
  scope: DependencyContainer,
  pools: RunnerPool[],
): Promise<StartedRunners> {
  const { project, settings, metrics } = ctx;
  const variants = {
    ...variantsFromConfig(project.config),
    ...variantsFromEnv(
      settings.modelVariants,
      service.runners.map((r) => r.definition.name),
    ),
  };
  const targets: InferenceTarget[] = [];
  const proxyFor = (runner: ResolvedRunner, pool: RunnerPool) => {
    const proxy = createRunner<unknown>(
      runner,
      pool,
      metrics && ((method) => metrics.batchObserver(runner.definition.name, method)),
      ctx.tracing,
    );
    for (const [method, dispatcher] of pool.dispatchers)
      metrics?.watchQueue(runner.definition.name, method, () => dispatcher.stats().queuedItems);
    return proxy;
  };
  for (const runner of service.runners) {
    const def = runner.definition;
    const split = variants[def.name];
    if (!split) {
      const pool = await startRunner(def, ctx);
      pools.push(pool);
      const proxy = proxyFor(runner, pool);
      scope.registerInstance(runnerToken(runner.cls), proxy);
      const target = inferenceTarget(
        runner,
        pool,
        proxy as unknown as Record<string, (t: unknown) => Promise<unknown>>,
      );
      if (target) targets.push(target);
      continue;
    }
    const started = await startVariants(def, split, ctx, pools);
    const versions = new Map(started.map((v) => [v.name, v.pool] as const));
    const router = new VariantRouter(
      def.name,
      started.map((v) => ({ name: v.name, config: v.config, target: proxyFor(runner, v.pool) })),
    );
    const routed = createRoutedRunner(
      runner,
      router,
      metrics &&
        ((variant, role, ok) =>
          metrics.variantRequests.inc({
            runner: def.name,
            variant,
            version: modelLabel(versions.get(variant)!.model),
            role,
            outcome: ok ? 'ok' : 'error',
          })),
    );
    scope.registerInstance(runnerToken(runner.cls), routed);
    // The standard protocols see the runner as one model, routed like the service's own calls.
    const target = inferenceTarget(
      runner,
      started[0].pool,
      routed as unknown as Record<string, (t: unknown) => Promise<unknown>>,
    );
    if (target) targets.push(target);
  }
  return { targets, variants: Object.keys(variants).length > 0 };
}

/** What starting a runner needs of the server. */
export interface RunnerContext {
  project: Project;
  registry: Registry;
  /** The serving environment, as model sources and model selectors read it. */
  env: Readonly<Record<string, string | undefined>>;
  /** The framework's settings, parsed from that environment. */
  settings: Settings;
  logger: Logger;
  serviceModule: string;
  serviceExport: string;
  /** Worker threads per runner, set on the command line; wins over the definition and the environment. */
  workersOverride?: number;
  pluginRefs: PluginRef[];
  metrics?: ServerMetrics;
  tracing?: CallTracer;
}

/** Starts a runner's pool on its model: the one the environment selects, or a variant's `uri` (then named `runner@variant`). */
async function startRunner(
  def: RunnableDefinition,
  ctx: RunnerContext,
  variant?: { name: string; uri: string },
): Promise<RunnerPool> {
  const started = performance.now();
  const uri = variant?.uri ?? selectModelUri(def.model, ctx.env);
  const name = variant ? `${def.name}@${variant.name}` : def.name;
  ctx.logger.info(`runner "${name}": resolving model ${uri}`);
  const model = await resolveModel(ctx.registry, uri, ctx.project, ctx.env, ctx.logger);
  const workers = resolveWorkerCount(def.workers, ctx.workersOverride ?? ctx.settings.runnerWorkers);
  const threads = ctx.settings.runnerThreads ?? def.threadsPerWorker ?? 1;
  const pool = await RunnerPool.start(
    name,
    {
      plugins: ctx.pluginRefs,
      serviceModule: ctx.serviceModule,
      serviceExport: ctx.serviceExport,
      runnable: def.name,
      model,
      backend: def.backend,
      device: def.device ?? 'cpu',
      threads,
      backendOptions: def.backendOptions ?? {},
      bentoDir: ctx.project.bento?.path,
    },
    { workers, maxQueue: ctx.settings.runnerMaxQueue },
  );
  ctx.metrics?.modelLoaded(modelLabels(name, pool.model), (performance.now() - started) / 1000);
  ctx.logger.info(
    `runner "${name}": ${workers} worker(s) loaded ${pool.model.format} model ${pool.model.resolvedUri ?? uri} on ${pool.model.device} (${pool.model.backend})`,
  );
  return pool;
}

/**
 * A runner with several variants: a pool for each, their signatures checked against the first's (the service reads
 * one model's class names and preprocessing), and the router that picks one per call.
 */
async function startVariants(
  def: RunnableDefinition,
  config: VariantsConfig,
  ctx: RunnerContext,
  pools: RunnerPool[],
): Promise<Array<{ name: string; config: VariantConfig; pool: RunnerPool }>> {
  const started: Array<{ name: string; config: VariantConfig; pool: RunnerPool }> = [];
  // The answering variants first: the first of them is the one the service describes.
  const ordered = Object.entries(config.variants).sort(
    ([, a], [, b]) => Number(Boolean(a.shadow)) - Number(Boolean(b.shadow)),
  );
  for (const [name, variant] of ordered) {
    const pool = await startRunner(def, ctx, { name, uri: variant.uri });
    pools.push(pool);
    const differs = started.length ? signatureChange(started[0].pool.model, pool.model) : undefined;
    if (differs)
      throw new ConfigError(
        `runner "${def.name}": variant "${name}" cannot serve beside "${started[0].name}": ${differs}`,
      );
    started.push({ name, config: variant, pool });
  }
  ctx.logger.info(
    `runner "${def.name}": variants ${started.map((v) => (v.config.shadow ? `${v.name} (shadow)` : `${v.name} (weight ${v.config.weight ?? 1})`)).join(', ')}`,
  );
  return started;
}

/** bento.yaml's `runners.<runner>.variants`, checked. */
function variantsFromConfig(config: Project['config']): Record<string, VariantsConfig> {
  const out: Record<string, VariantsConfig> = {};
  for (const [runner, o] of Object.entries(config.runners ?? {})) {
    if (!o.variants) continue;
    out[runner] = { variants: o.variants };
    checkVariants(runner, out[runner], `bento.yaml runners.${runner}.variants`);
  }
  return out;
}

export function modelLabels(runner: string, m: ModelInfo): ModelLabels {
  return {
    runner,
    name: m.name ?? basename(m.path),
    version: m.version ?? '',
    format: m.format,
    backend: m.backend,
    device: m.device,
  };
}

/**
 * A runner as the standard protocols see it, through its batchable method: any model when the method takes named
 * tensors, else a model of one input and one output.
 */
function inferenceTarget(
  runner: ResolvedRunner,
  pool: RunnerPool,
  proxy: Record<string, (t: unknown) => Promise<unknown>>,
): InferenceTarget | undefined {
  const method = runner.methods.find((m) => m.batchable);
  if (!method) return undefined;
  const call = proxy[method.name];
  let infer: InferenceTarget['infer'];
  if (method.namedTensors) infer = (feeds) => call(feeds) as Promise<Record<string, Tensor>>;
  else if (pool.model.inputs.length === 1 && pool.model.outputs.length === 1) {
    infer = async (feeds) => ({
      [pool.model.outputs[0].name]: (await call(feeds[pool.model.inputs[0].name])) as Tensor,
    });
  } else return undefined;
  return {
    name: pool.name,
    method: method.name,
    infer,
    get model() {
      return pool.model;
    },
  };
}
