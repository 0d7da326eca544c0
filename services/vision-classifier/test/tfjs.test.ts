/**
 * The classifier on its second backend: BACKEND=tfjs serves the same trained weights as a TF.js model
 * (model-tfjs/, made by training/export_tfjs.py) on TF.js's WebAssembly engine. Served side by side with the ONNX
 * model, every sample and the sample batch get the same classes and probabilities within 1e-4.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RunningServer } from '@bento-ts/framework';
import { CLASSES, expectedSamples, multipart, sample, startService } from './helpers.js';

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
    [onnx, tfjs] = await Promise.all([startService({ env: { BENTO_MAX_LATENCY_MS: '30000' } }), startService({ env: { BACKEND: 'tfjs', BENTO_MAX_LATENCY_MS: '30000' } })]);
  });
  after(async () => Promise.all([onnx?.close(), tfjs?.close()]));

  const predict = async (server: RunningServer, file: string) => {
    const ext = file.split('.').pop()!;
    const res = await fetch(`${server.url}/predict_image`, { method: 'POST', body: multipart('image', sample(file), file, TYPES[ext]!) });
    assert.equal(res.status, 200);
    return (await res.json()) as Prediction;
  };

  it('serves the TF.js model on the WebAssembly engine, and says so', async () => {
    const info = (await (await fetch(`${tfjs.url}/get_model_info`)).json()) as Record<string, unknown> & { input: { shape: unknown[]; preprocessing: { layout: string } } };
    assert.equal(info.model_format, 'tfjs');
    assert.match(String(info.backend), /^tfjs 4\.\d+\.\d+ \(wasm, (simd|no simd)\)$/);
    assert.equal(info.device, 'cpu');
    assert.equal(info.model_uri, './model-tfjs');
    assert.deepEqual(info.classes, CLASSES);
    assert.deepEqual(info.input.shape, [null, 32, 32, 3]);
    assert.equal(info.input.preprocessing.layout, 'NHWC');
    const metrics = await (await fetch(`${tfjs.url}/metrics`)).text();
    assert.match(metrics, /bento_model_info\{runner="vision_model_runner",name="model-tfjs",version="[^"]*",format="tfjs",backend="tfjs [^"]+",device="cpu"\} 1/);
  });

  it('answers every sample image as the ONNX model does: same class, probabilities within 1e-4', async () => {
    for (const s of expectedSamples().filter((e) => !e.file.endsWith('.json'))) {
      const [a, b] = await Promise.all([predict(onnx, s.file), predict(tfjs, s.file)]);
      assert.equal(b.predicted_class, a.predicted_class, s.file);
      assert.equal(b.predicted_class, CLASSES[s.label], s.file);
      for (const c of CLASSES) assert.ok(Math.abs(a.probabilities[c]! - b.probabilities[c]!) < 1e-4, `${s.file} ${c}: ${a.probabilities[c]} vs ${b.probabilities[c]}`);
    }
  });

  it('answers the sample batch as the ONNX model does', async () => {
    const body = sample('batch_4.json').toString();
    const post = (server: RunningServer) => fetch(`${server.url}/predict_batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then((r) => r.json() as Promise<Prediction[]>);
    const [a, b] = await Promise.all([post(onnx), post(tfjs)]);
    assert.equal(b.length, 4);
    b.forEach((p, i) => {
      assert.equal(p.predicted_class, a[i]!.predicted_class);
      for (const c of CLASSES) assert.ok(Math.abs(p.probabilities[c]! - a[i]!.probabilities[c]!) < 1e-4);
    });
  });

  it('refuses an unknown BACKEND at start', async () => {
    await assert.rejects(startService({ env: { BACKEND: 'torch' } }), /BACKEND must be one of onnx, tfjs, got "torch"/);
  });
});
