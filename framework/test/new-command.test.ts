import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { renderTemplate } from '../src/cli/new-command.js';

// Inside the repository, a new project is an npm workspace: it depends on bento-ts by version, with nothing packed.
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const scratch = join(REPO, '.bento', 'test-scratch');
mkdirSync(scratch, { recursive: true });
const base = mkdtempSync(join(scratch, 'new-'));
after(() => rmSync(base, { recursive: true, force: true }));

describe('bento new (rendering)', () => {
  it('fills every placeholder, renames gitignore and copies the model byte for byte', async () => {
    const dir = join(base, 'my-classifier');
    const written = await renderTemplate(dir, { frameworkVersion: '0.1.0' });
    assert.ok(written.some((f) => f.endsWith('.gitignore')));
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      name: string;
      dependencies: Record<string, string>;
    };
    assert.equal(pkg.name, 'my-classifier');
    assert.equal(pkg.dependencies['@bento-ts/framework'], '^0.1.0');
    assert.ok(!readdirSync(dir).includes('vendor'));
    assert.match(readFileSync(join(dir, 'src', 'service.ts'), 'utf8'), /export class MyClassifierService/);
    for (const file of written.filter((f) => !readFileSync(f).includes(0)))
      assert.doesNotMatch(readFileSync(file, 'utf8'), /\{\{\w/, file);
    const model = (root: string) => readFileSync(join(root, 'model', 'model.onnx'));
    assert.ok(
      model(dir).equals(model(join(REPO, 'services', 'vision-classifier'))),
      'the template ships the bundled model (scripts/make-template-models.py)',
    );
  });

  it('refuses a non-empty directory and an invalid name', async () => {
    const dir = mkdtempSync(join(base, 'full-'));
    await renderTemplate(join(dir, 'a'), { frameworkVersion: '0.1.0', template: 'blank' });
    await assert.rejects(renderTemplate(join(dir, 'a'), { frameworkVersion: '0.1.0' }), /not empty/);
    await assert.rejects(
      renderTemplate(join(dir, 'b'), { name: 'Bad Name', frameworkVersion: '0.1.0' }),
      /not a valid service name/,
    );
    await assert.rejects(
      renderTemplate(join(dir, 'c'), { plugins: ['kafka'], frameworkVersion: '0.1.0' }),
      /no plugin "kafka" ships with bento-ts; choose among/,
    );
    assert.ok(!readdirSync(dir).includes('c'), 'nothing is written for a refused plugin');
  });

  it('adds plugins: each a dependency, and those the framework does not pick up by itself listed in bento.yaml', async () => {
    const dir = join(base, 'with-plugins');
    await renderTemplate(dir, { frameworkVersion: '0.1.0', plugins: ['mlflow', 'https', 'onnx'] });
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    assert.deepEqual(Object.keys(pkg.dependencies), [
      '@bento-ts/framework',
      '@bento-ts/plugin-https',
      '@bento-ts/plugin-local',
      '@bento-ts/plugin-mlflow',
      '@bento-ts/plugin-onnx',
    ]);
    assert.equal(pkg.dependencies['@bento-ts/plugin-mlflow'], '^0.1.0');
    const yaml = readFileSync(join(dir, 'bento.yaml'), 'utf8');
    // mlflow is used once installed; https is not a built-in, so it is listed. The template's comments stay.
    assert.match(yaml, /^plugins:\n {2}- "?@bento-ts\/plugin-https"?\n/m);
    assert.doesNotMatch(yaml, /plugin-mlflow/);
    assert.match(yaml, /^# Build and serve configuration/);
  });
});
