/**
 * @bento-ts/plugin-converters: serves the MLflow models people already have, converted once to ONNX when they enter
 * the model store, checked against the original, then run by ONNX Runtime with no Python:
 * - `pytorch` (mlflow.pytorch.log_model): torch.onnx.export with a free batch axis;
 * - `sklearn` (mlflow.sklearn.log_model): skl2onnx; pipelines with scalers and encoders, classifiers answering
 *   labels and probabilities, regressors;
 * - `keras` (mlflow.keras) and Keras models of the `tensorflow` flavor (mlflow.tensorflow): tf2onnx.
 * Conversion runs Python (python/bento_convert): BENTO_CONVERT_PYTHON, else an environment made from the model's own
 * requirements (see ConverterContext.python).
 */
import { definePlugin } from '@bento-ts/framework/plugin';
import { pythonConverter } from './python-converter.js';

export { PYTHON_DIR, pythonConverter, type PythonConverterOptions } from './python-converter.js';

/** The model's requirements carry torch; its exporter needs nothing more. */
export const pytorchConverter = pythonConverter({ name: 'pytorch-onnx', flavors: ['pytorch'], packages: [] });

/** skl2onnx and onnx beside the model's scikit-learn; it reads the columns off the model when nothing else says them. */
export const sklearnConverter = pythonConverter({
  name: 'sklearn-onnx',
  flavors: ['sklearn'],
  packages: ['skl2onnx', 'onnx', 'pandas'],
  infersInputs: true,
});

/** tf2onnx beside the model's TensorFlow and Keras. */
export const kerasConverter = pythonConverter({
  name: 'keras-onnx',
  flavors: ['keras', 'tensorflow'],
  packages: ['tf2onnx', 'onnx'],
});

export default definePlugin({
  name: 'converters',
  setup(registry) {
    registry.addConverter(pytorchConverter);
    registry.addConverter(sklearnConverter);
    registry.addConverter(kerasConverter);
  },
});
