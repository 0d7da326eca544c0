import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as TS from 'typescript';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { FRAMEWORK_DIR } from '../package-info.js';
import { ConfigError } from '../errors.js';
import { type BentoManifest, parseManifest } from '../bento/manifest.js';
import { type BentoYaml, readBentoYaml } from './bento-yaml.js';

export interface Project {
  /** Directory of bento.yaml, or of the service project when there is none; a built bento's own directory. */
  root: string;
  /** The service project's directory (holds its package.json); relative model paths resolve here. */
  serviceDir: string;
  /** Compiled JavaScript module of the service. */
  serviceModule: string;
  /** Plugins listed in bento.yaml (a built bento lists every plugin it was built with). */
  plugins: string[];
  config: BentoYaml;
  /** Model store to resolve models with instead of BENTO_HOME's: a built bento's packed `models/`. */
  modelStoreRoot?: string;
  /** Set when serving a built bento; `aliases` maps each packed model's alias to the URI that names it exactly. */
  bento?: { tag: string; path: string; aliases: Record<string, string> };
  /** Set when serving a model with no service code (`bento serve <model URI>`): the framework's model service serves it. */
  modelUri?: string;
}

/** The service `bento serve <model URI>` serves (zero-code/model-service.ts, compiled). */
export const MODEL_SERVICE_MODULE = join(FRAMEWORK_DIR, 'dist', 'src', 'zero-code', 'model-service.js');

/** URI schemes that name a model (not a service or a bento) when `bento serve` is given one. */
const MODEL_URI = /^(runs|models|mlflow-artifacts|s3|gs|wasbs|https?|file):/i;

/** Whether a directory holds a project: bento.yaml, a package.json, or a service.ts. */
export function isProjectDir(dir: string): boolean {
  return ['bento.yaml', 'package.json', 'service.ts', join('src', 'service.ts')].some((f) => existsSync(join(dir, f)));
}

/**
 * Whether `bento serve <target>` is given a model rather than a service: a model URI, a `.onnx` or TF.js
 * `model.json` file, or a directory holding an MLflow model (MLmodel) or model files but no project.
 */
export function isModelTarget(target: string): boolean {
  if (MODEL_URI.test(target)) return true;
  const abs = resolve(target);
  if (!existsSync(abs)) return false;
  if (statSync(abs).isFile()) return /\.onnx$/i.test(abs) || basename(abs) === 'model.json';
  if (isProjectDir(abs)) return false;
  return (
    existsSync(join(abs, 'MLmodel')) ||
    existsSync(join(abs, 'model.json')) ||
    readdirSync(abs).some((f) => f.toLowerCase().endsWith('.onnx'))
  );
}

/** A model served with no service code, from the working directory (its relative paths, its .env). */
export function modelProject(uri: string, cwd = process.cwd()): Project {
  return { root: cwd, serviceDir: cwd, serviceModule: MODEL_SERVICE_MODULE, plugins: [], config: {}, modelUri: uri };
}

/** The nearest `name` in `start` or a directory above it. */
export function findUp(start: string, name: string): string | undefined {
  let dir = start;
  for (;;) {
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function readJson(file: string): Record<string, unknown> {
  // tsconfig files may hold comments and trailing commas; strip the common forms.
  const text = readFileSync(file, 'utf8')
    .replace(/^\s*\/\/.*$/gm, '')
    .replace(/,(\s*[}\]])/g, '$1');
  return JSON.parse(text) as Record<string, unknown>;
}

/**
 * The tsconfig that compiles a TypeScript service file: the nearest
 * tsconfig.json above it, else one bento-ts writes into `.bento/` beside the
 * file (ES modules, legacy decorators with their metadata) so that a lone
 * service.ts serves with no setup.
 */
export function tsconfigFor(tsFile: string): string {
  const found = findUp(dirname(tsFile), 'tsconfig.json');
  if (found) return found;
  const dir = join(dirname(tsFile), '.bento');
  const file = join(dir, 'tsconfig.serve.json');
  const config = {
    compilerOptions: {
      target: 'ES2022',
      module: 'ESNext',
      moduleResolution: 'Bundler',
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      useDefineForClassFields: false,
      strict: true,
      skipLibCheck: true,
      rootDir: '..',
      outDir: 'build',
    },
    files: [join('..', basename(tsFile))],
  };
  mkdirSync(join(dir, 'build'), { recursive: true });
  // The output is ES modules whatever the project's package.json says.
  writeFileSync(join(dir, 'build', 'package.json'), '{ "type": "module" }\n');
  const text = JSON.stringify(config, null, 2) + '\n';
  if (!existsSync(file) || readFileSync(file, 'utf8') !== text) writeFileSync(file, text);
  return file;
}

