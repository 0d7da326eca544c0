/**
 * `bento new` end to end, for every template: the project is created outside
 * the repository, installed with npm, and its README is followed command by
 * command (npm test, bento serve, the curl calls, bento build, bento list):
 * the documented commands only.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runShellBlocks } from './docs/doc-runner.js';
import { codeBlocks } from './docs/markdown-blocks.js';

const BENTO = fileURLToPath(new URL('../../bin/bento.js', import.meta.url));
const base = mkdtempSync(join(tmpdir(), 'bento-new-'));
after(() => rmSync(base, { recursive: true, force: true }));

// NODE_TEST_CONTEXT would make the project's own `node --test` talk to this runner instead of printing its results.
// ONNX Runtime's install flag is left out: the project's own .npmrc must keep `npm install` from downloading GPU
// libraries (which this machine cannot reach, so the install would fail).
const {
  NODE_TEST_CONTEXT: _inner,
  ONNXRUNTIME_NODE_INSTALL: _ort,
  npm_config_onnxruntime_node_install: _ortNpm,
  ...outer
} = process.env;
const env = {
  ...outer,
  BENTO_HOME: join(base, 'home'),
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  NO_COLOR: '1',
};

/** What each template's README calls should answer. */
const EXPECTED: Record<string, (outputs: string[]) => void> = {
  'image-classifier': (out) => {
    // The README's two curl calls print their JSON bodies back to back.
    const [, predicted, confidence] =
      /"predicted_class":"([^"]+)","predicted_index":\d+,"confidence":([\d.e-]+)/.exec(out.join('\n')) ?? [];
    assert.equal(predicted, 'Ankle boot');
    assert.ok(Number(confidence) > 0.9, `confidence ${confidence}`);
    assert.match(out.join('\n'), /\{"status":"healthy","service":"my-image-classifier"\}/);
  },
  tensor: (out) => {
    const { scores } = JSON.parse(out.find((o) => o.startsWith('{"scores"'))!) as { scores: number[][] };
    // W and b of scripts/make-template-models.py: [1,2,3,4] -> [5.5, 7.5, 13], [0,0,0,1] -> [1.5, 0.5, 1]
    assert.deepEqual(scores, [
      [5.5, 7.5, 13],
      [1.5, 0.5, 1],
    ]);
  },
  blank: (out) =>
    assert.ok(
      out.some((o) => o.includes('"echo":"hello hello"')),
      out.join('\n'),
    ),
};

describe('bento new', () => {
  for (const template of Object.keys(EXPECTED)) {
    it(`${template}: its README's commands install, test, serve, call and build it`, async () => {
      const name = `my-${template}`;
      const created = spawnSync(process.execPath, [BENTO, 'new', name, '--template', template], {
        cwd: base,
        env,
        encoding: 'utf8',
      });
      assert.equal(created.status, 0, created.stderr);
      assert.match(created.stdout, new RegExp(`Created \\d+ files in ${name}`));
      const dir = join(base, name);
      const readme = readFileSync(join(dir, 'README.md'), 'utf8');
      assert.doesNotMatch(readme, /\{\{/, 'every placeholder is filled');
      assert.match(readFileSync(join(dir, '.npmrc'), 'utf8'), /^ignore-scripts=true$/m);
      const results = await runShellBlocks(codeBlocks(readme), { cwd: dir, env, source: `${name}/README.md` });
      const stdout = results.map((r) => r.stdout);
      // node --test sums up as TAP (`# pass 2`) off a terminal before Node 23, and as its spec reporter (`ℹ pass 2`) after.
      assert.ok(
        stdout.some((o) => /^[#ℹ] pass [1-9]/m.test(o) && /^[#ℹ] fail 0$/m.test(o)),
        "npm test ran the project's tests",
      );
      EXPECTED[template](stdout);
      assert.match(stdout.at(-1)!, new RegExp(`^Tag.*\\n${name}:\\S+ `, 'm'), 'bento list shows the built bento');
    });
  }

  it('refuses an unknown template, naming the ones there are, with exit code 2', () => {
    const res = spawnSync(process.execPath, [BENTO, 'new', join(base, 'x'), '--template', 'nope'], {
      env,
      encoding: 'utf8',
    });
    assert.equal(res.status, 2);
    assert.match(res.stderr, /no template "nope"; choose one of: blank, image-classifier, tensor/);
  });

  it('lists the templates', () => {
    const res = spawnSync(process.execPath, [BENTO, 'new', '--list'], { env, encoding: 'utf8' });
    assert.equal(res.status, 0);
    const [header, ...rows] = res.stdout.trim().split('\n');
    assert.match(header, /^TEMPLATE\s+DESCRIPTION$/);
    assert.deepEqual(
      rows.map((l) => l.split(/\s+/)[0]),
      ['blank', 'image-classifier', 'tensor'],
    );
  });
});
