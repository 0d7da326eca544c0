import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Mustache from 'mustache';
import type { EnvVar } from '../config/bento-yaml.js';
import type { BentoManifest } from '../bento/manifest.js';

/** The Node.js major version a bento's image runs when bento.yaml's `docker.nodeVersion` names none: the active LTS. */
export const DEFAULT_NODE_VERSION = '24';

/** The default base image: the official slim Node.js image of that major version. */
export function defaultBaseImage(nodeVersion: string): string {
  return `node:${nodeVersion}-bookworm-slim`;
}

/** A Dockerfile ENV value: double-quoted, with what the shell form would expand escaped. */
function quoted(value: string): string {
  return `"${value.replace(/[\\"$`]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;
}

const envLines = (env: EnvVar[], stage: 'build' | 'runtime') =>
  env.filter((e) => e.stage === 'all' || e.stage === stage).map((e) => ({ name: e.name, quoted: quoted(e.value) }));

/**
 * Writes `env/docker/` of a bento: the Dockerfile rendered from
 * templates/docker/Dockerfile, the health check and the dependency pruning
 * script it runs, and the user's setup script when there is one.
 */
export async function writeDockerFiles(
  bentoDir: string,
  manifest: BentoManifest,
  templatesDir: string,
  setupScript?: string,
): Promise<void> {
  const out = join(bentoDir, 'env', 'docker');
  await mkdir(out, { recursive: true });
  const template = await readFile(join(templatesDir, 'Dockerfile'), 'utf8');
  const view = {
    tag: manifest.tag,
    frameworkVersion: manifest.bento_ts_version,
    baseImage: manifest.docker.baseImage,
    systemPackages: manifest.docker.systemPackages,
    setupScript: Boolean(setupScript),
    hasModels: manifest.models.length > 0,
    buildEnv: envLines(manifest.env, 'build'),
    runtimeEnv: envLines(manifest.env, 'runtime'),
  };
  await writeFile(join(out, 'Dockerfile'), Mustache.render(template, view, {}, { escape: (s: string) => s }));
  for (const file of ['healthcheck.mjs', 'prune-node-modules.sh'])
    await copyFile(join(templatesDir, file), join(out, file));
  if (setupScript) {
    await copyFile(setupScript, join(out, 'setup_script'));
    await chmod(join(out, 'setup_script'), 0o755);
  }
}
