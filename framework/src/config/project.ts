import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.js';

/** The parts of bento.yaml that serving needs (the builder reads the rest). */
export interface BentoYaml {
  service?: string;
  name?: string;
  description?: string;
  plugins?: string[];
}

export interface Project {
  /** Directory of bento.yaml, or of the service project when there is none. */
  root: string;
  /** The service project's directory (holds its package.json); relative model paths resolve here. */
  serviceDir: string;
  /** Compiled JavaScript module of the service. */
  serviceModule: string;
  /** Plugins listed in bento.yaml. */
  plugins: string[];
  config: BentoYaml;
}

export function readBentoYaml(file: string): BentoYaml {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file} is not valid YAML: ${(err as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`${file} must be a YAML mapping`);
  const config = parsed as Record<string, unknown>;
  if (config.service !== undefined && typeof config.service !== 'string') throw new ConfigError(`${file}: "service" must be a path string`);
  if (config.plugins !== undefined && (!Array.isArray(config.plugins) || !config.plugins.every((p) => typeof p === 'string'))) {
    throw new ConfigError(`${file}: "plugins" must be a list of package names or relative paths`);
  }
  return config as BentoYaml;
}

function findUp(start: string, name: string): string | undefined {
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
  if (stale) {
    let tsc: string;
    try {
      tsc = createRequire(tsconfig).resolve('typescript/bin/tsc');
    } catch {
      throw new ConfigError(`${jsFile} is missing or stale and TypeScript is not installed; run \`npm install -D typescript\` or build the service first`);
    }
    const result = spawnSync(process.execPath, [tsc, '-b', tsconfig], { stdio: 'inherit' });
    if (result.status !== 0) throw new ConfigError(`compiling ${tsconfig} failed (tsc exited with ${result.status})`);
  }
  return jsFile;
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
