/**
 * What an `/invocations` request becomes for the model, by MLflow's rules (mlflow/models/utils.py's schema
 * enforcement): a model that takes a table (a converted scikit-learn model) gets its columns by name when its
 * signature names them (in any order, extra ones dropped, a missing one refused), each converted to its type; a
 * model that takes tensors gets a nested list checked against its signature's shape and cast to its dtype.
 */
import { MlflowInputError } from '../errors.js';
import type { ColumnSpec, TensorSpec } from '../plugins/types.js';
import type { ModelInfo } from '../runner/model-info.js';
import { type DType, type Tensor, allocate, sizeOf, tensor } from '../tensor/tensor.js';
import type { ScoringInput } from './mlflow-request.js';

/** A table column as the converted model takes it: its MLflow type, and the model input it feeds (`columns` mode). */
interface TableColumn extends ColumnSpec {
  input?: string;
}

export type ScoringSchema =
  | {
      kind: 'table';
      columns: TableColumn[];
      /** The signature names the columns: a request's are matched by name. */
      byName: boolean;
      /** `matrix`: one [N, columns] input; `columns`: one [N, 1] input per column. */
      mode: 'matrix' | 'columns';
      matrix?: TensorSpec;
    }
  | {
      kind: 'tensor';
      inputs: TensorSpec[];
      /** Shapes the signature declares (checked as MLflow does), else the model's own. */
      declared?: TensorSpec[];
    };

const schemas = new WeakMap<ModelInfo, ScoringSchema>();

/** The schema `/invocations` reads a model's requests with; worked out once per loaded model. */
export function scoringSchema(model: ModelInfo): ScoringSchema {
  let schema = schemas.get(model);
  if (!schema) {
    schema = deriveSchema(model);
    schemas.set(model, schema);
  }
  return schema;
}

function deriveSchema(model: ModelInfo): ScoringSchema {
  const serving = model.metadata.serving as { columns?: TableColumn[]; input_mode?: 'matrix' | 'columns' } | undefined;
  if (serving?.columns?.length) {
    const conversion = model.metadata.conversion as { inputsFrom?: string } | undefined;
    const mode = serving.input_mode ?? 'matrix';
    // Columns are matched by name when a column signature names them; a tensor signature ([-1, F]) takes rows as they come.
    const byName =
      conversion?.inputsFrom === 'signature' && !(model.metadata.signature as { inputs?: unknown } | undefined)?.inputs;
    return {
      kind: 'table',
      columns: serving.columns,
      byName,
      mode,
      matrix: mode === 'matrix' ? model.inputs[0] : undefined,
    };
  }
  const declared = (model.metadata.signature as { inputs?: TensorSpec[] } | undefined)?.inputs;
  return { kind: 'tensor', inputs: model.inputs, declared };
}

const pyList = (names: string[]) => `[${names.map((n) => `'${n}'`).join(', ')}]`;
const NUMPY: Record<string, string> = {
  double: 'float64',
  float: 'float32',
  long: 'int64',
  integer: 'int32',
  boolean: 'bool',
  string: 'str',
};

function schemaText(columns: ColumnSpec[]): string {
  return `[${columns.map((c) => `'${c.name}': ${c.type} (required)`).join(', ')}]`;
}

/**
 * A value converted to a column's type as pandas' astype does it, or a refusal naming the column (or, `as an array`,
 * as numpy refuses a list of rows it reads as one array).
 */
function coerce(
  value: unknown,
  column: ColumnSpec,
  how: 'as a column' | 'as an array' = 'as a column',
): number | string | boolean {
  const type = column.type;
  const fail = (why: string) =>
    how === 'as an array'
      ? MlflowInputError.badRequest(`Invalid input. ${why.replace(/^\w+\("(.*)"\)$/, '$1')}`)
      : MlflowInputError.badRequest(
          `Invalid input. Data is not compatible with model signature. Failed to convert column ${column.name} to type '${NUMPY[type] ?? type}'. Error: '${why}'`,
        );
  if (type === 'string')
    return value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  if (Array.isArray(value) || (typeof value === 'object' && value !== null))
    throw fail('ValueError("setting an array element with a sequence.")');
  let n: number;
  if (typeof value === 'boolean') n = value ? 1 : 0;
  else if (typeof value === 'number') n = value;
  else if (value === null || value === undefined) {
    if (type === 'double' || type === 'float') return NaN;
    throw fail(`TypeError("int() argument must be a string, a bytes-like object or a real number, not 'NoneType'")`);
  } else {
    // Past the checks above, a value decoded from JSON or CSV is a string.
    const raw = value as string;
    const text = raw.trim();
    n = /^[+-]?(nan|inf|infinity)$/i.test(text)
      ? Number(text.replace(/inf(inity)?/i, 'Infinity').replace(/nan/i, 'NaN'))
      : text === ''
        ? NaN
        : Number(text);
    if (Number.isNaN(n) && !/nan/i.test(text)) throw fail(`ValueError("could not convert string to float: '${raw}'")`);
  }
  if (type === 'boolean') return n !== 0;
  if (type === 'long' || type === 'integer') {
    if (!Number.isFinite(n))
      throw fail('IntCastingNaNError("Cannot convert non-finite values (NA or inf) to integer")');
    return Math.trunc(n);
  }
  return n;
}

