import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const read = (path: string) => readFileSync(fileURLToPath(new URL(`../../../${path}`, import.meta.url)), 'utf8');

/** The names an entry point exports, types included, from its `export { … } from` statements. */
function exported(source: string): string[] {
  assert.doesNotMatch(source, /export \*/, 'an entry point names what it exports');
  return [...source.matchAll(/export (?:type )?\{([^}]*)\}/g)]
    .flatMap((m) => m[1].split(','))
    .map((n) => n.trim().replace(/^type /, ''))
    .filter(Boolean)
    .sort();
}

/** The names docs/entry-points.md lists under the heading that names `entry`. */
function documented(entry: string): string[] {
  const page = read('docs/entry-points.md');
  const start = page.indexOf(`## \`${entry}\``);
  assert.ok(start >= 0, `docs/entry-points.md has a section for ${entry}`);
  const end = page.indexOf('\n## ', start + 1);
  const section = page
    .slice(start, end < 0 ? undefined : end)
    .split('\n')
    .slice(1)
    .join('\n');
  const names = [...section.matchAll(/^- [^:]*:((?:.|\n(?!-|\n))*)/gm)].flatMap((m) =>
    [...m[1].matchAll(/`([A-Za-z_][A-Za-z0-9_]*)`/g)].map((n) => n[1]),
  );
  return [...new Set(names)].sort();
}

describe('the entry points', () => {
  it('export what docs/entry-points.md lists: @bento-ts/framework for services', () => {
    assert.deepEqual(exported(read('framework/src/index.ts')), documented('@bento-ts/framework'));
  });

  it('export what docs/entry-points.md lists: @bento-ts/framework/plugin for plugins', () => {
    assert.deepEqual(exported(read('framework/src/plugin.ts')), documented('@bento-ts/framework/plugin'));
  });

  it('are the package exports, and the plugins import nothing else of the framework', async () => {
    const pkg = JSON.parse(read('framework/package.json')) as { exports: Record<string, string> };
    assert.equal(pkg.exports['.'], './dist/src/index.js');
    assert.equal(pkg.exports['./plugin'], './dist/src/plugin.js');
    const plugin = await import('../src/plugin.js');
    assert.equal(typeof plugin.definePlugin, 'function');
    const service = await import('../src/index.js');
    assert.equal('definePlugin' in service, false, 'a service does not define plugins');
  });
});
