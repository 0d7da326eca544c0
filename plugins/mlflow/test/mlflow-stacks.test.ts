/**
 * The MLflow model source against the seed's full architecture (PostgreSQL
 * backend store, MinIO for artifacts) and against an MLflow server with basic
 * auth, each started by infra/stack.sh.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { BentoError } from '@bento-ts/framework';
import { serve, servesAnkleBoot } from './helpers/serve.js';
import { Stack } from './helpers/stack.js';

const NAME = 'vision-model';

describe(
  'the full stack: PostgreSQL backend store and S3-compatible artifact store (MinIO)',
  { timeout: 900_000 },
  () => {
    const stack = new Stack({ mode: 'full' });
    const home = mkdtempSync(join(tmpdir(), 'bento-home-'));
    const env = (extra: Record<string, string> = {}) => ({ ...stack.env, BENTO_HOME: home, ...extra });

    before(async () => {
      await stack.start();
      await stack.logModels(NAME);
      await stack.logDirectS3Model('vision-s3', { epochs: '7' });
    });
    after(() => stack.stop());

    it('serves a registered version whose files MLflow proxies from MinIO, and they really are in the bucket', async () => {
      const info = await servesAnkleBoot(env({ MODEL_NAME: NAME, MODEL_VERSION: '@champion' }));
      assert.match(String(info.resolved_uri), /^mlflow-artifacts:\//);
      const s3 = new S3Client({
        endpoint: stack.env.MLFLOW_S3_ENDPOINT_URL,
        forcePathStyle: true,
        region: 'us-east-1',
        credentials: { accessKeyId: 'minio', secretAccessKey: 'minio123' },
      });
      const objects = await s3.send(new ListObjectsV2Command({ Bucket: 'mlflow', Prefix: 'artifacts/' }));
      assert.ok(
        (objects.Contents ?? []).some((o) => o.Key?.endsWith('/MLmodel')),
        'MLmodel files are stored in the mlflow bucket',
      );
      s3.destroy();
    });

    it('reads s3:// artifact roots straight from the store, with the S3 credentials from the environment', async () => {
      const info = await servesAnkleBoot(env({ MODEL_NAME: 'vision-s3', MODEL_VERSION: '1' }));
      assert.match(String(info.resolved_uri), /^s3:\/\/mlflow\/direct-vision-s3\//);
      assert.equal((info.model_metadata as { params: Record<string, string> }).params.epochs, '7');
    });

    it('names refused S3 credentials, without showing them', async () => {
      await assert.rejects(
        serve(
          env({
            MODEL_NAME: 'vision-s3',
            MODEL_VERSION: '1',
            BENTO_HOME: mkdtempSync(join(tmpdir(), 'bento-home-')),
            AWS_SECRET_ACCESS_KEY: 'wrong-secret-123',
          }),
        ),
        (err: BentoError) => {
          assert.equal(err.code, 'MODEL_SOURCE_UNAUTHORIZED', err.message);
          assert.match(
            err.message,
            /^Failed to load model from MLflow: .*(SignatureDoesNotMatch|InvalidAccessKeyId|AccessDenied)/,
          );
          assert.doesNotMatch(err.message, /wrong-secret-123|minio123/);
          return true;
        },
      );
    });
  },
);

describe('an MLflow server with basic auth', { timeout: 900_000 }, () => {
  const password = 'bento-Pa55word-42';
  const stack = new Stack({ mode: 'basic', auth: { user: 'admin', password } });
  const home = mkdtempSync(join(tmpdir(), 'bento-home-'));
  const env = (extra: Record<string, string> = {}) => ({ ...stack.env, BENTO_HOME: home, ...extra });

  before(async () => {
    await stack.start();
    await stack.logModels(NAME);
  });
  after(() => stack.stop());

  it('serves with MLFLOW_TRACKING_USERNAME / PASSWORD, and /get_model_info shows no credential', async () => {
    const info = await servesAnkleBoot(env({ MODEL_NAME: NAME, MODEL_VERSION: '1' }));
    const text = JSON.stringify(info);
    assert.doesNotMatch(text, new RegExp(password));
    assert.doesNotMatch(text, new RegExp(Buffer.from(`admin:${password}`).toString('base64')));
  });

  it('says which credentials to set when they are missing or wrong, and never shows them', async () => {
    const check = (err: BentoError) => {
      assert.equal(err.code, 'MODEL_SOURCE_UNAUTHORIZED', err.message);
      assert.match(
        err.message,
        /^Failed to load model from MLflow: MLflow refused the request \(401 Unauthorized\): set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD/,
      );
      assert.doesNotMatch(err.message, /wrong-pass-123|bento-Pa55word/);
      return true;
    };
    await assert.rejects(
      serve(env({ MODEL_NAME: NAME, MODEL_VERSION: '2', MLFLOW_TRACKING_PASSWORD: 'wrong-pass-123' })),
      check,
    );
    await assert.rejects(
      serve(env({ MODEL_NAME: NAME, MODEL_VERSION: '2', MLFLOW_TRACKING_USERNAME: '', MLFLOW_TRACKING_PASSWORD: '' })),
      check,
    );
  });
});

describe('an MLflow 2.x server: models as run artifacts, no logged-model API', { timeout: 900_000 }, () => {
  const stack = new Stack({ mode: 'basic', venv: '.venv-mlflow2' });
  const home = mkdtempSync(join(tmpdir(), 'bento-home-'));
  const env = (extra: Record<string, string> = {}) => ({ ...stack.env, BENTO_HOME: home, ...extra });
  let fx: Awaited<ReturnType<Stack['logModels']>>;

  before(async () => {
    await stack.start();
    fx = await stack.logModels(NAME);
  });
  after(() => stack.stop());

  it('serves by run ID, version, latest, stage and alias', async () => {
    const cases: Array<[Record<string, string>, string | null, string]> = [
      [{ MODEL_RUN_ID: fx.versions[0].run_id }, null, fx.versions[0].run_id],
      [{ MODEL_NAME: NAME, MODEL_VERSION: '1' }, '1', fx.versions[0].run_id],
      [{ MODEL_NAME: NAME }, '2', fx.versions[1].run_id],
      [{ MODEL_NAME: NAME, MODEL_VERSION: 'Production' }, '2', fx.versions[1].run_id],
      [{ MODEL_NAME: NAME, MODEL_VERSION: '@champion' }, '1', fx.versions[0].run_id],
    ];
    for (const [select, version, run] of cases) {
      const info = await servesAnkleBoot(env(select));
      assert.equal(info.model_version, version, JSON.stringify(select));
      assert.equal(info.run_id, run);
      assert.match(String(info.resolved_uri), new RegExp(`^mlflow-artifacts:/.*/${run}/artifacts/model$`));
    }
  });

  it('says that an MLflow 3 model ID needs an MLflow 3 server', async () => {
    await assert.rejects(serve(env({ MODEL_URI: 'models:/m-0123456789abcdef0123456789abcdef' })), (err: BentoError) => {
      assert.equal(err.code, 'MODEL_NOT_FOUND');
      assert.match(err.message, /MLflow 3 model ID, and this MLflow server has no logged-model API \(MLflow 2\.x\)/);
      return true;
    });
  });
});
