/**
 * The container images a page builds, removed once it has been followed. They go into buildah's storage (vfs,
 * shared with podman and the engine `make docker-engine` starts), where every layer is a full copy of the image's
 * file system: a page's `docker build` through the engine, with its layer cache, took 4 GB here, and a suite that
 * kept them filled the disk of a machine with 15 GB free.
 *
 * Removed: the images tagged while the page ran whose repository the page itself names (the other lanes' images are
 * named elsewhere), then every untagged image (the engine's layer cache: `buildah build`, which the other lanes
 * use, leaves none). Where buildah is not installed, the page built nothing there.
 */
import { execFileSync } from 'node:child_process';

const STORAGE = ['--storage-driver', process.env.STORAGE_DRIVER ?? 'vfs'];

function buildah(args: string[]): string | undefined {
  try {
    return execFileSync('buildah', [...STORAGE, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

/** The named images in the storage: repository:tag → image id. */
export function taggedImages(): Map<string, string> {
  const out = buildah(['images', '--no-trunc', '--format', '{{.Name}}:{{.Tag}} {{.ID}}']) ?? '';
  return new Map(
    out
      .split('\n')
      .filter((line) => line && !line.startsWith('<none>'))
      .map((line) => line.trim().split(/\s+/) as [string, string]),
  );
}

/** Removes what `page` (its text) built since `before` was listed; returns the names it removed. */
export function removePageImages(text: string, before: Map<string, string>): string[] {
  // New names, and names moved to a new image (a page run again rebuilds its tags).
  const built = [...taggedImages()]
    .flatMap(([name, id]) => (before.get(name) === id ? [] : [name]))
    .filter((name) => {
      // docker.io/library/deployed:1.0 is written `deployed:1.0`; a bento's image is tagged with its generated version.
      const repository = name.replace(/^(docker\.io\/library|localhost)\//, '').replace(/:[^:/]+$/, '');
      return text.includes(`${repository}:`);
    });
  const removed = built.filter((name) => buildah(['rmi', name]) !== undefined);
  // Each untagged image in turn: a cache layer is untagged only once its children are gone, so repeat until none go.
  for (let round = 0; round < 50; round++) {
    const dangling = (buildah(['images', '-q', '--filter', 'dangling=true']) ?? '').split('\n').filter(Boolean);
    if (dangling.filter((id) => buildah(['rmi', id]) !== undefined).length === 0) break;
  }
  return removed;
}
