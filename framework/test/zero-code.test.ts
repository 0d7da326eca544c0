/**
 * `bento serve <model>` with no service code, given a local MLflow model directory and a lone `.onnx` file (the
 * URIs `runs:/` and `models:/` are tested against a real MLflow in plugins/mlflow/test/flavors.test.ts): the CLI, a
 * real process on an ephemeral port, serving the bundled classifier's files.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { FRAMEWORK_VERSION } from '../src/package-info.js';
import { CliProcess } from './helpers/cli.js';

const SERVICE = fileURLToPath(new URL('../../../services/vision-classifier/', import.meta.url));
const MODEL_DIR = join(SERVICE, 'model');
const SAMPLES = join(SERVICE, 'samples');

interface Expected {
  file: string;
  predicted_class: string;
  probabilities: number[];
}

/** A deterministic [n, 3, 32, 32] batch in -2..2. */
function images(n: number, seed: number): number[][][][] {
  let x = seed;
  const next = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648) * 4 - 2;
  return Array.from({ length: n }, () =>
    Array.from({ length: 3 }, () => Array.from({ length: 32 }, () => Array.from({ length: 32 }, next))),
  );
}

const maxDiff = (a: number[][], b: number[][]) =>
  Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i][j]))));

async function serveModel(target: string, home: string): Promise<{ base: string; server: CliProcess }> {
  const server = new CliProcess(['serve', target, '-p', '0', '-h', '127.0.0.1'], {
    env: { BENTO_HOME: home, BENTO_LOG_LEVEL: 'warn' },
  });
  await server.waitFor(/Invocations \(MLflow scoring\): POST \S+\/invocations/);
  const base = /POST (\S+)\/invocations/.exec(server.output)![1];
  return { base, server };
}

/**
 * POSTs a body to /invocations: its status, and the predictions as rows. The MLflow model is of the onnx flavor,
 * which answers its outputs by name (`{"logits": [...]}`), as MLflow's onnx flavor does; a lone .onnx file, with no
 * flavor, answers its one output's rows. `shape` says which of the two the answer must be.
 */
async function invoke(
  base: string,
  body: unknown,
  shape: 'by name' | 'rows',
): Promise<{ status: number; predictions: number[][] }> {
  const res = await fetch(`${base}/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const { predictions } = (await res.json()) as { predictions: number[][] | { logits: number[][] } };
  assert.equal(Array.isArray(predictions), shape === 'rows', `answered ${JSON.stringify(predictions).slice(0, 80)}`);
  return { status: res.status, predictions: Array.isArray(predictions) ? predictions : predictions.logits };
}

/** A sample from the service's samples/, as a multipart upload. */
function upload(file: string): FormData {
  const form = new FormData();
  form.append('image', new Blob([readFileSync(join(SAMPLES, file))], { type: 'image/png' }), file);
  return form;
}

describe(
  'bento serve <model> with no service code: an MLflow model directory, a .onnx file',
  { timeout: 120_000 },
  () => {
    const home = mkdtempSync(join(tmpdir(), 'bento-zero-code-'));
    after(() => rmSync(home, { recursive: true, force: true }));
    const batch = images(3, 7);
    /** What the MLflow model directory answered for `batch`, for the lone file to be compared with. */
    let fromDir: number[][] | undefined;

    it("an MLflow model directory: MLflow's routes, the probes and metrics, /predict_image from the model's metadata, and concurrent calls batched", async () => {
      const { base, server } = await serveModel(MODEL_DIR, home);
      try {
        for (const route of ['/ping', '/health', '/readyz', '/livez', '/metrics'])
          assert.equal((await fetch(`${base}${route}`)).status, 200, route);
        assert.equal(await (await fetch(`${base}/version`)).text(), FRAMEWORK_VERSION);

        // The preprocessing and classes come from the MLmodel's metadata: the answer is the reference's (PyTorch and
        // Pillow, samples/expected.json).
        const expected = (JSON.parse(readFileSync(join(SAMPLES, 'expected.json'), 'utf8')) as Expected[]).find(
          (e) => e.file === 'ankle_boot.png',
        )!;
        const res = await fetch(`${base}/predict_image`, { method: 'POST', body: upload('ankle_boot.png') });
        assert.equal(res.status, 200);
        const answer = (await res.json()) as { predicted_class: string; probabilities: Record<string, number> };
        assert.equal(answer.predicted_class, expected.predicted_class);
        assert.ok(maxDiff([Object.values(answer.probabilities)], [expected.probabilities]) <= 1e-4);

        // 48 calls at once, each one image: every answer is the one the image gets alone, in fewer model calls.
        const alone = await invoke(base, { inputs: batch }, 'by name');
        fromDir = alone.predictions;
        assert.equal(alone.status, 200);
        const metric = async () => {
          const text = await (await fetch(`${base}/metrics`)).text();
          return Number(/^bento_runner_batch_size_count\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? NaN);
        };
        const callsBefore = await metric();
        const answers = await Promise.all(
          Array.from({ length: 48 }, (_, i) => invoke(base, { inputs: [batch[i % 3]] }, 'by name')),
        );
        answers.forEach((a, i) => {
          assert.equal(a.status, 200);
          assert.ok(maxDiff(a.predictions, [alone.predictions[i % 3]]) <= 1e-5, `call ${i}`);
        });
        const calls = (await metric()) - callsBefore;
        assert.ok(calls >= 1 && calls < 48, `48 concurrent calls took ${calls} model calls`);
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });

    it('a lone .onnx file: the same answers, as rows; no /predict_image without preprocessing', async () => {
      assert.ok(fromDir, 'the MLflow model directory answered (the test above)');
      const { base, server } = await serveModel(join(MODEL_DIR, 'model.onnx'), home);
      try {
        const fromFile = await invoke(base, { inputs: batch }, 'rows');
        assert.equal(fromFile.status, 200);
        assert.deepEqual(fromFile.predictions, fromDir);
        assert.equal(
          (await fetch(`${base}/predict_image`, { method: 'POST', body: upload('ankle_boot.png') })).status,
          404,
        );
        assert.equal((await fetch(`${base}/ping`)).status, 200);
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });
  },
);
