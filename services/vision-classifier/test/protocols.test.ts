/**
 * The standard protocols, proven with the clients people already use:
 * Triton's Python HTTP client for the Open Inference Protocol (KServe V2), and
 * MLflow's own scoring-server client for /invocations.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImageInput, type PreprocessSpec, type RunningServer, pixelsToTensor } from '@bento-ts/framework';
import { REPO_ROOT, multipart, sample, startService } from './helpers.js';

const FILES = ['ankle_boot.png', 'trouser.jpg', 'sneaker_rgb.png'];
const MODEL = 'vision_model_runner';

function softmax(logits: number[]): number[] {
  const max = Math.max(...logits);
  const exps = logits.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

function assertClose(actual: number[][], expected: number[][], tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((row, i) =>
    row.forEach((v, j) =>
      assert.ok(Math.abs(v - expected[i][j]) <= tolerance, `${what}[${i}][${j}]: ${v} vs ${expected[i][j]}`),
    ),
  );
}

describe('standard protocols', () => {
  let server: RunningServer;
  let url: string;
  const dir = mkdtempSync(join(tmpdir(), 'bento-protocols-'));
  let batchFile = '';
  let shape: number[] = [];
  const served: number[][] = [];

  before(async () => {
    server = await startService();
    url = `http://127.0.0.1:${server.port}`;
    const info = (await (await fetch(`${url}/get_model_info`)).json()) as { input: { preprocessing: PreprocessSpec } };
    const pixels = await Promise.all(
      FILES.map(async (f) => (await ImageInput.probe(sample(f), 1 << 24)).toPixels(info.input.preprocessing)),
    );
    const batch = pixelsToTensor(pixels, info.input.preprocessing);
    shape = [...batch.shape];
    batchFile = join(dir, 'batch.f32');
    const floats = batch.data as Float32Array;
    writeFileSync(batchFile, Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength));
    // What the service's own API answers for the same images: the reference.
    for (const f of FILES) {
      const res = await fetch(`${url}/predict_image`, {
        method: 'POST',
        body: multipart('image', sample(f), f, f.endsWith('png') ? 'image/png' : 'image/jpeg'),
      });
      served.push(Object.values(((await res.json()) as { probabilities: Record<string, number> }).probabilities));
    }
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("Triton's client and MLflow's client get the answers the service API gives", async () => {
    // Asynchronously: the server answering the clients runs in this process.
    const { stdout } = await promisify(execFile)(
      join(REPO_ROOT, '.venv', 'bin', 'python'),
      [
        join(REPO_ROOT, 'services/vision-classifier/test/fixtures/protocol_clients.py'),
        String(server.port),
        MODEL,
        batchFile,
        ...shape.map(String),
      ],
      {
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    const out = JSON.parse(stdout) as Record<string, unknown>;
    assert.equal(out.live, true);
    assert.equal(out.ready, true);
    assert.equal(out.model_ready, true);
    assert.deepEqual(out.metadata, {
      name: MODEL,
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 3, 32, 32] }],
      outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, 10] }],
    });
    assert.equal(out.missing_model, '404');
    assert.match(String(out.mlflow_dataframe), /INVALID_PARAMETER_VALUE|number_of_dataframe_columns/);
    for (const key of ['triton_binary', 'triton_json', 'mlflow_numpy']) {
      const logits = out[key] as number[][];
      assert.deepEqual([logits.length, logits[0].length], [FILES.length, 10], key);
      assertClose(logits.map(softmax), served, 1e-5, key);
    }
    // Ankle boot, Trouser, Sneaker.
    assert.deepEqual(
      (out.triton_binary as number[][]).map((l) => l.indexOf(Math.max(...l))),
      [9, 1, 7],
    );
  });

  it('answers V2 server metadata, version paths and bad requests as JSON errors', async () => {
    assert.deepEqual(await (await fetch(`${url}/v2`)).json(), {
      name: 'bento-ts',
      version: '0.1.0',
      extensions: ['binary_tensor_data'],
    });
    const meta = (await (await fetch(`${url}/v2/models/${MODEL}`)).json()) as { versions: string[] };
    assert.equal((await fetch(`${url}/v2/models/${MODEL}/versions/${meta.versions[0]}/ready`)).status, 200);
    const wrongVersion = await fetch(`${url}/v2/models/${MODEL}/versions/999/ready`);
    assert.equal(wrongVersion.status, 404);
    const infer = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
      fetch(`${url}/v2/models/${MODEL}/infer`, { method: 'POST', headers, body });
    const cases: Array<[string, string, number, RegExp]> = [
      ['not JSON', '{"inputs": [', 400, /INVALID_JSON/],
      ['no inputs', '{}', 400, /exactly one tensor/],
      ['wrong name', '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}', 400, /unknown input "x"/],
      [
        'wrong shape',
        '{"inputs":[{"name":"input","shape":[1,1,28,28],"datatype":"FP32","data":[0]}]}',
        400,
        /"data" has 1 elements/,
      ],
      [
        'shape vs model',
        `{"inputs":[{"name":"input","shape":[1,1,2,2],"datatype":"FP32","data":[0,0,0,0]}]}`,
        400,
        /the model takes \[-1, 3, 32, 32\]/,
      ],
      [
        'bad datatype',
        '{"inputs":[{"name":"input","shape":[1],"datatype":"BF16","data":[1]}]}',
        400,
        /datatype BF16 is not supported/,
      ],
      ['NaN-like', '{"inputs":[{"name":"input","shape":[1],"datatype":"FP32","data":["a"]}]}', 400, /element 0 is "a"/],
    ];
    for (const [what, body, status, pattern] of cases) {
      const res = await infer(body);
      assert.equal(res.status, status, what);
      const answer = (await res.json()) as { error: { code: string; message: string } };
      assert.match(`${answer.error.code} ${answer.error.message}`, pattern, what);
    }
    const lying = await infer('{"inputs":[]}xx', {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': '99999',
    });
    assert.equal(lying.status, 400);
    assert.match(JSON.stringify(await lying.json()), /inference-header-content-length/);
  });

  it('answers MLflow scoring requests as mlflow models serve does an ONNX model: tensors checked against the signature, every output by name', async () => {
    const image = Array.from({ length: 3 }, () =>
      Array.from({ length: 32 }, () => Array.from({ length: 32 }, () => 0.5)),
    );
    const post = (body: string, type = 'application/json') =>
      fetch(`${url}/invocations`, { method: 'POST', headers: { 'content-type': type }, body });
    for (const body of [
      JSON.stringify({ instances: [image] }),
      JSON.stringify({ inputs: [image, image] }),
      JSON.stringify({ inputs: { input: [image] } }),
    ]) {
      const res = await post(body);
      assert.equal(res.status, 200, body.slice(0, 40));
      const { predictions } = (await res.json()) as { predictions: { logits: number[][] } };
      assert.equal(predictions.logits[0].length, 10);
    }
    const refusals: Array<[string, string, number, string, RegExp]> = [
      [
        'a flattened row',
        JSON.stringify({ inputs: [image.flat(2)] }),
        400,
        'INVALID_PARAMETER_VALUE',
        /Shape of input \(1, 3072\) does not match expected shape \(-1, 3, 32, 32\)/,
      ],
      [
        'a table',
        JSON.stringify({ dataframe_records: [{ a: 1, b: 2 }] }),
        400,
        'INVALID_PARAMETER_VALUE',
        /number_of_dataframe_columns/,
      ],
      [
        'two input fields',
        JSON.stringify({ inputs: [image], instances: [image] }),
        400,
        'BAD_REQUEST',
        /exactly one of the input fields/,
      ],
      ['a list', JSON.stringify([image]), 400, 'BAD_REQUEST', /Received a list/],
      ['not JSON', '{"inputs": [', 400, 'BAD_REQUEST', /valid JSON/],
      ['ragged', JSON.stringify({ inputs: [[1, 2], [3]] }), 400, 'BAD_REQUEST', /inhomogeneous/],
    ];
    for (const [what, body, status, mlflowCode, pattern] of refusals) {
      const res = await post(body);
      assert.equal(res.status, status, what);
      const answer = (await res.json()) as { error_code: string; message: string; error: { code: string } };
      assert.equal(answer.error_code, mlflowCode, what);
      assert.match(answer.message, pattern, what);
      assert.equal(answer.error.code, 'INVALID_INPUT', what);
    }
    assert.equal((await post('a,b', 'text/plain')).status, 415);
    assert.equal((await post('{}', 'application/json; charset=latin-1')).status, 415);
    const ping = await fetch(`${url}/ping`);
    assert.deepEqual([ping.status, await ping.text()], [200, '\n']);
    assert.equal(await (await fetch(`${url}/version`)).text(), '0.1.0');
    // The service's own /health (the seed's answer) wins over the protocol's.
    assert.deepEqual(await (await fetch(`${url}/health`)).json(), {
      status: 'healthy',
      service: 'mlflow_vision_classifier',
    });
  });
});
