import { existsSync } from 'node:fs';
import { BentoStore } from '../bento/bento-store.js';
import { parseBentoTag } from '../bento/tag.js';
import { envFor } from '../config/bento-yaml.js';
import { loadDotEnv } from '../config/dotenv.js';
import { type Project, bentoProject, loadProject } from '../config/project.js';
import { ConfigError } from '../errors.js';
import { startServer } from '../server/serve.js';
import { consoleLogger } from '../logging/console-logger.js';
import { runPrimary, serveWorkerCount } from '../server/cluster/primary.js';
import { linkMetrics, onPrimaryStop, reportReady, workerSlot } from '../server/cluster/worker-link.js';
import { importService } from '../server/service-loader.js';
import { useFrameworkModulesFor } from '../bento/resolve-fallback.js';
import type { ApiDefinition } from '../sdk/decorators/api.js';
import { getServiceDefinition } from '../sdk/metadata.js';

function title(api: ApiDefinition): string {
  return api.summary ?? api.name.replace(/[_-]+/g, ' ').replace(/\b\w/g, (c) => c.toUpperCase());
}

/** The seed guide's start-up banner, listing every endpoint. */
export function banner(url: string, apis: ApiDefinition[]): string {
  const lines = apis.map((a) => `  - ${title(a)}: ${a.method} ${url}${a.route}`);
  return `bento-ts server started!\n\nAPI Endpoints:\n${lines.join('\n')}\n`;
}

function isBentoTag(value: string): boolean {
  try {
    parseBentoTag(value);
    return true;
  } catch {
    return false;
  }
}

/** A path (project, service file, bento directory), else a bento tag in the store. */
async function findTarget(target: string): Promise<Project> {
  if (existsSync(target)) return loadProject(target);
  if (isBentoTag(target)) {
    const bento = await BentoStore.fromEnv(process.env).find(target);
    if (bento) return bentoProject(bento.path, bento.manifest);
    throw new ConfigError(`"${target}" is neither a path nor a bento in the store (see: bento list)`);
  }
  throw new ConfigError(`${target} does not exist`);
}

/** `@service({ workers })` of the project's service class. */
async function declaredWorkers(project: Project): Promise<number | 'cpu_count' | undefined> {
  if (project.bento) useFrameworkModulesFor(project.bento.path);
  return getServiceDefinition((await importService(project.serviceModule)).cls)?.workers;
}

export interface ServeCommandOptions {
  port?: number;
  host?: string;
  workers?: string;
  runnerWorkers?: number;
  gracefulTimeout?: number;
}

export async function serveCommand(target: string, opts: ServeCommandOptions): Promise<void> {
  loadDotEnv();
  const project = await findTarget(target);
  const env = process.env;
  // bento.yaml's runtime variables are defaults: the environment (docker run -e ...) wins.
  for (const [name, value] of Object.entries(envFor(project.config, 'runtime'))) env[name] ??= value;
  const slot = workerSlot();
  if (project.bento && slot === undefined) {
    process.stderr.write(`serving bento ${project.bento.tag} from ${project.bento.path}\n`);
  }
  if (project.bento) {
    // A packed model may be chosen by its alias from bento.yaml's models: (MODEL_URI=champion).
    for (const name of ['MODEL_URI', 'BENTO_DEFAULT_MODEL']) {
      const pinned = env[name] ? project.bento.aliases[env[name]!.trim()] : undefined;
      if (pinned) env[name] = pinned;
    }
  }
  const graceSeconds = opts.gracefulTimeout ?? (env.BENTO_GRACEFUL_TIMEOUT ? Number(env.BENTO_GRACEFUL_TIMEOUT) : 30);
  // Life-cycle lines in the same format as the start-up lines (JSON, or readable on a terminal).
  const log = consoleLogger('bento');
  if (slot === undefined) {
    const workers = serveWorkerCount(opts.workers ?? env.BENTO_WORKERS ?? project.config.workers ?? (await declaredWorkers(project)));
    if (workers > 1) {
      const code = await runPrimary({
        workers,
        graceSeconds,
        out: (text) => process.stdout.write(text),
        log: (line) => log.info(line),
      });
      process.exit(code);
    }
  }
  // A worker takes the primary's stop from the start: one asked for while the models load is done once they are up.
  let stopWorker: ((why: string) => void) | undefined;
  let stopAsked: string | undefined;
  if (slot !== undefined) onPrimaryStop((why) => (stopWorker ? stopWorker(why) : (stopAsked = why)));
  const server = await startServer({
    project,
    port: opts.port ?? (env.PORT ? Number(env.PORT) : env.BENTO_PORT ? Number(env.BENTO_PORT) : 3000),
    host: opts.host ?? env.HOST ?? '0.0.0.0',
    runnerWorkers: opts.runnerWorkers,
  });
  const startText = banner(server.url, server.apis);
  let closing = false;
  const stop = (why: string) => {
    if (closing) {
      log.warn(`${why} again: exiting without waiting`);
      process.exit(1);
    }
    closing = true;
    log.info(`${why}: finishing in-flight requests (up to ${graceSeconds} s), then stopping`);
    const timer = setTimeout(() => {
      log.error(`graceful shutdown did not finish in ${graceSeconds} s (BENTO_GRACEFUL_TIMEOUT): exiting`);
      process.exit(1);
    }, graceSeconds * 1000);
    timer.unref();
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error(`shutdown failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  if (slot !== undefined) {
    stopWorker = (why) => stop(`worker ${slot}: ${why}`);
    if (stopAsked) return stopWorker(stopAsked);
    if (server.metrics) linkMetrics(server.metrics);
    reportReady(server.url, startText);
    return;
  }
  process.stdout.write(startText);
  process.on('SIGTERM', () => stop('SIGTERM received'));
  process.on('SIGINT', () => stop('SIGINT received'));
}
