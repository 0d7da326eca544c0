import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseModelsUri, parseRunsUri } from '../src/index.js';
import { joinPath } from '../src/uri.js';

describe('models:/ URIs, read as MLflow reads them', () => {
  const cases: Array<[string, unknown]> = [
    ['models:/vision-model/3', { kind: 'version', name: 'vision-model', version: '3', subpath: '' }],
    ['models:/vision-model/latest', { kind: 'latest', name: 'vision-model', subpath: '' }],
    ['models:/vision-model/LATEST', { kind: 'latest', name: 'vision-model', subpath: '' }],
    ['models:/vision-model/Production', { kind: 'stage', name: 'vision-model', stage: 'Production', subpath: '' }],
    ['models:/vision-model/champion', { kind: 'stage', name: 'vision-model', stage: 'champion', subpath: '' }],
    ['models:/vision-model@champion', { kind: 'alias', name: 'vision-model', alias: 'champion', subpath: '' }],
    [
      'models:/vision-model@champion/sub/dir',
      { kind: 'alias', name: 'vision-model', alias: 'champion', subpath: 'sub/dir' },
    ],
    ['models:/vision-model/2/onnx', { kind: 'version', name: 'vision-model', version: '2', subpath: 'onnx' }],
    [
      'models:/m-0f3c1a2b3c4d5e6f7a8b9c0d1e2f3a4b',
      { kind: 'model-id', modelId: 'm-0f3c1a2b3c4d5e6f7a8b9c0d1e2f3a4b', subpath: '' },
    ],
    ['models:///vision-model/1', { kind: 'version', name: 'vision-model', version: '1', subpath: '' }],
    ['models:/my%20model/1', { kind: 'version', name: 'my model', version: '1', subpath: '' }],
  ];
  for (const [uri, expected] of cases) it(uri, () => assert.deepEqual(parseModelsUri(uri), expected));

  it('refuses what is not a models:/ URI', () => {
    assert.throws(() => parseModelsUri('models:vision-model'), /expected models:\/\.\.\./);
    assert.throws(() => parseModelsUri('models:/'), /no model name/);
    assert.throws(() => parseModelsUri('models:/m@'), /models:\/<name>@<alias>/);
    assert.throws(() => parseModelsUri('models:/m@a b'), /not an alias name/);
  });
});

describe('runs:/ URIs', () => {
  it('takes the run ID and the artifact path', () =>
    assert.deepEqual(parseRunsUri('runs:/abc123/model'), { runId: 'abc123', path: 'model' }));
  it('keeps nested artifact paths', () =>
    assert.deepEqual(parseRunsUri('runs:/abc123/models/onnx/'), { runId: 'abc123', path: 'models/onnx' }));
  it('refuses a run ID with a path separator trick', () =>
    assert.throws(() => parseRunsUri('runs:/../x/model'), /expected runs:\/<run_id>/));
});

describe('joinPath', () => {
  it('joins without doubling slashes, and keeps scheme://', () => {
    assert.equal(joinPath('s3://bucket/prefix/', '/model/'), 's3://bucket/prefix/model');
    assert.equal(joinPath('mlflow-artifacts:/1/abc/artifacts', '', 'model'), 'mlflow-artifacts:/1/abc/artifacts/model');
    assert.equal(joinPath('http://h:5000//x', 'y'), 'http://h:5000/x/y');
    assert.equal(joinPath('file:///tmp/a', 'b'), 'file:///tmp/a/b');
  });
});
