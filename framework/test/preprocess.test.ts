import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, classNamesOf, deferPixels, pixelsToTensor, preprocessSpecFor } from '../src/index.js';
import { IMAGENET_MEAN } from '../src/vision/preprocess.js';
import type { ModelInfo } from '../src/runner/model-info.js';

const nchw = { name: 'input', dtype: 'float32', shape: ['batch', 3, 32, 32] };

describe('preprocessSpecFor', () => {
  it('reads layout and size from the input tensor and normalisation from metadata', () => {
    const spec = preprocessSpecFor(nchw, {
      preprocessing: { mean: [0.3, 0.3, 0.3], std: [0.35, 0.35, 0.35], resize: 'bilinear' },
    });
    assert.deepEqual(spec, {
      width: 32,
      height: 32,
      channels: 3,
      layout: 'NCHW',
      dtype: 'float32',
      scale: 255,
      mean: [0.3, 0.3, 0.3],
      std: [0.35, 0.35, 0.35],
      fit: 'fill',
      kernel: 'linear',
    });
  });

  it('detects NHWC, uses input_size for free dimensions and defaults to ImageNet statistics', () => {
    const spec = preprocessSpecFor(
      { name: 'x', dtype: 'float32', shape: [null, null, null, 3] },
      { preprocessing: { input_size: [64, 48] } },
    );
    assert.equal(spec.layout, 'NHWC');
    assert.deepEqual([spec.height, spec.width], [64, 48]);
    assert.deepEqual(spec.mean, IMAGENET_MEAN);
  });

  it('lets MODEL_MEAN / MODEL_STD override the metadata and broadcasts one value', () => {
    const spec = preprocessSpecFor(
      nchw,
      { preprocessing: { mean: [0.1, 0.1, 0.1] } },
      { MODEL_MEAN: '0.5', MODEL_STD: '0.25,0.25,0.25' },
    );
    assert.deepEqual(spec.mean, [0.5, 0.5, 0.5]);
    assert.deepEqual(spec.std, [0.25, 0.25, 0.25]);
  });

  it('warns at start when the normalisation or the class names had to be guessed, once per model', () => {
    const lines: string[] = [];
    // The framework's start-up lines, as JSON (stderr is not a terminal here): their messages.
    const said = () => lines.map((l) => (JSON.parse(l) as { msg: string }).msg).join('\n');
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = (chunk: string) => (lines.push(String(chunk)), true);
    try {
      preprocessSpecFor(nchw, { preprocessing: { mean: [0.3, 0.3, 0.3], std: [0.35, 0.35, 0.35] } });
      assert.deepEqual(lines, [], 'nothing guessed, nothing said');
      preprocessSpecFor(nchw, {});
      assert.match(
        said(),
        /model input "input": no normalisation mean or std in the model's metadata \(preprocessing\) or in MODEL_MEAN\/MODEL_STD: using ImageNet's/,
      );
      lines.length = 0;
      const model = { uri: 'mydir://plain', metadata: {} } as unknown as ModelInfo;
      assert.deepEqual(classNamesOf(model, 3, {}), ['0', '1', '2']);
      assert.deepEqual(classNamesOf(model, 3, {}), ['0', '1', '2']);
      assert.equal(lines.length, 1, lines.join(''));
      assert.match(
        said(),
        /model mydir:\/\/plain: no class names \(its metadata names none; MODEL_CLASSES is unset\): answering the indices "0" to "2"/,
      );
      lines.length = 0;
      assert.deepEqual(
        classNamesOf({ uri: 'named', metadata: { classes: ['a', 'b'] } } as unknown as ModelInfo, 2, {}),
        ['a', 'b'],
      );
      assert.deepEqual(lines, []);
    } finally {
      process.stderr.write = write;
    }
  });

  it('refuses what cannot be an image input', () => {
    assert.throws(() => preprocessSpecFor({ name: 'x', dtype: 'float32', shape: [null, 10] }, {}), ConfigError);
    assert.throws(
      () => preprocessSpecFor({ name: 'x', dtype: 'float32', shape: [null, 5, 5, 5] }, {}),
      /cannot tell the layout/,
    );
    assert.throws(() => preprocessSpecFor(nchw, {}, { MODEL_STD: '0' }), /non-zero/);
    assert.throws(() => preprocessSpecFor(nchw, {}, { MODEL_MEAN: 'a,b' }), /list of numbers/);
    assert.throws(() => preprocessSpecFor({ name: 'x', dtype: 'int64', shape: [null, 3, 8, 8] }, {}), /int64/);
  });
});

