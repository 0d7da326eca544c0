/**
 * The seed's Phase 2 with the Makefile targets: make train QUICK=1 registers vision-model 1 @champion; a server
 * started with make serve follows models:/vision-model@champion; make tune QUICK=1 runs a grid of trainings in one
 * experiment, registers the best as version 2 and moves @champion to it. While requests keep coming, the server
 * must switch to version 2 without a restart and without a failed request; MLflow must show the grid and the
 * best run behind version 2.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { MadeStack, make } from './helpers/make.js';
import { REPO_ROOT, SERVICE_DIR, freePort } from './helpers/stack.js';

const exec = promisify(execFile);

describe(
  'make tune: a hyperparameter search whose best model a following server deploys without a restart',
  { timeout: 1_500_000 },
  () => {
    const stack = new MadeStack('bento-tune-');
    after(() => stack.stop());

    it('registers the best of the grid as @champion, and the server swaps it in under load', async () => {
      assert.match(await stack.start(), /MLflow \(basic\) ready/);
      const tracking = stack.trackingUri;
      assert.match(
        await make(['train', 'QUICK=1', `MLFLOW_TRACKING_URI=${tracking}`]),
        /^model: +vision-model version 1 \(alias champion\)/m,
      );

      const apiPort = await freePort();
      stack.served = true;
      const home = mkdtempSync(join(tmpdir(), 'bento-tune-home-'));
      await make(['serve', 'MODEL_URI=models:/vision-model@champion', `PORT=${apiPort}`, 'HOST=127.0.0.1'], {
        MLFLOW_TRACKING_URI: tracking,
        BENTO_HOME: home,
        BENTO_MODEL_POLL_SECONDS: '1',
      });
      const url = `http://127.0.0.1:${apiPort}/predict_image`;
      const image = readFileSync(join(SERVICE_DIR, 'samples', 'trouser.jpg'));
      const answers: Array<{ status: number; version: string | null; at: number }> = [];
      let loading = true;
      const load = (async () => {
        while (loading) {
          const form = new FormData();
          form.append('image', new Blob([image], { type: 'image/jpeg' }), 'trouser.jpg');
          const res = await fetch(url, { method: 'POST', body: form });
          answers.push({ status: res.status, version: res.headers.get('x-model-version'), at: Date.now() });
          await res.body?.cancel();
          await new Promise((r) => setTimeout(r, 20));
        }
      })();

      const t0 = Date.now();
      const tuned = await make(['tune', 'QUICK=1', `MLFLOW_TRACKING_URI=${tracking}`]);
      const tunedAt = Date.now();
      const trials = [
        ...tuned.matchAll(/^trial lr=(\S+) batch=(\d+): test_accuracy ([\d.]+) \(run ([0-9a-f]{32})\)$/gm),
      ];
      assert.equal(trials.length, 4, tuned);
      assert.match(tuned, /^model: +vision-model version 2 \(alias champion\)$/m);
      const bestRun = /^run ID: +([0-9a-f]{32})$/m.exec(tuned)![1];
      const bestScore = Math.max(...trials.map((t) => Number(t[3])));
      assert.equal(
        trials.find((t) => t[4] === bestRun)![3],
        trials.find((t) => Number(t[3]) === bestScore)![3],
        'the registered run is the best trial',
      );

      // The server follows: it must answer from version 2 soon after the alias moved.
      let switchedAt = 0;
      while (Date.now() - tunedAt < 60_000) {
        const last = answers.at(-1);
        if (last?.version === 'vision-model/2') {
          switchedAt = last.at;
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      // Two more seconds of load: every answer after the switch must come from version 2.
      await new Promise((r) => setTimeout(r, 2_000));
      loading = false;
      await load;
      assert.ok(switchedAt > 0, `still answering from ${answers.at(-1)?.version} a minute after make tune`);
      const failed = answers.filter((a) => a.status !== 200);
      assert.deepEqual(failed, [], 'no request failed through the search and the swap');
      const versions = [...new Set(answers.map((a) => a.version))];
      assert.deepEqual(versions, ['vision-model/1', 'vision-model/2'], 'version 1, then version 2, never back');
      assert.ok(
        answers.findIndex((a) => a.version === 'vision-model/2') >
          answers.findLastIndex((a) => a.version === 'vision-model/1'),
      );

      // MLflow's own account: one parent run with the grid nested under it, and version 2 made from the best run.
      const python = join(REPO_ROOT, '.venv', 'bin', 'python');
      const { stdout } = await exec(python, [
        '-c',
        [
          'import json, mlflow',
          `mlflow.set_tracking_uri("${tracking}")`,
          'c = mlflow.MlflowClient()',
          'e = c.get_experiment_by_name("vision-classifier-tune")',
          'runs = c.search_runs([e.experiment_id])',
          'v = c.get_model_version_by_alias("vision-model", "champion")',
          'print(json.dumps({"runs": [{"id": r.info.run_id, "parent": r.data.tags.get("mlflow.parentRunId"), "lr": r.data.params.get("learning_rate"), "batch": r.data.params.get("batch_size"), "acc": r.data.metrics.get("test_accuracy")} for r in runs], "champion": v.version, "champion_run": v.run_id}))',
        ].join('\n'),
      ]);
      const account = JSON.parse(stdout) as {
        runs: Array<{ id: string; parent?: string; lr?: string; batch?: string; acc?: number }>;
        champion: string;
        champion_run: string;
      };
      const children = account.runs.filter((r) => r.parent);
      assert.equal(children.length, 4);
      assert.equal(
        new Set(children.map((r) => `${r.lr}/${r.batch}`)).size,
        4,
        'four distinct (learning rate, batch size) pairs',
      );
      assert.equal(new Set(children.map((r) => r.parent)).size, 1);
      assert.equal(account.champion, '2');
      assert.equal(account.champion_run, bestRun);
      assert.equal(Math.max(...children.map((r) => r.acc!)), children.find((r) => r.id === bestRun)!.acc);

      const figures = {
        trials: trials.map((t) => ({ lr: Number(t[1]), batch_size: Number(t[2]), test_accuracy: Number(t[3]) })),
        tune_seconds: Math.round((tunedAt - t0) / 1000),
        swap_after_tune_ms: switchedAt - tunedAt,
        requests: answers.length,
        failed: failed.length,
        answered_by_v1: answers.filter((a) => a.version === 'vision-model/1').length,
        answered_by_v2: answers.filter((a) => a.version === 'vision-model/2').length,
      };
      mkdirSync(join(REPO_ROOT, 'test-output'), { recursive: true });
      writeFileSync(join(REPO_ROOT, 'test-output', 'tune.json'), JSON.stringify(figures, null, 2));
    });
  },
);
