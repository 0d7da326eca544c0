/**
 * A lone service.ts is compiled when it is loaded and its output is missing or older than the TypeScript it
 * imports; the rest of its directory (which may be a home directory) is neither read nor a reason to compile.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { compiledModuleFor } from '../src/config/project.js';

describe('compiling a lone service.ts on load', () => {
  it('recompiles when the file or a local module it imports changes, and not for other TypeScript beside it', () => {
    // Outside the repository, whose tsconfig.json would be found instead.
    const dir = mkdtempSync(join(tmpdir(), 'bento-compile-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, 'lib'));
    writeFileSync(
      join(dir, 'service.ts'),
      `import { greeting } from './lib/greeting.js';\nexport const message: string = greeting('ts');\n`,
    );
    writeFileSync(
      join(dir, 'lib', 'greeting.ts'),
      `export const greeting = (name: string): string => 'hello ' + name;\n`,
    );
    const js = compiledModuleFor(join(dir, 'service.ts'));
    assert.equal(js, join(dir, '.bento', 'build', 'service.js'));
    const helperJs = join(dir, '.bento', 'build', 'lib', 'greeting.js');
    assert.match(readFileSync(helperJs, 'utf8'), /'hello '/);
    const compiledAt = statSync(js).mtimeMs;

    // Newer TypeScript that the service does not import: nothing to compile.
    const later = new Date(Date.now() + 60_000);
    mkdirSync(join(dir, 'notes'));
    writeFileSync(join(dir, 'notes', 'scratch.ts'), 'this is not even TypeScript (\n');
    utimesSync(join(dir, 'notes', 'scratch.ts'), later, later);
    compiledModuleFor(join(dir, 'service.ts'));
    assert.equal(statSync(js).mtimeMs, compiledAt, 'not recompiled');

    // A newer imported module: compiled again, with its new content.
    writeFileSync(join(dir, 'lib', 'greeting.ts'), `export const greeting = (name: string): string => 'hi ' + name;\n`);
    utimesSync(join(dir, 'lib', 'greeting.ts'), later, later);
    compiledModuleFor(join(dir, 'service.ts'));
    assert.match(readFileSync(helperJs, 'utf8'), /'hi '/);
  });
});
