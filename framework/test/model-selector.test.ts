import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { modelFromEnv } from '../src/index.js';

describe("modelFromEnv (the seed guide's variables)", () => {
  const select = modelFromEnv('./model');
  it('falls back to the bundled model', () => assert.equal(select({}), './model'));
  it('takes MODEL_URI as given, first', () =>
    assert.equal(select({ MODEL_URI: 's3://b/m', MODEL_RUN_ID: 'abc' }), 's3://b/m'));
  it('resolves a relative MODEL_URI path from the working directory', () => {
    assert.equal(select({ MODEL_URI: 'models/net.onnx' }), join(process.cwd(), 'models/net.onnx'));
    assert.equal(select({ MODEL_URI: '/abs/net.onnx' }), '/abs/net.onnx');
  });
  it('maps MODEL_RUN_ID to runs:/<id>/model', () =>
    assert.equal(select({ MODEL_RUN_ID: 'abc123' }), 'runs:/abc123/model'));
  it('honours MODEL_ARTIFACT_PATH', () =>
    assert.equal(select({ MODEL_RUN_ID: 'abc', MODEL_ARTIFACT_PATH: 'onnx' }), 'runs:/abc/onnx'));
  it('maps MODEL_NAME to models:/<name>/latest by default', () =>
    assert.equal(select({ MODEL_NAME: 'vision-model' }), 'models:/vision-model/latest'));
  it('maps MODEL_NAME + MODEL_VERSION', () =>
    assert.equal(select({ MODEL_NAME: 'vision-model', MODEL_VERSION: '2' }), 'models:/vision-model/2'));
  it('spells an alias version as MLflow does', () =>
    assert.equal(select({ MODEL_NAME: 'm', MODEL_VERSION: '@champion' }), 'models:/m@champion'));
  it('ignores blank values', () => assert.equal(select({ MODEL_URI: ' ', MODEL_RUN_ID: '' }), './model'));
  it('fails as the seed does when the service has no fallback model and none is chosen', () =>
    assert.throws(
      () => modelFromEnv()({ MODEL_VERSION: '3' }),
      (err: Error & { code?: string }) =>
        err.code === 'CONFIG_ERROR' && /^Either MODEL_RUN_ID or MODEL_NAME must be set/.test(err.message),
    ));
});
