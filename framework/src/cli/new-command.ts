import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { TEMPLATES_DIR } from '../package-info.js';
import { NAME_PATTERN } from '../sdk/decorators/service.js';


/** Files whose template name differs from the rendered one (npm strips .gitignore from packages). */
const RENAMES: Record<string, string> = { gitignore: '.gitignore' };

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

export interface NewOptions {
  name?: string;
  template?: string;
  frameworkVersion: string;
}

/** Renders a service scaffold from templates/<template> into `dir`; returns the files written. */
export function renderTemplate(dir: string, options: NewOptions): string[] {
  const target = resolve(dir);
  const name = options.name ?? basename(target).toLowerCase().replace(/[^a-z0-9._-]+/g, '_');
  if (!NAME_PATTERN.test(name) || name.length > 63) {
    throw new ConfigError(`"${name}" is not a valid service name: use lowercase letters, digits, "-", "_" and "."; pass --name`);
  }
  const source = join(TEMPLATES_DIR, options.template ?? 'service');
  if (!existsSync(source)) throw new ConfigError(`no template "${options.template}" in ${TEMPLATES_DIR}`);
  if (existsSync(target) && readdirSync(target).length > 0) throw new ConfigError(`${target} exists and is not empty`);
  const className = name.split(/[-._]/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
  const values: Record<string, string> = { name, className, frameworkVersion: options.frameworkVersion };
  const written: string[] = [];
  for (const file of files(source)) {
    const rel = relative(source, file);
    const out = join(target, RENAMES[rel] ?? rel);
    mkdirSync(join(out, '..'), { recursive: true });
    writeFileSync(out, readFileSync(file, 'utf8').replace(/\{\{(\w+)\}\}/g, (m, key: string) => values[key] ?? m));
    written.push(out);
  }
  return written;
}
