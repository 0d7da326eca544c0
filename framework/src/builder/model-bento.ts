/**
 * `bento build -m <model URI>`: a bento of a model with no service code. It is the model service `bento serve
 * <model URI>` serves, as a tiny project (a package.json naming the framework and the installed plugins that load
 * models, a service.js re-exporting the model service, a bento.yaml packing the model), built as any project is:
 * the model resolved, converted if it needs to be, and packed, so the bento (and its image) serves it with no
 * Python and no MLflow. The project is written beside bento-ts's own installation, so that its lockfile pins the
 * bento's dependencies, and removed after the build.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { StoredBento } from '../bento/bento-store.js';
import { checkTagPart } from '../bento/tag.js';
import { findUp } from '../config/project.js';
import { BuildError } from '../errors.js';
import { BUILTIN_PLUGINS } from '../plugins/loader.js';
import { schemeOf } from '../plugins/registry.js';
import { FRAMEWORK_DIR, FRAMEWORK_VERSION } from '../package-info.js';
import { type BuildOptions, buildBento } from './builder.js';

/**
 * Plugins a served model needs: to find it in the packed store by its URI, and to run it with ONNX Runtime. Not the
 * converters (the bento holds the converted model), nor TF.js (a TF.js model is served from a project).
 */
const SERVING_PLUGINS = BUILTIN_PLUGINS.filter(
  (p) => p !== '@bento-ts/plugin-converters' && p !== '@bento-ts/plugin-tfjs',
);

/** A bento name from the model's URI: the registered model's name, else the artifact's. */
export function modelBentoName(uri: string): string {
  const registered = /^models:\/([^/@]+)/.exec(uri)?.[1];
  const last =
    uri
      .replace(/[?#].*$/, '')
      .split('/')
      .filter(Boolean)
      .pop() ?? 'model';
  const base = registered && !registered.startsWith('m-') ? registered : last;
  const name = base
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '_')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '')
    .slice(0, 63);
  return name || 'mlflow_model';
}

export interface ModelBuildOptions extends Omit<BuildOptions, 'file'> {
  uri: string;
  /** The bento's name (default: from the URI). */
  name?: string;
}

export async function buildModelBento(options: ModelBuildOptions): Promise<StoredBento> {
  if (schemeOf(options.uri) === '' || options.uri.startsWith('file:')) {
    throw new BuildError(
      `bento build -m takes a model URI that names the model wherever the bento is built (runs:/, models:/, s3://…), not the local path ${options.uri}`,
    );
  }
  const name = checkTagPart(options.name ?? modelBentoName(options.uri), 'name');
  const lockFile = findUp(FRAMEWORK_DIR, 'package-lock.json');
  if (!lockFile)
    throw new BuildError(
      `bento-ts at ${FRAMEWORK_DIR} has no package-lock.json above it: install it with npm, so the bento can pin what it runs`,
    );
  // The plugins installed beside bento-ts, at their versions (their package.json is not among their exports).
  const require = createRequire(join(FRAMEWORK_DIR, 'package.json'));
  const versions = new Map<string, string>();
  for (const plugin of SERVING_PLUGINS) {
    let main: string;
    try {
      main = require.resolve(plugin);
    } catch {
      continue;
    }
    const manifest = findUp(dirname(main), 'package.json');
    if (manifest) versions.set(plugin, (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version);
  }
  const dir = join(dirname(lockFile), '.bento', 'build', `${name}-${process.pid}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  try {
    const entries: Array<[string, string]> = [['@bento-ts/framework', FRAMEWORK_VERSION], ...versions];
    const dependencies = Object.fromEntries(entries.sort());
    await writeFile(
      join(dir, 'package.json'),
      `${JSON.stringify({ name, version: '0.0.0', private: true, type: 'module', main: './service.js', dependencies }, null, 2)}\n`,
    );
    await writeFile(
      join(dir, 'service.js'),
      "// The model service of `bento serve <model URI>`.\nexport { ModelService } from '@bento-ts/framework/model-service';\n",
    );
    await writeFile(
      join(dir, 'README.md'),
      `# ${name}\n\nThe model ${options.uri}, served with no service code (bento build -m).\n`,
    );
    await writeFile(join(dir, 'bento.yaml'), `service: .\nname: ${name}\n`);
    if (!existsSync(join(dir, 'package.json'))) throw new BuildError(`could not write the model's project in ${dir}`);
    // The build's environment names the model, as `bento serve` would: it is packed, and served by default.
    return await buildBento({
      ...options,
      file: join(dir, 'bento.yaml'),
      env: { ...(options.env ?? process.env), MODEL_URI: options.uri, MODEL_RUN_ID: undefined, MODEL_NAME: undefined },
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
