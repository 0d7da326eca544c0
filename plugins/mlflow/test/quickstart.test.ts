/**
 * The seed guide's quick start, through MLflow, with the Makefile targets as a
 * user types them: make start, make train EPOCHS=1, make serve MODEL_NAME=...,
 * make serve-test-predict. Only the ports and state directories are the test's own.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MadeStack, make } from './helpers/make.js';
import { freePort } from './helpers/stack.js';


describe('the seed\'s quick start through MLflow: make start, make train, make serve', { timeout: 1_200_000 }, () => {
  const stack = new MadeStack('bento-quickstart-');
  const home = mkdtempSync(join(tmpdir(), 'bento-home-'));
  let apiPort = 0;
  after(() => stack.stop());

  it('trains a model for one epoch, logs and registers it, and serves it by name', async () => {
    assert.match(await stack.start(), /MLflow \(basic\) ready/);
    const tracking = `MLFLOW_TRACKING_URI=${stack.trackingUri}`;
    assert.match(await make(['mlflow-ui', ...stack.args]), new RegExp(`MLflow UI: http://localhost:${stack.mlflowPort}`));

    const trained = await make(['train', 'EPOCHS=1', tracking]);
    assert.match(trained, /^run ID: +[0-9a-f]{32}$/m);
    assert.match(trained, /^model: +vision-model version 1 \(alias champion\)/m);
    assert.match(trained, /make serve MODEL_RUN_ID=[0-9a-f]{32}/);
    const accuracy = Number(/test accuracy ([\d.]+)/.exec(trained)?.[1]);
    assert.ok(accuracy > 0.8, `one epoch on Fashion-MNIST reaches ${accuracy}`);

    apiPort = await freePort();
    stack.served = true;
    const served = await make(['serve', 'MODEL_NAME=vision-model', `PORT=${apiPort}`, 'HOST=127.0.0.1', tracking, `BENTO_HOME=${home}`]);
    assert.match(served, /bento-ts server started!/);
    // serve-test prints /health then /get_model_info, each pretty-printed: the second starts after "}\n{".
    const info = JSON.parse(await make(['-s', 'serve-test', `PORT=${apiPort}`]).then((out) => out.slice(out.indexOf('}\n{') + 2)));
    assert.equal(info.model_version, '1');
    assert.equal(info.model_metadata.params.epochs, '1');
    const prediction = JSON.parse(await make(['-s', 'serve-test-predict', `PORT=${apiPort}`]));
    assert.equal(prediction.predicted_class, 'Trouser', JSON.stringify(prediction));
  });
});