/** A table's rows in the schema's column order, by name or by position. */
function alignRows(
  input: { columns?: string[]; rows: unknown[][] },
  schema: Extract<ScoringSchema, { kind: 'table' }>,
): unknown[][] {
  const wanted = schema.columns.map((c) => c.name);
  const given = input.columns;
  const positional = !given || (!schema.byName && given.every((c, i) => c === String(i)));
  if (positional) {
    const width = input.rows[0]?.length ?? 0;
    if (input.rows.some((r) => r.length !== wanted.length) || width !== wanted.length) {
      throw MlflowInputError.badRequest(
        `Invalid input. The model takes ${wanted.length} columns (${pyList(wanted)}); a row has ${input.rows.find((r) => r.length !== wanted.length)?.length ?? width}`,
      );
    }
    return input.rows;
  }
  const missing = wanted.filter((c) => !given.includes(c));
  if (missing.length > 0) {
    const extra = given.filter((c) => !wanted.includes(c));
    const note = extra.length > 0 ? ` Note that there were extra inputs: ${pyList(extra)}.` : '';
    throw MlflowInputError.invalidParameter(
      `Failed to enforce schema of data with schema '${schemaText(schema.columns)}'. Error: Model is missing inputs ${pyList(missing)}.${note}`,
    );
  }
  const at = wanted.map((c) => given.indexOf(c));
  return input.rows.map((r) => at.map((i) => r[i]));
}

function tableFeeds(input: ScoringInput, schema: Extract<ScoringSchema, { kind: 'table' }>): Record<string, Tensor> {
  let table: { columns?: string[]; rows: unknown[][] };
  if (input.kind === 'table') table = input;
  else if (input.kind === 'named') {
    // A column-by-name object: {col: [values]} (or one value each, for one row).
    const columns = Object.keys(input.values);
    const lists = columns.map((c) =>
      Array.isArray(input.values[c]) ? (input.values[c] as unknown[]) : [input.values[c]],
    );
    const count = Math.max(0, ...lists.map((l) => l.length));
    if (lists.some((l) => l.length !== count))
      throw MlflowInputError.badRequest('Invalid input. All arrays must be of the same length');
    table = { columns, rows: Array.from({ length: count }, (_, i) => lists.map((l) => l[i])) };
  } else {
    const rows = input.value.map((r): unknown[] => (Array.isArray(r) ? r : [r]));
    // MLflow first reads such a list as one array of the first column's type: a word among numbers fails there.
    shapeOf(input.value);
    const first = schema.columns[0];
    if (first.type !== 'string') for (const v of rows.flat(Infinity)) coerce(v, first, 'as an array');
    if (schema.byName) {
      // MLflow reads a list of rows as numbered columns, which a named signature does not have.
      const width = Math.max(0, ...rows.map((r) => r.length));
      const numbered = Array.from({ length: width }, (_, i) => String(i));
      throw MlflowInputError.invalidParameter(
        `Failed to enforce schema of data with schema '${schemaText(schema.columns)}'. Error: Model is missing inputs ${pyList(schema.columns.map((c) => c.name))}. Note that there were extra inputs: [${numbered.join(', ')}].`,
      );
    }
    table = { rows };
  }
  const rows = alignRows(table, schema);
  if (rows.length === 0)
    throw MlflowInputError.badRequest('Invalid input. The input has no rows; the model needs at least one');
  const values = schema.columns.map((column, j) => rows.map((r) => coerce(r[j], column)));
  schema.columns.forEach((column, j) => {
    if (column.type === 'string' || column.type === 'boolean') return;
    const bad = (values[j] as number[]).find((v) => !Number.isFinite(v));
    if (bad !== undefined) {
      // scikit-learn refuses missing and infinite values; MLflow answers its refusal as a bad request.
      throw MlflowInputError.badRequest(
        `Encountered an unexpected error while evaluating the model. Error: 'Input X contains ${Number.isNaN(bad) ? 'NaN' : 'infinity or a value too large'}' (column ${column.name})`,
      );
    }
  });
  if (schema.mode === 'matrix') {
    const spec = schema.matrix!;
    const out = allocate((spec.dtype === 'float32' ? 'float32' : 'float64') as DType, [
      rows.length,
      schema.columns.length,
    ]);
    const data = out.data as Float64Array | Float32Array;
    for (let j = 0; j < schema.columns.length; j++)
      for (let i = 0; i < rows.length; i++) data[i * schema.columns.length + j] = Number(values[j][i]);
    return { [spec.name]: out };
  }
  const feeds: Record<string, Tensor> = {};
  schema.columns.forEach((column, j) => {
    const name = column.input ?? column.name;
    const dtype: DType =
      (
        {
          double: 'float64',
          float: 'float32',
          long: 'int64',
          integer: 'int32',
          boolean: 'bool',
          string: 'string',
        } as Record<string, DType>
      )[column.type] ?? 'float64';
    if (dtype === 'string') feeds[name] = tensor('string', [rows.length, 1], values[j].map(String));
    else {
      const t = allocate(dtype, [rows.length, 1]);
      const data = t.data as unknown as Array<number | bigint>;
      values[j].forEach((v, i) => (data[i] = dtype === 'int64' ? BigInt(Number(v)) : Number(v)));
      feeds[name] = t;
    }
  });
  return feeds;
}

