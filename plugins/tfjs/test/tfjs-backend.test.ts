import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { gunzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import {
  ImageInput,
  type Tensor,
  allocate,
  pixelsToTensor,
  preprocessSpecFor,
  resizePixels,
} from '@bento-ts/framework';
import {
  type Logger,
  type ModelSession,
  ModelLoadError,
  type ResolvedModel,
  inspectModelPath,
} from '@bento-ts/framework/plugin';
import { onnxBackend } from '@bento-ts/plugin-onnx';
import plugin, { tfjsBackend } from '../src/index.js';

const SERVICE = fileURLToPath(new URL('../../../../services/vision-classifier/', import.meta.url));
const FASHION_TEST_IMAGES = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz';
/** Fashion-MNIST test images compared through both backends (the first N, in dataset order). */
const DATASET_IMAGES = Number(process.env.TFJS_PARITY_IMAGES ?? 1000);
const LEAK_CALLS = Number(process.env.TFJS_LEAK_CALLS ?? 100_000);
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const options = { threads: 1, device: 'cpu', logger: quiet, extra: {}, env: {} };

async function resolved(dir: string): Promise<ResolvedModel> {
  const info = await inspectModelPath(dir);
  return { uri: dir, source: 'test', path: info.path, format: info.format, file: info.file, metadata: info.metadata };
}

/** The classifier's two bundled models: the trained ONNX one, and the TF.js one export_tfjs.py made from it. */
async function bothBackends() {
  const onnxModel = await resolved(join(SERVICE, 'model'));
  const tfjsModel = await resolved(join(SERVICE, 'model-tfjs'));
  return {
    onnx: { model: onnxModel, session: await onnxBackend.load(onnxModel, options) },
    tfjs: { model: tfjsModel, session: await tfjsBackend.load(tfjsModel, options) },
  };
}

/** Logits of `images` (8-bit, any size and channels) through one backend, preprocessed as its model says. */
async function logits(
  side: { model: ResolvedModel; session: ModelSession },
  images: Array<{ data: Buffer; width: number; height: number; channels: number }>,
): Promise<Tensor> {
  const input = side.session.inputs[0];
  const spec = preprocessSpecFor(input, side.model.metadata);
  const pixels = await Promise.all(
    images.map((p) => resizePixels(p, { width: spec.width, height: spec.height, channels: spec.channels })),
  );
  const out = await side.session.run({ [input.name]: pixelsToTensor(pixels, spec) });
  return out[side.session.outputs[0].name];
}

function compare(a: Tensor, b: Tensor, width: number) {
  let maxDiff = 0;
  let sameClass = 0;
  for (let row = 0; row < a.shape[0]; row++) {
    const x = [...(a.data as Float32Array).subarray(row * width, (row + 1) * width)];
    const y = [...(b.data as Float32Array).subarray(row * width, (row + 1) * width)];
    x.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - y[i]))));
    if (x.indexOf(Math.max(...x)) === y.indexOf(Math.max(...y))) sameClass++;
  }
  return { maxDiff, sameClass };
}

/** The first `n` Fashion-MNIST test images, 28×28 grayscale, from Debian's dataset-fashion-mnist. */
function fashionTestImages(n: number) {
  const raw = gunzipSync(readFileSync(FASHION_TEST_IMAGES));
  const count = Math.min(n, raw.readUInt32BE(4));
  return Array.from({ length: count }, (_, i) => ({
    data: raw.subarray(16 + i * 784, 16 + (i + 1) * 784),
    width: 28,
    height: 28,
    channels: 1,
  }));
}

/** A TF.js graph model, written the way tensorflowjs_converter writes one: y = relu(x·W + b). */
function graphModel(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bento-tfjs-graph-'));
  const constant = (name: string, dims: number[]) => ({
    name,
    op: 'Const',
    attr: {
      dtype: { type: 'DT_FLOAT' },
      value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: dims.map((d) => ({ size: String(d) })) } } },
    },
  });
  const json = {
    format: 'graph-model',
    generatedBy: 'bento-ts tests',
    convertedBy: 'bento-ts tests',
    modelTopology: {
      node: [
        {
          name: 'x',
          op: 'Placeholder',
          attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: '2' }] } } },
        },
        constant('W', [2, 3]),
        constant('b', [3]),
        {
          name: 'MatMul',
          op: 'MatMul',
          input: ['x', 'W'],
          attr: { transpose_a: { b: false }, transpose_b: { b: false }, T: { type: 'DT_FLOAT' } },
        },
        { name: 'BiasAdd', op: 'BiasAdd', input: ['MatMul', 'b'], attr: { T: { type: 'DT_FLOAT' } } },
        { name: 'y', op: 'Relu', input: ['BiasAdd'], attr: { T: { type: 'DT_FLOAT' } } },
      ],
      versions: { producer: 1286 },
    },
    weightsManifest: [
      {
        paths: ['group1-shard1of1.bin'],
        weights: [
          { name: 'W', shape: [2, 3], dtype: 'float32' },
          { name: 'b', shape: [3], dtype: 'float32' },
        ],
      },
    ],
  };
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  writeFileSync(
    join(dir, 'group1-shard1of1.bin'),
    Buffer.from(new Float32Array([1, 2, 3, -1, -2, -3, 0.5, 0, -10]).buffer),
  );
  return dir;
}

