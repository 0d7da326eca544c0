import 'reflect-metadata';
import { basename } from 'node:path';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { container } from 'tsyringe';
import { type Limits, envInt, envNumber, limitsFromEnv } from '../config/limits.js';
import type { Project } from '../config/project.js';
import { ServiceDefinitionError } from '../errors.js';
import { consoleLogger } from '../logging/console-logger.js';
import { resolveModel } from '../models/resolve-model.js';
import { selectModelUri } from '../models/model-selector.js';
import { findPlugins, loadPlugins } from '../plugins/loader.js';
import { FRAMEWORK_DIR } from '../package-info.js';
import type { Registry } from '../plugins/registry.js';
import type { Logger } from '../plugins/types.js';
import { type BatchingOverrides, createRunner } from '../runner/runner-proxy.js';
import type { RunnableDefinition } from '../sdk/decorators/runnable.js';
import type { ModelInfo } from '../runner/model-info.js';
import { ModelFollower, describeModel } from '../runner/model-follower.js';
import { RunnerPool, resolveWorkerCount } from '../runner/runner-pool.js';
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
import { importService } from './service-loader.js';

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
  /**
   * Graceful shutdown: reports not ready, stops accepting, lets in-flight
   * requests (and the batches they wait on) finish, then stops the workers.
   */
  close(): Promise<void>;
}

async function startRunner(
  def: RunnableDefinition,
  ctx: { project: Project; registry: Registry; env: Readonly<Record<string, string | undefined>>; logger: Logger; serviceModule: string; serviceExport: string; workersOverride?: number; pluginRefs: ReturnType<typeof findPlugins>; metrics?: ServerMetrics },
): Promise<RunnerPool> {
  const started = performance.now();
  const uri = selectModelUri(def.model, ctx.env);
  ctx.logger.info(`runner "${def.name}": resolving model ${uri}`);
  const model = await resolveModel(ctx.registry, uri, ctx.project, ctx.env, ctx.logger);
  const workers = resolveWorkerCount(def.workers, ctx.workersOverride ?? (ctx.env.BENTO_RUNNER_WORKERS ? envInt(ctx.env, 'BENTO_RUNNER_WORKERS', 1) : undefined));
  const threads = envInt(ctx.env, 'BENTO_RUNNER_THREADS', def.threadsPerWorker ?? 1);
  const pool = await RunnerPool.start(
    def.name,
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
  ctx.metrics?.modelLoaded(modelLabels(def.name, pool.model), (performance.now() - started) / 1000);
  ctx.logger.info(`runner "${def.name}": ${workers} worker(s) loaded ${pool.model.format} model ${pool.model.resolvedUri ?? uri} on ${pool.model.device} (${pool.model.backend})`);
  return pool;
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
  return { level, transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } };
}

/** A runner as the standard protocols see it: a model of one input and one output behind a batchable method. */
function inferenceTarget(runnable: Constructor, pool: RunnerPool, proxy: Record<string, (t: Tensor) => Promise<Tensor>>): InferenceTarget | undefined {
  const method = getMethods(runnable).find((m) => m.batchable);
  if (!method || pool.model.inputs.length !== 1 || pool.model.outputs.length !== 1) return undefined;
  return {
    name: pool.name,
    get model() {
      return pool.model;
    },
    method: method.name,
    infer: (t) => proxy[method.name]!(t),
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
  const pluginRefs = findPlugins(project.plugins, project.serviceDir, project.root, project.bento ? FRAMEWORK_DIR : undefined);
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
  const runners: RunnerPool[] = [];
  let followers: ModelFollower[] = [];
  const targets: InferenceTarget[] = [];
  const scope = container.createChildContainer();
  try {
    for (const runnable of definition.runnables) {
      const def = runnables.get(runnable)!;
      const pool = await startRunner(def, {
        project,
        registry,
        env,
        logger,
        serviceModule: svc.moduleUrl,
        serviceExport: svc.exportName,
        workersOverride: options.runnerWorkers,
        pluginRefs,
        metrics,
      });
      runners.push(pool);
      const proxy = createRunner(runnable, pool, batchingOverrides(env), batching[def.name], metrics && ((method) => metrics.batchObserver(def.name, method)), tracing?.call);
      scope.registerInstance(runnerToken(runnable), proxy);
      const target = inferenceTarget(runnable, pool, proxy as unknown as Record<string, (t: Tensor) => Promise<Tensor>>);
      if (target) targets.push(target);
    }
    followers = followersFor(runners, { project, registry, env, logger, metrics });
    const service = scope.resolve(svc.cls) as object;
    const limits = { ...limitsFromEnv(env), ...options.limits };
    const app = await buildApp({
      service,
      definition,
      apis,
      limits,
      logger: options.logger ?? loggerOptions(env),
      metrics,
      state,
      accessLog: accessLogMode(env.BENTO_ACCESS_LOG),
      version,
      targets,
      tracing,
      modelVersionHeader: followers.length > 0,
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
      apis,
      runners,
      metrics,
      state,
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
