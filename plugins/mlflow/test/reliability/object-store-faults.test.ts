/**
 * The S3-compatible object store (MinIO) down, with MLflow and PostgreSQL up: the seed's full architecture losing
 * its artifact store. Both ways bento-ts reads artifacts are covered: through MLflow's artifact proxy
 * (`mlflow-artifacts:`, the default) and straight from the bucket (`s3://` artifact roots, with the AWS keys). A
 * server running goes on serving; one starting serves the model it has stored; one with nothing stored fails with
 * a clear error after bounded retries, in bounded time, and installs nothing. Before the outage, a fault-injecting
 * proxy in front of the bucket corrupts a transfer (retried on the MD5 mismatch) and adds a hostile key to a
 * listing (refused: nothing is written outside the download directory).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BentoError, ModelStore } from '@bento-ts/framework/plugin';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { modelInfo, predict, serve, servesAnkleBoot } from '../helpers/serve.js';
import { REPO_ROOT, Stack } from '../helpers/stack.js';

const PROXIED = 'os-proxied';
const DIRECT = 'os-direct';

describe('the object store down', { timeout: 900_000 }, () => {
  const stack = new Stack({ mode: 'full' });
  const cached = mkdtempSync(join(tmpdir(), 'bento-os-'));
  const figures: Record<string, unknown> = {};
  const env = (home: string, name: string) => ({
    ...stack.env,
    BENTO_HOME: home,
    MODEL_NAME: name,
    MODEL_VERSION: '1',
    MLFLOW_HTTP_REQUEST_MAX_RETRIES: '2',
    MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0.1',
  });

  before(async () => {
    await stack.start();
    await stack.logModels(PROXIED);
    await stack.logDirectS3Model(DIRECT);
  });
  after(async () => {
    await stack.stop();
    mkdirSync(join(REPO_ROOT, 'test-output', 'reliability'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'test-output', 'reliability', 'object-store.json'), JSON.stringify(figures, null, 2));
  });

  it("retries a transfer whose bytes do not match the store's checksum, then installs the model whole", async () => {
    const s3 = await new FaultProxy(
      stack.env.MLFLOW_S3_ENDPOINT_URL,
      new RegExp(`^/mlflow/direct-${DIRECT}/.*/model\\.onnx$`),
      { keepHost: true },
    ).start();
    try {
      const home = mkdtempSync(join(tmpdir(), 'bento-os-'));
      s3.faults = ['corrupt'];
      await servesAnkleBoot({ ...env(home, DIRECT), MLFLOW_S3_ENDPOINT_URL: s3.url });
      assert.deepEqual(
        s3.downloads.map((d) => d.fault ?? 'whole'),
        ['corrupt', 'whole'],
      );
      const stored = await new ModelStore(home).list();
      assert.equal(await new ModelStore(home).verify(stored[0], true), undefined);
      figures.corrupt_transfer = { attempts: s3.downloads.length, installed: 'whole' };
    } finally {
      await s3.stop();
    }
  });

  it('refuses a listing that names a file outside the download directory, and writes nothing', async () => {
    // Amazon S3 takes keys with "..", MinIO does not: the proxy adds one to the bucket's answer.
    const s3 = await new FaultProxy(stack.env.MLFLOW_S3_ENDPOINT_URL, new RegExp(`^/mlflow/direct-${DIRECT}/`), {
      keepHost: true,
    }).start();
    try {
      // The other files still downloading when the hostile one is refused: the refusal must wait for them before the
      // download directory is removed (the project's CI once saw it removed under them: ENOTEMPTY, and that error
      // instead of the refusal).
      s3.slowMs = 500;
      s3.alter = {
        match: /^\/mlflow\/?\?.*list-type=2/,
        body: (xml) => {
          const prefix = /<Prefix>([^<]*)<\/Prefix>/.exec(xml)?.[1] ?? '';
          const hostile = `<Contents><Key>${prefix}../../escape.onnx</Key><Size>2</Size><StorageClass>STANDARD</StorageClass></Contents>`;
          // First in the listing: refused while the other files are still downloading, which a discard must wait for.
          return xml.includes('<Contents>')
            ? xml.replace('<Contents>', `${hostile}<Contents>`)
            : xml.replace('</ListBucketResult>', `${hostile}</ListBucketResult>`);
        },
      };
      const home = mkdtempSync(join(tmpdir(), 'bento-os-'));
      await assert.rejects(serve({ ...env(home, DIRECT), MLFLOW_S3_ENDPOINT_URL: s3.url }), (err: BentoError) => {
        assert.match(
          err.message,
          /refusing artifact path "\.\.\/\.\.\/escape\.onnx": it leaves the download directory/,
        );
        return true;
      });
      assert.ok(s3.downloads.length > 0, 'other files were downloading');
      assert.equal(
        s3.inFlight,
        0,
        'the start failed only once no download was still writing into the staging directory',
      );
      assert.deepEqual(await new ModelStore(home).list(), []);
      assert.equal(existsSync(join(home, 'models', 'escape.onnx')), false);
      assert.equal(existsSync(join(home, 'escape.onnx')), false);
      assert.deepEqual(readdirSync(join(home, 'models', '.staging')), []);
      figures.hostile_listing = 'refused, nothing written';
    } finally {
      await s3.stop();
    }
  });

  it('keeps serving when it goes down, serves the stored model when it is down at start, and fails clearly with nothing stored', async () => {
    const running = await Promise.all([serve(env(cached, PROXIED)), serve(env(cached, DIRECT))]);
    try {
      assert.match(String((await modelInfo(running[0])).resolved_uri), /^mlflow-artifacts:\//);
      assert.match(String((await modelInfo(running[1])).resolved_uri), /^s3:\/\/mlflow\//);
      await stack.stopObjectStore();
      for (const server of running)
        for (let i = 0; i < 5; i++) assert.equal((await predict(server)).predicted_class, 'Ankle boot');
    } finally {
      await Promise.all(running.map((s) => s.close()));
    }
    figures.object_store_down_after_start = 'served';

    for (const name of [PROXIED, DIRECT]) await servesAnkleBoot(env(cached, name));
    figures.object_store_down_at_start_cached = 'served';

    const failures: Record<string, { error: string; seconds: number }> = {};
    for (const [name, reads] of [
      [PROXIED, /MLflow's artifact proxy answered 500 .*Is that store up/],
      [DIRECT, /cannot list s3:\/\/mlflow\/.*ECONNREFUSED/],
    ] as const) {
      const home = mkdtempSync(join(tmpdir(), 'bento-os-'));
      const started = performance.now();
      const err = await serve(env(home, name)).then(
        async (s) => {
          await s.close();
          return undefined;
        },
        (e: BentoError) => e,
      );
      const seconds = (performance.now() - started) / 1000;
      assert.ok(err, `${name}: the start failed`);
      assert.equal(err.code, 'MODEL_SOURCE_UNAVAILABLE', `${name}: ${err.message}`);
      assert.match(err.message, /^Failed to load model from MLflow: /);
      assert.match(err.message, reads, `${name}: the message says what could not be read`);
      assert.doesNotMatch(err.message, /minio123/);
      assert.ok(seconds < 60, `${name}: gave up after ${seconds} s`);
      assert.deepEqual(await new ModelStore(home).list(), [], `${name}: nothing installed`);
      const staging = join(home, 'models', '.staging');
      assert.deepEqual(existsSync(staging) ? readdirSync(staging) : [], [], `${name}: no download left behind`);
      failures[name === PROXIED ? 'proxied' : 'direct_s3'] = {
        error: err.code,
        seconds: Math.round(seconds * 10) / 10,
      };
      console.log(`# ${name}: ${err.message}`);
    }
    figures.object_store_down_at_start_nothing_cached = failures;
  });
});
