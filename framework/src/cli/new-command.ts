import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError } from '../errors.js';
import { FRAMEWORK_DIR, TEMPLATES_DIR } from '../package-info.js';
import { BUILTIN_PLUGINS } from '../plugins/loader.js';
import { NAME_PATTERN } from '../sdk/decorators/service.js';

/** Files whose template name differs from the rendered one (npm strips .gitignore and .npmrc from packages). */
const RENAMES: Record<string, string> = { gitignore: '.gitignore', npmrc: '.npmrc' };
/** Describes a template; not rendered. */
const TEMPLATE_MANIFEST = 'template.json';
/** What `bento new` renders when no --template is given: the seed guide's image classifier. */
export const DEFAULT_TEMPLATE = 'image-classifier';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

export interface TemplateInfo {
  name: string;
  description: string;
}

/** The templates `bento new` can render: directories of templates/ holding a template.json. */
export function listTemplates(root = TEMPLATES_DIR): TemplateInfo[] {
  return readdirSync(root)
    .filter((name) => existsSync(join(root, name, TEMPLATE_MANIFEST)))
    .sort()
    .map((name) => ({
      name,
      description: (JSON.parse(readFileSync(join(root, name, TEMPLATE_MANIFEST), 'utf8')) as { description: string })
        .description,
    }));
}

/** The repository bento-ts runs from when it is a checkout rather than an npm install; undefined otherwise. */
function checkoutRoot(): string | undefined {
  const framework = realpathSync(FRAMEWORK_DIR);
  if (framework.split(sep).includes('node_modules')) return undefined;
  const root = dirname(framework);
  return existsSync(join(root, 'plugins')) ? root : undefined;
}

/** Where the project keeps the bento-ts packages it installs from tarballs. */
const VENDOR_DIR = 'vendor';

/**
 * How the new project depends on a bento-ts package. Installed from a registry,
 * the version range. Run from a checkout, nothing is published: outside the
 * checkout, the package is packed (npm pack) into vendor/ and installed from
 * there, so that npm installs its whole dependency tree as it would from a
 * registry; inside it, the checkout's npm workspaces link it by version.
 */
async function dependencySpec(pkg: string, version: string, target: string, root: string | undefined): Promise<string> {
  if (!root || !relative(root, target).split(sep)[0].startsWith('..')) return `^${version}`;
  const dir = pkg === 'framework' ? join(root, 'framework') : join(root, 'plugins', pkg.replace(/^plugin-/, ''));
  const { npmPack } = await import('../builder/dependencies.js');
  mkdirSync(join(target, VENDOR_DIR), { recursive: true });
  return `file:${VENDOR_DIR}/${npmPack(dir, join(target, VENDOR_DIR)).filename}`;
}

/** The plugins bento-ts ships, by the short name `bento new --plugin` takes: `mlflow` is @bento-ts/plugin-mlflow. */
export const SHIPPED_PLUGINS = ['local', 'onnx', 'mlflow', 'tfjs', 'https', 'converters'];

export interface NewOptions {
  name?: string;
  template?: string;
  /** Shipped plugins the project depends on beyond its template's (SHIPPED_PLUGINS names). */
  plugins?: string[];
  frameworkVersion: string;
}

/**
 * Adds plugins to a rendered project: each a dependency in package.json, and,
 * unless the framework uses it once installed (BUILTIN_PLUGINS), an entry of
 * bento.yaml's plugins list. Comments and order in bento.yaml are kept.
 */
async function addPlugins(
  target: string,
  plugins: string[],
  version: string,
  root: string | undefined,
): Promise<string[]> {
  const pkgFile = join(target, 'package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { dependencies?: Record<string, string> };
  const listed: string[] = [];
  for (const short of plugins) {
    const name = `@bento-ts/plugin-${short}`;
    pkg.dependencies ??= {};
    pkg.dependencies[name] ??= await dependencySpec(`plugin-${short}`, version, target, root);
    if (!BUILTIN_PLUGINS.includes(name)) listed.push(name);
  }
  pkg.dependencies = Object.fromEntries(Object.entries(pkg.dependencies ?? {}).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);
  const changed = [pkgFile];
  const yamlFile = join(target, 'bento.yaml');
  if (listed.length > 0 && existsSync(yamlFile)) {
    const doc = parseDocument(readFileSync(yamlFile, 'utf8'));
    const current = (doc.get('plugins') as { toJSON(): string[] } | undefined)?.toJSON() ?? [];
    doc.set('plugins', [...current, ...listed.filter((name) => !current.includes(name))]);
    writeFileSync(yamlFile, doc.toString());
    changed.push(yamlFile);
  }
  return changed;
}

/** Renders a service project from templates/<template> into `dir`; returns the files written. */
export async function renderTemplate(dir: string, options: NewOptions): Promise<string[]> {
  const target = resolve(dir);
  const name =
    options.name ??
    basename(target)
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '_');
  if (!NAME_PATTERN.test(name) || name.length > 63) {
    throw new ConfigError(
      `"${name}" is not a valid service name: use lowercase letters, digits, "-", "_" and "."; pass --name`,
    );
  }
  const template = options.template ?? DEFAULT_TEMPLATE;
  const known = listTemplates();
  if (!known.some((t) => t.name === template)) {
    throw new ConfigError(
      `no template "${template}"; choose one of: ${known.map((t) => t.name).join(', ')} (bento new --list)`,
    );
  }
  const unknown = (options.plugins ?? []).filter((p) => !SHIPPED_PLUGINS.includes(p));
  if (unknown.length > 0) {
    throw new ConfigError(
      `no plugin "${unknown[0]}" ships with bento-ts; choose among ${SHIPPED_PLUGINS.join(', ')} (others: npm install them, then list them in bento.yaml)`,
    );
  }
  if (existsSync(target) && readdirSync(target).length > 0)
    throw new ConfigError(`${target} exists and is not empty; choose a new directory`);
  mkdirSync(target, { recursive: true });
  const source = join(TEMPLATES_DIR, template);
  const className = name
    .split(/[-._]/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
  const values: Record<string, string> = { name, className, frameworkVersion: options.frameworkVersion };
  // Models and images are copied as they are; only text is a template.
  const templateFiles = files(source)
    .filter((file) => relative(source, file) !== TEMPLATE_MANIFEST)
    .map((file) => {
      const bytes = readFileSync(file);
      return { rel: relative(source, file), bytes, text: bytes.includes(0) ? undefined : bytes.toString('utf8') };
    });
  const root = checkoutRoot();
  for (const { text } of templateFiles) {
    for (const [, key] of text?.matchAll(/\{\{(pkg:[\w-]+)\}\}/g) ?? []) {
      values[key] ??= await dependencySpec(key.slice(4), options.frameworkVersion, target, root);
    }
  }
  const written: string[] = [];
  for (const { rel, bytes, text } of templateFiles) {
    const out = join(target, RENAMES[rel] ?? rel);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(
      out,
      text === undefined ? bytes : text.replace(/\{\{([\w:-]+)\}\}/g, (m, key: string) => values[key] ?? m),
    );
    written.push(out);
  }
  if (options.plugins?.length) {
    for (const file of await addPlugins(target, options.plugins, options.frameworkVersion, root))
      if (!written.includes(file)) written.push(file);
  }
  return written;
}
