/**
 * The docs cannot rot: every page of docs/ is followed as a reader would
 * (framework/test/docs/doc-runner.ts): its files written, its commands run in
 * order, its servers started and stopped, and what its blocks print checked
 * where the page says what they print. Each page runs with a scratch HOME (so
 * ~/projects and the model store ~/bento are its own), the checkout's bento on
 * PATH and BENTO_TS naming the checkout. Docker commands run against the
 * machine's engine, or the one `make docker-engine` starts where there is none
 * (the pages say when); blocks that need a cluster (or Compose's images) are
 * syntax-checked only, and counted.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SETTINGS } from '../src/config/settings.js';
import { BENTO_YAML_SCHEMA } from '../src/config/bento-yaml-schema.js';
import { ALONE_PAGES, CHECKS, DOCS, REPO, follow, followPage, out, report } from './docs/follow-page.js';
import { codeBlocks } from './docs/markdown-blocks.js';

describe('docs/', { timeout: 3_600_000 }, () => {
  const pages = readdirSync(DOCS)
    .filter((f) => f.endsWith('.md'))
    .sort();

  it('every page is followed by this test', () => {
    const runnable = pages.filter((p) =>
      codeBlocks(readFileSync(join(DOCS, p), 'utf8')).some((b) => b.lang === 'bash'),
    );
    assert.deepEqual(
      runnable.filter((p) => !CHECKS[p]),
      [],
      'a page with commands needs its checks here',
    );
  });

  // The pages whose loads measure run in docs-alone.test.ts, with the machine to themselves.
  for (const page of pages.filter((p) => CHECKS[p] && !ALONE_PAGES.includes(p))) {
    it(`${page}: its commands run as written`, () => followPage(page));
  }

  it('README.md: its commands run as written', async () => {
    const results = await follow('README.md');
    report('README.md', results);
    const text = out(results);
    assert.match(text, /bento-ts server started!/);
    assert.match(text, /"status": "healthy"/, 'make serve-test');
    assert.match(text, /"predicted_class":"Trouser"/, 'the API in brief');
    // At most 250 lines: a landing page; the rest is in docs/.
    assert.ok(
      readFileSync(join(REPO, 'README.md'), 'utf8').split('\n').length <= 250,
      'README.md is at most 250 lines',
    );
    // Skipped: make test, which this test is part of.
    const skipped = results
      .filter((r) => r.outcome === 'skipped')
      .map((r) => r.block.tags.find((t) => t.startsWith('needs-')));
    assert.deepEqual([...new Set(skipped)], ['needs-time']);
  });

  it('configuration.md lists every setting the code reads, as the catalogue says', () => {
    const text = readFileSync(join(DOCS, 'configuration.md'), 'utf8');
    const table = execFileSync(process.execPath, [join(REPO, 'scripts', 'settings-table.mjs')], { encoding: 'utf8' });
    assert.ok(text.includes(table), 'docs/configuration.md holds the output of node scripts/settings-table.mjs');
    for (const key of Object.keys(BENTO_YAML_SCHEMA.properties as object))
      assert.match(text, new RegExp(`^\\|[^\\n]*\`${key}\``, 'm'), `bento.yaml key ${key}`);
  });

  it('every BENTO_ variable the source reads is in the catalogue', () => {
    const read = new Set<string>();
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith('.ts'))
          for (const [name] of readFileSync(path, 'utf8').matchAll(/\bBENTO_[A-Z_]+[A-Z]\b/g)) read.add(name);
      }
    };
    for (const dir of [
      'framework/src',
      'plugins/https/src',
      'plugins/mlflow/src',
      'plugins/tfjs/src',
      'plugins/onnx/src',
      'plugins/local/src',
      'plugins/converters/src',
    ])
      walk(join(REPO, dir));
    // Names the code uses that are not settings: error codes, internal markers.
    const notSettings = new Set([
      'BENTO_NOT_FOUND',
      'BENTO_EXISTS',
      'BENTO_INTEGRITY_ERROR',
      'BENTO_WORKER_ID',
      'BENTO_YAML_SCHEMA',
      'BENTO_HOME_ENV',
      'BENTO_BIN',
      'BENTO_UID',
      'BENTO_GID',
    ]);
    const catalogued = new Set(SETTINGS.flatMap((s) => [s.name, ...(s.aliases ?? [])]));
    assert.deepEqual([...read].filter((n) => !catalogued.has(n) && !notSettings.has(n)).sort(), []);
  });
});
