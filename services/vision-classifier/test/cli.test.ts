import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AddressInfo, createServer } from 'node:net';
import { describe, it } from 'node:test';
import { REPO_ROOT, runBento as bento } from './helpers.js';

describe('bento serve', () => {
  it("serves the repository's bento.yaml, prints the seed's banner and stops cleanly on SIGTERM", async () => {
    const run = await bento(
      ['serve', '.', '--port', '0', '--host', '127.0.0.1'],
      {},
      /Health: GET (\S+)/,
      async (stdout) => {
        const health = /Health: GET (\S+)/.exec(stdout)![1];
        const res = await fetch(health);
        assert.deepEqual(await res.json(), { status: 'healthy', service: 'mlflow_vision_classifier' });
      },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /server started!\n\nAPI Endpoints:\n {2}- Predict Image: POST http:\/\/127\.0\.0\.1:\d+\/predict_image\n {2}- Predict Batch: POST .*\/predict_batch\n {2}- Model Info: GET .*\/get_model_info\n {2}- Health: GET .*\/health/,
    );
  });

  it('serves a service.ts file directly (compiled with tsc when stale)', async () => {
    const run = await bento(
      ['serve', 'services/vision-classifier/src/service.ts', '--port', '0', '--host', '127.0.0.1'],
      {},
      /Health: GET (\S+)/,
      async (stdout) => {
        const res = await fetch(/Health: GET (\S+)/.exec(stdout)![1]);
        assert.equal(res.status, 200);
      },
    );
    assert.equal(run.code, 0, run.stderr);
  });

  it('reads a .env file in the working directory, the environment winning over it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bento-env-'));
    // MLflow on a closed port, no retries: each run fails at once, after saying which model it looked for.
    writeFileSync(
      join(dir, '.env'),
      'MODEL_RUN_ID=from-dotenv\nMODEL_NAME=ignored\nMLFLOW_TRACKING_URI=http://127.0.0.1:9\nMLFLOW_HTTP_REQUEST_MAX_RETRIES=0\n',
    );
    const run = await bento(
      ['serve', REPO_ROOT, '--port', '0'],
      { BENTO_LOG_LEVEL: 'info' },
      undefined,
      undefined,
      dir,
    );
    assert.equal(run.code, 1);
    assert.match(run.stderr, /resolving model runs:\/from-dotenv\/model/);
    assert.match(run.stderr, /Failed to load model from MLflow: MLflow at http:\/\/127\.0\.0\.1:9 is unreachable/);
    const overridden = await bento(
      ['serve', REPO_ROOT, '--port', '0'],
      { MODEL_RUN_ID: 'from-env', BENTO_LOG_LEVEL: 'info' },
      undefined,
      undefined,
      dir,
    );
    assert.match(overridden.stderr, /resolving model runs:\/from-env\/model/);
  });

  it('fails with a clear message for a model path that does not exist', async () => {
    const run = await bento(['serve', '.', '--port', '0'], { MODEL_URI: './no/such/model.onnx' });
    assert.equal(run.code, 3);
    assert.match(run.stderr, /MODEL_NOT_FOUND.*no\/such\/model\.onnx does not exist/);
  });

  it('refuses a malformed BENTO_JS_DECODE_MAX_PIXELS at start, naming it', async () => {
    const run = await bento(['serve', '.', '--port', '0'], { BENTO_JS_DECODE_MAX_PIXELS: '96x96' });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /BENTO_JS_DECODE_MAX_PIXELS must be a whole number of pixels.*"96x96"/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  });

  it('refuses a port already in use at once, before loading any model, saying how to pick another', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      for (const workers of ['1', '2']) {
        const run = await bento(['serve', '.', '--port', String(port), '--host', '127.0.0.1', '--workers', workers], {
          BENTO_LOG_LEVEL: 'info',
        });
        assert.equal(run.code, 2, run.stderr);
        assert.match(
          run.stderr,
          new RegExp(
            `^Error \\[PORT_UNAVAILABLE\\]: port ${port} is already in use \\(127\\.0\\.0\\.1:${port}\\): stop what listens there, or choose another with --port \\(or the PORT setting\\)$`,
            'm',
          ),
        );
        assert.doesNotMatch(run.stderr, /resolving model|report it/, 'no model was loaded, and nothing calls it a bug');
      }
    } finally {
      taken.close();
    }
  });

  it('rejects an invalid port with usage help', async () => {
    const run = await bento(['serve', '--port', 'eighty']);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /port is an integer/);
  });
});