describe('pixelsToTensor', () => {
  it('normalises (p/scale - mean)/std into NCHW planes', () => {
    const spec = preprocessSpecFor(
      { name: 'x', dtype: 'float32', shape: [null, 3, 1, 2] },
      { preprocessing: { mean: [0.5, 0, 0], std: [0.5, 1, 1] } },
    );
    // Two pixels, RGB interleaved: (255, 0, 51) and (0, 255, 102).
    const t = pixelsToTensor(
      [{ data: Buffer.from([255, 0, 51, 0, 255, 102]), width: 2, height: 1, channels: 3 }],
      spec,
    );
    assert.deepEqual(t.shape, [1, 3, 1, 2]);
    const got = [...t.data].map((v) => Math.round(Number(v) * 1e4) / 1e4);
    assert.deepEqual(got, [1, -1, 0, 1, 0.2, 0.4]);
  });

  it('keeps NHWC order and fills a batch back to back', () => {
    const spec = preprocessSpecFor(
      { name: 'x', dtype: 'float32', shape: [null, 1, 1, 3] },
      { preprocessing: { mean: [0], std: [1], scale: 1, layout: 'NHWC' } },
    );
    const a = { data: Buffer.from([1, 2, 3]), width: 1, height: 1, channels: 3 };
    const b = { data: Buffer.from([4, 5, 6]), width: 1, height: 1, channels: 3 };
    assert.deepEqual([...pixelsToTensor([a, b], spec).data], [1, 2, 3, 4, 5, 6]);
  });

  it('passes uint8 pixels through for uint8 models', () => {
    const spec = preprocessSpecFor({ name: 'x', dtype: 'uint8', shape: [null, 3, 1, 1] }, {});
    const t = pixelsToTensor([{ data: Buffer.from([9, 8, 7]), width: 1, height: 1, channels: 3 }], spec);
    assert.equal(t.dtype, 'uint8');
    assert.deepEqual([...t.data], [9, 8, 7]);
  });

  it('refuses pixels of the wrong size when deferred too, before anything is written', () => {
    const spec = preprocessSpecFor(nchw, {});
    assert.throws(
      () => pixelsToTensor([{ data: Buffer.alloc(3), width: 1, height: 1, channels: 3 }], spec),
      /the model needs 32x32x3/,
    );
    assert.throws(
      () => deferPixels([{ data: Buffer.alloc(3), width: 1, height: 1, channels: 3 }], spec),
      /the model needs 32x32x3/,
    );
  });

  it('writes deferred pixels at any offset of a larger batch buffer, as pixelsToTensor would', () => {
    const spec = preprocessSpecFor(
      { name: 'x', dtype: 'float32', shape: [null, 3, 1, 2] },
      { preprocessing: { mean: [0.5, 0, 0], std: [0.5, 1, 1] } },
    );
    const img = { data: Buffer.from([255, 0, 51, 0, 255, 102]), width: 2, height: 1, channels: 3 };
    const batch = new Float32Array(12).fill(-7);
    deferPixels([img], spec).writeInto(batch, 6);
    assert.deepEqual([...batch.subarray(0, 6)], Array(6).fill(-7), 'nothing before its offset is touched');
    assert.deepEqual([...batch.subarray(6)], [...pixelsToTensor([img], spec).data]);
  });
});
