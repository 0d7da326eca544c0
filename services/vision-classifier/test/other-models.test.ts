import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { multipart, startService } from './helpers.js';

// Made by fixtures/make_fixtures.py: small ONNX classifiers with known behaviour.
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));

async function solidPng(r: number, g: number, b: number, size = 50): Promise<Buffer> {
  return sharp({ create: { width: size, height: size + 10, channels: 3, background: { r, g, b } } })
    .png()
    .toBuffer();
}

async function predict(url: string, png: Buffer) {
  const res = await fetch(`${url}/predict_image`, {
    method: 'POST',
    body: multipart('image', png, 'x.png', 'image/png'),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as {
    predicted_class: string;
    predicted_index: number;
    confidence: number;
    probabilities: Record<string, number>;
  };
}

describe('serving another ONNX image classifier through MODEL_URI', () => {
  it("takes an NHWC model's size from its input, its classes from labels.txt, and its probabilities as they are", async () => {
    const server = await startService({ env: { MODEL_URI: `${FIXTURES}colour_nhwc` } });
    try {
      const info = (await (await fetch(`${server.url}/get_model_info`)).json()) as {
        classes: string[];
        num_classes: number;
        input: { shape: unknown[]; preprocessing: { width: number; height: number; layout: string; mean: number[] } };
        model_metadata: { params: object; metrics: object };
      };
      assert.deepEqual(info.classes, ['red', 'green', 'blue', 'other']);
      assert.equal(info.num_classes, 4);
      assert.deepEqual(info.input.shape, ['batch', 24, 24, 3]);
      assert.deepEqual(
        [info.input.preprocessing.width, info.input.preprocessing.height, info.input.preprocessing.layout],
        [24, 24, 'NHWC'],
      );
      assert.deepEqual(info.input.preprocessing.mean, [0.485, 0.456, 0.406]);
      assert.deepEqual(info.model_metadata, { params: {}, metrics: {} });
      const want: Array<[[number, number, number], string]> = [
        [[255, 0, 0], 'red'],
        [[0, 255, 0], 'green'],
        [[0, 0, 255], 'blue'],
      ];
      for (const [rgb, name] of want) {
        const p = await predict(server.url, await solidPng(...rgb));
        assert.equal(p.predicted_class, name);
        // The model already outputs probabilities: softmaxing them again would flatten this to ~0.5.
        assert.ok(p.confidence > 0.99, `confidence ${p.confidence}`);
      }
      const batch = await fetch(`${server.url}/predict_batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          input: [Array.from({ length: 24 }, () => Array.from({ length: 24 }, () => [0, 0, 250]))],
        }),
      });
      assert.equal(((await batch.json()) as Array<{ predicted_class: string }>)[0].predicted_class, 'blue');
    } finally {
      await server.close();
    }
  });

  it('serves a single-channel NCHW model with index class names, and honours MODEL_MEAN / MODEL_STD', async () => {
    // The service reads MODEL_MEAN / MODEL_STD from process.env, as a deployed one does.
    Object.assign(process.env, { MODEL_MEAN: '0.5', MODEL_STD: '0.25' });
    const server = await startService({ env: { MODEL_URI: `${FIXTURES}grey_nchw/model.onnx` } }).finally(() => {
      delete process.env.MODEL_MEAN;
      delete process.env.MODEL_STD;
    });
    try {
      const info = (await (await fetch(`${server.url}/get_model_info`)).json()) as {
        classes: string[];
        input: { preprocessing: { channels: number; mean: number[]; std: number[] } };
      };
      assert.deepEqual(info.classes, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
      assert.deepEqual(info.input.preprocessing, {
        ...info.input.preprocessing,
        channels: 1,
        mean: [0.5],
        std: [0.25],
      });
      assert.equal((await predict(server.url, await solidPng(255, 255, 255))).predicted_class, '9');
      assert.equal((await predict(server.url, await solidPng(0, 0, 0))).predicted_class, '0');
      // A colour image becomes one grey channel.
      assert.equal((await predict(server.url, await solidPng(250, 240, 230, 100))).predicted_index, 9);
    } finally {
      await server.close();
    }
  });
});
