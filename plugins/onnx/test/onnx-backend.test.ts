import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import {
  ModelLoadError,
  allocate,
  inspectModelPath,
  type Logger,
  type ResolvedModel,
} from '@bento-ts/framework/plugin';
import plugin, { onnxBackend } from '../src/index.js';

// The repository's bundled classifier is the fixture: a real trained ONNX model with a dynamic batch axis.
const MODEL_DIR = fileURLToPath(new URL('../../../../services/vision-classifier/model', import.meta.url));
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
/** One thread on the CPU, with no settings of its own. */
const CPU = { threads: 1, device: 'cpu', logger: quiet, extra: {}, env: {} };
const warnings: string[] = [];
const recording: Logger = { ...quiet, warn: (m: string) => void warnings.push(m) };

async function bundled(): Promise<ResolvedModel> {
  const info = await inspectModelPath(MODEL_DIR);
  return {
    uri: MODEL_DIR,
    source: 'test',
    path: info.path,
    format: info.format,
    file: info.file,
    metadata: info.metadata,
  };
}

describe('onnx backend', () => {
  it('registers for the onnx format', async () => {
    const formats: string[] = [];
    await plugin.setup({
      addModelSource: () => undefined,
      addBackend: (b) => formats.push(...b.formats),
      addConverter: () => undefined,
      addRequestHook: () => undefined,
    });
    assert.deepEqual(formats, ['onnx']);
  });

  it('loads a model and reports its inputs, outputs and device', async () => {
    const session = await onnxBackend.load(await bundled(), CPU);
    assert.deepEqual(session.inputs, [{ name: 'input', dtype: 'float32', shape: ['batch', 3, 32, 32] }]);
    assert.deepEqual(session.outputs, [{ name: 'logits', dtype: 'float32', shape: ['batch', 10] }]);
    assert.equal(session.device, 'cpu');
    assert.match(session.backend, /^onnxruntime-node \d+\.\d+/);
    await session.dispose();
  });

  it('runs batches of any size along the dynamic axis', async () => {
    const session = await onnxBackend.load(await bundled(), CPU);
    for (const n of [1, 7]) {
      const out = await session.run({ input: allocate('float32', [n, 3, 32, 32]) });
      assert.deepEqual(out.logits.shape, [n, 10]);
      assert.equal(out.logits.dtype, 'float32');
      assert.ok([...out.logits.data].every((v) => Number.isFinite(v)));
    }
    await session.dispose();
  });

  it('refuses missing inputs and wrong dtypes with a 400-class error', async () => {
    const session = await onnxBackend.load(await bundled(), CPU);
    await assert.rejects(session.run({}), /model input "input" is missing/);
    await assert.rejects(session.run({ input: allocate('uint8', [1, 3, 32, 32]) }), /takes float32, got uint8/);
    await session.dispose();
  });

  it('falls back to CPU, with a warning, when CUDA is asked for but not bundled', async () => {
    const session = await onnxBackend.load(await bundled(), {
      threads: 1,
      device: 'cuda:0',
      logger: recording,
      extra: {},
      env: {},
    });
    assert.equal(session.device, 'cpu');
    assert.match(warnings.join('\n'), /using cpu/);
    await session.dispose();
  });

  it('reports a file that is not ONNX as a load error', async () => {
    const model = { ...(await bundled()), file: 'labels.txt' };
    await assert.rejects(onnxBackend.load(model, CPU), ModelLoadError);
  });
});
