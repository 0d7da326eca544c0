import { readSettings, settingName } from '../config/settings.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, InputShapeUnknownError } from '../errors.js';
import { signatureOf } from '../models/signature.js';
import type { ColumnSpec, ConversionInput, TensorSpec } from '../plugins/types.js';

/** The user's shape for a model that says nothing of its inputs: `-1,3,32,32` (or `[−1, 3, 32, 32]`; a leading batch axis is added when missing). */
export const INPUT_SHAPE_ENV = settingName('modelInputShape');

type KnownInputs = Pick<ConversionInput, 'inputs' | 'columns' | 'outputs' | 'inputsFrom' | 'example'>;

/** A JSON list's shape, assuming it is rectangular (the first item at every level). */
function shapeOfList(value: unknown): number[] {
  const shape: number[] = [];
  for (let level = value; Array.isArray(level); level = level[0]) shape.push(level.length);
  return shape;
}

/** `-1,3,32,32`, `[-1, 3, 32, 32]` or `3,32,32` as a shape with a free batch axis first. */
export function parseInputShape(text: string): Array<number | null> {
  const parts = text
    .replace(/[[\]\s]/g, '')
    .split(',')
    .filter((p) => p !== '');
  const dims = parts.map((p) => Number(p));
  if (dims.length === 0 || dims.some((d) => !Number.isInteger(d) || (d < 1 && d !== -1))) {
    throw new ConfigError(
      `${INPUT_SHAPE_ENV} must be a comma-separated list of positive integers, -1 for a free axis (e.g. -1,3,32,32); got "${text}"`,
    );
  }
  const shape = dims.map((d) => (d === -1 ? null : d));
  return shape[0] === null ? shape : [null, ...shape];
}

function columnsOf(raw: unknown): ColumnSpec[] | undefined {
  let list: unknown = raw;
  if (typeof raw === 'string') {
    try {
      list = JSON.parse(raw);
    } catch {
      return undefined;
    }
  }
  if (!Array.isArray(list) || list.length === 0 || list.some((c: { type?: unknown }) => c?.type === 'tensor'))
    return undefined;
  return list.map((c: { name?: unknown; type?: unknown }, i) => ({
    name: typeof c.name === 'string' ? c.name : String(i),
    type: typeof c.type === 'string' ? c.type : 'double',
  }));
}

/** The input example MLflow saved beside the model (input_example.json, or as the MLmodel names it). */
function examplePath(dir: string, mlmodel: Record<string, unknown>): string | undefined {
  const info = mlmodel.saved_input_example_info as { artifact_path?: unknown } | undefined;
  const name = typeof info?.artifact_path === 'string' ? info.artifact_path : 'input_example.json';
  const path = join(dir, name);
  return name.endsWith('.json') && existsSync(path) ? path : undefined;
}

/** What the input example says: a table's columns (split orient), or one tensor's shape (an ndarray). */
function fromExample(path: string): Pick<KnownInputs, 'inputs' | 'columns'> {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return {};
  }
  if (data && typeof data === 'object' && !Array.isArray(data)) {
    const split = data as { columns?: unknown; data?: unknown; inputs?: unknown };
    if (Array.isArray(split.columns) && Array.isArray(split.data)) {
      const first = (split.data[0] ?? []) as unknown[];
      return {
        columns: split.columns.map((name, i) => ({
          name: String(name),
          type: typeof first[i] === 'string' ? 'string' : Number.isInteger(first[i]) ? 'long' : 'double',
        })),
      };
    }
    data = split.inputs;
  }
  const shape = shapeOfList(data);
  if (shape.length === 0) return {};
  let leaf: unknown = data;
  while (Array.isArray(leaf)) leaf = leaf[0];
  const dtype = typeof leaf === 'number' ? 'float32' : typeof leaf === 'string' ? 'string' : 'float32';
  return { inputs: [{ name: 'input', dtype, shape: [null, ...shape.slice(1)] }] };
}

/**
 * Where a model's inputs come from, in order: its MLflow signature (tensors or columns), else its input example,
 * else the user (MODEL_INPUT_SHAPE, from any of the settings' places). Nothing found is not an error here:
 * a converter that can read the shapes off the model itself (scikit-learn's n_features_in_) goes on without;
 * `requireInputs` refuses for the others.
 */
export function knownInputs(
  dir: string,
  mlmodel: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
): KnownInputs {
  const example = examplePath(dir, mlmodel);
  const signature = signatureOf(mlmodel);
  const sigInputs = (mlmodel.signature as { inputs?: unknown } | undefined)?.inputs;
  const outputs = signature?.outputs;
  if (signature?.inputs) return { inputs: signature.inputs, outputs, inputsFrom: 'signature', example };
  const columns = columnsOf(sigInputs);
  if (columns) return { columns, outputs, inputsFrom: 'signature', example };
  if (example) {
    const found = fromExample(example);
    if (found.inputs || found.columns) return { ...found, outputs, inputsFrom: 'input example', example };
  }
  const shape = readSettings(env).modelInputShape;
  if (shape)
    return {
      inputs: [{ name: 'input', dtype: 'float32', shape: parseInputShape(shape) }],
      outputs,
      inputsFrom: 'MODEL_INPUT_SHAPE',
      example,
    };
  return { outputs, example };
}

/** Refuses a model whose input shapes nothing gives, naming the three places they could come from. */
export function requireInputs(known: KnownInputs, what: string): TensorSpec[] | ColumnSpec[] {
  const found = known.inputs ?? known.columns;
  if (found) return found;
  throw new InputShapeUnknownError(
    `${what}: its input shape is unknown. It comes from the model's MLflow signature (log it with signature= or input_example=), ` +
      `else from its input example (input_example=), else from you: ${INPUT_SHAPE_ENV}=-1,3,224,224 in the environment, .env or -e, or in the env of bento.yaml or of a config file (-c)`,
  );
}
