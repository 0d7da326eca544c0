/**
 * Cuts a bento's lockfile out of the project's own (npm lockfile v2/v3), so the
 * image installs exactly the versions the project was tested with, and only
 * what production needs. Workspace packages (the framework, plugins) are not
 * on a registry: they are returned separately, to be packed as tarballs.
 */
import { posix } from 'node:path';
import { BuildError } from '../errors.js';

export interface LockEntry {
  name?: string;
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  peer?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [key: string]: unknown;
}

export interface Lockfile {
  name?: string;
  version?: string;
  lockfileVersion: number;
  requires?: boolean;
  packages: Record<string, LockEntry>;
}

export interface LocalPackageRef {
  name: string;
  /** Folder of the package, relative to the lockfile's directory. */
  location: string;
}

export interface PrunedLock {
  /** Third-party entries, keyed by where they go in the bento's node_modules. */
  packages: Record<string, LockEntry>;
  /** Workspace packages reached, in the order found. */
  locals: LocalPackageRef[];
}

/** Finds `name` as Node does from `from` (a lockfile location): the nearest node_modules up the tree. */
function locate(lock: Lockfile, name: string, from: string): string | undefined {
  let dir = from;
  for (;;) {
    const key = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
    if (lock.packages[key]) return key;
    if (!dir) return undefined;
    const parent = posix.dirname(dir);
    dir = parent === '.' ? '' : parent;
  }
}

/**
 * Walks the production dependencies of `deps`, required from the lockfile
 * location `from`. Entries nested inside a workspace folder move under that
 * package's place in node_modules.
 */
export function pruneLock(lock: Lockfile, from: string, deps: Record<string, string>): PrunedLock {
  if (!lock.packages || lock.lockfileVersion < 2) {
    throw new BuildError(
      'the project lockfile is older than lockfile v2; run `npm install` with npm 7 or newer to upgrade it',
    );
  }
  const packages: Record<string, LockEntry> = {};
  const locals = new Map<string, LocalPackageRef>();
  // Workspace folder → the node_modules path its package takes in the bento.
  const placeOf = new Map<string, string>();
  const target = (key: string): string => {
    for (const [folder, place] of placeOf) {
      if (key.startsWith(`${folder}/node_modules/`)) return `${place}${key.slice(folder.length)}`;
    }
    return key;
  };
  const queue: Array<{ name: string; from: string; optional: boolean }> = Object.keys(deps).map((name) => ({
    name,
    from,
    optional: false,
  }));
  const seen = new Set<string>();
  while (queue.length) {
    const { name, from: at, optional } = queue.shift()!;
    const key = locate(lock, name, at);
    if (!key) {
      if (optional) continue;
      throw new BuildError(
        `"${name}" (needed from ${at || 'the project root'}) is not in the lockfile; run \`npm install\` and build again`,
      );
    }
    if (seen.has(key)) continue;
    seen.add(key);
    const entry = lock.packages[key];
    if (entry.link) {
      const folder = entry.resolved!;
      const ws = lock.packages[folder];
      if (!ws) throw new BuildError(`the lockfile links ${name} to ${folder}, which it does not describe`);
      placeOf.set(folder, `node_modules/${name}`);
      locals.set(name, { name, location: folder });
      enqueue(ws, folder);
      continue;
    }
    const { dev: _d, devOptional: _o, peer: _p, ...kept } = entry;
    packages[target(key)] = optional ? { ...kept, optional: true } : kept;
    enqueue(entry, key);
  }
  return { packages, locals: [...locals.values()] };

  function enqueue(entry: LockEntry, at: string): void {
    for (const name of Object.keys(entry.dependencies ?? {})) queue.push({ name, from: at, optional: false });
    for (const name of Object.keys(entry.optionalDependencies ?? {})) queue.push({ name, from: at, optional: true });
    for (const name of Object.keys(entry.peerDependencies ?? {})) {
      queue.push({ name, from: at, optional: entry.peerDependenciesMeta?.[name]?.optional === true });
    }
  }
}

/** Sorts keys the way npm writes them (root first, then by path). */
export function sortedPackages(packages: Record<string, LockEntry>): Record<string, LockEntry> {
  return Object.fromEntries(
    Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)),
  );
}
