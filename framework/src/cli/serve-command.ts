import { existsSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { FRAMEWORK_DIR } from '../package-info.js';
import { BentoStore } from '../bento/bento-store.js';
import { parseBentoTag } from '../bento/tag.js';
import { readDotEnvFiles } from '../config/dotenv.js';
import { type ServeFlags, resolveSettings } from '../config/effective-config.js';
import { keyValues } from './key-values.js';
import { type Project, bentoProject, isModelTarget, loadProject, modelProject } from '../config/project.js';
import { fromWorkingDirectory } from '../models/model-selector.js';
import { ConfigError } from '../errors.js';
import { checkSettings, readSettings, settingName } from '../config/settings.js';
import { checkPortFree } from '../server/port-check.js';
import { startServer } from '../server/serve.js';
import { consoleLogger } from '../logging/console-logger.js';
import { runPrimary, serveWorkerCount } from '../server/cluster/primary.js';
import { linkMetrics, onPrimaryStop, reportReady, workerSlot } from '../server/cluster/worker-link.js';
import { importService } from '../server/service-loader.js';
import { useFrameworkModulesFor } from '../bento/resolve-fallback.js';
import type { ApiDefinition } from '../sdk/decorators/api.js';
import type { ProtocolRoute } from '../server/protocols.js';
import { getServiceDefinition } from '../sdk/decorators/service.js';

function title(api: ApiDefinition): string {
  return api.summary ?? api.name.replace(/[_-]+/g, ' ').replace(/\b\w/g, (c) => c.toUpperCase());
}

/** The seed guide's start-up banner, listing every endpoint: the service's, then the standard protocols' prediction routes. */
export function banner(url: string, apis: ApiDefinition[], protocols: ProtocolRoute[] = []): string {
  const lines = [
    ...apis.map((a) => `  - ${title(a)}: ${a.method} ${url}${a.route}`),
    ...protocols.map((p) => `  - ${p.title}: ${p.method} ${url}${p.route}`),
  ];
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

/** A model (URI or path: served with no service code), a path (project, service file, bento directory), else a bento tag in the store. */
async function findTarget(
  target: string,
  storeEnv: () => Readonly<Record<string, string | undefined>>,
): Promise<Project> {
  if (isModelTarget(target)) return modelProject(fromWorkingDirectory(target));
  if (existsSync(target)) return loadProject(target);
  if (isBentoTag(target)) {
    const bento = await BentoStore.fromEnv(storeEnv()).find(target);
    if (bento) return bentoProject(bento.path, bento.manifest);
    throw new ConfigError(`"${target}" is neither a path nor a bento in the store (see: bento list)`);
  }
  throw new ConfigError(`${target} does not exist`);
}

/**
 * A service resolves @bento-ts/framework itself; a different copy than the
 * running CLI's would keep its decorators' registrations where this server
 * never looks (tsyringe's "TypeInfo not known"). Say so, and what to run.
 */
function checkSameFramework(project: Project): void {
  if (project.bento) return;
  let theirs: string;
  try {
    theirs = realpathSync(dirname(createRequire(project.serviceModule).resolve('@bento-ts/framework/package.json')));
  } catch {
    return; // resolved through the running framework (a file outside any project)
  }
  const ours = realpathSync(FRAMEWORK_DIR);
  if (theirs !== ours) {
    throw new ConfigError(
      `${project.serviceModule} uses the @bento-ts/framework in ${theirs}, but this bento command is the one in ${ours}; ` +
        `run the project's own: npx bento serve (from ${project.root})`,
    );
  }
}

/** `@service({ workers })` of the project's service class. */
async function declaredWorkers(project: Project): Promise<number | 'cpu_count' | undefined> {
  if (project.bento) useFrameworkModulesFor(project.bento.path);
  return getServiceDefinition((await importService(project.serviceModule)).cls)?.workers;
}

export interface ServeCommandOptions extends Omit<ServeFlags, 'env'> {
  /** `--env KEY=value` as given. */
  env?: string[];
  reload?: boolean;
  /** mlflow models serve's flags that have no effect here, accepted so that its command lines run as they are. */
  envManager?: string;
  conda?: boolean;
  installMlflow?: boolean;
  enableMlserver?: boolean;
}

/** What `bento serve` and `bento config` serve: the target, its settings resolved in their one precedence. */
export async function resolveServeTarget(target: string, opts: ServeCommandOptions) {
  // The working directory's .env may set BENTO_HOME, where a bento named by its tag is found; it is read, not
  // loaded into process.env, so that its values keep their place (and their source) in the precedence below.
  const project = await findTarget(opts.modelUri ?? target, () => ({
    ...readDotEnvFiles([process.cwd()]).values,
    ...process.env,
  }));
  checkSameFramework(project);
  const { envManager: _m, conda: _c, installMlflow: _i, enableMlserver: _s, ...flags } = opts;
  const settings = resolveSettings(
    project,
    { ...flags, modelUri: project.modelUri, env: keyValues(opts.env, '--env') },
    process.env,
  );
  project.config = settings.config;
  return { project, settings };
}

export async function serveCommand(target: string, opts: ServeCommandOptions): Promise<void> {
  if (opts.reload) {
    const { serveWithReload } = await import('./reload.js');
    return serveWithReload(target, process.argv.slice(2));
  }
  const { project, settings } = await resolveServeTarget(target, opts);
  // One environment for the whole server and its worker processes: defaults < bento.yaml < config file < .env < environment < flags.
  const env = process.env;
  Object.assign(env, settings.env);
  const slot = workerSlot();
  if (project.bento && slot === undefined) {
    process.stderr.write(`serving bento ${project.bento.tag} from ${project.bento.path}\n`);
  }
  if (project.bento) {
    // A packed model may be chosen by its alias from bento.yaml's models: (MODEL_URI=champion).
    for (const name of [settingName('modelUri'), settingName('defaultModel')]) {
      const pinned = env[name] ? project.bento.aliases[env[name].trim()] : undefined;
      if (pinned) env[name] = pinned;
    }
  }
  const serving = readSettings(env);
  // Every setting, before the workers start: a typo is one error here, not a crash in each worker.
  checkSettings(serving);
  const graceSeconds = serving.gracefulTimeoutSeconds;
  // Life-cycle lines in the same format as the start-up lines (JSON, or readable on a terminal).
  const log = consoleLogger('bento');
  if (slot === undefined) {
    // Before the models load, which may take minutes: the port the workers will share, checked once.
    await checkPortFree(serving.port, serving.host);
    const workers = serveWorkerCount(serving.workers ?? (await declaredWorkers(project)));
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
    port: serving.port,
    host: serving.host,
    env,
    releaseStartupMemory: true,
    idleCloseGraceMs: serving.idleCloseGraceMs,
  });
  const startText = banner(server.url, server.apis, server.protocols);
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
