import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PluginError } from '../errors.js';
import { Registry } from './registry.js';
import type { BentoPlugin } from './types.js';

/**
 * Plugins used when installed, without being listed. The framework names them
 * but never imports them statically: a project that does not depend on one
 * simply does not get it.
 */
export const BUILTIN_PLUGINS = [
  '@bento-ts/plugin-local',
  '@bento-ts/plugin-onnx',
  '@bento-ts/plugin-mlflow',
  '@bento-ts/plugin-tfjs',
  '@bento-ts/plugin-converters',
];

export interface PluginRef {
  /** As written by the user (package name or relative path). */
  specifier: string;
  /** Absolute file path of the module; what workers import. */
  file: string;
}

function isPathSpecifier(spec: string): boolean {
  return spec.startsWith('.') || isAbsolute(spec);
}

function resolveSpecifier(spec: string, fromDir: string): string | undefined {
  const require = createRequire(join(fromDir, 'package.json'));
  try {
    return require.resolve(isPathSpecifier(spec) ? resolve(fromDir, spec) : spec);
  } catch {
    return undefined;
  }
}

/**
 * Finds the modules of the built-in plugins that are installed and of the
 * plugins listed in bento.yaml. Package names resolve from `fromDir` (the
 * service project, where its node_modules are); paths from `pathsFrom` (the
 * directory of bento.yaml), and from `fallbackFrom` (the running framework's
 * installation, for a built bento or a model served with no project) when
 * `fromDir` has none. Listed plugins that cannot be found are an error.
 */
export function findPlugins(
  listed: string[],
  fromDir: string,
  pathsFrom = fromDir,
  fallbackFrom?: string,
): PluginRef[] {
  const refs: PluginRef[] = [];
  for (const spec of BUILTIN_PLUGINS) {
    if (listed.includes(spec)) continue;
    const file = resolveSpecifier(spec, fromDir) ?? (fallbackFrom ? resolveSpecifier(spec, fallbackFrom) : undefined);
    if (file) refs.push({ specifier: spec, file });
  }
  for (const spec of listed) {
    const base = isPathSpecifier(spec) ? pathsFrom : fromDir;
    const file =
      resolveSpecifier(spec, base) ??
      (fallbackFrom && !isPathSpecifier(spec) ? resolveSpecifier(spec, fallbackFrom) : undefined);
    if (!file) {
      throw new PluginError(
        `plugin "${spec}" listed in bento.yaml cannot be found from ${base}.` +
          (isPathSpecifier(spec) ? ' Check the path (relative to bento.yaml).' : ` Run \`npm install ${spec}\`.`),
      );
    }
    refs.push({ specifier: spec, file });
  }
  return refs;
}

async function importPlugin(ref: PluginRef): Promise<BentoPlugin> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(ref.file).href)) as Record<string, unknown>;
  } catch (err) {
    throw new PluginError(`plugin "${ref.specifier}" failed to load: ${(err as Error).message}`, { cause: err });
  }
  return (mod.default ?? mod.plugin) as BentoPlugin;
}

/** Imports plugins in order and registers them into a fresh registry. */
export async function loadPlugins(refs: PluginRef[]): Promise<Registry> {
  const registry = new Registry();
  for (const ref of refs) await registry.use(await importPlugin(ref), ref.specifier);
  return registry;
}
