/**
 * `bento build`: turns a service project into a bento, a self-contained,
 * versioned directory in the store (BentoML's layout, for Node):
 *
 *   bento.yaml            manifest: tag, service, APIs, runners, models, env, docker options
 *   README.md             the description
 *   SHA256SUMS            every other file's SHA-256
 *   package.json, package-lock.json   production dependencies, pinned
 *   src/                  the service project's files (compiled JavaScript included)
 *   models/               packed models (a model store)
 *   env/node/packages/    workspace packages as npm tarballs
 *   env/docker/           Dockerfile, health check, scripts
 *   apis/openapi.yaml     the HTTP API
 */
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { type BentoManifest, MANIFEST_FILE, MANIFEST_SPEC, manifestToYaml } from '../bento/manifest.js';
import { BentoStore, type StoredBento } from '../bento/bento-store.js';
import { writeChecksums } from '../bento/checksums.js';
import { checkTagPart, generateVersion } from '../bento/tag.js';
import { type BentoYaml, envFor, envVars, modelRefs, readBentoYaml } from '../config/bento-yaml.js';
import { compileTsconfig, loadProject } from '../config/project.js';
import { BentoExistsError, BuildError } from '../errors.js';
import { consoleLogger } from '../logging/console-logger.js';
import { openApiDocument } from '../openapi/openapi-document.js';
import { BUILTIN_PLUGINS, findPlugins, loadPlugins } from '../plugins/loader.js';
import type { Logger } from '../plugins/types.js';
import { resolveService } from '../definition/resolve-service.js';
import { MODEL_ENV, selectModelUri } from '../models/model-selector.js';
import { schemeOf } from '../plugins/registry.js';
import type { RunnableDefinition } from '../sdk/decorators/runnable.js';
import { importService } from '../server/service-loader.js';
import { FRAMEWORK_VERSION, TEMPLATES_DIR } from '../package-info.js';
import { writeDependencies } from './dependencies.js';
import { DEFAULT_NODE_VERSION, defaultBaseImage, writeDockerFiles } from './dockerfile.js';
import { collectFiles } from './file-set.js';
import { modelsInSources, packModels } from './pack-models.js';

/**
 * The model the build's environment picks (MODEL_URI, MODEL_RUN_ID, MODEL_NAME
 * + MODEL_VERSION, as `bento serve` reads them), to pack and serve by default.
 */
function modelChosenByEnv(
  env: Readonly<Record<string, string | undefined>>,
  runnables: RunnableDefinition[],
): string | undefined {
  if (![MODEL_ENV.uri, MODEL_ENV.runId, MODEL_ENV.name].some((k) => env[k]?.trim())) return undefined;
  const uris = new Set(runnables.filter((r) => typeof r.model === 'function').map((r) => selectModelUri(r.model, env)));
  if (uris.size === 0) return undefined;
  if (uris.size > 1)
    throw new BuildError(
      `the environment picks several models (${[...uris].join(', ')}); list them under models: in bento.yaml instead`,
    );
  const [uri] = [...uris] as [string];
  if (schemeOf(uri) === '' || uri.startsWith('file:')) {
    throw new BuildError(
      `${uri} (from the environment) is a local path; put the model inside the service project, where it is packed with src/, or name it by URI`,
    );
  }
  return uri;
}

export interface BuildOptions {
  /** bento.yaml of the project (default ./bento.yaml). */
  file?: string;
  version?: string;
  labels?: Record<string, string>;
  env?: Readonly<Record<string, string | undefined>>;
  logger?: Logger;
}

function readDescription(config: BentoYaml, root: string, serviceDir: string): string | undefined {
  const d = config.description?.trim();
  if (d?.startsWith('file:')) {
    const file = resolve(root, d.slice(5).trim());
    if (!existsSync(file)) throw new BuildError(`bento.yaml description names ${file}, which does not exist`);
    return readFileSync(file, 'utf8');
  }
  if (d) return d;
  const readme = join(serviceDir, 'README.md');
  return existsSync(readme) ? readFileSync(readme, 'utf8') : undefined;
}

function inside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/** A description's first paragraph that is not a heading, on one line (a README's opening, say), for the manifest. */
export function firstParagraph(text: string): string {
  const lines: string[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed) {
      if (lines.length > 0) break;
      continue;
    }
    if (trimmed.startsWith('#')) {
      if (lines.length > 0) break;
      continue;
    }
    lines.push(trimmed);
  }
  return lines.join(' ');
}

