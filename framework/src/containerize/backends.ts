/**
 * Container image builders `bento containerize` can drive. Each builds the
 * bento's env/docker/Dockerfile with the bento directory as the build context.
 * docker is the default (as in BentoML), but needs a running engine; podman and
 * buildah build without a daemon.
 */
import { spawnSync } from 'node:child_process';

export type BackendName = 'docker' | 'podman' | 'buildah';
export const BACKENDS: BackendName[] = ['docker', 'podman', 'buildah'];

export interface BuildRequest {
  context: string;
  dockerfile: string;
  tags: string[];
  buildArgs: Record<string, string>;
  /** Passed through as given (e.g. --no-cache, --platform linux/amd64, --storage-driver vfs). */
  extra: string[];
}

export interface ContainerBackend {
  name: BackendName;
  /** Why the backend cannot build here, or undefined when it can. */
  unavailable(): string | undefined;
  command(req: BuildRequest): string[];
}

function runs(cmd: string, args: string[]): { ok: boolean; output: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 15_000 });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`.trim() };
}

function common(req: BuildRequest): string[] {
  return [
    '-f',
    req.dockerfile,
    ...req.tags.flatMap((t) => ['-t', t]),
    ...Object.entries(req.buildArgs).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
  ];
}

const docker: ContainerBackend = {
  name: 'docker',
  unavailable() {
    const info = runs('docker', ['info', '--format', '{{.ServerVersion}}']);
    if (info.ok) return undefined;
    if (/ENOENT/.test(info.output)) return 'the docker CLI is not installed';
    return `docker cannot reach an engine (${info.output.split('\n').pop()})`;
  },
  command: (req) => ['docker', 'build', ...common(req), ...req.extra, req.context],
};

/** podman and buildah: daemonless, so installed means usable. HEALTHCHECK is kept only in the docker image format. */
function daemonless(name: 'podman' | 'buildah'): ContainerBackend {
  return {
    name,
    unavailable: () => (runs(name, ['--version']).ok ? undefined : `${name} is not installed`),
    command: (req) => [name, 'build', '--format', 'docker', ...common(req), ...req.extra, req.context],
  };
}

export const BACKEND_IMPLS: Record<BackendName, ContainerBackend> = {
  docker,
  podman: daemonless('podman'),
  buildah: daemonless('buildah'),
};
