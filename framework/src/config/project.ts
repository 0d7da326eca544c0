import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
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
  const text = readFileSync(file, 'utf8').replace(/^\s*\/\/.*$/gm, '').replace(/,(\s*[}\]])/g, '$1');
  return JSON.parse(text) as Record<string, unknown>;
}

/**
 * Maps a TypeScript source file to the JavaScript file tsc emits for it, using
 * the nearest tsconfig.json's rootDir/outDir, compiling first when the output
 * is missing or older than the source (so decorator metadata is intact).
 */
export function compiledModuleFor(tsFile: string): string {
  const tsconfig = findUp(dirname(tsFile), 'tsconfig.json');
  if (!tsconfig) throw new ConfigError(`no tsconfig.json found above ${tsFile}; bento-ts compiles services with tsc`);
  const base = dirname(tsconfig);
  const options = (readJson(tsconfig).compilerOptions ?? {}) as { rootDir?: string; outDir?: string };
  const rootDir = resolve(base, options.rootDir ?? '.');
  const outDir = resolve(base, options.outDir ?? '.');
  const jsFile = join(outDir, relative(rootDir, tsFile)).replace(/\.(c|m)?tsx?$/, '.$1js');
  const stale = !existsSync(jsFile) || statSync(jsFile).mtimeMs < statSync(tsFile).mtimeMs;
  if (stale) compileTsconfig(tsconfig, `${jsFile} is missing or stale`);
  return jsFile;
}

/** Runs `tsc -b` on a tsconfig with the TypeScript the project installs (tsc keeps decorator metadata; esbuild and tsx drop it). */
export function compileTsconfig(tsconfig: string, why = 'the service must be compiled'): void {
  let tsc: string;
  try {
    tsc = createRequire(tsconfig).resolve('typescript/bin/tsc');
  } catch {
    throw new ConfigError(`${why} and TypeScript is not installed; run \`npm install -D typescript\` or build the service first`);
  }
  const result = spawnSync(process.execPath, [tsc, '-b', tsconfig], { stdio: 'inherit' });
  if (result.status !== 0) throw new ConfigError(`compiling ${tsconfig} failed (tsc exited with ${result.status})`);
}

/** The compiled entry of a service project directory: package.json `main`, else dist/src/service.js or dist/service.js. */
function serviceEntryOf(dir: string): string {
  const pkgFile = join(dir, 'package.json');
  if (existsSync(pkgFile)) {
    const main = (readJson(pkgFile) as { main?: string }).main;
    if (main) return resolve(dir, main);
  }
  for (const candidate of ['src/service.ts', 'service.ts']) {
    if (existsSync(join(dir, candidate))) return compiledModuleFor(join(dir, candidate));
  }
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
    if (!existsSync(servicePath)) throw new ConfigError(`bento.yaml names service "${config.service}", but ${servicePath} does not exist`);
    entry = statSync(servicePath).isDirectory() ? serviceEntryOf(servicePath) : servicePath;
  } else {
    entry = abs;
    root = dirname(abs);
  }
  if (/\.(c|m)?tsx?$/.test(entry)) entry = compiledModuleFor(entry);
  if (!existsSync(entry)) throw new ConfigError(`the service module ${entry} does not exist; build the project first (make build)`);
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
  if (!existsSync(serviceModule)) throw new ConfigError(`the bento at ${dir} is damaged: its service module ${manifest.service.entry} is missing`);
  return {
    root: dir,
    serviceDir: serviceDirOf(serviceModule),
    serviceModule,
    plugins: manifest.plugins,
    config: { ...manifest.config, name: manifest.name, env: manifest.env },
    modelStoreRoot: dir,
    bento: { tag: manifest.tag, path: dir, aliases: Object.fromEntries(manifest.models.filter((m) => m.alias).map((m) => [m.alias!, m.pinned_uri])) },
  };
}
