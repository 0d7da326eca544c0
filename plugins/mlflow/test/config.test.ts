import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_TRACKING_URI, mlflowConfigFromEnv, redact } from '../src/index.js';

describe('MLflow settings from the environment', () => {
  it("defaults to the seed's tracking server and uses it for the registry too", () => {
    const c = mlflowConfigFromEnv({});
    assert.equal(c.trackingUri, DEFAULT_TRACKING_URI);
    assert.equal(c.registryUri, DEFAULT_TRACKING_URI);
    assert.equal(c.authorization, undefined);
  });

  it('takes MLFLOW_REGISTRY_URI apart from the tracking URI, without trailing slashes', () => {
    const c = mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: 'http://t:5000/', MLFLOW_REGISTRY_URI: 'https://r/mlflow/' });
    assert.deepEqual([c.trackingUri, c.registryUri], ['http://t:5000', 'https://r/mlflow']);
  });

  it('sends basic auth when user and password are set, over a token (as MLflow does)', () => {
    const c = mlflowConfigFromEnv({
      MLFLOW_TRACKING_USERNAME: 'ann',
      MLFLOW_TRACKING_PASSWORD: 's3cret!',
      MLFLOW_TRACKING_TOKEN: 'tok-123',
    });
    assert.equal(c.authorization, `Basic ${Buffer.from('ann:s3cret!').toString('base64')}`);
    assert.equal(mlflowConfigFromEnv({ MLFLOW_TRACKING_TOKEN: 'tok-123' }).authorization, 'Bearer tok-123');
  });

  it('reads S3 settings as boto3 does: path-style with an endpoint, region from AWS_DEFAULT_REGION', () => {
    const c = mlflowConfigFromEnv({
      MLFLOW_S3_ENDPOINT_URL: 'http://minio:9000',
      AWS_DEFAULT_REGION: 'eu-west-1',
      MLFLOW_S3_IGNORE_TLS: 'true',
    });
    assert.deepEqual(c.s3, {
      endpoint: 'http://minio:9000',
      ignoreTls: true,
      region: 'eu-west-1',
      forcePathStyle: true,
      unsigned: false,
      credentials: undefined,
    });
    assert.equal(mlflowConfigFromEnv({}).s3.forcePathStyle, false);
  });

  it('refuses settings MLflow refuses, with the variable named', () => {
    assert.throws(
      () => mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: 'ftp://x' }),
      /MLFLOW_TRACKING_URI must be an http\(s\) URL/,
    );
    assert.throws(() => mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: 'http://u:p@x' }), /must not carry credentials/);
    assert.throws(
      () => mlflowConfigFromEnv({ MLFLOW_TRACKING_INSECURE_TLS: 'true', MLFLOW_TRACKING_SERVER_CERT_PATH: '/x' }),
      /only one of/,
    );
    assert.throws(
      () => mlflowConfigFromEnv({ MLFLOW_HTTP_REQUEST_MAX_RETRIES: 'many' }),
      /MLFLOW_HTTP_REQUEST_MAX_RETRIES must be a number/,
    );
  });

  it('blanks credentials out of any text', () => {
    const c = mlflowConfigFromEnv({
      MLFLOW_TRACKING_USERNAME: 'ann',
      MLFLOW_TRACKING_PASSWORD: 's3cret!',
      AWS_SECRET_ACCESS_KEY: 'minio123',
    });
    const text = redact(`failed with s3cret! and minio123 via http://ann:s3cret!@host/x and ${c.authorization}`, c);
    assert.ok(!/s3cret|minio123/.test(text), text);
    assert.ok(!text.includes(c.authorization!.slice(6)), 'the encoded basic credentials are blanked too');
  });
});
