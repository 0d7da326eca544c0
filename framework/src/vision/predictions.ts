/** An image classifier's [batch, classes] output as the seed guide's predictions: class names, softmax where needed, the best class. */
import { readSettings, settingName } from '../config/settings.js';
import { ConfigError } from '../errors.js';
import { consoleLogger } from '../logging/console-logger.js';
import type { ModelInfo } from '../runner/model-info.js';
import type { Tensor } from '../tensor/tensor.js';

/** One image's answer, in the seed guide's shape. */
export interface Prediction {
  predicted_class: string;
  predicted_index: number;
  confidence: number;
  probabilities: Record<string, number>;
}

export const PREDICTION_SCHEMA = {
  type: 'object',
  required: ['predicted_class', 'predicted_index', 'confidence', 'probabilities'],
  properties: {
    predicted_class: { type: 'string', example: 'Ankle boot' },
    predicted_index: { type: 'integer', example: 9 },
    confidence: { type: 'number', example: 0.9876 },
    probabilities: { type: 'object', additionalProperties: { type: 'number' } },
  },
};

/** Class names given by setting (comma-separated), for a model that names none itself. */
export const CLASSES_ENV = settingName('modelClasses');

/**
 * Class names for a model's outputs: MODEL_CLASSES when set, else the model's
 * metadata (which already took a labels file beside the model first), else the
 * indices as strings.
 */
/** Models already warned about answering indices (a zero-code service asks once per request). */
const warnedIndices = new Set<string>();

export function classNamesOf(
  model: ModelInfo,
  numClasses: number,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string[] {
  const given = readSettings(env).modelClasses?.filter(Boolean);
  if (given) {
    if (given.length !== numClasses)
      throw new ConfigError(`${CLASSES_ENV} names ${given.length} classes; the model answers ${numClasses}`);
    return given;
  }
  const classes = model.metadata.classes;
  if (Array.isArray(classes) && classes.length === numClasses) return classes.map(String);
  // Answering indices is right for some models and silently wrong for others: say so where the operator looks.
  const why = Array.isArray(classes)
    ? `its metadata names ${classes.length} classes, not ${numClasses}`
    : 'its metadata names none';
  if (!warnedIndices.has(model.uri)) {
    warnedIndices.add(model.uri);
    consoleLogger('bento').warn(
      `model ${model.uri}: no class names (${why}; ${CLASSES_ENV} is unset): answering the indices "0" to "${numClasses - 1}" as class names`,
    );
  }
  return Array.from({ length: numClasses }, (_, i) => String(i));
}

/** Number of classes from the model's output shape ([batch, classes]), when fixed. */
export function outputWidth(model: ModelInfo): number | undefined {
  const dim = model.outputs[0]?.shape[1];
  return typeof dim === 'number' ? dim : model.metadata.classes?.length;
}

function looksLikeProbabilities(row: Float32Array): boolean {
  let sum = 0;
  for (const v of row) {
    if (v < 0 || v > 1) return false;
    sum += v;
  }
  return Math.abs(sum - 1) < 1e-3;
}

function softmax(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  const out = new Float64Array(row.length);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += out[i] = Math.exp(row[i] - max);
  for (let i = 0; i < row.length; i++) out[i] /= sum;
  return out;
}

/**
 * Turns a [batch, classes] output into predictions. Logits are softmaxed; the
 * model's metadata says which it emits (`output_kind`), else it is detected.
 */
export function toPredictions(output: Tensor, classes: string[], kind?: 'logits' | 'probabilities'): Prediction[] {
  const [rows, width] = output.shape as [number, number];
  const data = output.data as Float32Array;
  const predictions: Prediction[] = [];
  for (let r = 0; r < rows; r++) {
    const row = data.subarray(r * width, (r + 1) * width);
    const probs =
      kind === 'probabilities' || (kind === undefined && looksLikeProbabilities(row))
        ? Float64Array.from(row)
        : softmax(row);
    let best = 0;
    for (let i = 1; i < width; i++) if (probs[i] > probs[best]) best = i;
    const probabilities: Record<string, number> = {};
    classes.forEach((name, i) => (probabilities[name] = probs[i]!));
    predictions.push({ predicted_class: classes[best], predicted_index: best, confidence: probs[best], probabilities });
  }
  return predictions;
}