const ragged = (depth: number) =>
  MlflowInputError.badRequest(
    `Invalid input. setting an array element with a sequence. The requested array has an inhomogeneous shape after ${depth} dimensions.`,
  );

/** A nested list's shape (from its first items), refusing ragged lists as numpy does. */
function shapeOf(value: unknown): number[] {
  const shape: number[] = [];
  for (let level: unknown = value; Array.isArray(level); level = level[0]) shape.push(level.length);
  const check = (v: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (Array.isArray(v)) throw ragged(depth);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) throw ragged(depth);
    for (const x of v) check(x, depth + 1);
  };
  check(value, 0);
  return shape;
}

/** A leaf as numpy's float conversion reads it: a number, a bool, null as NaN, a numeric string. */
function leafNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v === null) return NaN;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (Number.isNaN(n) && !(typeof v === 'string' && /^\s*[+-]?nan\s*$/i.test(v)))
    throw MlflowInputError.badRequest(
      `Invalid input. could not convert string to float: '${typeof v === 'string' ? v : JSON.stringify(v)}'`,
    );
  return n;
}

/**
 * A nested list read into one array, as numpy's np.array reads it: rectangular (its shape from the first items),
 * every leaf converted to `dtype`; in one pass, writing as it checks. A list claiming more items than its
 * `maxElements` could hold is ragged.
 */
function readNested(value: unknown, dtype: DType, maxElements: number): Tensor {
  const shape: number[] = [];
  for (let level: unknown = value; Array.isArray(level); level = level[0]) shape.push(level.length);
  if (sizeOf(shape) > maxElements) throw ragged(0);
  const out = allocate(dtype, shape);
  const data = out.data as unknown as Array<number | bigint | string>;
  const big = dtype === 'int64';
  const text = dtype === 'string';
  const last = shape.length - 1;
  let at = 0;
  const walk = (v: unknown, depth: number): void => {
    if (!Array.isArray(v) || v.length !== shape[depth]) throw ragged(depth);
    if (depth < last) {
      for (let i = 0; i < v.length; i++) walk(v[i], depth + 1);
      return;
    }
    for (let i = 0; i < v.length; i++) {
      const leaf: unknown = v[i];
      if (Array.isArray(leaf)) throw ragged(depth + 1);
      if (text) data[at++] = String(leaf);
      else {
        const n = leafNumber(leaf);
        data[at++] = big ? BigInt(Number.isFinite(n) ? Math.trunc(n) : 0) : n;
      }
    }
  };
  if (shape.length > 0) walk(value, 0);
  return out;
}

