/**
 * The MLflow models people already have, logged with MLflow's own client to a real MLflow server (MLflow 3), served
 * by `bento serve <model URI>` (the CLI, a real process on an ephemeral port) with no service code: converted once,
 * when they enter the model store, and answering as `mlflow.pyfunc.load_model(uri).predict` does.
 *
 * PyTorch models are logged with MLflow 2.x's client against the MLflow 3 server: MLflow 3's pytorch flavor needs
 * torch 2, and the machine's torch is Debian's 1.13. Their conversion runs in the MLflow 2 venv's Python
 * (BENTO_CONVERT_PYTHON), which has that torch; the model's own pins (torch==1.13.0a0) are on no package index.
 * Keras models are logged and converted with .venv-tf (TensorFlow 2.21 CPU, Keras 3, tf2onnx).
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ModelStore } from '@bento-ts/framework/plugin';
import {
  argmax,
  invoke,
  maxDiff,
  mlflowServe,
  pyfuncPredict,
  runBentoCli,
  scoringClient,
  serveModel,
} from './helpers/serve-model.js';
import { modelInfo, predict, serve } from './helpers/serve.js';
import { REPO_ROOT, Stack, freePort } from './helpers/stack.js';

const run = promisify(execFile);
const MLFLOW2_PYTHON = join(REPO_ROOT, '.venv-mlflow2', 'bin', 'python');
const MLFLOW3_PYTHON = join(REPO_ROOT, '.venv', 'bin', 'python');
/** MLflow 3 with TensorFlow 2.21 (CPU), Keras 3 and tf2onnx: logs the Keras models, and converts them. */
const TF_PYTHON = join(REPO_ROOT, '.venv-tf', 'bin', 'python');
const LOG_FLAVORS = join(REPO_ROOT, 'plugins', 'mlflow', 'test', 'fixtures', 'log_flavors.py');

interface Sent {
  what: string;
  method?: string;
  path?: string;
  type?: string;
  body?: string;
}

/** What a server answers to a request: its status, and its JSON body (or text). */
async function answer(base: string, req: Sent): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${base}${req.path ?? '/invocations'}`, {
    method: req.method ?? 'POST',
    headers: req.type === undefined ? {} : { 'content-type': req.type },
    body: req.body,
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // a text answer (MLflow's 415s)
  }
  return { status: res.status, body };
}

const json = (what: string, body: unknown): Sent => ({
  what,
  type: 'application/json',
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

/**
 * The same requests to `mlflow models serve` and to `bento serve`: the same status; the same predictions (labels
 * equal, numbers within 1e-4); the same MLflow error_code. bento-ts's refusals are JSON where MLflow's 415s are text.
 */
async function sameAnswers(mlflow: string, bento: string, requests: Sent[]): Promise<void> {
  for (const req of requests) {
    const [theirs, ours] = await Promise.all([answer(mlflow, req), answer(bento, req)]);
    assert.equal(
      ours.status,
      theirs.status,
      `${req.what}: bento-ts ${ours.status} ${JSON.stringify(ours.body).slice(0, 300)}, MLflow ${theirs.status} ${JSON.stringify(theirs.body).slice(0, 300)}`,
    );
    const [a, b] = [ours.body as Record<string, unknown>, theirs.body as Record<string, unknown>];
    if (ours.status === 200 && req.path === undefined) {
      assert.ok(
        maxDiff(a.predictions, b.predictions) <= 1e-4,
        `${req.what}: predictions ${JSON.stringify(a.predictions).slice(0, 200)} vs ${JSON.stringify(b.predictions).slice(0, 200)}`,
      );
    } else if (typeof b === 'object' && b !== null && 'error_code' in b) {
      assert.equal(a.error_code, b.error_code, `${req.what}: ${String(a.message)} vs ${String(b.message)}`);
    }
    if (ours.status >= 400)
      assert.equal(
        typeof (a.error as { code?: unknown })?.code,
        'string',
        `${req.what}: bento-ts's refusal carries error.code`,
      );
  }
}

