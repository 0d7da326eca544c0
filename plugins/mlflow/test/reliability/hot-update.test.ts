/**
 * Hot updates from the registry, under load: the classifier follows `models:/<name>@champion` against a real
 * MLflow (BENTO_MODEL_POLL_SECONDS), while clients keep it busy. The alias moves to version 2: the server loads
 * and warms it up beside version 1 and swaps it in, and the answers (their X-Model-Version) switch from 1 to 2
 * with no request failing. The alias then moves to a version whose model file is broken (it fails to load), then to
 * one that loads and fails its warm-up inference: neither is swapped in, each is reported, and version 2 serves on.
 * Figures in test-output/reliability/hot-update.json.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningServer } from '@bento-ts/framework';
import * as ort from 'onnxruntime-node';
import { postImage, serve } from '../helpers/serve.js';
import { REPO_ROOT, Stack } from '../helpers/stack.js';

const NAME = 'hot-model';
const CLIENTS = 8;

interface Answer {
  status: number;
  model: string | null;
  at: number;
}

/** Clients that post the sample back to back until stopped, keeping every answer's status and X-Model-Version. */
function keepBusy(server: RunningServer) {
  const answers: Answer[] = [];
  let running = true;
  const client = async () => {
    while (running) {
      try {
        const res = await postImage(server);
        await res.arrayBuffer();
        answers.push({ status: res.status, model: res.headers.get('x-model-version'), at: performance.now() });
      } catch {
        answers.push({ status: 0, model: null, at: performance.now() });
      }
    }
  };
  const clients = Array.from({ length: CLIENTS }, client);
  return {
    answers,
    stop: async () => {
      running = false;
      await Promise.all(clients);
    },
  };
}

