import 'reflect-metadata';
import type { FastifyInstance } from 'fastify';
import { container } from 'tsyringe';
import { useFrameworkModulesFor } from '../bento/resolve-fallback.js';
import { type Limits, limitsFrom } from '../config/limits.js';
import { checkSettings, readSettings } from '../config/settings.js';
import type { Project } from '../config/project.js';
import { resolveService } from '../definition/resolve-service.js';
import { consoleLogger } from '../logging/console-logger.js';
import { ServerMetrics } from '../observability/metrics.js';
import { tracingFromEnv } from '../observability/tracing.js';
import { FRAMEWORK_DIR } from '../package-info.js';
import { findPlugins, loadPlugins } from '../plugins/loader.js';
import type { ModelFollower } from '../runner/model-follower.js';
import type { RunnerPool } from '../runner/runner-pool.js';
import type { ApiDefinition } from '../sdk/decorators/api.js';
import type { ServiceDefinition } from '../sdk/decorators/service.js';
import { closeResizePool } from '../vision/resize-pool.js';
import { buildApp } from './app.js';
import { loggerOptions } from './logger-options.js';
import { followersFor } from './model-followers.js';
import type { ServerState } from './probes.js';
import { type ProtocolRoute, protocolRoutes } from './protocols.js';
import { listenError } from './port-check.js';
import { importService } from './service-loader.js';
import { type RunnerContext, startRunners } from './start-runners.js';
import { releaseStartupMemory } from '../runtime/release-startup-memory.js';

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
  /**
   * Collect the start-up's garbage once before listening (runtime/release-startup-memory.ts). `bento serve` does, a
   * process of its own; off by default, so a process that embeds the server does not pay a full collection of its
   * own heap.
   */
  releaseStartupMemory?: boolean;
  /**
   * On close, how long the server keeps listening and keeps idle keep-alive connections open while each request
   * that comes is answered with `Connection: close`: a request sent on an idle connection meanwhile is answered. 0 (the default)
   * closes the listener and idle connections at once. `bento serve` takes BENTO_IDLE_CLOSE_GRACE_MS, which `bento
   * deploy k8s` sets: a client can send on an idle connection just as it is closed, and that request is reset
   * unanswered (a pod deleted under load lost one that way, make test-k8s).
   */
  idleCloseGraceMs?: number;
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

/**
 * Starts a service: loads plugins, resolves and loads its models in runner
 * workers, builds the service through DI and listens. Resolves once every model
 * is loaded and the port is open, so a listening server is a ready server.
 */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const env = options.env ?? process.env;
  // Every setting parsed before anything starts: a typo stops the server here, not when the setting is first used.
  const settings = readSettings(env);
  checkSettings(settings);
  const logger = consoleLogger('bento');
  const { project } = options;
  // A bento served without node_modules uses the running framework's installation (plugins included).
  if (project.bento) useFrameworkModulesFor(project.bento.path);
  const pluginRefs = findPlugins(
    project.plugins,
    project.serviceDir,
    project.root,
    project.bento || project.modelUri ? FRAMEWORK_DIR : undefined,
  );
  const registry = await loadPlugins(pluginRefs);
  const host = options.host ?? '0.0.0.0';
  const svc = await importService(project.serviceModule);
  const resolved = resolveService(svc.cls, project.config, settings);
  const { definition, apis } = resolved;

  const metrics = settings.metrics === 'off' ? undefined : (options.metrics ?? new ServerMetrics());
  const state: ServerState = { draining: false };
  const version = project.bento?.tag.split(':')[1];
  const tracing = await tracingFromEnv(env, { name: definition.name, version });
  if (tracing) logger.info(`tracing: spans go by ${tracing.destination}`);
  const runners: RunnerPool[] = [];
  let followers: ModelFollower[] = [];
  const scope = container.createChildContainer();
  try {
    const ctx: RunnerContext = {
      project,
      registry,
      env,
      settings,
      logger,
      serviceModule: svc.moduleUrl,
      serviceExport: svc.exportName,
      workersOverride: options.runnerWorkers,
      pluginRefs,
      metrics,
      tracing: tracing?.call,
    };
    const { targets, variants } = await startRunners(resolved, ctx, scope, runners);
    followers = followersFor(runners, { project, registry, env, settings, logger, metrics });
    const service = scope.resolve(svc.cls) as object;
    const served = apis.filter((a) => !a.enabled || a.enabled(service));
    const limits = { ...limitsFrom(settings), ...options.limits };
    const app = await buildApp({
      service,
      definition,
      apis: served,
      limits,
      logger: options.logger ?? loggerOptions(settings),
      metrics,
      state,
      accessLog: settings.accessLog,
      version,
      targets,
      tracing,
      modelVersionHeader: followers.length > 0 || variants,
      variantHeader: variants ? settings.variantHeader : undefined,
      requestHooks: registry.requestHooks,
    });
    if (options.releaseStartupMemory) releaseStartupMemory();
    await app.listen({ port: options.port ?? 3000, host }).catch((err: unknown) => {
      throw listenError(err as NodeJS.ErrnoException, options.port ?? 3000, host);
    });
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
        // Closing the listener closes idle connections too (Node 19+): first, for the grace, each request that comes
        // is answered and its connection closed (app.ts), so the connections clients keep using end cleanly and only
        // long-idle ones are left.
        const grace = options.idleCloseGraceMs ?? 0;
        if (grace > 0) await new Promise((resolve) => setTimeout(resolve, grace));
        await app.close();
        await Promise.all(runners.map((r) => r.close()));
        await closeResizePool();
        // Services registered with a dispose() (tsyringe Disposable) release what they hold; the server is closing either way.
        await Promise.resolve(scope.dispose()).catch(() => undefined);
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