const pyShape = (dims: Array<number | string | null>) =>
  `(${dims.map((d) => (typeof d === 'number' ? d : -1)).join(', ')}${dims.length === 1 ? ',' : ''})`;

/** A nested list as the model input `spec`, read as MLflow reads it, then its shape checked against the signature's (or the model's). */
function tensorFor(value: unknown, spec: TensorSpec, declared: TensorSpec | undefined, maxElements: number): Tensor {
  const t = readNested(value, spec.dtype as DType, maxElements);
  const expected = (declared ?? spec).shape;
  const fits =
    t.shape.length === expected.length && expected.every((d, i) => typeof d !== 'number' || d < 0 || d === t.shape[i]);
  if (!fits || t.shape[0] === 0) {
    const problem = `Shape of input ${pyShape(t.shape)} does not match expected shape ${pyShape(expected)}`;
    if (declared)
      throw MlflowInputError.invalidParameter(
        `Failed to enforce schema of data with schema '[Tensor('${declared.dtype}', ${pyShape(expected)})]'. Error: ${problem}.`,
      );
    throw MlflowInputError.badRequest(`Invalid input. ${problem} (the model's input "${spec.name}")`);
  }
  return t;
}

function tensorFeeds(
  input: ScoringInput,
  schema: Extract<ScoringSchema, { kind: 'tensor' }>,
  maxElements: number,
): Record<string, Tensor> {
  const { inputs, declared } = schema;
  if (input.kind === 'tensor') {
    if (inputs.length !== 1)
      throw MlflowInputError.badRequest(
        `Invalid input. The model takes ${inputs.length} named inputs (${pyList(inputs.map((i) => i.name))}): send "inputs" as an object of them`,
      );
    return { [inputs[0].name]: tensorFor(input.value, inputs[0], declared?.[0], maxElements) };
  }
  if (input.kind === 'named') {
    const names = Object.keys(input.values);
    const known = inputs.map((i) => i.name);
    if (inputs.length === 1 && !(names.length === 1 && names[0] === known[0])) {
      throw MlflowInputError.badRequest(
        `Invalid input. This model has an un-named model signature which expects a single n-dimensional array as input; got named inputs ${pyList(names)}`,
      );
    }
    const missing = known.filter((n) => !names.includes(n));
    if (missing.length > 0)
      throw MlflowInputError.invalidParameter(
        `Failed to enforce schema of data. Error: Model is missing inputs ${pyList(missing)}.`,
      );
    return Object.fromEntries(
      inputs.map((spec, i) => [spec.name, tensorFor(input.values[spec.name], spec, declared?.[i], maxElements)]),
    );
  }
  // A table for a tensor model: its rows are the items, when the model takes [N, columns].
  const spec = inputs[0];
  const width = input.columns?.length ?? input.rows[0]?.length ?? 0;
  const expected = (declared?.[0] ?? spec).shape;
  if (
    inputs.length !== 1 ||
    expected.length !== 2 ||
    (typeof expected[1] === 'number' && expected[1] > 0 && expected[1] !== width)
  ) {
    throw MlflowInputError.invalidParameter(
      `Failed to enforce schema of data. Error: This model contains a tensor-based model signature with no input names, which suggests a numpy array input, so the input shape must be of the structure (-1, number_of_dataframe_columns). Instead, the input DataFrame passed had ${width} columns and an input shape of ${pyShape(expected)} with all values within the DataFrame of scalar type.`,
    );
  }
  return { [spec.name]: tensorFor(input.rows, { ...spec, shape: [null, width] }, undefined, maxElements) };
}

/**
 * The model's feeds for a request, and whether it came as a table (some flavors answer a table with records).
 * `maxElements` bounds what a nested list may claim: a JSON number takes two bytes at least, so half the body's size.
 */
export function scoringFeeds(
  input: ScoringInput,
  schema: ScoringSchema,
  maxElements: number,
): { feeds: Record<string, Tensor>; table: boolean } {
  const feeds = schema.kind === 'table' ? tableFeeds(input, schema) : tensorFeeds(input, schema, maxElements);
  for (const [name, t] of Object.entries(feeds))
    if (sizeOf(t.shape) === 0) throw MlflowInputError.badRequest(`Invalid input. The input "${name}" is empty`);
  return { feeds, table: input.kind === 'table' };
}
