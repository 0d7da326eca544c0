import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { inspectModelPath } from '../src/plugin.js';

const BUNDLED_ONNX = fileURLToPath(new URL('../../../services/vision-classifier/model/model.onnx', import.meta.url));

function mlflowDir(mlmodel: string, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'bento-model-dir-'));
  writeFileSync(join(dir, 'MLmodel'), mlmodel);
  for (const [path, from] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    copyFileSync(from, join(dir, path));
  }
  return dir;
}

describe('inspectModelPath on MLflow model directories', () => {
  it('serves the ONNX export a PyTorch model ships in extra_files', async () => {
    const dir = mlflowDir(
      'flavors:\n  pytorch:\n    model_data: data\n    extra_files:\n    - path: extra_files/model.onnx\n',
      { 'extra_files/model.onnx': BUNDLED_ONNX },
    );
    const info = await inspectModelPath(dir);
    assert.deepEqual([info.format, info.file], ['onnx', 'extra_files/model.onnx']);
  });

  // The layouts mlflow.tensorflow.save_model writes (mlflow/tensorflow/__init__.py), with a stand-in saved_model.pb.
  it("finds the SavedModel of each layout MLflow's tensorflow flavor writes, and leaves a Keras file (no SavedModel) to a converter", async () => {
    const PB = BUNDLED_ONNX;
    const keras = await inspectModelPath(
      mlflowDir('flavors:\n  tensorflow:\n    data: data\n    model_type: keras\n    save_format: tf\n', {
        'data/model/saved_model.pb': PB,
      }),
    );
    assert.deepEqual([keras.format, keras.file], ['tf-saved-model', join('data', 'model')]);
    const module = await inspectModelPath(
      mlflowDir('flavors:\n  tensorflow:\n    saved_model_dir: tf2model\n    model_type: tf2-module\n', {
        'tf2model/saved_model.pb': PB,
      }),
    );
    assert.deepEqual([module.format, module.file], ['tf-saved-model', 'tf2model']);
    for (const file of ['data/model.keras', 'data/model.h5']) {
      const dir = mlflowDir('flavors:\n  tensorflow:\n    data: data\n    model_type: keras\n', { [file]: PB });
      assert.equal((await inspectModelPath(dir)).format, 'mlflow.tensorflow', file);
    }
  });

  it('reports a model no backend loads by its MLflow flavor, for a converter to take; once converted, the converted file', async () => {
    const dir = mlflowDir('flavors:\n  pytorch:\n    model_data: data\n  python_function: {}\n');
    const unconverted = await inspectModelPath(dir);
    assert.deepEqual(
      [unconverted.format, unconverted.file, unconverted.metadata.flavor],
      ['mlflow.pytorch', undefined, 'pytorch'],
    );
    mkdirSync(join(dir, 'bento-converted'));
    copyFileSync(BUNDLED_ONNX, join(dir, 'bento-converted', 'model.onnx'));
    const record = {
      converter: 'pytorch-onnx',
      from: { flavor: 'pytorch' },
      format: 'onnx',
      file: 'bento-converted/model.onnx',
      libraries: {},
      serving: { flavor: 'pytorch' },
    };
    writeFileSync(join(dir, 'bento-converted', 'conversion.json'), JSON.stringify(record));
    const converted = await inspectModelPath(dir);
    assert.deepEqual([converted.format, converted.file], ['onnx', 'bento-converted/model.onnx']);
    assert.deepEqual(converted.metadata.serving, { flavor: 'pytorch' });
    assert.equal((converted.metadata.conversion as { converter: string }).converter, 'pytorch-onnx');
  });

  it('reads a tensor signature into the metadata, and ignores a column one', async () => {
    const sig = `signature:\n  inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3, 32, 32]}, "name": "input"}]'\n`;
    const withTensor = await inspectModelPath(
      mlflowDir(`flavors:\n  onnx:\n    data: model.onnx\n${sig}`, { 'model.onnx': BUNDLED_ONNX }),
    );
    assert.deepEqual(withTensor.metadata.signature, {
      inputs: [{ name: 'input', dtype: 'float32', shape: [null, 3, 32, 32] }],
      outputs: undefined,
    });
    const columns = `signature:\n  inputs: '[{"type": "double", "name": "x"}]'\n`;
    const withColumns = await inspectModelPath(
      mlflowDir(`flavors:\n  onnx:\n    data: model.onnx\n${columns}`, { 'model.onnx': BUNDLED_ONNX }),
    );
    assert.equal(withColumns.metadata.signature, undefined);
  });
});
