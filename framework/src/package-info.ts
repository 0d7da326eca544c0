import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The framework package's directory (holds its package.json); a bento without node_modules finds its plugins from here. */
export const FRAMEWORK_DIR = fileURLToPath(new URL('../../', import.meta.url));

/** The framework's version, from its package.json. */
export const FRAMEWORK_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The repository's templates/ directory (beside framework/). */
export const TEMPLATES_DIR = fileURLToPath(new URL('../../../templates/', import.meta.url));
