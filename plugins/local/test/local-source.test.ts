import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { ModelNotFoundError, ModelStore, consoleLoggerForTests } from './helpers.js';
import plugin, { localModelSource } from '../src/index.js';

const ctx = (cwd: string) => ({
  cwd,
  cacheDir: join(cwd, '.cache'),
  store: new ModelStore(join(cwd, '.bento-home')),
  progress: false,
  env: {},
  logger: consoleLoggerForTests,
  prepare: async () => undefined,
});

function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bento-local-'));
  mkdirSync(join(dir, 'model'));
  writeFileSync(join(dir, 'model', 'net.onnx'), 'not really onnx: the source does not parse weights');
  return dir;
}

const MLMODEL = `artifact_path: model
flavors:
  onnx:
    data: model.onnx
    onnx_version: 1.12.0
  python_function:
    loader_module: mlflow.onnx
model_uuid: 0123abcd
metadata:
  classes: [a, b]
  output_kind: logits
  params: { lr: "0.1" }
  metrics: { acc: 0.9 }
`;

describe('local model source', () => {
  it('registers for plain paths and file: URIs', async () => {
    const schemes: string[] = [];
    await plugin.setup({
      addModelSource: (s) => schemes.push(...s.schemes),
      addBackend: () => undefined,
      addConverter: () => undefined,
      addRequestHook: () => undefined,
    });
    assert.deepEqual(schemes, ['', 'file']);
  });

  it('resolves a relative directory against the service project', async () => {
    const dir = project();
    const model = await localModelSource.resolve('./model', ctx(dir));
    assert.equal(model.path, join(dir, 'model'));
    assert.equal(model.format, 'onnx');
    assert.equal(model.file, 'net.onnx');
    assert.equal(model.source, 'local');
  });

  it('resolves file:// URIs, file:relative paths and a single file', async () => {
    const dir = project();
    const abs = pathToFileURL(join(dir, 'model')).href;
    assert.equal((await localModelSource.resolve(abs, ctx('/'))).path, join(dir, 'model'));
    assert.equal((await localModelSource.resolve('file:model', ctx(dir))).path, join(dir, 'model'));
    const single = await localModelSource.resolve(join(dir, 'model', 'net.onnx'), ctx('/'));
    assert.deepEqual([single.path, single.file], [join(dir, 'model'), 'net.onnx']);
  });

  it('reads an MLflow model directory: format, metadata and model_uuid as version', async () => {
    const dir = project();
    writeFileSync(join(dir, 'model', 'MLmodel'), MLMODEL);
    const model = await localModelSource.resolve('./model', ctx(dir));
    assert.equal(model.file, 'model.onnx');
    assert.equal(model.version, '0123abcd');
    assert.deepEqual(model.metadata, {
      classes: ['a', 'b'],
      output_kind: 'logits',
      params: { lr: '0.1' },
      metrics: { acc: 0.9 },
      flavor: 'onnx',
    });
  });

  it('prefers a labels file beside the model over metadata classes', async () => {
    const dir = project();
    writeFileSync(join(dir, 'model', 'MLmodel'), MLMODEL);
    writeFileSync(join(dir, 'model', 'labels.txt'), 'cat\ndog\n\n');
    assert.deepEqual((await localModelSource.resolve('./model', ctx(dir))).metadata.classes, ['cat', 'dog']);
  });

  it('hands a PyTorch model over as it is, by its flavor: the framework converts it into the store', async () => {
    const dir = project();
    writeFileSync(join(dir, 'model', 'MLmodel'), 'flavors:\n  pytorch: { model_data: data }\n  python_function: {}\n');
    const model = await localModelSource.resolve('./model', ctx(dir));
    assert.deepEqual([model.format, model.path], ['mlflow.pytorch', join(dir, 'model')]);
  });

  it('refuses missing paths, unknown files and ambiguous directories', async () => {
    const dir = project();
    await assert.rejects(localModelSource.resolve('./nope', ctx(dir)), ModelNotFoundError);
    writeFileSync(join(dir, 'weights.bin'), 'x');
    await assert.rejects(localModelSource.resolve('./weights.bin', ctx(dir)), /cannot tell the format/);
    writeFileSync(join(dir, 'model', 'other.onnx'), 'x');
    await assert.rejects(localModelSource.resolve('./model', ctx(dir)), /several \.onnx files/);
    mkdirSync(join(dir, 'empty'));
    await assert.rejects(localModelSource.resolve('./empty', ctx(dir)), /holds no model/);
  });
});