export async function buildBento(options: BuildOptions = {}): Promise<StoredBento> {
  const logger = options.logger ?? consoleLogger('build');
  const yamlFile = resolve(options.file ?? 'bento.yaml');
  if (!existsSync(yamlFile))
    throw new BuildError(`${yamlFile} does not exist; bento build needs a bento.yaml (see: bento new)`);
  const root = dirname(yamlFile);
  const config = readBentoYaml(yamlFile);
  const env = { ...envFor(config, 'build'), ...(options.env ?? process.env) };

  const servicePath = resolve(root, config.service ?? '.');
  const tsconfig = join(
    existsSync(servicePath) && !servicePath.endsWith('.ts') ? servicePath : dirname(servicePath),
    'tsconfig.json',
  );
  if (existsSync(tsconfig)) compileTsconfig(tsconfig);
  const project = loadProject(root);
  if (project.bento) throw new BuildError(`${root} is a built bento, not a project`);
  const { serviceDir } = project;
  const svc = await importService(project.serviceModule);
  // The serving environment's batching settings apply where the bento is served, not here.
  const resolved = resolveService(svc.cls, config);
  const { definition, apis } = resolved;

  const name = checkTagPart(config.name ?? definition.name, 'name');
  const version = options.version ? checkTagPart(options.version, 'version') : generateVersion();
  const tag = `${name}:${version}`;
  const store = BentoStore.fromEnv(env);
  if (await store.find(tag))
    throw new BentoExistsError(
      `bento ${tag} already exists; pick another --version, or delete it (bento delete ${tag})`,
    );

  const staging = await store.staging();
  try {
    logger.info(`building ${tag} from ${serviceDir}`);
    const files = await collectFiles(serviceDir, { include: config.include, exclude: config.exclude });
    const entry = relative(serviceDir, project.serviceModule).split(sep).join('/');
    if (!files.includes(entry))
      throw new BuildError(
        `the compiled service ${entry} is left out by include/exclude (or .bentoignore) in ${yamlFile}`,
      );
    if (!files.includes('package.json'))
      throw new BuildError(`${serviceDir}/package.json is left out by include/exclude; the service needs it`);
    const sizes = new Map<string, number>();
    for (const f of files) {
      await mkdir(dirname(join(staging, 'src', f)), { recursive: true });
      await copyFile(join(serviceDir, f), join(staging, 'src', f));
      sizes.set(f, (await stat(join(staging, 'src', f))).size);
    }

    // Plugins: path plugins travel inside src/; packages (built-in or listed) are installed from the lockfile.
    const plugins = (config.plugins ?? []).map((spec) => {
      if (!spec.startsWith('.') && !isAbsolute(spec)) return spec;
      const abs = resolve(root, spec);
      if (!inside(serviceDir, abs))
        throw new BuildError(
          `plugin ${spec} is outside the service project ${serviceDir}; only files inside it are packed`,
        );
      const rel = relative(serviceDir, abs).split(sep).join('/');
      if (!files.some((f) => f === rel || f.startsWith(`${rel}/`) || f.startsWith(`${rel}.`)))
        throw new BuildError(`plugin ${spec} is left out by include/exclude`);
      return `./src/${rel}`;
    });
    const deps = await writeDependencies(serviceDir, staging, { name });
    logger.info(
      `dependencies: ${deps.local.length} workspace package(s) packed (${deps.local.join(', ') || 'none'}), ${deps.thirdParty} locked from the registry`,
    );
    // A built-in plugin counts only if the bento installs it: one merely resolvable here (a workspace, a dev
    // dependency) would be missing where the bento runs.
    const refs = findPlugins(config.plugins ?? [], serviceDir, root).filter(
      (r) =>
        !BUILTIN_PLUGINS.includes(r.specifier) ||
        (config.plugins ?? []).includes(r.specifier) ||
        deps.names.has(r.specifier),
    );
    const installed = refs.map((r) => r.specifier).filter((s) => BUILTIN_PLUGINS.includes(s));
    const allPlugins = [...installed, ...plugins.filter((p) => !installed.includes(p))];

    // Packing may convert a model (an MLflow pytorch or sklearn one): every plugin found here takes part, while the
    // bento lists only those it installs (serving the converted model needs no converter).
    const registry = await loadPlugins(findPlugins(config.plugins ?? [], serviceDir, root));
    const chosen = modelChosenByEnv(
      env,
      resolved.runners.map((r) => r.definition),
    );
    const wanted = modelRefs(config);
    if (chosen && !wanted.some((r) => r.uri === chosen)) wanted.push({ uri: chosen });
    const models = await packModels(wanted, staging, { registry, project, env, logger });
    const bentoEnv = envVars(config);
    if (chosen && !bentoEnv.some((e) => e.name === MODEL_ENV.bentoDefault)) {
      const pinned = models.find((m) => m.uri === chosen)!.pinned_uri;
      logger.info(
        `the bento serves ${pinned} (chosen by the build's environment) unless MODEL_URI, MODEL_RUN_ID or MODEL_NAME say otherwise`,
      );
      bentoEnv.push({ name: MODEL_ENV.bentoDefault, value: pinned, stage: 'runtime' });
    }

    const docker = config.docker ?? {};
    const nodeVersion = docker.nodeVersion ?? DEFAULT_NODE_VERSION;
    const setupScript = docker.setupScript ? resolve(root, docker.setupScript) : undefined;
    if (setupScript && !existsSync(setupScript))
      throw new BuildError(`docker.setupScript ${setupScript} does not exist`);
    const labels = Object.fromEntries(
      Object.entries({ ...config.labels, ...options.labels }).map(([k, v]) => [k, String(v)]),
    );
    const description = readDescription(config, root, serviceDir);

    const manifest: BentoManifest = {
      spec: MANIFEST_SPEC,
      tag,
      name,
      version,
      bento_ts_version: FRAMEWORK_VERSION,
      creation_time: new Date().toISOString(),
      description: firstParagraph(description ?? definition.description ?? ''),
      labels,
      service: { name: definition.name, class: svc.exportName, entry: `src/${entry}` },
      apis: apis.map((a) => ({
        name: a.name,
        route: a.route,
        method: a.method,
        ...(a.summary ? { summary: a.summary } : {}),
        ...(a.input
          ? { input: { kind: a.input.kind, media_types: a.input.mediaTypes, schema: a.input.requestSchema() } }
          : {}),
        ...(a.output ? { output: a.output.schema } : {}),
        traffic: a.traffic === false ? false : { ...definition.traffic, ...a.traffic },
      })),
      runners: resolved.runners.map(({ definition: r, methods }) => ({
        name: r.name,
        ...(r.workers !== undefined ? { workers: r.workers } : {}),
        ...(r.threadsPerWorker !== undefined ? { threads_per_worker: r.threadsPerWorker } : {}),
        ...(r.backend ? { backend: r.backend } : {}),
        device: r.device ?? 'cpu',
        methods: methods.map((m) => ({
          name: m.name,
          batchable: m.batchable,
          maxBatchSize: m.maxBatchSize,
          maxLatencyMs: m.maxLatencyMs,
          maxQueueSize: m.maxQueueSize,
        })),
      })),
      models,
      source_models: modelsInSources(
        resolved.runners.map((r) => r.definition),
        serviceDir,
        sizes,
      ),
      plugins: allPlugins,
      env: bentoEnv,
      docker: {
        baseImage: docker.baseImage ?? defaultBaseImage(nodeVersion),
        nodeVersion,
        systemPackages: docker.systemPackages ?? [],
        ...(setupScript ? { setupScript: basename(setupScript) } : {}),
      },
      config: {
        workers: config.workers,
        resources: config.resources,
        traffic: config.traffic,
        apis: config.apis,
        runners: config.runners,
      },
    };
    await writeDockerFiles(staging, manifest, join(TEMPLATES_DIR, 'docker'), setupScript);
    await mkdir(join(staging, 'apis'), { recursive: true });
    await writeFile(
      join(staging, 'apis', 'openapi.yaml'),
      stringifyYaml(openApiDocument(definition, apis, version), { lineWidth: 0 }),
    );
    await writeFile(
      join(staging, 'README.md'),
      description ?? `# ${name}\n\nA bento-ts service (${definition.name}).\n`,
    );
    await writeFile(
      join(staging, MANIFEST_FILE),
      manifestToYaml(JSON.parse(JSON.stringify(manifest)) as BentoManifest),
    );
    await writeChecksums(staging);
    const bento = await store.commit(staging, manifest);
    logger.info(`built ${tag} at ${bento.path}`);
    return bento;
  } catch (err) {
    await store.discard(staging);
    throw err;
  }
}
