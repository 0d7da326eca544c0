import { readSettings } from '../config/settings.js';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { StoredBento } from '../bento/bento-store.js';
import { ContainerizeError } from '../errors.js';
import { BACKENDS, BACKEND_IMPLS, type BackendName, type ContainerBackend } from './backends.js';

export interface ContainerizeOptions {
  /** Image tags; default the bento's tag (`name:version`). */
  tags?: string[];
  /** A backend by name; default BENTO_CONTAINERIZE_BACKEND, else the first usable of docker, podman, buildah. */
  backend?: string;
  buildArgs?: Record<string, string>;
  extra?: string[];
  env?: Readonly<Record<string, string | undefined>>;
  /** Prints the command instead of running it. */
  dryRun?: boolean;
}

export function chooseBackend(requested: string | undefined): ContainerBackend {
  if (requested) {
    if (!BACKENDS.includes(requested as BackendName))
      throw new ContainerizeError(`unknown backend "${requested}"; use one of ${BACKENDS.join(', ')}`);
    const backend = BACKEND_IMPLS[requested as BackendName];
    const why = backend.unavailable();
    if (why) throw new ContainerizeError(`backend ${requested} cannot build here: ${why}`);
    return backend;
  }
  const reasons: string[] = [];
  for (const name of BACKENDS) {
    const why = BACKEND_IMPLS[name].unavailable();
    if (!why) return BACKEND_IMPLS[name];
    reasons.push(`${name}: ${why}`);
  }
  throw new ContainerizeError(
    `no container builder is usable (${reasons.join('; ')}). Install podman or buildah to build without a Docker engine`,
  );
}

/** Builds the bento's image; resolves with the command run once the builder exits 0. */
export async function containerize(
  bento: StoredBento,
  options: ContainerizeOptions = {},
): Promise<{ backend: BackendName; command: string[]; tags: string[] }> {
  const env = options.env ?? process.env;
  const settings = readSettings(env);
  const backend = chooseBackend(options.backend ?? settings.containerizeBackend);
  const tags = options.tags?.length ? options.tags : [bento.manifest.tag];
  // The bento's Dockerfile names its base as ARG BASE_IMAGE; the environment can point it at a registry mirror
  // (or a local stand-in) without rebuilding the bento, and an explicit --build-arg still wins.
  const buildArgs = { ...(settings.baseImage ? { BASE_IMAGE: settings.baseImage } : {}), ...options.buildArgs };
  const command = backend.command({
    context: bento.path,
    dockerfile: join(bento.path, 'env', 'docker', 'Dockerfile'),
    tags,
    buildArgs,
    extra: options.extra ?? [],
  });
  if (options.dryRun) return { backend: backend.name, command, tags };
  // The builder's output is progress: stderr, so that stdout holds only the result (-o json).
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 2, 2], env: { ...process.env, ...env } });
    child.on('error', reject);
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  });
  if (code !== 0)
    throw new ContainerizeError(
      `${backend.name} exited with ${code} while building ${tags.join(', ')} (command: ${command.join(' ')})`,
    );
  return { backend: backend.name, command, tags };
}
