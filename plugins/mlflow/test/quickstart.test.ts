/**
 * The seed guide's quick start, through MLflow, with the Makefile targets as a
 * user types them: make start, make train EPOCHS=1, make serve MODEL_NAME=...,
 * make serve-test-predict; then the reference's own training (FLAVOR=pytorch:
 * mlflow.pytorch.log_model only), served with the command make train prints.
 * Only the ports and state directories are the test's own.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MadeStack, make } from './helpers/make.js';
import { argmax, maxDiff, pyfuncPredict } from './helpers/serve-model.js';
import { REPO_ROOT, freePort } from './helpers/stack.js';

describe("the seed's quick start through MLflow: make start, make train, make serve", { timeout: 1_200_000 }, () => {
  const stack = new MadeStack('bento-quickstart-');
  const home = mkdtempSync(join(tmpdir(), 'bento-home-'));
  let apiPort = 0;
  after(() => stack.stop());

  it('trains a model for one epoch, logs and registers it, and serves it by name', async () => {
    assert.match(await stack.start(), /MLflow \(basic\) ready/);
    const tracking = `MLFLOW_TRACKING_URI=${stack.trackingUri}`;
    assert.match(
      await make(['mlflow-ui', ...stack.args]),
      new RegExp(`MLflow UI: http://localhost:${stack.mlflowPort}`),
    );

    const trained = await make(['train', 'EPOCHS=1', tracking]);
    assert.match(trained, /^run ID: +[0-9a-f]{32}$/m);
    assert.match(trained, /^model: +vision-model version 1 \(alias champion\)/m);
    assert.match(trained, /make serve MODEL_RUN_ID=[0-9a-f]{32}/);
    const accuracy = Number(/test accuracy ([\d.]+)/.exec(trained)?.[1]);
    assert.ok(accuracy > 0.8, `one epoch on Fashion-MNIST reaches ${accuracy}`);

    apiPort = await freePort();
    stack.served = true;
    const served = await make([
      'serve',
      'MODEL_NAME=vision-model',
      `PORT=${apiPort}`,
      'HOST=127.0.0.1',
      tracking,
      `BENTO_HOME=${home}`,
    ]);
    assert.match(served, /bento-ts server started!/);
    // serve-test prints /health then /get_model_info, each pretty-printed: the second starts after "}\n{".
    const info = JSON.parse(
      await make(['-s', 'serve-test', `PORT=${apiPort}`]).then((out) => out.slice(out.indexOf('}\n{') + 2)),
    );
    assert.equal(info.model_version, '1');
    assert.equal(info.model_metadata.params.epochs, '1');
    const prediction = JSON.parse(await make(['-s', 'serve-test-predict', `PORT=${apiPort}`]));
    assert.equal(prediction.predicted_class, 'Trouser', JSON.stringify(prediction));
    await make(['serve-stop']);
  });

  it("the reference's own mode: make train FLAVOR=pytorch logs the PyTorch model alone; make serve converts it once, preprocessing by settings", async () => {
    const tracking = `MLFLOW_TRACKING_URI=${stack.trackingUri}`;
    const trained = await make(['train', 'FLAVOR=pytorch', 'QUICK=1', 'MODEL_NAME=vision-model-pytorch', tracking]);
    const printed = /make serve (MODEL_RUN_ID=.*)$/m.exec(trained)?.[1];
    assert.ok(printed, trained);
    // The printed settings, as a user pastes them: KEY=value or KEY='a value'.
    const settings = [...printed.matchAll(/(\w+)=('[^']*'|\S+)/g)].map((m) => `${m[1]}=${m[2].replace(/^'|'$/g, '')}`);
    assert.deepEqual(
      settings.map((v) => v.split('=')[0]),
      ['MODEL_RUN_ID', 'MODEL_INPUT_SHAPE', 'MODEL_MEAN', 'MODEL_STD', 'MODEL_CLASSES', 'BENTO_CONVERT_PYTHON'],
    );
    const served = await make([
      'serve',
      ...settings,
      `PORT=${apiPort}`,
      'HOST=127.0.0.1',
      tracking,
      `BENTO_HOME=${home}`,
    ]);
    assert.match(served, /bento-ts server started!/);
    const info = JSON.parse(
      await make(['-s', 'serve-test', `PORT=${apiPort}`]).then((out) => out.slice(out.indexOf('}\n{') + 2)),
    );
    assert.equal(info.model_format, 'onnx');
    assert.deepEqual(
      info.input.preprocessing.mean.map((m: number) => m.toFixed(3)),
      /MODEL_MEAN=([\d.,]+)/
        .exec(printed)![1]
        .split(',')
        .map((m) => Number(m).toFixed(3)),
    );
    assert.equal(info.classes[1], 'Trouser');
    const prediction = JSON.parse(await make(['-s', 'serve-test-predict', `PORT=${apiPort}`]));
    assert.deepEqual(Object.keys(prediction.probabilities), info.classes);
    // The converted model answers as MLflow's own pyfunc does on the same input (a quick model: any class will do).
    const runId = /MODEL_RUN_ID=(\w+)/.exec(printed)![1];
    const body = {
      inputs: Array.from({ length: 2 }, (_, i) =>
        Array.from({ length: 3 }, (_, c) =>
          Array.from({ length: 32 }, (_, y) =>
            Array.from({ length: 32 }, (_, x) => Math.sin(i + c * 3 + y * 0.3 + x * 0.7)),
          ),
        ),
      ),
    };
    const ours = (await (
      await fetch(`http://127.0.0.1:${apiPort}/invocations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    ).json()) as { predictions: number[][] };
    const [theirs] = await pyfuncPredict(
      join(REPO_ROOT, '.venv-mlflow2', 'bin', 'python'),
      `runs:/${runId}/model`,
      [body],
      { MLFLOW_TRACKING_URI: stack.trackingUri },
      home,
    );
    assert.ok(
      maxDiff(ours.predictions, theirs.predictions) <= 1e-4,
      `max |difference| ${maxDiff(ours.predictions, theirs.predictions)}`,
    );
    assert.deepEqual(argmax(ours.predictions), argmax(theirs.predictions as number[][]));
  });
});