/** A deterministic [n, 3, 32, 32] batch of values in -2..2. */
function images(n: number, seed: number): number[][][][] {
  let x = seed;
  const next = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648) * 4 - 2;
  return Array.from({ length: n }, () =>
    Array.from({ length: 3 }, () => Array.from({ length: 32 }, () => Array.from({ length: 32 }, next))),
  );
}

describe(
  'serving the MLflow models people already have: bento serve <model URI>, converted once',
  { timeout: 1_500_000 },
  () => {
    const stack = new Stack({ mode: 'basic' });
    const home = mkdtempSync(join(tmpdir(), 'bento-flavors-home-'));
    const work = mkdtempSync(join(tmpdir(), 'bento-flavors-'));
    let runs: Record<string, string> = {};
    const env = (extra: Record<string, string> = {}) => ({
      ...stack.env,
      BENTO_HOME: home,
      BENTO_LOG_LEVEL: 'info',
      ...extra,
    });
    const torchEnv = () => env({ BENTO_CONVERT_PYTHON: MLFLOW2_PYTHON });
    const log = async (python: string, kind: string) => {
      const { stdout } = await run(python, [LOG_FLAVORS, stack.trackingUri, kind], {
        env: { ...process.env, ...stack.env, MLFLOW_HTTP_REQUEST_MAX_RETRIES: '3' },
        timeout: 300_000,
        maxBuffer: 8 << 20,
      });
      return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, string>;
    };

    before(async () => {
      await stack.start();
      const logged = await Promise.all([
        log(MLFLOW2_PYTHON, 'pytorch'),
        log(MLFLOW3_PYTHON, 'sklearn'),
        log(MLFLOW2_PYTHON, 'refused'),
        log(TF_PYTHON, 'keras'),
      ]);
      runs = Object.assign({}, ...logged);
    });
    after(async () => {
      await stack.stop();
      rmSync(home, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    });

    it('a torchvision ResNet-18 logged with mlflow.pytorch.log_model: converted to ONNX once, its provenance stored, answering as pyfunc predict', async () => {
      const uri = `runs:/${runs.pytorch}/model`;
      const bodies = [{ inputs: images(4, 1) }, { instances: images(1, 2) }];
      const served = await serveModel([uri], torchEnv(), work);
      let ours;
      try {
        assert.match(
          served.stderr,
          /converting runs:\/\S+\/model \(pytorch → onnx\).*done; max \|difference\| from the original/,
        );
        assert.equal(
          (await fetch(`${served.base}/predict_image`, { method: 'POST' })).status,
          404,
          'no /predict_image without preprocessing',
        );
        ours = await Promise.all(bodies.map((b) => invoke(served.base, b)));
        // The Open Inference Protocol answers from the same converted model.
        const batch = images(4, 1);
        const v2 = await fetch(`${served.base}/v2/models/mlflow-model/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            inputs: [{ name: 'input', datatype: 'FP32', shape: [4, 3, 32, 32], data: batch.flat(3) }],
          }),
        });
        assert.equal(v2.status, 200);
        const out = ((await v2.json()) as { outputs: Array<{ name: string; shape: number[]; data: number[] }> })
          .outputs[0];
        assert.deepEqual(out.shape, [4, 10]);
        const rows = Array.from({ length: 4 }, (_, i) => out.data.slice(i * 10, i * 10 + 10));
        assert.ok(maxDiff(rows, ours[0].json.predictions) < 1e-5);
      } finally {
        await served.close();
      }
      const theirs = await pyfuncPredict(MLFLOW2_PYTHON, uri, bodies, stack.env, work);
      bodies.forEach((_, i) => {
        assert.equal(ours[i].status, 200, JSON.stringify(ours[i].json).slice(0, 300));
        const [a, b] = [ours[i].json.predictions as number[][], theirs[i].predictions as number[][]];
        assert.ok(maxDiff(a, b) <= 1e-4, `body ${i}: max |difference| ${maxDiff(a, b)}`);
        assert.deepEqual(argmax(a), argmax(b));
      });
      const [stored] = (await new ModelStore(home).list()).filter((m) => m.uris.includes(uri));
      assert.ok(stored?.conversion, 'the store records the conversion');
      const { from, format, file, libraries, opset, inputsFrom, parity } = stored.conversion;
      assert.deepEqual(
        [from.flavor, format, file, opset, inputsFrom],
        ['pytorch', 'onnx', 'bento-converted/model.onnx', 17, 'signature'],
      );
      assert.match(libraries.torch ?? '', /^1\.13/);
      assert.ok(parity.maxAbsDiff <= 1e-4 && parity.labelsEqual && parity.samples >= 2);
      assert.ok(
        stored.files.some((f) => f.path === 'bento-converted/model.onnx') &&
          stored.files.some((f) => f.path === 'data/model.pth'),
        'the converted model is kept beside the original',
      );
      // Converted once: a second start uses the stored conversion. With its preprocessing given by settings, the
      // image classifier answers /predict_image too (without them, above, it has no such route).
      const classes = 'zero,one,two,three,four,five,six,seven,eight,nine';
      const again = await serveModel(
        [uri],
        env({ BENTO_CONVERT_PYTHON: MLFLOW2_PYTHON, MODEL_MEAN: '0.5', MODEL_STD: '0.25', MODEL_CLASSES: classes }),
        work,
      );
      try {
        assert.doesNotMatch(again.stderr, /converting/);
        assert.match(again.stdout, /Predict Image: POST \S+\/predict_image/);
        const form = new FormData();
        form.append(
          'image',
          new Blob([readFileSync(join(REPO_ROOT, 'services', 'vision-classifier', 'samples', 'ankle_boot.png'))], {
            type: 'image/png',
          }),
          'ankle_boot.png',
        );
        const res = await fetch(`${again.base}/predict_image`, { method: 'POST', body: form });
        assert.equal(res.status, 200);
        const prediction = (await res.json()) as { predicted_class: string; probabilities: Record<string, number> };
        assert.deepEqual(Object.keys(prediction.probabilities), classes.split(','));
        assert.ok(classes.split(',').includes(prediction.predicted_class));
      } finally {
        await again.close();
      }
    });

    it("a model with no signature: its input shape from its input example, else from the user (a config file's env); with neither, refused naming all three", async () => {
      const rows = [
        [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8],
        [1, 2, 3, 4, 5, 6, 7, 8],
      ];
      const bodies = [{ inputs: rows }];
      const stored = async (uri: string) =>
        (await new ModelStore(home).list()).find((m) => m.uris.includes(uri))?.conversion?.inputsFrom;
      const answers = async (uri: string, args: string[]) => {
        const served = await serveModel([...args, uri], torchEnv(), work);
        try {
          // With workers, the primary's line that all serve can come after the banner.
          for (let i = 0; args.includes('-w') && i < 300 && !/worker processes serving/.test(served.stderr); i++)
            await new Promise((r) => setTimeout(r, 50));
          return { answers: [await invoke(served.base, bodies[0])], stderr: served.stderr };
        } finally {
          await served.close();
        }
      };
      const fromExample = `runs:/${runs.example_only}/model`;
      // bento models pull converts, as the first bento serve does; the serve after it converts nothing.
      const pulled = await runBentoCli(['models', 'pull', fromExample], torchEnv(), work);
      assert.equal(pulled.code, 0, pulled.stderr.slice(-2000));
      assert.match(pulled.stderr, /converting runs:\/\S+\/model \(pytorch → onnx\).*done/);
      assert.equal(await stored(fromExample), 'input example');
      const ours = await answers(fromExample, []);
      assert.doesNotMatch(ours.stderr, /converting/);

      const noShape = `runs:/${runs.no_shape}/model`;
      const refused = await runBentoCli(['serve', noShape, '-p', '0'], torchEnv(), work);
      assert.notEqual(refused.code, 0);
      assert.match(
        refused.stderr.trim().split('\n').pop()!,
        /^Error \[INPUT_SHAPE_UNKNOWN\]: .*signature.*input example.*MODEL_INPUT_SHAPE=.*config file/,
      );
      const config = join(work, 'shape.yaml');
      writeFileSync(config, 'env:\n  MODEL_INPUT_SHAPE: "-1,8"\n');
      // Two processes (-w 2, as mlflow models serve takes it): the first converts, the second finds it done.
      const given = await answers(noShape, ['-c', config, '-w', '2']);
      assert.equal(given.stderr.match(/converting runs:\/\S+ \(pytorch → onnx\).*done/g)?.length, 1, given.stderr);
      assert.match(given.stderr, /2 worker processes serving/);
      assert.equal(await stored(noShape), 'MODEL_INPUT_SHAPE');

      // The same weights, logged twice: each answers as MLflow's pyfunc does.
      for (const [uri, { answers: got }] of [
        [fromExample, ours],
        [noShape, given],
      ] as const) {
        const [theirs] = await pyfuncPredict(MLFLOW2_PYTHON, uri, bodies, stack.env, work);
        assert.equal(got[0].status, 200, JSON.stringify(got[0].json).slice(0, 300));
        assert.ok(maxDiff(got[0].json.predictions, theirs.predictions) <= 1e-4, uri);
      }
    });

    it('a scikit-learn pipeline (scaler, one-hot encoder, logistic regression): converted in a Python environment made from its own requirements; every input format answers as pyfunc predict', async () => {
      const uri = 'models:/wine@champion';
      const example = (await pyfuncInput(uri)) as { columns: string[]; data: unknown[][] };
      const records = example.data.map((row) => Object.fromEntries(example.columns.map((c, j) => [c, row[j]])));
      const reversed = [...example.columns].reverse();
      const bodies = [
        { dataframe_split: example },
        {
          dataframe_split: { columns: [...reversed, 'extra'], data: example.data.map((r) => [...[...r].reverse(), 1]) },
        },
        { dataframe_records: records },
        { instances: records },
        { inputs: Object.fromEntries(example.columns.map((c, j) => [c, example.data.map((r) => r[j])])) },
      ];
      // -m, as mlflow models serve takes it; no BENTO_CONVERT_PYTHON: the model's own requirements make the environment.
      const served = await serveModel(['-m', uri], env(), work);
      let ours;
      try {
        assert.match(served.stderr, /making a Python 3\.\d+ environment for the conversion/);
        ours = await Promise.all(bodies.map((b) => invoke(served.base, b)));
        const csv = `${example.columns.map((c) => `"${c}"`).join(',')}\n${example.data.map((r) => r.join(',')).join('\n')}\n`;
        const fromCsv = await invoke(served.base, csv, 'text/csv');
        assert.deepEqual(fromCsv, ours[0]);
        const missing = await invoke(served.base, {
          dataframe_split: { columns: example.columns.slice(1), data: example.data.map((r) => r.slice(1)) },
        });
        assert.equal(missing.status, 400);
        assert.equal(missing.json.error_code, 'INVALID_PARAMETER_VALUE');
        assert.match(String(missing.json.message), /Model is missing inputs \['alcohol'\]/);
      } finally {
        await served.close();
      }
      const theirs = await pyfuncPredict(MLFLOW3_PYTHON, uri, bodies, stack.env, work);
      bodies.forEach((_, i) => {
        assert.equal(ours[i].status, 200, JSON.stringify(ours[i].json).slice(0, 300));
        assert.deepEqual(ours[i].json, theirs[i], `body ${i}`);
      });
      const envs = readdirSync(join(home, 'python-envs')).filter((d) => !d.endsWith('.log'));
      assert.equal(envs.length, 1, 'one environment, kept in BENTO_HOME');
    });

    it('a scikit-learn regressor saved with skops: values within 1e-4 of pyfunc predict; the environment of the same requirements is reused', async () => {
      const uri = `runs:/${runs.sklearn_diabetes}/model`;
      const example = (await pyfuncInput(uri)) as { columns: string[]; data: number[][] };
      const rows = [...example.data, ...example.data.map((r) => r.map((v) => v * 1.5))];
      const bodies = [{ dataframe_split: { columns: example.columns, data: rows } }];
      const served = await serveModel([uri], env(), work);
      let ours;
      try {
        assert.doesNotMatch(served.stderr, /making a Python/);
        ours = await invoke(served.base, bodies[0]);
      } finally {
        await served.close();
      }
      const [theirs] = await pyfuncPredict(MLFLOW3_PYTHON, uri, bodies, stack.env, work);
      assert.equal(ours.status, 200);
      assert.ok(
        maxDiff(ours.json.predictions, theirs.predictions) <= 1e-4,
        `max |difference| ${maxDiff(ours.json.predictions, theirs.predictions)}`,
      );
    });

    it('Keras models (mlflow.tensorflow and mlflow.keras, TensorFlow 2.21, Keras 3): converted with tf2onnx, answering as pyfunc predict', async () => {
      const rows = Array.from({ length: 6 }, (_, i) => [i / 3 - 1, Math.sin(i), Math.cos(i), i % 2]);
      const image = images(2, 5).map((img) => img[0].slice(0, 28).map((row) => row.slice(0, 28).map((v) => [v])));
      const cases: Array<[string, string, unknown[]]> = [
        [
          'keras_tensorflow',
          'tensorflow',
          [{ inputs: rows }, { dataframe_split: { columns: ['0', '1', '2', '3'], data: rows } }],
        ],
        ['keras', 'keras', [{ inputs: image }, { instances: image.slice(0, 1) }]],
      ];
      // A conversion held to a tolerance it cannot meet (float32 arithmetic differs from the original by about 1e-7) is
      // refused, saying by how much it missed, and nothing of it is stored.
      const strict = await runBentoCli(
        ['serve', `runs:/${runs.keras_tensorflow}/model`, '-p', '0'],
        env({ BENTO_CONVERT_PYTHON: TF_PYTHON, BENTO_CONVERT_TOLERANCE: '1e-12', BENTO_LOG_LEVEL: 'error' }),
        work,
      );
      assert.notEqual(strict.code, 0);
      assert.match(
        strict.stderr.trim().split('\n').pop()!,
        /^Error \[CONVERSION_PARITY_FAILED\]: .*does not answer as the original does on \d+ samples: output "output" differs by \d\.\d+e-\d+ at most .*more than 1e-12\. It was not kept$/,
      );
      assert.ok(
        !(await new ModelStore(home).list()).some((m) => m.uris.some((u) => u.includes(runs.keras_tensorflow))),
      );
      for (const [key, flavor, bodies] of cases) {
        const uri = `runs:/${runs[key]}/model`;
        const served = await serveModel([uri], env({ BENTO_CONVERT_PYTHON: TF_PYTHON }), work);
        let ours;
        try {
          assert.match(served.stderr, new RegExp(`converting runs:/\\S+/model \\(${flavor} → onnx\\).*done`));
          ours = await Promise.all(bodies.map((b) => invoke(served.base, b)));
        } finally {
          await served.close();
        }
        const theirs = await pyfuncPredict(TF_PYTHON, uri, bodies, stack.env, work);
        bodies.forEach((_, i) => {
          assert.equal(
            ours[i].status,
            theirs[i].predictions === undefined ? 400 : 200,
            `${key} body ${i}: ${JSON.stringify(ours[i].json).slice(0, 300)} vs ${JSON.stringify(theirs[i]).slice(0, 300)}`,
          );
          if (ours[i].status !== 200) return;
          const [a, b] = [ours[i].json.predictions as number[][], theirs[i].predictions as number[][]];
          assert.ok(maxDiff(a, b) <= 1e-4, `${key} body ${i}: max |difference| ${maxDiff(a, b)}`);
          assert.deepEqual(argmax(a), argmax(b));
        });
      }
    });

    it('the image models (the ResNet-18, the Keras CNN) are served by the example service too, as make serve MODEL_RUN_ID=… serves them', async () => {
      for (const [key, size] of [
        ['pytorch', 32],
        ['keras', 28],
      ] as const) {
        // What `make serve MODEL_RUN_ID=<run>` starts: the seed's classifier service, the model picked by MODEL_RUN_ID.
        const server = await serve({
          ...stack.env,
          BENTO_HOME: home,
          MODEL_RUN_ID: runs[key],
          BENTO_CONVERT_PYTHON: key === 'keras' ? TF_PYTHON : MLFLOW2_PYTHON,
        });
        try {
          const info = await modelInfo(server);
          assert.equal(info.model_format, 'onnx', key);
          assert.deepEqual(
            (info.input as { preprocessing: { width: number; height: number } }).preprocessing.width,
            size,
          );
          const prediction = await predict(server);
          assert.equal(Object.keys(prediction.probabilities).length, 10, key);
        } finally {
          await server.close();
        }
      }
    });

    it("answers what mlflow models serve answers for the same requests to the scikit-learn pipeline, and MLflow's own client reads both alike", async () => {
      const uri = 'models:/wine@champion';
      const example = (await pyfuncInput(uri)) as { columns: string[]; data: unknown[][] };
      const { columns, data } = example;
      const records = data.map((row) => Object.fromEntries(columns.map((c, j) => [c, row[j]])));
      const requests: Sent[] = [
        json('dataframe_split', { dataframe_split: example }),
        json('dataframe_split with an index, columns reordered and one extra', {
          dataframe_split: {
            index: data.map((_, i) => i + 10),
            columns: [...columns].reverse().concat('extra'),
            data: data.map((r) => [...r].reverse().concat(0)),
          },
        }),
        json('dataframe_records', { dataframe_records: records }),
        json('instances as records', { instances: records }),
        json('inputs as named columns', {
          inputs: Object.fromEntries(columns.map((c, j) => [c, data.map((r) => r[j])])),
        }),
        json('params beside the input', { dataframe_split: example, params: { unused: 1 } }),
        json('numbers as strings', {
          dataframe_split: { columns, data: data.map((r) => r.map((v) => (typeof v === 'number' ? String(v) : v))) },
        }),
        {
          what: 'CSV',
          type: 'text/csv',
          body: `${columns.join(',').replace(/od280\/od315_of_diluted_wines/, '"od280/od315_of_diluted_wines"')}\n${data.map((r) => r.join(',')).join('\n')}\n`,
        },
        json('a missing column', { dataframe_split: { columns: columns.slice(1), data: data.map((r) => r.slice(1)) } }),
        json('rows without names', { inputs: data }),
        json('two input fields', { dataframe_split: example, inputs: data }),
        json('no input field', { columns, data }),
        json('a list', [example]),
        json('not JSON', '{"dataframe_split": '),
        json('a word in a number column', {
          dataframe_split: { columns, data: data.map((r) => ['many', ...r.slice(1)]) },
        }),
        json('a missing value', { dataframe_split: { columns, data: data.map((r) => [null, ...r.slice(1)]) } }),
        json('dataframe_split not an object', { dataframe_split: data }),
        json('records not a list', { dataframe_records: records[0] }),
        { what: 'text/plain', type: 'text/plain', body: 'x' },
        {
          what: 'a charset other than UTF-8',
          type: 'application/json; charset=latin-1',
          body: JSON.stringify({ dataframe_split: example }),
        },
        { what: 'GET /ping', method: 'GET', path: '/ping' },
        { what: 'GET /health', method: 'GET', path: '/health' },
        { what: 'GET /invocations', method: 'GET', path: '/invocations' },
        { what: 'an unknown route', method: 'GET', path: '/nope' },
      ];
      const mlflow = await mlflowServe(join(REPO_ROOT, '.venv'), uri, await freePort(), stack.env);
      const bento = await serveModel([uri], env(), work);
      try {
        await sameAnswers(mlflow.base, bento.base, requests);
        const [theirs, ours] = await Promise.all(
          [mlflow, bento].map((s) => scoringClient(MLFLOW3_PYTHON, Number(new URL(s.base).port), example, work)),
        );
        assert.deepEqual(ours, theirs);
      } finally {
        await Promise.all([mlflow.close(), bento.close()]);
      }
    });

    it('answers what mlflow models serve (MLflow 2.x, torch 1.13) answers for the same requests to the PyTorch model', async () => {
      const uri = `runs:/${runs.pytorch}/model`;
      const batch = images(3, 7);
      const requests: Sent[] = [
        json('inputs', { inputs: batch }),
        json('instances', { instances: batch.slice(0, 1) }),
        json('integers', { inputs: [batch[0].map((c) => c.map((r) => r.map((v) => Math.round(v))))] }),
        json('a smaller image', { inputs: [batch[0].map((c) => c.slice(0, 16).map((r) => r.slice(0, 16)))] }),
        json('flattened', { inputs: [batch[0].flat(2)] }),
        json('a table', { dataframe_split: { columns: ['a', 'b'], data: [[1, 2]] } }),
        json('a word', { inputs: [[[['x']]]] }),
        json('ragged', { inputs: [[1, 2], [3]] }),
        json('a named input it does not have', { inputs: { pixels: batch } }),
        json('two input fields', { inputs: batch, instances: batch }),
      ];
      const mlflow = await mlflowServe(join(REPO_ROOT, '.venv-mlflow2'), uri, await freePort(), stack.env);
      const bento = await serveModel([uri], torchEnv(), work);
      try {
        await sameAnswers(mlflow.base, bento.base, requests);
        const input = { ndarray: batch, dtype: 'float32' };
        const [theirs, ours] = await Promise.all(
          [mlflow, bento].map((s) => scoringClient(MLFLOW2_PYTHON, Number(new URL(s.base).port), input, work)),
        );
        assert.ok(maxDiff(ours, theirs) <= 1e-4);
      } finally {
        await Promise.all([mlflow.close(), bento.close()]);
      }
    });

    it('bento build -m packs the converted model; the bento serves it with MLflow gone, and its image holds no Python', async () => {
      const built = await runBentoCli(
        ['build', '-m', 'models:/wine@champion', '--version', '1.0.0', '-o', 'json'],
        env(),
        work,
      );
      assert.equal(built.code, 0, built.stderr.slice(-3000));
      const bento = JSON.parse(built.stdout) as { tag: string; path: string };
      assert.equal(bento.tag, 'wine:1.0.0');
      const packed = await new ModelStore(bento.path).list();
      assert.equal(packed.length, 1);
      assert.equal(packed[0].conversion?.from.flavor, 'sklearn', 'the packed model is the converted one');
      const example = (await pyfuncInput('models:/wine@champion')) as { columns: string[]; data: unknown[][] };
      // MLflow out of reach: the bento holds all it serves.
      const offline = env({ MLFLOW_TRACKING_URI: 'http://127.0.0.1:9', BENTO_CONVERT_PYTHON: '/nonexistent/python' });
      const served = await serveModel(['wine:1.0.0'], offline, work);
      try {
        const answer = await invoke(served.base, { dataframe_split: example });
        assert.equal(answer.status, 200, JSON.stringify(answer.json));
        assert.deepEqual(
          answer.json,
          (
            await pyfuncPredict(
              MLFLOW3_PYTHON,
              'models:/wine@champion',
              [{ dataframe_split: example }],
              stack.env,
              work,
            )
          )[0],
        );
      } finally {
        await served.close();
      }
      // The image: built from the bento with buildah, from the Node base image infra/base-image.sh makes (no registry here).
      const STORAGE = ['--storage-driver', 'vfs'];
      const buildah = (...args: string[]) =>
        execFileSync('buildah', [...STORAGE, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
      const base = execFileSync('bash', [join(REPO_ROOT, 'infra', 'base-image.sh')], {
        env: { ...process.env, NODE_BIN: process.execPath },
        stdio: ['ignore', 'pipe', 'inherit'],
      })
        .toString()
        .trim();
      const image = 'localhost/bento-ts-test/wine:1.0.0';
      const containerized = await runBentoCli(
        [
          'containerize',
          'wine:1.0.0',
          '--backend',
          'buildah',
          '-t',
          image,
          '--build-arg',
          `BASE_IMAGE=${base}`,
          '--',
          ...STORAGE,
        ],
        { ...env(), BUILDAH_ISOLATION: 'chroot' },
        work,
        1_200_000,
      );
      assert.equal(containerized.code, 0, containerized.stderr.slice(-3000));
      const container = buildah('from', '--quiet', image);
      try {
        const inside = (cmd: string) => buildah('run', '--isolation', 'chroot', container, '--', 'sh', '-c', cmd);
        assert.equal(inside('command -v python3 python python3.11 || echo none'), 'none', 'no Python in the image');
        assert.equal(inside('find / -xdev -name "libpython*" 2>/dev/null | head -1; echo end'), 'end');
        assert.match(inside('ls models/*/*/bento-converted'), /model\.onnx/);
      } finally {
        buildah('rm', container);
        buildah('rmi', image);
      }
    });

    it('refuses what it cannot convert, in one line with a code, and stores none of it', async () => {
      const refused = async (uri: string, extra: Record<string, string>, code: string, pattern: RegExp) => {
        const { code: exit, stderr } = await runBentoCli(
          ['serve', uri, '-p', '0'],
          env({ BENTO_LOG_LEVEL: 'error', ...extra }),
          work,
        );
        assert.notEqual(exit, 0, uri);
        const line = stderr.trim().split('\n').pop()!;
        assert.match(line, new RegExp(`^Error \\[${code}\\]: `), stderr.slice(-2000));
        assert.match(line, pattern);
      };
      await refused(
        `runs:/${runs.custom_pyfunc}/model`,
        {},
        'MODEL_NOT_CONVERTIBLE',
        /custom Python model .* converted once: pytorch, sklearn/,
      );
      await refused(
        `runs:/${runs.unimportable}/model`,
        { BENTO_CONVERT_PYTHON: MLFLOW2_PYTHON },
        'MODEL_UNPICKLE_FAILED',
        /No module named 'private_layers'.*code_paths.*; bento-ts serves MLflow models of the flavors .* converted once: pytorch, sklearn/,
      );
      await refused(
        `runs:/${runs.unsupported_operator}/model`,
        { BENTO_CONVERT_PYTHON: MLFLOW2_PYTHON },
        'ONNX_UNSUPPORTED_OPERATOR',
        /aten::fft_rfft.*; bento-ts serves MLflow models of the flavors .* converted once: pytorch, sklearn/,
      );
      // MLflow pinned the torch it found where the model was logged (Debian's, on no package index).
      await refused(
        `runs:/${runs.sklearn_iris}/model`,
        {},
        'CONVERT_ENV_FAILED',
        /requirements torch==1\.13\S* cannot be installed.*set BENTO_CONVERT_PYTHON/,
      );
      const stored = (await new ModelStore(home).list()).flatMap((m) => m.uris);
      for (const key of ['custom_pyfunc', 'unimportable', 'unsupported_operator', 'sklearn_iris'])
        assert.ok(!stored.some((u) => u.includes(runs[key])), `${key} is not stored`);
      const staging = join(home, 'models', '.staging');
      assert.deepEqual(existsSync(staging) ? readdirSync(staging) : [], []);
    });

    /** The model's own input example, as MLflow saved it (split orient). */
    async function pyfuncInput(uri: string): Promise<unknown> {
      const code = `import json, mlflow; m = mlflow.pyfunc.load_model(${JSON.stringify(uri)}); e = m.input_example; print(json.dumps({"columns": list(e.columns), "data": e.values.tolist()}))`;
      const { stdout } = await run(MLFLOW3_PYTHON, ['-c', code], {
        env: { ...process.env, ...stack.env },
        timeout: 120_000,
      });
      return JSON.parse(stdout.trim().split('\n').pop()!);
    }
  },
);
