/**
 * Infrastructure faults against a real MLflow: artifact downloads cut off
 * halfway or stalled (a fault-injecting proxy in front of MLflow) are retried
 * and never leave a half-installed model; MLflow down after start does not
 * stop serving; MLflow down at start serves the cached model, and with nothing
 * cached fails clearly after bounded retries.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BentoError, ModelStore } from '@bento-ts/framework/plugin';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { predict, serve } from '../helpers/serve.js';
import { REPO_ROOT, Stack } from '../helpers/stack.js';

const NAME = 'fault-model';

async function stagingLeft(home: string): Promise<string[]> {
  const dir = join(home, 'models', '.staging');
  return existsSync(dir) ? readdirSync(dir) : [];
}

describe('infrastructure faults', { timeout: 900_000 }, () => {
  const stack = new Stack({ mode: 'basic' });
  let proxy: FaultProxy;
  const figures: Record<string, unknown> = {};
  const env = (home: string, extra: Record<string, string> = {}) => ({
    ...stack.env,
    MLFLOW_TRACKING_URI: proxy.url,
    BENTO_HOME: home,
    // A stalled transfer is given up after 2 s; three more attempts, at once.
    MLFLOW_HTTP_REQUEST_TIMEOUT: '2',
    MLFLOW_HTTP_REQUEST_MAX_RETRIES: '3',
    MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0',
    ...extra,
  });

  before(async () => {
    await stack.start();
    await stack.logModels(NAME);
    proxy = await new FaultProxy(stack.trackingUri).start();
  });
  after(async () => {
    await proxy?.stop();
    await stack.stop();
    mkdirSync(join(REPO_ROOT, 'test-output', 'reliability'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'test-output', 'reliability', 'faults.json'), JSON.stringify(figures, null, 2));
  });

  it('retries a download cut off halfway and one that stalls, then installs the whole model', async () => {
    const home = mkdtempSync(join(tmpdir(), 'bento-faults-'));
    proxy.faults = ['truncate', 'stall'];
    const seen = proxy.downloads.length;
    const started = performance.now();
    const server = await serve(env(home, { MODEL_NAME: NAME, MODEL_VERSION: '1' }));
    try {
      assert.equal((await predict(server)).predicted_class, 'Ankle boot');
    } finally {
      await server.close();
    }
    const downloads = proxy.downloads.slice(seen);
    assert.deepEqual(
      downloads.map((d) => d.fault ?? 'whole'),
      ['truncate', 'stall', 'whole'],
    );
    const stored = await new ModelStore(home).list();
    assert.equal(stored.length, 1);
    assert.equal(
      await new ModelStore(home).verify(stored[0], true),
      undefined,
      'the stored files match their manifest',
    );
    assert.deepEqual(await stagingLeft(home), []);
    figures.faulty_downloads_recovered = {
      faults: ['truncate', 'stall'],
      attempts: downloads.length,
      seconds: Math.round((performance.now() - started) / 100) / 10,
    };
  });

  it('gives up after the bounded retries with a clear error, and installs nothing', async () => {
    const home = mkdtempSync(join(tmpdir(), 'bento-faults-'));
    proxy.faults = Array(10).fill('truncate');
    const seen = proxy.downloads.length;
    const failure = await serve(env(home, { MODEL_NAME: NAME, MODEL_VERSION: '2' })).then(
      (s) => s.close().then(() => undefined),
      (err: BentoError) => err,
    );
    proxy.faults = [];
    assert.ok(failure, 'the start failed');
    assert.equal(failure.code, 'MODEL_SOURCE_UNAVAILABLE', failure.message);
    assert.match(
      failure.message,
      /^Failed to load model from MLflow: download of \S+\/model\.onnx failed after 4 attempts \(terminated\): the connection broke or went quiet/,
    );
    assert.equal(proxy.downloads.length - seen, 4, 'one attempt and three retries');
    assert.deepEqual(await new ModelStore(home).list(), []);
    assert.deepEqual(await stagingLeft(home), []);
    figures.faulty_downloads_refused = { attempts: proxy.downloads.length - seen, installed: 0 };
  });

  it('after a SIGKILL mid-download, a restart ignores and removes the partial download and installs the model whole', async () => {
    const home = mkdtempSync(join(tmpdir(), 'bento-faults-'));
    proxy.faults = ['stall'];
    const seen = proxy.downloads.length;
    const { spawn } = await import('node:child_process');
    const child = spawn(
      process.execPath,
      [
        join(REPO_ROOT, 'framework', 'bin', 'bento.js'),
        'serve',
        join(REPO_ROOT, 'services', 'vision-classifier'),
        '--port',
        '0',
      ],
      {
        env: {
          ...process.env,
          ...env(home, { MODEL_NAME: NAME, MODEL_VERSION: '2', MLFLOW_HTTP_REQUEST_TIMEOUT: '60' }),
        },
        stdio: 'ignore',
      },
    );
    const exited = new Promise((r) => child.once('exit', r));
    // Killed while the model file is being downloaded.
    while (proxy.downloads.length === seen) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGKILL');
    await exited;
    assert.equal((await stagingLeft(home)).length, 1, 'the killed download left its staging directory');
    assert.deepEqual(await new ModelStore(home).list(), [], 'and no model');

    const server = await serve(env(home, { MODEL_NAME: NAME, MODEL_VERSION: '2' }));
    try {
      assert.equal((await predict(server)).predicted_class, 'Ankle boot');
    } finally {
      await server.close();
    }
    const stored = await new ModelStore(home).list();
    assert.deepEqual(
      stored.map((m) => m.version),
      ['2'],
    );
    assert.equal(await new ModelStore(home).verify(stored[0], true), undefined);
    assert.deepEqual(await stagingLeft(home), [], 'the partial download was removed');
    figures.sigkill_mid_download = 'restart installed the model whole; the partial download was removed';
  });

  it('keeps serving when MLflow goes down, serves the cached model when it is down at start, and fails clearly with nothing cached', async () => {
    const cached = mkdtempSync(join(tmpdir(), 'bento-faults-'));
    const select = { MODEL_NAME: NAME, MODEL_VERSION: '@champion' };
    const server = await serve(env(cached, select));
    try {
      await stack.stopServers();
      for (let i = 0; i < 5; i++) assert.equal((await predict(server)).predicted_class, 'Ankle boot');
    } finally {
      await server.close();
    }
    figures.mlflow_down_after_start = 'served';

    // Down at start, with the alias resolved and the model stored before: that model is served.
    const again = await serve(env(cached, select));
    try {
      assert.equal((await predict(again)).predicted_class, 'Ankle boot');
    } finally {
      await again.close();
    }
    figures.mlflow_down_at_start_cached = 'served';

    // Down at start with nothing stored: a clear error after the bounded retries, in bounded time.
    const started = performance.now();
    await assert.rejects(
      serve(
        env(mkdtempSync(join(tmpdir(), 'bento-faults-')), { ...select, MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0.1' }),
      ),
      (err: BentoError) => {
        assert.equal(err.code, 'MODEL_SOURCE_UNAVAILABLE', err.message);
        assert.match(err.message, /^Failed to load model from MLflow: /);
        return true;
      },
    );
    const seconds = (performance.now() - started) / 1000;
    assert.ok(seconds < 30, `gave up after ${seconds} s`);
    figures.mlflow_down_at_start_nothing_cached = {
      error: 'MODEL_SOURCE_UNAVAILABLE',
      seconds: Math.round(seconds * 10) / 10,
    };
  });
});