const until = async (what: () => boolean | Promise<boolean>, ms: number, why: string) => {
  const deadline = performance.now() + ms;
  while (!(await what())) {
    if (performance.now() > deadline) throw new Error(`timed out: ${why}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('hot updates under load', { timeout: 600_000 }, () => {
  const stack = new Stack({ mode: 'basic' });
  let brokenVersion = '';
  let coldVersion = '';
  /**
   * Registers a copy of the classifier whose model.onnx the Python lines given write (to `onnx_path`); its version
   * and that file.
   */
  const registerVariant = async (runName: string, writeModel: string[]) => {
    // MLflow prints links to the run first: the version and the file are the last line.
    const [version, file] = (
      await stack.python(
        [
          'import mlflow, os, shutil, tempfile',
          `src = ${JSON.stringify(join(REPO_ROOT, 'services', 'vision-classifier', 'model'))}`,
          'tmp = tempfile.mkdtemp()',
          'dst = os.path.join(tmp, "model")',
          'shutil.copytree(src, dst)',
          'onnx_path = os.path.join(dst, "model.onnx")',
          ...writeModel,
          `with mlflow.start_run(run_name=${JSON.stringify(runName)}) as run:`,
          '    mlflow.log_artifacts(dst, "model")',
          `v = mlflow.register_model(f"runs:/{run.info.run_id}/model", ${JSON.stringify(NAME)})`,
          'print(v.version, onnx_path)',
        ].join('\n'),
      )
    )
      .split('\n')
      .pop()!
      .trim()
      .split(' ') as [string, string];
    return { version, file };
  };
  before(async () => {
    await stack.start();
    await stack.logModels(NAME);
    // A version whose ONNX file is not a model: the registry accepts it; loading it fails.
    brokenVersion = (await registerVariant('broken', ['open(onnx_path, "wb").write(b"this is not an ONNX model")']))
      .version;
    // A valid model with the classifier's inputs and outputs that loads, and fails at its first inference: a
    // reshape of one image's 3,072 values into 7 rows. Only the warm-up can find it before a caller does.
    const cold = await registerVariant('fails-warm-up', [
      'import onnx',
      'from onnx import TensorProto, helper',
      'x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 32, 32])',
      'y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])',
      'shapes = [helper.make_tensor("rows7", TensorProto.INT64, [2], [7, -1]), helper.make_tensor("cols10", TensorProto.INT64, [2], [-1, 10])]',
      'nodes = [helper.make_node("Reshape", ["input", "rows7"], ["r"]), helper.make_node("Reshape", ["r", "cols10"], ["logits"])]',
      // The IR version onnxruntime-node reads (the onnx package writes a newer one by default).
      'model = helper.make_model(helper.make_graph(nodes, "fails_warm_up", [x], [y], shapes), opset_imports=[helper.make_opsetid("", 13)], ir_version=8)',
      'onnx.checker.check_model(model, full_check=True)',
      'onnx.save(model, onnx_path)',
    ]);
    coldVersion = cold.version;
    // What the server will find, shown here: the file loads, and its first inference fails.
    const session = await ort.InferenceSession.create(cold.file);
    await assert.rejects(
      session.run({ input: new ort.Tensor('float32', new Float32Array(3 * 32 * 32), [1, 3, 32, 32]) }),
      /cannot be reshaped/,
    );
    await session.release();
  });
  after(() => stack.stop());

  it('swaps a new version in with no request failing, and keeps serving when the next one fails to load or to warm up', async () => {
    const home = mkdtempSync(join(tmpdir(), 'bento-hot-'));
    const server = await serve({
      ...stack.env,
      BENTO_HOME: home,
      MODEL_URI: `models:/${NAME}@champion`,
      BENTO_MODEL_POLL_SECONDS: '0.5',
    });
    const metric = async (pattern: RegExp) => pattern.test(await server.metrics!.exposition());
    const load = keepBusy(server);
    try {
      await until(() => load.answers.length > 200, 60_000, 'answers under load');
      const setAlias = (version: string) =>
        stack.python(
          `from mlflow import MlflowClient\nMlflowClient().set_registered_model_alias(${JSON.stringify(NAME)}, "champion", "${version}")`,
        );

      await setAlias('2');
      const movedAt = performance.now();
      await until(() => load.answers.some((a) => a.model === `${NAME}/2`), 120_000, 'answers from version 2');
      const firstV2 = load.answers.find((a) => a.model === `${NAME}/2`)!.at;
      await until(() => load.answers.filter((a) => a.at > firstV2).length > 200, 60_000, 'answers after the swap');

      /** Moves the alias to `version` and waits for the refusal (the `refusals`th) and 200 answers after it. */
      const refused = async (version: string, refusals: number, what: string) => {
        await setAlias(version);
        const movedAt = performance.now();
        await until(
          () =>
            metric(
              new RegExp(`bento_model_updates_total\\{runner="vision_model_runner",outcome="refused"\\} ${refusals}`),
            ),
          120_000,
          `${what} refused`,
        );
        const at = { ms: performance.now() - movedAt, answers: load.answers.length };
        await until(() => load.answers.length > at.answers + 200, 60_000, `answers after ${what} was refused`);
        return at;
      };
      const broken = await refused(brokenVersion, 1, 'the version that fails to load');
      const cold = await refused(coldVersion, 2, 'the version that fails its warm-up');
      await load.stop();

      const info = (await (await fetch(`${server.url}/get_model_info`)).json()) as {
        model_uri: string;
        model_version?: string;
      };
      const exposition = await server.metrics!.exposition();
      const failed = load.answers.filter((a) => a.status !== 200);
      const lastV1 = Math.max(...load.answers.filter((a) => a.model === `${NAME}/1`).map((a) => a.at));
      const v1AfterSwap = load.answers.filter((a) => a.model === `${NAME}/1` && a.at > firstV2).length;
      const figures = {
        clients: CLIENTS,
        requests: load.answers.length,
        failed: failed.length,
        answered_by: Object.fromEntries(
          [...new Set(load.answers.map((a) => a.model))].map((m) => [
            m,
            load.answers.filter((a) => a.model === m).length,
          ]),
        ),
        alias_moved_to_first_v2_answer_s: Math.round((firstV2 - movedAt) / 100) / 10,
        v1_answers_after_first_v2: v1AfterSwap,
        v1_to_v2_overlap_ms: Math.max(0, Math.round(lastV1 - firstV2)),
        broken_version_refused_after_s: Math.round(broken.ms / 100) / 10,
        served_after_refusal: cold.answers - broken.answers,
        warm_up_failure_refused_after_s: Math.round(cold.ms / 100) / 10,
        served_after_warm_up_refusal: load.answers.length - cold.answers,
      };
      mkdirSync(join(REPO_ROOT, 'test-output', 'reliability'), { recursive: true });
      writeFileSync(join(REPO_ROOT, 'test-output', 'reliability', 'hot-update.json'), JSON.stringify(figures, null, 2));

      assert.deepEqual(failed.slice(0, 5), [], 'no request failed');
      assert.ok(
        figures.answered_by[`${NAME}/1`]! > 200 && figures.answered_by[`${NAME}/2`]! > 400,
        JSON.stringify(figures.answered_by),
      );
      assert.deepEqual(
        Object.keys(figures.answered_by).sort(),
        [`${NAME}/1`, `${NAME}/2`],
        'every answer names its version; the refused ones answered none',
      );
      // Calls already running when the swap came finish on version 1: a few answers, within a moment.
      assert.ok(
        figures.v1_to_v2_overlap_ms < 2_000,
        `version 1 answered ${figures.v1_to_v2_overlap_ms} ms after version 2 first did`,
      );
      assert.equal(info.model_version, '2');
      assert.match(exposition, /bento_model_info\{runner="vision_model_runner",name="hot-model",version="2",/);
      assert.doesNotMatch(
        exposition,
        /bento_model_info\{[^}]*version="1",/,
        'model info names the served version alone',
      );
      assert.match(exposition, /bento_model_updates_total\{runner="vision_model_runner",outcome="swapped"\} 1/);
      // Looked at again every 0.5 s since, neither refused version was tried again.
      assert.match(exposition, /bento_model_updates_total\{runner="vision_model_runner",outcome="refused"\} 2\n/);
    } finally {
      await load.stop();
      await server.close();
    }
  });
});
