import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { type RunningServer, type Tensor, tensor } from '@bento-ts/framework';
import { CLASSES, type ErrorResponse, expectedSamples, multipart, sample, startService } from './helpers.js';

let server: RunningServer;
let url: string;

before(async () => {
  // Other test files load the machine at the same time: a latency objective (tested on its own elsewhere) would
  // turn that contention into 503s here.
  server = await startService({ limits: { maxBodyBytes: 2 * 1024 * 1024 }, env: { BENTO_MAX_LATENCY_MS: '30000' } });
  url = server.url;
});
after(async () => server?.close());

async function postImage(data: Buffer, filename: string, type: string, field = 'image') {
  return fetch(`${url}/predict_image`, { method: 'POST', body: multipart(field, data, filename, type) });
}

async function postJson(path: string, body: unknown, type = 'application/json') {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': type },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Asserts a JSON error response with the given status and code. */
async function expectError(res: Response, status: number, code: string): Promise<ErrorResponse> {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${text}`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  const body = JSON.parse(text) as ErrorResponse;
  assert.equal(body.error.code, code, text);
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0);
  assert.doesNotMatch(text, /at .*\.js:\d+/, 'no stack trace in responses');
  return body;
}

describe('GET /health and /get_model_info', () => {
  it('answers health exactly as the seed', async () => {
    const res = await fetch(`${url}/health`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'healthy', service: 'mlflow_vision_classifier' });
    assert.ok(res.headers.get('x-request-id'));
  });

  it('reports the bundled model: classes, params, metrics, device, URI and version', async () => {
    const info = (await (await fetch(`${url}/get_model_info`)).json()) as Record<string, unknown> & {
      model_metadata: { params: Record<string, string>; metrics: Record<string, number> };
    };
    assert.deepEqual(info.classes, CLASSES);
    assert.equal(info.num_classes, 10);
    assert.equal(info.device, 'cpu');
    assert.equal(info.model_uri, './model');
    assert.equal(info.model_format, 'onnx');
    assert.ok(typeof info.model_version === 'string' && info.model_version.length > 0);
    assert.equal(info.model_metadata.params.model_name, 'fashion_cnn');
    assert.ok(
      info.model_metadata.metrics.test_accuracy >= 0.9,
      `accuracy ${info.model_metadata.metrics.test_accuracy}`,
    );
    assert.ok(info.model_metadata.metrics.test_f1 > 0.85);
  });

  it('echoes a client X-Request-ID', async () => {
    const res = await fetch(`${url}/health`, { headers: { 'x-request-id': 'abc-123' } });
    assert.equal(res.headers.get('x-request-id'), 'abc-123');
  });
});

describe('POST /predict_image', () => {
  const types: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', bmp: 'image/bmp' };

  for (const s of expectedSamples().filter((e) => !e.file.endsWith('.json'))) {
    it(`classifies ${s.file} as ${CLASSES[s.label]}, matching PyTorch`, async () => {
      const ext = s.file.split('.').pop()!;
      const res = await postImage(sample(s.file), s.file, types[ext] ?? 'application/octet-stream');
      assert.equal(res.status, 200, await res.clone().text());
      const body = (await res.json()) as {
        predicted_class: string;
        predicted_index: number;
        confidence: number;
        probabilities: Record<string, number>;
      };
      assert.equal(body.predicted_index, s.label);
      assert.equal(body.predicted_class, CLASSES[s.label]);
      assert.deepEqual(Object.keys(body.probabilities), CLASSES);
      const sum = Object.values(body.probabilities).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-5);
      assert.equal(body.confidence, body.probabilities[CLASSES[s.label]]);
      // Same weights and the same pixels as Pillow gives (decode, convert, resize bit for bit): only float rounding differs.
      CLASSES.forEach((c, i) =>
        assert.ok(
          Math.abs(body.probabilities[c] - s.probabilities[i]) < 1e-5,
          `${c}: ${body.probabilities[c]} vs ${s.probabilities[i]}`,
        ),
      );
    });
  }

  it('accepts WebP, GIF, TIFF and AVIF made from a sample, and a raw image/* body', async () => {
    const png = sample('ankle_boot.png');
    for (const format of ['webp', 'gif', 'tiff', 'avif'] as const) {
      const data = await sharp(png)[format]().toBuffer();
      const res = await postImage(data, `x.${format}`, `image/${format}`);
      assert.equal(res.status, 200, `${format}: ${await res.clone().text()}`);
      assert.equal(((await res.json()) as { predicted_class: string }).predicted_class, 'Ankle boot');
    }
    const raw = await fetch(`${url}/predict_image`, {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: png,
    });
    assert.equal(raw.status, 200);
    assert.equal(((await raw.json()) as { predicted_class: string }).predicted_class, 'Ankle boot');
  });

  it('answers concurrent requests each with its own result', async () => {
    const files = ['ankle_boot.png', 'trouser.jpg', 'bag.bmp'];
    const want = ['Ankle boot', 'Trouser', 'Bag'];
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        postImage(sample(files[i % 3]), files[i % 3], 'application/octet-stream').then(
          (r) => r.json() as Promise<{ predicted_class: string }>,
        ),
      ),
    );
    results.forEach((r, i) => assert.equal(r.predicted_class, want[i % 3], JSON.stringify(r)));
  });

  it('batches requests that wait for the runner together, each caller getting its own rows', async () => {
    // Submitted in one tick, so all but the first batch per worker must wait; over HTTP, on a loaded machine, each
    // request's decoding can take longer than the model, so whether requests meet in the queue is down to timing.
    const dispatcher = server.runners[0].dispatchers.get('classify')!;
    const before = dispatcher.stats();
    const inputs = Array.from({ length: 30 }, (_, i) =>
      tensor('float32', [1, 3, 32, 32], new Float32Array(3 * 32 * 32).fill(i / 30)),
    );
    const outputs = await Promise.all(inputs.map((input) => dispatcher.submit<Tensor<'float32'>>(input)));
    const after = dispatcher.stats();
    assert.equal(after.items - before.items, 30);
    // One alone per runner worker, then the rest in batches cut to the preferred sizes: far fewer than 30.
    assert.ok(after.batches - before.batches <= 10, `30 requests ran in ${after.batches - before.batches} batches`);
    assert.ok(Object.keys(after.batchSizes).some((size) => Number(size) > 1));
    // The callers still hold their tensors: even one run as a batch by itself was copied to the worker, not moved.
    inputs.forEach((input, i) => assert.equal(input.data[5], Math.fround(i / 30)));
    const alone = await Promise.all(inputs.slice(0, 3).map((input) => dispatcher.submit<Tensor<'float32'>>(input)));
    outputs.forEach((out) => assert.deepEqual(out.shape, [1, 10]));
    // Each caller got its own rows: the same as its input run alone (to float rounding across batch sizes).
    alone.forEach((out, i) =>
      out.data.forEach((v, k) => assert.ok(Math.abs(v - outputs[i].data[k]) < 1e-4, `input ${i}, class ${k}`)),
    );
    assert.notDeepEqual(Array.from(outputs[0].data), Array.from(outputs[2].data));
  });

  describe('refuses bad input with a JSON 4xx', () => {
    it('no image field', async () => {
      const body = await expectError(
        await postImage(sample('ankle_boot.png'), 'a.png', 'image/png', 'file'),
        400,
        'MISSING_FIELD',
      );
      assert.match(body.error.message, /"image"/);
    });
    it('an empty file', async () => {
      await expectError(await postImage(Buffer.alloc(0), 'a.png', 'image/png'), 400, 'INVALID_IMAGE');
    });
    it('a truncated PNG and JPEG', async () => {
      for (const name of ['ankle_boot.png', 'trouser.jpg']) {
        const data = sample(name);
        await expectError(
          await postImage(data.subarray(0, Math.floor(data.length * 0.6)), name, 'image/png'),
          400,
          'INVALID_IMAGE',
        );
      }
    });
    it('text and HTML posing as images', async () => {
      await expectError(
        await postImage(Buffer.from('hello, I am not a picture'), 'a.jpg', 'image/jpeg'),
        415,
        'UNSUPPORTED_IMAGE_FORMAT',
      );
      await expectError(
        await postImage(Buffer.from('<!doctype html><html><body><img src=x></body></html>'), 'a.png', 'image/png'),
        415,
        'UNSUPPORTED_IMAGE_FORMAT',
      );
    });
    it('an unsupported format (ICO)', async () => {
      const ico = Buffer.from([0, 0, 1, 0, 1, 0, 16, 16, 0, 0, 1, 0, 32, 0, 0x68, 4, 0, 0, 22, 0, 0, 0]);
      await expectError(await postImage(ico, 'favicon.ico', 'image/x-icon'), 415, 'UNSUPPORTED_IMAGE_FORMAT');
    });
    it('a decompression bomb, refused from its header', async () => {
      const bomb = await sharp({
        create: { width: 10_000, height: 10_000, channels: 3, background: { r: 0, g: 0, b: 0 } },
      })
        .png({ compressionLevel: 9 })
        .toBuffer();
      const body = await expectError(await postImage(bomb, 'bomb.png', 'image/png'), 413, 'IMAGE_TOO_LARGE');
      assert.match(body.error.message, /10000x10000/);
    });
    it('a JSON body and a text/plain body', async () => {
      await expectError(await postJson('/predict_image', { image: 'base64?' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
      await expectError(await postJson('/predict_image', 'just text', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    });
    it('a broken multipart body', async () => {
      const res = await fetch(`${url}/predict_image`, {
        method: 'POST',
        headers: { 'content-type': 'multipart/form-data; boundary=XYZ' },
        body: '--XYZ\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n\x89PNG-and-then-nothing',
      });
      assert.ok(res.status === 400, `status ${res.status}`);
      await expectError(res, 400, ((await res.clone().json()) as ErrorResponse).error.code);
      const noBoundary = await fetch(`${url}/predict_image`, {
        method: 'POST',
        headers: { 'content-type': 'multipart/form-data' },
        body: 'xx',
      });
      assert.equal(noBoundary.status, 400);
    });
    it('a body over the size limit, as 413', async () => {
      const big = Buffer.alloc(3 * 1024 * 1024, 1);
      await expectError(await postImage(big, 'big.png', 'image/png'), 413, 'PAYLOAD_TOO_LARGE');
      const raw = await fetch(`${url}/predict_image`, {
        method: 'POST',
        headers: { 'content-type': 'image/png' },
        body: big,
      });
      await expectError(raw, 413, 'PAYLOAD_TOO_LARGE');
    });
    it('several files that together exceed the body limit, as 413', async () => {
      const form = new FormData();
      for (let i = 0; i < 3; i++)
        form.append(`f${i}`, new Blob([Buffer.alloc(900 * 1024, i)], { type: 'image/png' }), `f${i}.png`);
      await expectError(await fetch(`${url}/predict_image`, { method: 'POST', body: form }), 413, 'PAYLOAD_TOO_LARGE');
    });
    it('too many files in one request', async () => {
      const form = new FormData();
      for (let i = 0; i < 12; i++)
        form.append(`f${i}`, new Blob([sample('ankle_boot.png')], { type: 'image/png' }), `f${i}.png`);
      await expectError(await fetch(`${url}/predict_image`, { method: 'POST', body: form }), 413, 'TOO_MANY_PARTS');
    });
  });
});

describe('POST /predict_batch', () => {
  const batch = JSON.parse(sample('batch_4.json').toString()) as { input: number[][][][] };

  it('classifies a numpy .tolist() batch in input order, matching PyTorch', async () => {
    const expected = expectedSamples().find((e) => e.file === 'batch_4.json') as unknown as {
      items: Array<{ label: number; probabilities: number[] }>;
    };
    const res = await postJson('/predict_batch', batch);
    assert.equal(res.status, 200);
    const body = (await res.json()) as Array<{ predicted_index: number; probabilities: Record<string, number> }>;
    assert.equal(body.length, 4);
    body.forEach((p, i) => {
      assert.equal(p.predicted_index, expected.items[i].label);
      CLASSES.forEach((c, k) =>
        assert.ok(Math.abs(p.probabilities[c] - expected.items[i].probabilities[k]) < 1e-4, `${i}/${c}`),
      );
    });
  });

  it('accepts grey (C=1) and RGBA (C=4) images of another size and resizes them', async () => {
    const grey = [Array.from({ length: 28 }, () => Array.from({ length: 28 }, () => [0]))];
    const rgba = [Array.from({ length: 40 }, () => Array.from({ length: 40 }, () => [10, 10, 10, 255]))];
    for (const input of [grey, rgba]) {
      const res = await postJson('/predict_batch', { input });
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(((await res.json()) as unknown[]).length, 1);
    }
  });

  const img = batch.input[0];
  const bad: Array<[string, unknown, number, string]> = [
    ['a ragged batch', { input: [img, img.slice(0, 31)] }, 400, 'INVALID_TENSOR'],
    ['too deep a nesting', { input: [[img]] }, 400, 'INVALID_TENSOR'],
    ['a flat list', { input: [1, 2, 3] }, 400, 'INVALID_TENSOR'],
    ['a value above 255', { input: [[[[256, 0, 0]]]] }, 400, 'INVALID_TENSOR'],
    ['a negative value', { input: [[[[-1, 0, 0]]]] }, 400, 'INVALID_TENSOR'],
    ['strings and nulls', { input: [[[['1', null, 0]]]] }, 400, 'INVALID_TENSOR'],
    ['two channels', { input: [[[[1, 2]]]] }, 400, 'INVALID_TENSOR'],
    ['an empty batch', { input: [] }, 400, 'INVALID_TENSOR'],
    ['too many images', { input: Array.from({ length: 33 }, () => [[[0, 0, 0]]]) }, 413, 'TOO_MANY_ITEMS'],
    ['no input field', { images: [img] }, 400, 'MISSING_FIELD'],
    ['a list body', [img], 400, 'INVALID_INPUT'],
  ];
  for (const [what, body, status, code] of bad) {
    it(`refuses ${what} with ${status} ${code}`, async () => {
      await expectError(await postJson('/predict_batch', body), status, code);
    });
  }

  it('refuses malformed JSON, an empty body and a wrong content type', async () => {
    await expectError(await postJson('/predict_batch', '{"input": [[[[1,2,3]]]'), 400, 'INVALID_JSON');
    await expectError(await postJson('/predict_batch', ''), 400, 'INVALID_JSON');
    await expectError(
      await postJson('/predict_batch', 'input=1', 'application/x-www-form-urlencoded'),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    await expectError(await postJson('/predict_batch', '{"input": [[[[NaN, 1, 2]]]]}'), 400, 'INVALID_JSON');
  });
});

describe('mutated uploads', () => {
  it('answers 600 corrupted, truncated, padded and random uploads with 200 or a JSON 4xx, never a 5xx', async () => {
    const files = [
      'ankle_boot.png',
      'trouser.jpg',
      'bag.bmp',
      'sneaker_rgb.png',
      'coat_rgba.png',
      'test_image.jpg',
    ].map(sample);
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const seen: Record<number, number> = {};
    for (let i = 0; i < 600; i++) {
      let data = Buffer.from(files[i % files.length]);
      const kind = rnd();
      if (kind < 0.3)
        for (let k = 0; k < 1 + rnd() * 20; k++) data[Math.floor(rnd() * data.length)] = Math.floor(rnd() * 256);
      else if (kind < 0.5) data = data.subarray(0, Math.floor(rnd() * data.length));
      else if (kind < 0.7)
        for (let k = 0; k < 4; k++) data[Math.floor(rnd() * Math.min(64, data.length))] = Math.floor(rnd() * 256);
      else if (kind < 0.8)
        data = Buffer.concat([data, Buffer.alloc(Math.floor(rnd() * 5000), Math.floor(rnd() * 256))]);
      else data = Buffer.from(Array.from({ length: Math.floor(rnd() * 3000) }, () => Math.floor(rnd() * 256)));
      const res =
        rnd() < 0.3
          ? await fetch(`${url}/predict_image`, {
              method: 'POST',
              headers: { 'content-type': 'image/png' },
              body: data,
            })
          : await postImage(data, 'x', 'application/octet-stream');
      const text = await res.text();
      seen[res.status] = (seen[res.status] ?? 0) + 1;
      assert.ok(
        res.status === 200 || (res.status >= 400 && res.status < 500),
        `upload ${i}: ${res.status} ${text.slice(0, 200)}`,
      );
      if (res.status !== 200) assert.equal(typeof (JSON.parse(text) as ErrorResponse).error.code, 'string');
    }
    assert.ok(seen[200] > 0 && seen[400] > 0, JSON.stringify(seen));
    assert.equal((await fetch(`${url}/health`)).status, 200);
  });
});

describe('routing', () => {
  it('answers unknown routes with a JSON 404 and wrong methods with a JSON 405', async () => {
    await expectError(await fetch(`${url}/nope`), 404, 'NOT_FOUND');
    const res = await fetch(`${url}/predict_image`);
    assert.equal(res.headers.get('allow'), 'POST');
    await expectError(res, 405, 'METHOD_NOT_ALLOWED');
  });

  it('is still healthy after all of the above', async () => {
    assert.equal((await fetch(`${url}/health`)).status, 200);
    const res = await postImage(sample('ankle_boot.png'), 'a.png', 'image/png');
    assert.equal(res.status, 200);
  });
});
