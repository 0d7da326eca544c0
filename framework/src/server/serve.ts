import 'reflect-metadata';
import { basename } from 'node:path';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { container } from 'tsyringe';
import { type Limits, envInt, envNumber, limitsFromEnv } from '../config/limits.js';
import type { Project } from '../config/project.js';
import { ConfigError, ServiceDefinitionError } from '../errors.js';
import { consoleLogger } from '../logging/console-logger.js';
import { resolveModel } from '../models/resolve-model.js';
import { selectModelUri } from '../models/model-selector.js';
import { findPlugins, loadPlugins } from '../plugins/loader.js';
import { FRAMEWORK_DIR } from '../package-info.js';
import type { Registry } from '../plugins/registry.js';
import type { Logger } from '../plugins/types.js';
import { type BatchingOverrides, createRoutedRunner, createRunner } from '../runner/runner-proxy.js';
import type { RunnableDefinition } from '../sdk/decorators/runnable.js';
import type { ModelInfo } from '../runner/model-info.js';
import { ModelFollower, describeModel } from '../runner/model-follower.js';
import { RunnerPool, resolveWorkerCount, signatureChange } from '../runner/runner-pool.js';
import { type VariantConfig, type VariantsConfig, VariantRouter, checkVariants, variantHeader, variantsFromEnv } from '../runner/variants.js';
import { modelLabel } from '../runner/answered-by.js';
import { runnerToken } from '../sdk/decorators/runner.js';
import { type ApiDefinition } from '../sdk/decorators/api.js';
import { type ServiceDefinition } from '../sdk/decorators/service.js';
import { type Constructor, getApis, getMethods, getRunnableDefinition, getServiceDefinition } from '../sdk/metadata.js';
import type { InferenceTarget } from '../protocols/inference-target.js';
import type { Tensor } from '../tensor/tensor.js';
import { buildApp } from './app.js';
import { type ModelLabels, ServerMetrics } from '../observability/metrics.js';
import { tracingFromEnv } from '../observability/tracing.js';
import { accessLogMode } from './observability-hooks.js';
import type { ServerState } from './probes.js';
import { useFrameworkModulesFor } from '../bento/resolve-fallback.js';
import { applyOverrides } from './overrides.js';
import { type ProtocolRoute, protocolRoutes } from './protocols.js';
import { importService } from './service-loader.js';
import { useColour } from '../logging/colour.js';

export interface ServeOptions {
  project: Project;
  port?: number;
  host?: string;
  env?: Readonly<Record<string, string | undefined>>;
  /** Runner worker threads per runnable; overrides the runnable's config. */
  runnerWorkers?: number;
  limits?: Partial<Limits>;
  logger?: boolean | Record<string, unknown>;
  /** Registry of the server's metrics; a fresh one by default. BENTO_METRICS=off: none (no /metrics). */
  metrics?: ServerMetrics;
}

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  port: number;
  definition: ServiceDefinition;
  apis: ApiDefinition[];
  runners: RunnerPool[];
  metrics?: ServerMetrics;
  state: ServerState;
  /** The standard protocols' prediction routes (MLflow's /invocations, V2's infer), for the banner. */
  protocols: ProtocolRoute[];
  /**
   * Graceful shutdown: reports not ready, stops accepting, lets in-flight
   * requests (and the batches they wait on) finish, then stops the workers.
   */
  close(): Promise<void>;
}

type RunnerContext = { project: Project; registry: Registry; env: Readonly<Record<string, string | undefined>>; logger: Logger; serviceModule: string; serviceExport: string; workersOverride?: number; pluginRefs: ReturnType<typeof findPlugins>; metrics?: ServerMetrics };

/** Starts a runner's pool on its model: the one the environment selects, or a variant's `uri` (then named `runner@variant`). */
async function startRunner(def: RunnableDefinition, ctx: RunnerContext, variant?: { name: string; uri: string }): Promise<RunnerPool> {
  const started = performance.now();
  const uri = variant?.uri ?? selectModelUri(def.model, ctx.env);
  const name = variant ? `${def.name}@${variant.name}` : def.name;
  ctx.logger.info(`runner "${name}": resolving model ${uri}`);
  const model = await resolveModel(ctx.registry, uri, ctx.project, ctx.env, ctx.logger);
  const workers = resolveWorkerCount(def.workers, ctx.workersOverride ?? (ctx.env.BENTO_RUNNER_WORKERS ? envInt(ctx.env, 'BENTO_RUNNER_WORKERS', 1) : undefined));
  const threads = envInt(ctx.env, 'BENTO_RUNNER_THREADS', def.threadsPerWorker ?? 1);
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
    { workers, maxQueue: envInt(ctx.env, 'BENTO_RUNNER_MAX_QUEUE', 1024) },
  );
  ctx.metrics?.modelLoaded(modelLabels(name, pool.model), (performance.now() - started) / 1000);
  ctx.logger.info(`runner "${name}": ${workers} worker(s) loaded ${pool.model.format} model ${pool.model.resolvedUri ?? uri} on ${pool.model.device} (${pool.model.backend})`);
  return pool;
}