/**
 * Maps a TypeScript source file to the JavaScript file tsc emits for it, using
 * its tsconfig's rootDir/outDir, compiling first when the output is missing or
 * older than the source (so decorator metadata is intact).
 */
export function compiledModuleFor(tsFile: string): string {
  const tsconfig = tsconfigFor(tsFile);
  const base = dirname(tsconfig);
  const options = (readJson(tsconfig).compilerOptions ?? {}) as { rootDir?: string; outDir?: string };
  const rootDir = resolve(base, options.rootDir ?? '.');
  const outDir = resolve(base, options.outDir ?? '.');
  const output = (ts: string) => join(outDir, relative(rootDir, ts)).replace(/\.(c|m)?tsx?$/, '.$1js');
  const jsFile = output(tsFile);
  // A lone service.ts compiles what it imports, nothing else: its directory may be large (a home directory).
  const sources = isGeneratedTsconfig(tsconfig) ? importedSources(tsFile, tsconfig) : undefined;
  const stale =
    !existsSync(jsFile) ||
    (sources
      ? sources.some((ts) => !(mtime(output(ts)) >= mtime(ts)))
      : newest(outDir, /\.(c|m)?js$/) < newest(rootDir, /\.(c|m)?tsx?$/, outDir));
  if (stale) compileTsconfig(tsconfig, `${jsFile} is missing or older than its sources`);
  return jsFile;
}

const isGeneratedTsconfig = (tsconfig: string) => tsconfig.endsWith(join('.bento', 'tsconfig.serve.json'));
const mtime = (file: string) => (existsSync(file) ? statSync(file).mtimeMs : -1);

/**
 * `entry` and the local TypeScript files it imports, transitively (relative specifiers only; packages are not
 * compiled). Read with TypeScript's own import scanner; undefined when TypeScript cannot be loaded.
 */
function importedSources(entry: string, tsconfig: string): string[] | undefined {
  const tsc = tscFor(tsconfig);
  let ts: typeof TS;
  try {
    ts = createRequire(tsc ?? tsconfig)('typescript') as typeof TS;
  } catch {
    return undefined;
  }
  const seen = new Set([entry]);
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    for (const { fileName } of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const found = localTypeScript(resolve(dirname(file), fileName));
      if (found && !seen.has(found)) {
        seen.add(found);
        queue.push(found);
      }
    }
  }
  return [...seen];
}

/** The TypeScript file an import specifier names: `./x.js` is `./x.ts` in source, `./x` may be `./x/index.ts`. */
function localTypeScript(target: string): string | undefined {
  const stem = target.replace(/\.(c|m)?jsx?$/, '');
  const candidates = [target, `${stem}.ts`, `${stem}.tsx`, `${stem}.mts`, `${stem}.cts`, join(target, 'index.ts')];
  return candidates.find(
    (c) => /\.(c|m)?tsx?$/.test(c) && !c.endsWith('.d.ts') && existsSync(c) && statSync(c).isFile(),
  );
}

const NOT_SOURCES = new Set(['node_modules', '.bento', '.git']);

/**
 * Modification time of the newest file matching `pattern` under `dir` (outside `skip`).
 * Output older than any source is stale: a changed module, not just the entry, needs a compile.
 */
function newest(dir: string, pattern: RegExp, skip?: string): number {
  let latest = 0;
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) {
        if (!NOT_SOURCES.has(entry.name) && path !== skip) walk(path);
      } else if (pattern.test(entry.name) && !entry.name.endsWith('.d.ts')) {
        latest = Math.max(latest, statSync(path).mtimeMs);
      }
    }
  };
  if (existsSync(dir)) walk(dir);
  return latest;
}

/** The TypeScript compiler: the project's own, else the one installed beside bento-ts. */
function tscFor(tsconfig: string): string | undefined {
  for (const from of [tsconfig, join(FRAMEWORK_DIR, 'package.json')]) {
    try {
      return createRequire(from).resolve('typescript/bin/tsc');
    } catch {
      // try the next place
    }
  }
  return undefined;
}

/**
 * Runs tsc on a tsconfig (tsc keeps decorator metadata; esbuild and tsx drop it): `tsc -b` on a project's, `tsc -p`
 * on the one generated for a lone service.ts, whose only root file is the service: `tsc -b` looks at a project's
 * root files alone to decide it is up to date, and would not see a change to a module the service imports.
 */
