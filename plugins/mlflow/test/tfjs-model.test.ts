/**
 * A TF.js model in MLflow: the classifier's TF.js directory (model-tfjs/, with its MLmodel `tfjs` flavor) logged
 * as a run's artifacts and registered, then served from `runs:/` and `models:/` by the TF.js backend.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { modelInfo, predict, serve } from './helpers/serve.js';
import { REPO_ROOT, Stack } from './helpers/stack.js';

const NAME = 'tfjs-model';

describe('a TF.js model logged to MLflow', { timeout: 300_000 }, () => {
  const stack = new Stack({ mode: 'basic' });
  let runId = '';
  before(async () => {
    await stack.start();
    const out = await stack.python(
      [
        'import mlflow',
        'with mlflow.start_run(run_name="tfjs") as run:',
        '    mlflow.log_params({"model_name": "fashion_cnn", "backend": "tfjs"})',
        `    mlflow.log_artifacts(${JSON.stringify(join(REPO_ROOT, 'services', 'vision-classifier', 'model-tfjs'))}, "model")`,
        `mlflow.register_model(f"runs:/{run.info.run_id}/model", ${JSON.stringify(NAME)})`,
        'print(run.info.run_id)',
      ].join('\n'),
    );
    runId = out.split('\n').pop()!.trim();
  });
  after(() => stack.stop());

  for (const uri of [() => `runs:/${runId}/model`, () => `models:/${NAME}/1`]) {
    it(`is served by the TF.js backend from ${uri().replace(runId, '<run>')}`, async () => {
      const server = await serve({
        ...stack.env,
        BENTO_HOME: mkdtempSync(join(tmpdir(), 'bento-tfjs-')),
        MODEL_URI: uri(),
      });
      try {
        assert.equal((await predict(server)).predicted_class, 'Ankle boot');
        const info = await modelInfo(server);
        assert.equal(info.model_format, 'tfjs');
        assert.match(String(info.backend), /^tfjs \d/);
        assert.equal(info.model_metadata.params.backend, 'tfjs');
      } finally {
        await server.close();
      }
    });
  }
});
