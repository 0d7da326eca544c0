/**
 * `bento build` → list → export → import into a fresh store → `bento serve <tag>`
 * from another directory, with the real CLI, compared with the source tree.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { REPO_ROOT, type Run, multipart, runBento, sample, startService } from './helpers.js';

const base = mkdtempSync(join(tmpdir(), 'bento-build-'));
after(() => rmSync(base, { recursive: true, force: true }));
const home = (name: string) => join(base, name);
const bento = (
  args: string[],
  env: Record<string, string>,
  until?: RegExp,
  onReady?: (stdout: string) => Promise<void>,
  cwd = REPO_ROOT,
) => runBento(args, env, until, onReady, cwd);

function ok(run: Run): string {
  assert.equal(run.code, 0, `exit ${run.code}\n${run.stderr}`);
  return run.stdout;
}

const IMAGES: Array<[string, string]> = [
  ['test_image.jpg', 'image/jpeg'],
  ['trouser.jpg', 'image/jpeg'],
  ['ankle_boot.png', 'image/png'],
  ['coat_rgba.png', 'image/png'],
  ['sneaker_rgb.png', 'image/png'],
  ['bag.bmp', 'image/bmp'],
];

/** Every sample through /predict_image, and the batch sample through /predict_batch. */
async function predictions(url: string): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const [file, type] of IMAGES) {
    const res = await fetch(`${url}/predict_image`, {
      method: 'POST',
      body: multipart('image', sample(file), file, type),
    });
    assert.equal(res.status, 200, file);
    out.push(await res.json());
  }
  const res = await fetch(`${url}/predict_batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: sample('batch_4.json'),
  });
  assert.equal(res.status, 200);
  out.push(await res.json());
  return out;
}

describe('bento build, export, import and serve', () => {
  const A = { BENTO_HOME: home('a') };
  let tag = '';
  let expected: unknown[] = [];

  before(async () => {
    const server = await startService();
    try {
      expected = await predictions(`http://127.0.0.1:${server.port}`);
    } finally {
      await server.close();
    }
  });

  it('builds the repository bento.yaml into the store and prints the tag', async () => {
    tag = ok(await bento(['build', '--version', '1.0.0', '--label', 'team=vision', '-o', 'tag'], A)).trim();
    assert.equal(tag, 'mlflow_vision_classifier:1.0.0');
  });

  it('writes the manifest, sources, pinned dependencies, Dockerfile, OpenAPI and README', async () => {
    const path = ok(await bento(['get', tag, '-o', 'path'], A)).trim();
    assert.equal(path, join(home('a'), 'bentos', 'mlflow_vision_classifier', '1.0.0'));
    const manifest = parseYaml(readFileSync(join(path, 'bento.yaml'), 'utf8'));
    assert.equal(manifest.tag, tag);
    assert.equal(manifest.service.entry, 'src/dist/src/service.js');
    // The model the code names by default, ./model, travels with the service's files; its size is counted.
    const modelBytes = readdirSync(join(REPO_ROOT, 'services', 'vision-classifier', 'model')).reduce(
      (n, f) => n + readFileSync(join(REPO_ROOT, 'services', 'vision-classifier', 'model', f)).length,
      0,
    );
    assert.deepEqual(manifest.source_models, [{ uri: './model', path: 'src/model', size: modelBytes }]);
    assert.deepEqual(manifest.labels, { owner: 'mlops-team', stage: 'dev', team: 'vision' });
    assert.deepEqual(
      manifest.apis.map((a: { name: string; route: string }) => `${a.name} ${a.route}`),
      [
        'predict_image /predict_image',
        'predict_batch /predict_batch',
        'get_model_info /get_model_info',
        'health /health',
      ],
    );
    assert.deepEqual(manifest.runners[0].methods, [
      { name: 'classify', batchable: true, maxBatchSize: 64, maxLatencyMs: 500, maxQueueSize: 1024 },
    ]);
    // The converters come along (the service converts a PyTorch or scikit-learn model it is pointed at); TF.js, which
    // the service does not depend on, does not.
    assert.deepEqual(manifest.plugins, [
      '@bento-ts/plugin-local',
      '@bento-ts/plugin-onnx',
      '@bento-ts/plugin-mlflow',
      '@bento-ts/plugin-converters',
    ]);
    assert.equal(manifest.docker.baseImage, 'node:24-bookworm-slim');
    // The service's files, minus what bento.yaml excludes.
    const src = readdirSync(join(path, 'src'), { recursive: true }).map(String);
    for (const f of ['dist/src/service.js', 'model/model.onnx', 'package.json']) assert.ok(src.includes(f), f);
    for (const f of ['test', 'training', 'samples', 'dist/test']) assert.ok(!src.includes(f), f);
    // Production dependencies only, with the workspace packages packed.
    const pkg = JSON.parse(readFileSync(join(path, 'package.json'), 'utf8'));
    assert.equal(pkg.dependencies['@bento-ts/framework'], 'file:env/node/packages/bento-ts-framework-0.1.0.tgz');
    const lock = JSON.parse(readFileSync(join(path, 'package-lock.json'), 'utf8'));
    assert.equal(lock.packages['node_modules/typescript'], undefined, 'no dev dependency');
    assert.ok(lock.packages['node_modules/onnxruntime-node'].integrity);
    assert.match(
      readFileSync(join(path, 'env', 'docker', 'Dockerfile'), 'utf8'),
      /USER bento\nEXPOSE 3000\nHEALTHCHECK .*healthcheck\.mjs/,
    );
    const openapi = parseYaml(readFileSync(join(path, 'apis', 'openapi.yaml'), 'utf8'));
    assert.ok(openapi.paths['/predict_image'].post.requestBody.content['multipart/form-data']);
    assert.match(readFileSync(join(path, 'README.md'), 'utf8'), /Image classification REST API/);
  });

  it('builds the same content from the same inputs', async () => {
    const B = { BENTO_HOME: home('b') };
    ok(await bento(['build', '--version', '1.0.0', '--label', 'team=vision'], B));
    const dirOf = (h: string) => join(h, 'bentos', 'mlflow_vision_classifier', '1.0.0');
    const sums = (h: string) => readFileSync(join(dirOf(h), 'SHA256SUMS'), 'utf8');
    const manifestOf = (h: string) =>
      readFileSync(join(dirOf(h), 'bento.yaml'), 'utf8').replace(/^creation_time: .*$/m, '');
    // The manifest differs only in its creation time, so every other file's hash is the same.
    assert.equal(manifestOf(home('a')), manifestOf(home('b')));
    const withoutManifest = (s: string) =>
      s
        .split('\n')
        .filter((l) => !l.endsWith('  bento.yaml'))
        .join('\n');
    assert.equal(withoutManifest(sums(home('a'))), withoutManifest(sums(home('b'))));
    const a = ok(await bento(['export', tag, join(base, 'a.bento')], A));
    assert.match(a, /Exported mlflow_vision_classifier:1\.0\.0 to /);
    ok(await bento(['export', tag, join(base, 'a2.bento')], A));
    assert.deepEqual(readFileSync(join(base, 'a.bento')), readFileSync(join(base, 'a2.bento')));
  });

  it('lists bentos as a table and as JSON; name:latest is the newest', async () => {
    const second = ok(await bento(['build', '-o', 'tag'], A)).trim();
    assert.match(second, /^mlflow_vision_classifier:[0-9a-z]{16}$/);
    const table = ok(await bento(['list'], A));
    assert.match(table, /^Tag\s+Size\s+Model Size\s+Creation Time\n/);
    // Size, then Model Size: the model in src/ counts (it read 0 B while only store models were counted).
    assert.match(table, /mlflow_vision_classifier:1\.0\.0\s+\d+(\.\d)? [kM]B\s+4\d\d(\.\d)? kB\s/);
    const list = JSON.parse(ok(await bento(['list', '-o', 'json'], A))) as Array<{ tag: string }>;
    assert.deepEqual(
      list.map((b) => b.tag),
      [second, tag],
    );
    const latest = JSON.parse(ok(await bento(['get', 'mlflow_vision_classifier:latest', '-o', 'json'], A)));
    assert.equal(latest.tag, second);
    assert.match(ok(await bento(['delete', second], A)), /Deleted bento/);
    assert.equal(JSON.parse(ok(await bento(['get', 'mlflow_vision_classifier', '-o', 'json'], A))).tag, tag);
    const missing = await bento(['get', second], A);
    assert.equal(missing.code, 3, 'exit code 3: what it names does not exist');
    assert.match(missing.stderr, /BENTO_NOT_FOUND.*no bento .* \(see: bento list\)/);
  });

  it('imports into a fresh store and serves the imported bento from another directory, answering as the source tree', async () => {
    const C = { BENTO_HOME: home('c') };
    assert.match(ok(await bento(['import', join(base, 'a.bento')], C)), /Imported mlflow_vision_classifier:1\.0\.0/);
    const elsewhere = mkdtempSync(join(base, 'cwd-'));
    let served: unknown[] = [];
    const run = await bento(
      ['serve', tag, '--port', '0', '--host', '127.0.0.1'],
      { ...C, BENTO_LOG_LEVEL: 'info' },
      /Health: GET (\S+)\/health/,
      async (stdout) => {
        const url = /Health: GET (\S+)\/health/.exec(stdout)![1];
        served = await predictions(url);
        assert.deepEqual(await (await fetch(`${url}/readyz`)).json(), { status: 'ready' });
      },
      elsewhere,
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`serving bento ${tag} from ${join(home('c'), 'bentos')}`));
    assert.match(run.stderr, /loaded onnx model file:\/\/.*\/c\/bentos\/mlflow_vision_classifier\/1\.0\.0\/src\/model/);
    assert.deepEqual(served, expected);
    const again = await bento(['import', join(base, 'a.bento')], C);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /BENTO_EXISTS/);
  });

  it('serves a bento whose plugin is a local file: it loads on the HTTP thread and in the runner workers alike', async () => {
    // A plugin file inside the service's directory (bento build packs only those), where its import of
    // @bento-ts/framework resolves when building; the bento is then served from another directory, with no
    // node_modules, from the framework that serves it.
    const plugin = join(REPO_ROOT, 'services', 'vision-classifier', 'dist', `local-plugin-${process.pid}.js`);
    const dir = mkdtempSync(join(base, 'local-plugin-'));
    try {
      writeFileSync(
        plugin,
        "import { isMainThread } from 'node:worker_threads';\nimport { definePlugin } from '@bento-ts/framework/plugin';\n" +
          "export default definePlugin({ name: 'local-file', setup() { process.stderr.write(`local-file plugin ready ${isMainThread ? 'on the HTTP thread' : 'in a runner worker'}\\n`); } });\n",
      );
      writeFileSync(
        join(dir, 'bento.yaml'),
        `service: ${join(REPO_ROOT, 'services', 'vision-classifier')}\nexclude: [test/, training/, samples/, dist/test/]\nplugins: [${plugin}]\n`,
      );
      const P = { BENTO_HOME: home('p') };
      const built = ok(
        await bento(['build', '-f', join(dir, 'bento.yaml'), '--version', 'lp1', '-o', 'tag'], P),
      ).trim();
      const elsewhere = mkdtempSync(join(base, 'cwd-'));
      const run = await bento(
        ['serve', built, '--port', '0', '--host', '127.0.0.1'],
        { ...P, BENTO_LOG_LEVEL: 'info' },
        /Health: GET (\S+)\/health/,
        async (stdout) => {
          const url = /Health: GET (\S+)\/health/.exec(stdout)![1];
          const res = await fetch(`${url}/predict_image`, {
            method: 'POST',
            body: multipart('image', sample('trouser.jpg'), 'trouser.jpg', 'image/jpeg'),
          });
          assert.equal(res.status, 200);
        },
        elsewhere,
      );
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /local-file plugin ready on the HTTP thread/);
      assert.match(run.stderr, /local-file plugin ready in a runner worker/);
    } finally {
      rmSync(plugin, { force: true });
    }
  });

  it('applies bento.yaml overrides and refuses names that match nothing', async () => {
    const dir = mkdtempSync(join(base, 'proj-'));
    const write = (extra: string) =>
      writeFileSync(
        join(dir, 'bento.yaml'),
        `service: ${join(REPO_ROOT, 'services', 'vision-classifier')}\nexclude: [test/, training/, samples/, dist/test/]\n${extra}`,
      );
    writeFileSync(
      join(dir, 'DESCRIPTION.md'),
      '# Fashion classifier\n\nClassifies clothes,\nin ten classes.\n\nMore.\n',
    );
    write(
      'description: "file: ./DESCRIPTION.md"\nrunners:\n  vision_model_runner:\n    workers: 2\n    batching:\n      classify: { maxBatchSize: 8, maxLatencyMs: 50 }\napis:\n  health:\n    traffic: { timeoutMs: 1000 }\n',
    );
    const path = ok(await bento(['build', '-f', join(dir, 'bento.yaml'), '--version', 'o1', '-o', 'path'], A)).trim();
    const manifest = parseYaml(readFileSync(join(path, 'bento.yaml'), 'utf8'));
    assert.equal(manifest.runners[0].workers, 2);
    assert.deepEqual(manifest.runners[0].methods[0], {
      name: 'classify',
      batchable: true,
      maxBatchSize: 8,
      maxLatencyMs: 50,
      maxQueueSize: 1024,
    });
    assert.deepEqual(manifest.apis.find((a: { name: string }) => a.name === 'health').traffic, { timeoutMs: 1000 });
    // The description from a file: the bento's README, and its first paragraph in the manifest.
    assert.equal(
      readFileSync(join(path, 'README.md'), 'utf8'),
      '# Fashion classifier\n\nClassifies clothes,\nin ten classes.\n\nMore.\n',
    );
    // Its first paragraph, whole, on one line.
    assert.equal(manifest.description, 'Classifies clothes, in ten classes.');
    write('apis:\n  predict_imag:\n    traffic: { timeoutMs: 1000 }\n');
    const typo = await bento(['build', '-f', join(dir, 'bento.yaml')], A);
    assert.equal(typo.code, 2, 'exit code 2: the configuration is wrong');
    assert.match(typo.stderr, /apis\.predict_imag: the service has no API "predict_imag"/);
    write('dockr: {}\n');
    const unknown = await bento(['build', '-f', join(dir, 'bento.yaml')], A);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /bento\.yaml:3: unknown key "dockr"/);
    assert.doesNotMatch(unknown.stderr, /\n\s+at /, 'no stack trace');
  });
});
