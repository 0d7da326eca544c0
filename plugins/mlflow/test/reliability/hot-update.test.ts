/**
 * Hot updates from the registry, under load: the classifier follows `models:/<name>@champion` against a real
 * MLflow (BENTO_MODEL_POLL_SECONDS), while clients keep it busy. The alias moves to version 2: the server loads
 * and warms it up beside version 1 and swaps it in, and the answers (their X-Model-Version) switch from 1 to 2
 * with no request failing. The alias then moves to a version whose model file is broken: it fails to load, is
 * not swapped in and is reported, and version 2 serves on. Figures in test-output/reliability/hot-update.json.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningServer } from '@bento-ts/framework';
import { SAMPLE, serve } from '../helpers/serve.js';
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
      const form = new FormData();
      form.append('image', new Blob([SAMPLE], { type: 'image/png' }), 'sample.png');
      try {
        const res = await fetch(`${server.url}/predict_image`, { method: 'POST', body: form });
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
  before(async () => {
    await stack.start();
    await stack.logModels(NAME);
    // A version whose ONNX file is not a model: the registry accepts it; loading it fails.
    // MLflow prints links to the run first: the version is the last line.
    brokenVersion = (await stack.python(
      [
        'import mlflow, os, shutil, tempfile',
        `src = ${JSON.stringify(join(REPO_ROOT, 'services', 'vision-classifier', 'model'))}`,
        'tmp = tempfile.mkdtemp()',
        'dst = os.path.join(tmp, "model")',
        'shutil.copytree(src, dst)',
        'open(os.path.join(dst, "model.onnx"), "wb").write(b"this is not an ONNX model")',
        'with mlflow.start_run(run_name="broken") as run:',
        '    mlflow.log_artifacts(dst, "model")',
        `v = mlflow.register_model(f"runs:/{run.info.run_id}/model", ${JSON.stringify(NAME)})`,
        'print(v.version)',
      ].join('\n'),
    ))
      .split('\n')
      .pop()!
      .trim();
  });
  after(() => stack.stop());

  it('swaps a new version in with no request failing, and keeps serving when the next one fails to load', async () => {
    const home = mkdtempSync(join(tmpdir(), 'bento-hot-'));
    const server = await serve({ ...stack.env, BENTO_HOME: home, MODEL_URI: `models:/${NAME}@champion`, BENTO_MODEL_POLL_SECONDS: '0.5' });
    const metric = async (pattern: RegExp) => pattern.test(await server.metrics!.exposition());
    const load = keepBusy(server);
    try {
      await until(() => load.answers.length > 200, 60_000, 'answers under load');
      const setAlias = (version: string) => stack.python(`from mlflow import MlflowClient\nMlflowClient().set_registered_model_alias(${JSON.stringify(NAME)}, "champion", "${version}")`);

      await setAlias('2');
      const movedAt = performance.now();
      await until(() => load.answers.some((a) => a.model === `${NAME}/2`), 120_000, 'answers from version 2');
      const firstV2 = load.answers.find((a) => a.model === `${NAME}/2`)!.at;
      await until(() => load.answers.filter((a) => a.at > firstV2).length > 200, 60_000, 'answers after the swap');

      await setAlias(brokenVersion);
      const brokenAt = performance.now();
      await until(() => metric(/bento_model_updates_total\{runner="vision_model_runner",outcome="refused"\} 1/), 120_000, 'the broken version refused');
      const refusedMs = performance.now() - brokenAt;
      const countAtRefusal = load.answers.length;
      await until(() => load.answers.length > countAtRefusal + 200, 60_000, 'answers after the refusal');
      await load.stop();

      const info = (await (await fetch(`${server.url}/get_model_info`)).json()) as { model_uri: string; model_version?: string };
      const exposition = await server.metrics!.exposition();
      const failed = load.answers.filter((a) => a.status !== 200);
      const lastV1 = Math.max(...load.answers.filter((a) => a.model === `${NAME}/1`).map((a) => a.at));
      const v1AfterSwap = load.answers.filter((a) => a.model === `${NAME}/1` && a.at > firstV2).length;
      const figures = {
        clients: CLIENTS,
        requests: load.answers.length,
        failed: failed.length,
        answered_by: Object.fromEntries([...new Set(load.answers.map((a) => a.model))].map((m) => [m, load.answers.filter((a) => a.model === m).length])),
        alias_moved_to_first_v2_answer_s: Math.round((firstV2 - movedAt) / 100) / 10,
        v1_answers_after_first_v2: v1AfterSwap,
        v1_to_v2_overlap_ms: Math.max(0, Math.round(lastV1 - firstV2)),
        broken_version_refused_after_s: Math.round(refusedMs / 100) / 10,
        served_after_refusal: load.answers.length - countAtRefusal,
      };
      mkdirSync(join(REPO_ROOT, 'test-output', 'reliability'), { recursive: true });
      writeFileSync(join(REPO_ROOT, 'test-output', 'reliability', 'hot-update.json'), JSON.stringify(figures, null, 2));

      assert.deepEqual(failed.slice(0, 5), [], 'no request failed');
      assert.ok(figures.answered_by[`${NAME}/1`]! > 200 && figures.answered_by[`${NAME}/2`]! > 400, JSON.stringify(figures.answered_by));
      assert.deepEqual(Object.keys(figures.answered_by).sort(), [`${NAME}/1`, `${NAME}/2`], 'every answer names its version; the broken one answered none');
      // Calls already running when the swap came finish on version 1: a few answers, within a moment.
      assert.ok(figures.v1_to_v2_overlap_ms < 2_000, `version 1 answered ${figures.v1_to_v2_overlap_ms} ms after version 2 first did`);
      assert.equal(info.model_version, '2');
      assert.match(exposition, /bento_model_info\{runner="vision_model_runner",name="hot-model",version="2",/);
      assert.doesNotMatch(exposition, /bento_model_info\{[^}]*version="1",/, 'model info names the served version alone');
      assert.match(exposition, /bento_model_updates_total\{runner="vision_model_runner",outcome="swapped"\} 1/);
      // Looked at again every 0.5 s since, the broken version was not tried again.
      assert.match(exposition, /bento_model_updates_total\{runner="vision_model_runner",outcome="refused"\} 1\n/);
    } finally {
      await load.stop();
      await server.close();
    }
  });
});
