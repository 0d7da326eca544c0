import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { findUp } from '../config/project.js';
import { BuildError } from '../errors.js';
import { type LockEntry, type Lockfile, pruneLock, sortedPackages } from './lockfile.js';

interface PackageJson {
  name?: string;
  version?: string;
  type?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  bin?: unknown;
  engines?: Record<string, string>;
  license?: string;
}

export const PACKAGES_DIR = 'env/node/packages';

/**
 * `npm pack` of a workspace package into `dest`; npm's tarballs are byte-for-byte repeatable.
 * Its pack scripts run (the framework's copies templates/ in): these are bento-ts's own packages.
 */
export function npmPack(packageDir: string, dest: string): { filename: string; integrity: string } {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['pack', packageDir, '--pack-destination', dest, '--json'], { encoding: 'utf8' });
  if (result.status !== 0)
    throw new BuildError(
      `npm pack ${packageDir} failed: ${(result.stderr || result.error?.message || '').trim().split('\n').slice(-3).join(' ')}`,
    );
  const [info] = JSON.parse(result.stdout) as Array<{ filename: string; integrity: string }>;
  if (!info) throw new BuildError(`npm pack ${packageDir} printed nothing`);
  return info;
}

export interface PackedDependencies {
  /** Workspace packages packed into env/node/packages. */
  local: string[];
  /** Third-party packages in the lockfile. */
  thirdParty: number;
  /** Every package the bento installs, by name: what its plugins can come from. */
  names: Set<string>;
}

/**
 * Writes a bento's `package.json` and `package-lock.json` (production
 * dependencies only, cut from the project's lockfile) and packs the workspace
 * packages the service uses (the framework, plugins) into env/node/packages,
 * since they are not on a registry. `npm ci --omit=dev` in the bento then
 * installs exactly what the project was tested with.
 */
export async function writeDependencies(
  serviceDir: string,
  bentoDir: string,
  bento: { name: string },
): Promise<PackedDependencies> {
  const pkg = JSON.parse(await readFile(join(serviceDir, 'package.json'), 'utf8')) as PackageJson;
  const lockFile = findUp(serviceDir, 'package-lock.json');
  if (!lockFile)
    throw new BuildError(
      `no package-lock.json in ${serviceDir} or above; run \`npm install\` first, so the bento pins what you tested`,
    );
  const lock = JSON.parse(await readFile(lockFile, 'utf8')) as Lockfile;
  const lockRoot = dirname(lockFile);
  const from = relative(lockRoot, serviceDir).split(sep).join('/');
  const deps = pkg.dependencies ?? {};
  const pruned = pruneLock(lock, from, deps);

  const packagesDir = join(bentoDir, PACKAGES_DIR);
  if (pruned.locals.length) await mkdir(packagesDir, { recursive: true });
  const packages: Record<string, LockEntry> = { ...pruned.packages };
  const rootDeps: Record<string, string> = { ...deps };
  for (const local of pruned.locals) {
    const dir = join(lockRoot, local.location);
    const localPkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as PackageJson;
    const { filename, integrity } = npmPack(dir, packagesDir);
    const resolved = `file:${PACKAGES_DIR}/${filename}`;
    const entry: LockEntry = { version: localPkg.version, resolved, integrity };
    for (const key of [
      'license',
      'dependencies',
      'optionalDependencies',
      'peerDependencies',
      'bin',
      'engines',
    ] as const) {
      if (localPkg[key] !== undefined) (entry as Record<string, unknown>)[key] = localPkg[key];
    }
    packages[`node_modules/${local.name}`] = entry;
    if (local.name in rootDeps) rootDeps[local.name] = resolved;
  }
  // Packages installed from tarballs on disk (npm install ./x.tgz) travel inside the bento, as workspace packages do.
  for (const [key, entry] of Object.entries(packages)) {
    if (
      !entry.resolved?.startsWith('file:') ||
      !entry.resolved.endsWith('.tgz') ||
      entry.resolved.startsWith(`file:${PACKAGES_DIR}/`)
    )
      continue;
    const tarball = resolve(lockRoot, entry.resolved.slice('file:'.length));
    await mkdir(packagesDir, { recursive: true });
    await copyFile(tarball, join(packagesDir, basename(tarball)));
    const resolved = `file:${PACKAGES_DIR}/${basename(tarball)}`;
    packages[key] = { ...entry, resolved };
    const name = key.replace(/^node_modules\//, '');
    if (rootDeps[name]?.startsWith('file:')) rootDeps[name] = resolved;
  }
  const sortedDeps = Object.fromEntries(Object.entries(rootDeps).sort(([a], [b]) => (a < b ? -1 : 1)));
  const manifest = {
    name: bento.name.replace(/[^a-z0-9._-]/g, '-'),
    version: pkg.version ?? '0.0.0',
    private: true,
    type: 'module',
    dependencies: sortedDeps,
  };
  const bentoLock: Lockfile = {
    name: manifest.name,
    version: manifest.version,
    lockfileVersion: 3,
    requires: true,
    packages: sortedPackages({
      '': { name: manifest.name, version: manifest.version, dependencies: sortedDeps },
      ...packages,
    }),
  };
  await writeFile(join(bentoDir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  await writeFile(join(bentoDir, 'package-lock.json'), JSON.stringify(bentoLock, null, 2) + '\n');
  const names = new Set([
    ...pruned.locals.map((l) => l.name),
    ...Object.keys(pruned.packages).map((path) => path.replace(/^.*node_modules\//, '')),
  ]);
  return { local: pruned.locals.map((l) => l.name), thirdParty: Object.keys(pruned.packages).length, names };
}
