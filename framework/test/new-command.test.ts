import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { renderTemplate } from '../src/cli/new-command.js';
import { getApis, getServiceDefinition } from '../src/index.js';

// Rendered inside the repository so that @bento-ts/framework resolves through the workspace's node_modules.
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const scratch = join(REPO, '.bento', 'test-scratch');
mkdirSync(scratch, { recursive: true });
const base = mkdtempSync(join(scratch, 'new-'));
after(() => rmSync(base, { recursive: true, force: true }));

describe('bento new', () => {
  it('renders a service project that compiles with tsc and declares a service', async () => {
    const dir = join(base, 'my-classifier');
    const written = renderTemplate(dir, { frameworkVersion: '0.1.0' });
    assert.ok(written.some((f) => f.endsWith('.gitignore')));
    assert.match(readFileSync(join(dir, 'package.json'), 'utf8'), /"name": "my-classifier"/);
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stdout + result.stderr);
    const mod = (await import(pathToFileURL(join(dir, 'dist', 'src', 'service.js')).href)) as Record<string, new () => unknown>;
    const svc = mod.MyClassifierService!;
    assert.equal(getServiceDefinition(svc)?.name, 'my-classifier');
    assert.deepEqual(getApis(svc).map((a) => `${a.method} ${a.route}`), ['POST /classify', 'GET /health']);
  });

  it('refuses a non-empty directory and an invalid name', () => {
    const dir = mkdtempSync(join(base, 'full-'));
    renderTemplate(join(dir, 'a'), { frameworkVersion: '0.1.0' });
    assert.throws(() => renderTemplate(join(dir, 'a'), { frameworkVersion: '0.1.0' }), /not empty/);
    assert.throws(() => renderTemplate(join(dir, 'b'), { name: 'Bad Name', frameworkVersion: '0.1.0' }), /not a valid service name/);
  });
});