/**
 * A runner with several variants: a pool for each, their signatures checked against the first's (the service reads
 * one model's class names and preprocessing), and the router that picks one per call.
 */
async function startVariants(def: RunnableDefinition, config: VariantsConfig, ctx: RunnerContext, pools: RunnerPool[]): Promise<Array<{ name: string; config: VariantConfig; pool: RunnerPool }>> {
  const started: Array<{ name: string; config: VariantConfig; pool: RunnerPool }> = [];
  // The answering variants first: the first of them is the one the service describes.
  const ordered = Object.entries(config.variants).sort(([, a], [, b]) => Number(Boolean(a.shadow)) - Number(Boolean(b.shadow)));
  for (const [name, variant] of ordered) {
    const pool = await startRunner(def, ctx, { name, uri: variant.uri });
    pools.push(pool);
    const differs = started.length ? signatureChange(started[0]!.pool.model, pool.model) : undefined;
    if (differs) throw new ConfigError(`runner "${def.name}": variant "${name}" cannot serve beside "${started[0]!.name}": ${differs}`);
    started.push({ name, config: variant, pool });
  }
  ctx.logger.info(`runner "${def.name}": variants ${started.map((v) => (v.config.shadow ? `${v.name} (shadow)` : `${v.name} (weight ${v.config.weight ?? 1})`)).join(', ')}`);
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

function modelLabels(runner: string, m: ModelInfo): ModelLabels {
  return { runner, name: m.name ?? basename(m.path), version: m.version ?? '', format: m.format, backend: m.backend, device: m.device };
}

/**
 * Followers for the runners whose model URI moves (a registry alias or `latest`), when BENTO_MODEL_POLL_SECONDS
 * asks for hot updates; a pinned URI is left alone, and said so.
 */
function followersFor(runners: RunnerPool[], ctx: { project: Project; registry: Registry; env: Readonly<Record<string, string | undefined>>; logger: Logger; metrics?: ServerMetrics }): ModelFollower[] {
  if (!ctx.env.BENTO_MODEL_POLL_SECONDS) return [];
  const seconds = envNumber(ctx.env, 'BENTO_MODEL_POLL_SECONDS', 30);
  const followers: ModelFollower[] = [];
  for (const pool of runners) {
    const { uri, resolvedUri } = pool.model;
    if (!resolvedUri || resolvedUri === uri) {
      ctx.logger.info(`runner "${pool.name}": ${uri} names one version; hot updates follow only a registry alias or latest`);
      continue;
    }
    ctx.logger.info(`runner "${pool.name}": following ${uri} (now ${describeModel(pool.model)}), every ${seconds} s`);
    followers.push(
      new ModelFollower(pool, {
        intervalMs: seconds * 1000,
        resolve: () => resolveModel(ctx.registry, uri, ctx.project, ctx.env, ctx.logger),
        logger: ctx.logger,
        onUpdate: (outcome, model, loadSeconds) => {
          ctx.metrics?.modelUpdates.inc({ runner: pool.name, outcome });
          if (outcome === 'swapped') ctx.metrics?.modelLoaded(modelLabels(pool.name, model as ModelInfo), loadSeconds);
        },
      }),
    );
  }
  return followers;
}

/**
 * pino's options: JSON lines, or human-readable lines (pino-pretty) when
 * stdout is a terminal, unless BENTO_LOG_FORMAT says `json` or `pretty`.
 */
function loggerOptions(env: Readonly<Record<string, string | undefined>>): Record<string, unknown> {
  const format = env.BENTO_LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const level = env.BENTO_LOG_LEVEL ?? 'info';
  if (format !== 'pretty') return { level };
  return { level, transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', colorize: useColour(process.stdout, env) } } };
}

/**
 * A runner as the standard protocols see it, through its batchable method: any model when the method takes named
 * tensors, else a model of one input and one output.
 */
function inferenceTarget(runnable: Constructor, pool: RunnerPool, proxy: Record<string, (t: unknown) => Promise<unknown>>): InferenceTarget | undefined {
  const method = getMethods(runnable).find((m) => m.batchable);
  if (!method) return undefined;
  const call = proxy[method.name]!;
  let infer: InferenceTarget['infer'];
  if (method.namedTensors) infer = (feeds) => call(feeds) as Promise<Record<string, Tensor>>;
  else if (pool.model.inputs.length === 1 && pool.model.outputs.length === 1) {
    infer = async (feeds) => ({ [pool.model.outputs[0]!.name]: (await call(feeds[pool.model.inputs[0]!.name])) as Tensor });
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

function batchingOverrides(env: Readonly<Record<string, string | undefined>>): BatchingOverrides {
  const overrides: BatchingOverrides = {};
  if (env.BENTO_MAX_BATCH_SIZE) overrides.maxBatchSize = envInt(env, 'BENTO_MAX_BATCH_SIZE', 1);
  if (env.BENTO_MAX_LATENCY_MS) overrides.maxLatencyMs = envInt(env, 'BENTO_MAX_LATENCY_MS', 1);
  return overrides;
}

/**
 * Starts a service: loads plugins, resolves and loads its models in runner
 * workers, builds the service through DI and listens. Resolves once every model
 * is loaded and the port is open, so a listening server is a ready server.
 */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const env = options.env ?? process.env;
  const logger = consoleLogger('bento');
  const { project } = options;
  sharp.cache(false);
  sharp.concurrency(1);
  // A bento served without node_modules uses the running framework's installation (plugins included).
  if (project.bento) useFrameworkModulesFor(project.bento.path);
  const pluginRefs = findPlugins(project.plugins, project.serviceDir, project.root, project.bento || project.modelUri ? FRAMEWORK_DIR : undefined);
  const registry = await loadPlugins(pluginRefs);
  const svc = await importService(project.serviceModule);
  for (const runnable of getServiceDefinition(svc.cls)!.runnables) {
    if (!getRunnableDefinition(runnable)) throw new ServiceDefinitionError(`${runnable.name} is injected with @runner() but is not decorated with @runnable()`);
  }
  const { definition, apis, runnables, batching } = applyOverrides(project.config, getServiceDefinition(svc.cls)!, getApis(svc.cls));

  const metrics = env.BENTO_METRICS === 'off' ? undefined : (options.metrics ?? new ServerMetrics());
  const state: ServerState = { draining: false };
  const version = project.bento?.tag.split(':')[1];
  const tracing = await tracingFromEnv(env, { name: definition.name, version });
  if (tracing) logger.info(`tracing: spans go by ${tracing.destination}`);
  const variants = { ...variantsFromConfig(project.config), ...variantsFromEnv(env, [...runnables.values()].map((d) => d.name)) };
  const runners: RunnerPool[] = [];
  let followers: ModelFollower[] = [];
  const targets: InferenceTarget[] = [];
  const scope = container.createChildContainer();
  try {
    const ctx: RunnerContext = { project, registry, env, logger, serviceModule: svc.moduleUrl, serviceExport: svc.exportName, workersOverride: options.runnerWorkers, pluginRefs, metrics };
    const proxyFor = (runnable: Constructor, name: string, pool: RunnerPool) =>
      createRunner(runnable, pool, batchingOverrides(env), batching[name], metrics && ((method) => metrics.batchObserver(name, method)), tracing?.call);
    for (const runnable of definition.runnables) {
      const def = runnables.get(runnable)!;
      const split = variants[def.name];
      if (!split) {
        const pool = await startRunner(def, ctx);
        runners.push(pool);
        const proxy = proxyFor(runnable, def.name, pool);
        scope.registerInstance(runnerToken(runnable), proxy);
        const target = inferenceTarget(runnable, pool, proxy as unknown as Record<string, (t: unknown) => Promise<unknown>>);
        if (target) targets.push(target);
        continue;
      }
      const started = await startVariants(def, split, ctx, runners);
      const versions = new Map(started.map((v) => [v.name, v.pool] as const));
      const router = new VariantRouter(def.name, started.map((v) => ({ name: v.name, config: v.config, target: proxyFor(runnable, def.name, v.pool) })));
      const routed = createRoutedRunner(runnable, router, metrics && ((variant, role, ok) =>
        metrics.variantRequests.inc({ runner: def.name, variant, version: modelLabel(versions.get(variant)!.model), role, outcome: ok ? 'ok' : 'error' })));
      scope.registerInstance(runnerToken(runnable), routed);
      // The standard protocols see the runner as one model, routed like the service's own calls.
      const target = inferenceTarget(runnable, started[0]!.pool, routed as unknown as Record<string, (t: unknown) => Promise<unknown>>);
      if (target) targets.push(target);
    }
    followers = followersFor(runners, { project, registry, env, logger, metrics });
    const service = scope.resolve(svc.cls) as object;
    const served = apis.filter((a) => !a.enabled || a.enabled(service));
    const limits = { ...limitsFromEnv(env), ...options.limits };
    const app = await buildApp({
      service,
      definition,
      apis: served,
      limits,
      logger: options.logger ?? loggerOptions(env),
      metrics,
      state,
      accessLog: accessLogMode(env.BENTO_ACCESS_LOG),
      version,
      targets,
      tracing,
      modelVersionHeader: followers.length > 0 || Object.keys(variants).length > 0,
      variantHeader: Object.keys(variants).length > 0 ? variantHeader(env) : undefined,
      requestHooks: registry.requestHooks,
    });
    const host = options.host ?? '0.0.0.0';
    await app.listen({ port: options.port ?? 3000, host });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : (options.port ?? 3000);
    const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
    for (const follower of followers) follower.start();
    return {
      app,
      url: `http://${shownHost}:${port}`,
      port,
      definition,
      apis: served,
      runners,
      metrics,
      state,
      protocols: protocolRoutes(targets, served),
      async close() {
        state.draining = true;
        await Promise.all(followers.map((f) => f.stop()));
        await app.close();
        await Promise.all(runners.map((r) => r.close()));
        scope.dispose();
        await tracing?.shutdown();
      },
    };
  } catch (err) {
    await Promise.all(followers.map((f) => f.stop()));
    await Promise.all(runners.map((r) => r.close().catch(() => undefined)));
    await tracing?.shutdown().catch(() => undefined);
    throw err;
  }
}
