import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';

/** The `.env` files of some directories, merged (an earlier directory's value wins); the files read. */
export function readDotEnvFiles(dirs: string[]): { values: Record<string, string>; files: string[] } {
  const values: Record<string, string> = {};
  const files: string[] = [];
  for (const dir of [...new Set(dirs.map((d) => resolve(d)))].reverse()) {
    const file = resolve(dir, '.env');
    if (!existsSync(file)) continue;
    Object.assign(values, parseEnv(readFileSync(file, 'utf8')));
    files.unshift(file);
  }
  return { values, files };
}

/**
 * Reads `.env` from the working directory (and any other directory given) into
 * `process.env`, as the seed's Makefile and docker-compose do: values already in
 * the environment win.
 */
export function loadDotEnv(dirs: string[] = [process.cwd()]): string[] {
  const { values, files } = readDotEnvFiles(dirs);
  for (const [name, value] of Object.entries(values)) process.env[name] ??= value;
  return files;
}