/** A graph model with two inputs, y = x + z, to refuse its second input after building its first. */
function twoInputModel(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bento-tfjs-two-'));
  const placeholder = (name: string) => ({
    name,
    op: 'Placeholder',
    attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: '2' }] } } },
  });
  const json = {
    format: 'graph-model',
    modelTopology: {
      node: [
        placeholder('x'),
        placeholder('z'),
        { name: 'y', op: 'AddV2', input: ['x', 'z'], attr: { T: { type: 'DT_FLOAT' } } },
      ],
      versions: { producer: 1286 },
    },
    weightsManifest: [],
  };
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  return dir;
}

/**
 * Loads the bundled TF.js model in a new worker thread (TF.js picks one engine per thread) with the engine the
 * configuration names, and returns what it reports and its logits for one blank image.
 */
function inFreshThread(
  engineOption: string | undefined,
  envEngine: string | undefined,
): Promise<{ backend: string; logits: number[] }> {
  const script = join(mkdtempSync(join(tmpdir(), 'bento-tfjs-engine-')), 'load.mjs');
  writeFileSync(
    script,
    `import { parentPort, workerData } from 'node:worker_threads';
const { tfjsBackend } = await import(workerData.plugin);
const { allocate, inspectModelPath } = await import(workerData.framework);
const info = await inspectModelPath(workerData.dir);
const model = { uri: workerData.dir, source: 'test', path: info.path, format: info.format, file: info.file, metadata: info.metadata };
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const extra = workerData.engine ? { engine: workerData.engine } : {};
const session = await tfjsBackend.load(model, { threads: 1, device: 'cpu', logger: quiet, extra, env: process.env });
const out = await session.run({ input: allocate('float32', [1, 32, 32, 3]) });
parentPort.postMessage({ backend: session.backend, logits: [...out.logits.data] });
`,
  );
  const { BENTO_TFJS_ENGINE: _unset, ...env } = process.env;
  const worker = new Worker(script, {
    workerData: {
      plugin: new URL('../src/index.js', import.meta.url).href,
      framework: import.meta.resolve('@bento-ts/framework/plugin'),
      dir: join(SERVICE, 'model-tfjs'),
      engine: engineOption,
    },
    env: envEngine ? { ...env, BENTO_TFJS_ENGINE: envEngine } : env,
  });
  return new Promise((resolve, reject) => {
    worker.once('message', (m) => {
      resolve(m);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the worker exited (${code}) without an answer`)));
  });
}

describe('tfjs backend', () => {
  it('registers for TF.js models and TensorFlow SavedModels', async () => {
    const formats: string[] = [];
    await plugin.setup({
      addModelSource: () => undefined,
      addBackend: (b) => formats.push(...b.formats),
      addConverter: () => undefined,
      addRequestHook: () => undefined,
    });
    assert.deepEqual(formats, ['tfjs', 'tf-saved-model']);
  });

  it('loads the bundled layers model on the WebAssembly engine and reports it truthfully', async () => {
    const model = await resolved(join(SERVICE, 'model-tfjs'));
    assert.equal(model.format, 'tfjs');
    assert.deepEqual(model.metadata.classes?.slice(0, 2), ['T-shirt/top', 'Trouser']);
    const session = await tfjsBackend.load(model, options);
    assert.deepEqual(session.inputs, [{ name: 'input', dtype: 'float32', shape: [null, 32, 32, 3] }]);
    assert.deepEqual(session.outputs, [{ name: 'logits', dtype: 'float32', shape: [null, 10] }]);
    assert.equal(session.device, 'cpu');
    // tfjs-node cannot be installed here: auto picks the wasm engine, and says so.
    assert.match(session.backend, /^tfjs 4\.\d+\.\d+ \(wasm, (simd|no simd)\)$/);
    for (const n of [1, 5])
      assert.deepEqual((await session.run({ input: allocate('float32', [n, 32, 32, 3]) })).logits.shape, [n, 10]);
    await session.dispose();
  });

  it("gives the ONNX model's outputs within 1e-4, and its classes, on every sample image and Fashion-MNIST test images", async () => {
    const { onnx, tfjs } = await bothBackends();
    const samples = await Promise.all(
      readdirSync(join(SERVICE, 'samples'))
        .filter((f) => /\.(png|jpg)$/.test(f))
        .map(async (f) =>
          (await ImageInput.probe(readFileSync(join(SERVICE, 'samples', f)), 1 << 24)).toPixels({
            width: 32,
            height: 32,
            channels: 3,
          }),
        ),
    );
    const dataset = fashionTestImages(DATASET_IMAGES);
    let worst = 0;
    let agree = 0;
    let total = 0;
    for (const group of [
      samples,
      ...Array.from({ length: Math.ceil(dataset.length / 100) }, (_, i) => dataset.slice(i * 100, (i + 1) * 100)),
    ]) {
      const { maxDiff, sameClass } = compare(await logits(onnx, group), await logits(tfjs, group), 10);
      worst = Math.max(worst, maxDiff);
      agree += sameClass;
      total += group.length;
    }
    process.stdout.write(
      `# parity: ${total} images (${samples.length} samples, ${dataset.length} Fashion-MNIST test images), max |Δlogit| ${worst.toExponential(2)}, same class ${agree}/${total}\n`,
    );
    assert.ok(samples.length >= 5 && dataset.length === DATASET_IMAGES);
    assert.ok(worst < 1e-4, `max |Δlogit| ${worst}`);
    assert.equal(agree, total);
  });

  it('refuses a TensorFlow SavedModel without tfjs-node, saying what to install or convert to', async () => {
    // Only its layout matters before loading: tfjs-node is not installed here, so nothing reads the file.
    const dir = mkdtempSync(join(tmpdir(), 'bento-savedmodel-'));
    writeFileSync(join(dir, 'saved_model.pb'), Buffer.alloc(16));
    const model = await resolved(dir);
    assert.equal(model.format, 'tf-saved-model');
    await assert.rejects(
      tfjsBackend.load(model, options),
      (err: unknown) =>
        err instanceof ModelLoadError &&
        /is a TensorFlow SavedModel, which TF\.js runs only through @tensorflow\/tfjs-node \(not installed here; the wasm engine cannot\)/.test(
          err.message,
        ) &&
        /tensorflowjs_converter --input_format=tf_saved_model/.test(err.message),
    );
  });

  it('loads a graph model too', async () => {
    const session = await tfjsBackend.load(await resolved(graphModel()), options);
    assert.deepEqual(session.inputs, [{ name: 'x', dtype: 'float32', shape: [null, 2] }]);
    assert.equal(session.outputs[0].name, 'y');
    const out = await session.run({ x: { dtype: 'float32', shape: [2, 2], data: Float32Array.from([1, 0, 0, 1]) } });
    assert.deepEqual(out.y.shape, [2, 3]);
    assert.deepEqual([...out.y.data], [1.5, 2, 0, 0, 0, 0]);
  });

  it(`releases every tensor after each call: none left after ${LEAK_CALLS.toLocaleString('en')} calls`, async () => {
    const { tfjs } = await bothBackends();
    const { TfjsSession } = await import('../src/tfjs-session.js');
    const input = { input: allocate('float32', [1, 32, 32, 3]) };
    // The engine's memory and the JIT settle over the first calls; growth is counted after them.
    const warmUp = Math.min(25_000, Math.ceil(LEAK_CALLS / 4));
    for (let i = 0; i < warmUp; i++) await tfjs.session.run(input);
    // Memory is compared after a full collection at both ends, so garbage not yet collected is not counted. What
    // JavaScript holds (its heap, and the native memory its objects own) must not grow. Resident memory is held to a
    // looser bound: on Node.js 24 the allocator grows it in steps of about 32 MB and keeps them (measured: 174 MB after
    // the warm-up, 180 MB after 150,000 more calls, 213 MB after 175,000 and still after 200,000, with the heap
    // and native memory flat), while a leak of one input per call would add over 1 GB.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const memory = () => (gc(), process.memoryUsage());
    const mb = (bytes: number) => bytes / 2 ** 20;
    const before = TfjsSession.memory();
    const memBefore = memory();
    for (let i = 0; i < LEAK_CALLS; i++) await tfjs.session.run(input);
    const after = TfjsSession.memory();
    const memAfter = memory();
    const heldGrowth = mb(memAfter.heapUsed + memAfter.external - memBefore.heapUsed - memBefore.external);
    const rssGrowth = mb(memAfter.rss - memBefore.rss);
    const signed = (n: number) => `${n >= 0 ? '+' : ''}${n.toFixed(1)} MB`;
    process.stdout.write(
      `# ${LEAK_CALLS} calls after ${warmUp} to warm up: live tensors ${before.tensors} → ${after.tensors}, their bytes ${before.bytes} → ${after.bytes}, heap and native ${signed(heldGrowth)}, RSS ${signed(rssGrowth)}\n`,
    );
    assert.deepEqual(after, before);
    assert.ok(heldGrowth < 8, `the heap and the native memory it owns grew ${signed(heldGrowth)}`);
    assert.ok(rssGrowth < 96, `RSS grew ${signed(rssGrowth)}`);
  });

  it('runs on the engine the configuration names (engine option, then BENTO_TFJS_ENGINE), with the same outputs', async () => {
    const wasm = await inFreshThread('wasm', 'cpu');
    const cpu = await inFreshThread('cpu', undefined);
    const fromEnv = await inFreshThread(undefined, 'cpu');
    assert.match(wasm.backend, /^tfjs 4\.\d+\.\d+ \(wasm, (simd|no simd)\)$/, 'the option wins over the environment');
    assert.match(cpu.backend, /^tfjs 4\.\d+\.\d+ \(cpu\)$/);
    assert.equal(fromEnv.backend, cpu.backend);
    assert.equal(cpu.logits.length, 10);
    cpu.logits.forEach((v, i) =>
      assert.ok(Math.abs(v - wasm.logits[i]) < 1e-4, `logit ${i}: ${v} on cpu, ${wasm.logits[i]} on wasm`),
    );
  });

  it('leaves no tensor behind when it refuses an input after building the ones before it', async () => {
    const { TfjsSession } = await import('../src/tfjs-session.js');
    const session = await tfjsBackend.load(await resolved(twoInputModel()), options);
    const x = { dtype: 'float32', shape: [1, 2], data: Float32Array.from([1, 2]) } as Tensor;
    assert.deepEqual([...(await session.run({ x, z: x })).y.data], [2, 4]);
    const before = TfjsSession.memory();
    for (let i = 0; i < 10; i++)
      await assert.rejects(
        session.run({ x, z: allocate('int32', [1, 2]) }),
        /model input "z" takes float32, got int32/,
      );
    await assert.rejects(session.run({ x }), /model input "z" is missing/);
    assert.deepEqual(TfjsSession.memory(), before);
    await session.dispose();
  });

  it('refuses clearly what it cannot run: a SavedModel without tfjs-node, a broken model, a bad input, an unknown engine', async () => {
    const saved = mkdtempSync(join(tmpdir(), 'bento-savedmodel-'));
    writeFileSync(join(saved, 'saved_model.pb'), 'not read here');
    const savedModel = await resolved(saved);
    assert.equal(savedModel.format, 'tf-saved-model');
    await assert.rejects(
      tfjsBackend.load(savedModel, options),
      (err: Error) =>
        err instanceof ModelLoadError &&
        /SavedModel, which TF\.js runs only through @tensorflow\/tfjs-node/.test(err.message),
    );

    const broken = graphModel();
    writeFileSync(join(broken, 'group1-shard1of1.bin'), Buffer.alloc(8));
    await assert.rejects(tfjsBackend.load(await resolved(broken), options), /hold 8 bytes; its manifest describes 36/);
    const outside = graphModel();
    const json = JSON.parse(readFileSync(join(outside, 'model.json'), 'utf8'));
    json.weightsManifest[0].paths = ['../../etc/passwd'];
    writeFileSync(join(outside, 'model.json'), JSON.stringify(json));
    await assert.rejects(tfjsBackend.load(await resolved(outside), options), /outside the model directory/);

    const session = await tfjsBackend.load(await resolved(join(SERVICE, 'model-tfjs')), options);
    await assert.rejects(session.run({ input: allocate('int32', [1, 32, 32, 3]) }), /takes float32, got int32/);
    await assert.rejects(session.run({}), /model input "input" is missing/);
    await assert.rejects(
      tfjsBackend.load(await resolved(join(SERVICE, 'model-tfjs')), { ...options, extra: { engine: 'gpu' } }),
      /TF\.js engine "gpu" is unknown/,
    );
    await assert.rejects(
      tfjsBackend.load(await resolved(join(SERVICE, 'model-tfjs')), { ...options, extra: { engine: 'node' } }),
      /already runs TF\.js on wasm/,
    );
  });
});