export function compileTsconfig(tsconfig: string, why = 'the service must be compiled'): void {
  const tsc = tscFor(tsconfig);
  if (!tsc)
    throw new ConfigError(
      `${why} and TypeScript is not installed; run \`npm install -D typescript\` or build the service first`,
    );
  const result = spawnSync(process.execPath, [tsc, isGeneratedTsconfig(tsconfig) ? '-p' : '-b', tsconfig], {
    stdio: ['ignore', 2, 2],
  });
  if (result.status !== 0)
    throw new ConfigError(`compiling ${tsconfig} failed (tsc exited with ${result.status}); fix the errors above`);
}

/** The TypeScript source a service project or file is compiled from, if it is TypeScript. */
export function typescriptSourceOf(target: string): string | undefined {
  const abs = resolve(target);
  if (/\.(c|m)?tsx?$/.test(abs)) return abs;
  const dir = existsSync(abs) && statSync(abs).isDirectory() ? abs : dirname(abs);
  for (const candidate of ['src/service.ts', 'service.ts'])
    if (existsSync(join(dir, candidate))) return join(dir, candidate);
  return undefined;
}

/** The compiled entry of a service project directory: package.json `main`, else dist/src/service.js or dist/service.js. */
function serviceEntryOf(dir: string): string {
  const pkgFile = join(dir, 'package.json');
  const main = existsSync(pkgFile) ? (readJson(pkgFile) as { main?: string }).main : undefined;
  // A TypeScript project is compiled when its output is missing or stale: serving needs no separate build step.
  const source = typescriptSourceOf(dir);
  const compiled = source ? compiledModuleFor(source) : undefined;
  if (main) return resolve(dir, main);
  if (compiled) return compiled;
  throw new ConfigError(`${dir} is not a service project: it has no package.json "main" and no service.ts`);
}

function serviceDirOf(file: string): string {
  const pkg = findUp(dirname(file), 'package.json');
  return pkg ? dirname(pkg) : dirname(file);
}

/**
 * Locates what `bento serve [target]` serves: a directory with bento.yaml
 * (whose `service` names the service project or file), a service project
 * directory, or a service file (.ts is compiled with tsc first; .js as is).
 */
export function loadProject(target = '.'): Project {
  const abs = resolve(target);
  if (!existsSync(abs)) throw new ConfigError(`${abs} does not exist`);
  let root = abs;
  let config: BentoYaml = {};
  let entry: string;
  if (statSync(abs).isDirectory()) {
    const yamlFile = join(abs, 'bento.yaml');
    const manifest = existsSync(yamlFile) ? builtManifest(yamlFile) : undefined;
    if (manifest) return bentoProject(abs, manifest);
    if (existsSync(yamlFile)) config = readBentoYaml(yamlFile);
    const servicePath = config.service ? resolve(abs, config.service) : abs;
    if (!existsSync(servicePath))
      throw new ConfigError(`bento.yaml names service "${config.service}", but ${servicePath} does not exist`);
    entry = statSync(servicePath).isDirectory() ? serviceEntryOf(servicePath) : servicePath;
  } else {
    entry = abs;
    root = dirname(abs);
  }
  if (/\.(c|m)?tsx?$/.test(entry)) entry = compiledModuleFor(entry);
  if (!existsSync(entry))
    throw new ConfigError(`the service module ${entry} does not exist; build the project first (make build)`);
  return { root, serviceDir: serviceDirOf(entry), serviceModule: entry, plugins: config.plugins ?? [], config };
}

/** The manifest of a built bento's bento.yaml, or undefined for a project's build config. */
function builtManifest(file: string): BentoManifest | undefined {
  const text = readFileSync(file, 'utf8');
  if (!/^spec: \d+$/m.test(text) || !/^tag: /m.test(text)) return undefined;
  return parseManifest(text, dirname(file));
}

/** A built bento as a project: its service under src/, its packed models as the model store. */
export function bentoProject(dir: string, manifest: BentoManifest): Project {
  const serviceModule = join(dir, manifest.service.entry);
  if (!existsSync(serviceModule))
    throw new ConfigError(`the bento at ${dir} is damaged: its service module ${manifest.service.entry} is missing`);
  return {
    root: dir,
    serviceDir: serviceDirOf(serviceModule),
    serviceModule,
    plugins: manifest.plugins,
    config: { ...manifest.config, name: manifest.name, env: manifest.env },
    modelStoreRoot: dir,
    bento: {
      tag: manifest.tag,
      path: dir,
      aliases: Object.fromEntries(manifest.models.filter((m) => m.alias).map((m) => [m.alias!, m.pinned_uri])),
    },
  };
}
