import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The framework package's directory (holds its package.json); a bento without node_modules finds its plugins from here. */
export const FRAMEWORK_DIR = fileURLToPath(new URL('../../', import.meta.url));

/** The framework's version, from its package.json. */
export const FRAMEWORK_VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** templates/: the repository's (beside framework/) in a checkout, else the copy npm pack puts in the package. */
export const TEMPLATES_DIR = [
  new URL('../../../templates/', import.meta.url),
  new URL('../../templates/', import.meta.url),
]
  .map((url) => fileURLToPath(url))
  .find((dir) => existsSync(join(dir, 'docker')))!;
