import { existsSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import ignore from 'ignore';

/** Never packed: installed dependencies, VCS data and bento-ts's own run files. */
const ALWAYS_EXCLUDED = ['node_modules/', '.git/', '.bento/', '*.tsbuildinfo', '.env', '.env.*'];

export interface FileSetOptions {
  /** gitignore-style patterns of files to pack; default: everything. */
  include?: string[];
  /** gitignore-style patterns left out after `include`. */
  exclude?: string[];
}

/**
 * The files of a service project that go into a bento's `src/`, as POSIX paths
 * relative to `dir`, sorted. Patterns follow .gitignore (as BentoML's
 * include/exclude do); `.bentoignore` files add exclusions for their directory.
 */
export async function collectFiles(dir: string, options: FileSetOptions = {}): Promise<string[]> {
  const include = options.include?.length ? ignore().add(options.include) : undefined;
  const exclude = ignore()
    .add(ALWAYS_EXCLUDED)
    .add(options.exclude ?? []);
  const out: string[] = [];
  const walk = async (abs: string, bentoignores: Array<{ base: string; rules: ReturnType<typeof ignore> }>) => {
    const ignoreFile = join(abs, '.bentoignore');
    const rules = existsSync(ignoreFile)
      ? [
          ...bentoignores,
          { base: relative(dir, abs).split(sep).join('/'), rules: ignore().add(readFileSync(ignoreFile, 'utf8')) },
        ]
      : bentoignores;
    const entries = (await readdir(abs, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      const rel = relative(dir, join(abs, entry.name)).split(sep).join('/');
      const probe = entry.isDirectory() ? `${rel}/` : rel;
      if (exclude.ignores(probe)) continue;
      if (rules.some((r) => r.rules.ignores(r.base ? probe.slice(r.base.length + 1) : probe))) continue;
      if (entry.isDirectory()) await walk(join(abs, entry.name), rules);
      else if (entry.isFile() && (!include || include.ignores(rel))) out.push(rel);
    }
  };
  await walk(dir, []);
  return out.sort();
}
