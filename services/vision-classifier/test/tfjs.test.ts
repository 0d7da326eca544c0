/**
 * The classifier on its second backend: BACKEND=tfjs serves the same trained weights as a TF.js model
 * (model-tfjs/, made by training/export_tfjs.py) on TF.js's WebAssembly engine. Served side by side with the ONNX
 * model, every sample and the sample batch get the same classes and probabilities within 1e-4.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type RunningServer } from '@bento-ts/framework';
import {
  CLASSES,
  REPO_ROOT,
  SERVICE_DIR,
  expectedSamples,
  freePort,
  multipart,
  runBento,
  sample,
  startService,
} from './helpers.js';

const run = promisify(execFile);

interface Prediction {
  predicted_class: string;
  probabilities: Record<string, number>;
}

const TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', bmp: 'image/bmp' };

describe('BACKEND=tfjs', () => {
  let onnx: RunningServer;
  let tfjs: RunningServer;
  before(async () => {
    // Other test files may load the machine meanwhile: no latency objective here.
    [onnx, tfjs] = await Promise.all([
      startService({ env: { BENTO_MAX_LATENCY_MS: '30000' } }),
      startService({ env: { BACKEND: 'tfjs', BENTO_MAX_LATENCY_MS: '30000' } }),
    ]);
  });
  after(async () => Promise.all([onnx?.close(), tfjs?.close()]));

  const predict = async (server: RunningServer, file: string) => {
    const ext = file.split('.').pop()!;
    const res = await fetch(`${server.url}/predict_image`, {
      method: 'POST',
      body: multipart('image', sample(file), file, TYPES[ext]),
    });
    assert.equal(res.status, 200);
    return (await res.json()) as Prediction;
  };

  it('serves the TF.js model on the WebAssembly engine, and says so', async () => {
    const info = (await (await fetch(`${tfjs.url}/get_model_info`)).json()) as Record<string, unknown> & {
      input: { shape: unknown[]; preprocessing: { layout: string } };
    };
    assert.equal(info.model_format, 'tfjs');
    assert.match(String(info.backend), /^tfjs 4\.\d+\.\d+ \(wasm, (simd|no simd)\)$/);
    assert.equal(info.device, 'cpu');
    assert.equal(info.model_uri, './model-tfjs');
    assert.deepEqual(info.classes, CLASSES);
    assert.deepEqual(info.input.shape, [null, 32, 32, 3]);
    assert.equal(info.input.preprocessing.layout, 'NHWC');
    const metrics = await (await fetch(`${tfjs.url}/metrics`)).text();
    assert.match(
      metrics,
      /bento_model_info\{runner="vision_model_runner",name="model-tfjs",version="[^"]*",format="tfjs",backend="tfjs [^"]+",device="cpu"\} 1/,
    );
  });

  it('answers every sample image as the ONNX model does: same class, probabilities within 1e-4', async () => {
    for (const s of expectedSamples().filter((e) => !e.file.endsWith('.json'))) {
      const [a, b] = await Promise.all([predict(onnx, s.file), predict(tfjs, s.file)]);
      assert.equal(b.predicted_class, a.predicted_class, s.file);
      assert.equal(b.predicted_class, CLASSES[s.label], s.file);
      for (const c of CLASSES)
        assert.ok(
          Math.abs(a.probabilities[c] - b.probabilities[c]) < 1e-4,
          `${s.file} ${c}: ${a.probabilities[c]} vs ${b.probabilities[c]}`,
        );
    }
  });

  it('answers the sample batch as the ONNX model does', async () => {
    const body = sample('batch_4.json').toString();
    const post = (server: RunningServer) =>
      fetch(`${server.url}/predict_batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      }).then((r) => r.json() as Promise<Prediction[]>);
    const [a, b] = await Promise.all([post(onnx), post(tfjs)]);
    assert.equal(b.length, 4);
    b.forEach((p, i) => {
      assert.equal(p.predicted_class, a[i].predicted_class);
      for (const c of CLASSES) assert.ok(Math.abs(p.probabilities[c] - a[i].probabilities[c]) < 1e-4);
    });
  });

  it('serves the TF.js model from a built bento, from another directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bento-tfjs-'));
    const env = { BENTO_HOME: join(dir, 'home') };
    try {
      writeFileSync(
        join(dir, 'bento.yaml'),
        // A model directory of the project is packed with the service's files: here model-tfjs/ stays in.
        `service: ${SERVICE_DIR}\nname: tfjs_classifier\nplugins: ["@bento-ts/plugin-tfjs"]\nexclude: [test/, dist/test/, training/, samples/]\n`,
      );
      const built = await runBento(['build', '-f', join(dir, 'bento.yaml'), '--version', 't1', '-o', 'tag'], env);
      assert.equal(built.code, 0, built.stderr);
      const bentoDir = (await runBento(['get', 'tfjs_classifier:t1', '-o', 'path'], env)).stdout.trim();
      assert.ok(
        existsSync(join(bentoDir, 'src', 'model-tfjs', 'model.json')),
        'the bento holds its own copy of the TF.js model',
      );
      const port = await freePort();
      let checked = false;
      // Served from the store, from another directory: the bento's own copy of model-tfjs/ is what loads.
      const served = await runBento(
        ['serve', 'tfjs_classifier:t1', '--port', String(port), '--host', '127.0.0.1'],
        { ...env, BACKEND: 'tfjs', BENTO_MAX_LATENCY_MS: '30000' },
        /Health: GET /,
        async () => {
          const base = `http://127.0.0.1:${port}`;
          const info = (await (await fetch(`${base}/get_model_info`)).json()) as Record<string, unknown>;
          assert.equal(info.model_format, 'tfjs');
          assert.match(String(info.backend), /^tfjs /);
          for (const file of ['ankle_boot.png', 'trouser.jpg']) {
            const res = await fetch(`${base}/predict_image`, {
              method: 'POST',
              body: multipart('image', sample(file), file, TYPES[file.split('.').pop()!]),
            });
            assert.equal(res.status, 200);
            const [fromBento, fromOnnx] = [(await res.json()) as Prediction, await predict(onnx, file)];
            assert.equal(fromBento.predicted_class, fromOnnx.predicted_class, file);
            for (const c of CLASSES)
              assert.ok(Math.abs(fromBento.probabilities[c] - fromOnnx.probabilities[c]) < 1e-4, `${file} ${c}`);
          }
          checked = true;
        },
        dir,
        120_000,
      );
      assert.ok(checked, served.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ships the TF.js model that make tfjs-model writes from model/model.onnx, byte for byte', async () => {
    const out = mkdtempSync(join(tmpdir(), 'bento-tfjs-export-'));
    try {
      await run(join(REPO_ROOT, '.venv', 'bin', 'python'), [
        join(SERVICE_DIR, 'training', 'export_tfjs.py'),
        join(SERVICE_DIR, 'model', 'model.onnx'),
        out,
      ]);
      const files = readdirSync(join(SERVICE_DIR, 'model-tfjs')).sort();
      assert.deepEqual(readdirSync(out).sort(), files);
      for (const file of files)
        assert.ok(
          readFileSync(join(out, file)).equals(readFileSync(join(SERVICE_DIR, 'model-tfjs', file))),
          `${file} differs from what the script writes: run make tfjs-model`,
        );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('refuses an unknown BACKEND at start', async () => {
    await assert.rejects(startService({ env: { BACKEND: 'torch' } }), /BACKEND must be one of onnx, tfjs, got "torch"/);
  });
});
