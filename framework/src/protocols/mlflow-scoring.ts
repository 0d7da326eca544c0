/**
 * MLflow's scoring protocol (what `mlflow models serve` answers), over the
 * service's single model, so bento-ts can stand in for it: `POST /invocations`
 * with `inputs`, `instances`, `dataframe_split`, `dataframe_records` or CSV,
 * answered with `{"predictions": ...}`; `GET /ping` and `GET /version`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidInputError, InvalidJsonError, InvalidTensorError, UnsupportedMediaTypeError } from '../errors.js';
import { type DType, type Tensor, sizeOf } from '../tensor/tensor.js';
import type { InferenceTarget } from './inference-target.js';
import { rawBodies } from './raw-body.js';
import { castTensor, jsonData, tensorFromJson } from './tensor-codec.js';

const FIELDS = ['inputs', 'instances', 'dataframe_split', 'dataframe_records'];

/** The shape of a rectangular nested list of numbers. */
function shapeOf(value: unknown, what: string): number[] {
  const shape: number[] = [];
  let level: unknown = value;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0];
  }
  const check = (v: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (Array.isArray(v)) throw new InvalidTensorError(`${what} is ragged: nesting deeper than [${shape.join(', ')}]`);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) throw new InvalidTensorError(`${what} is ragged: every list at depth ${depth} must have ${shape[depth]} items`);
    for (const x of v) check(x, depth + 1);
  };
  check(value, 0);
  return shape;
}

/** Rows of a table as a [rows, columns] list, for dataframe and CSV inputs. */
function rowsFromRecords(records: unknown): unknown[][] {
  if (!Array.isArray(records) || records.length === 0) throw new InvalidInputError('"dataframe_records" must be a non-empty list of records');
  const first = records[0] as Record<string, unknown>;
  if (!first || typeof first !== 'object' || Array.isArray(first)) throw new InvalidInputError('"dataframe_records" must hold objects (column → value)');
  const columns = Object.keys(first);
  return records.map((r, i) => {
    if (!r || typeof r !== 'object') throw new InvalidInputError(`record ${i} is not an object`);
    return columns.map((c) => (r as Record<string, unknown>)[c]);
  });
}

function parseCsv(text: string): unknown[][] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length < 2) throw new InvalidInputError('the CSV needs a header row and at least one data row');
  return lines.slice(1).map((line, i) =>
    line.split(',').map((cell) => {
      const n = Number(cell.trim());
      if (cell.trim() === '' || !Number.isFinite(n)) throw new InvalidTensorError(`CSV row ${i + 1}: "${cell.trim()}" is not a number`);
      return n;
    }),
  );
}

/** The nested list a request carries, whatever MLflow field it came in. */
function payloadOf(req: FastifyRequest): unknown {
  const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const body = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
  if (type === 'text/csv') return parseCsv(body);
  if (type !== 'application/json') throw new UnsupportedMediaTypeError(`send application/json or text/csv to /invocations; got ${type || 'no content type'}`);
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    throw new InvalidJsonError(`the request is not valid JSON: ${(err as Error).message}`);
  }
  const given = json && typeof json === 'object' && !Array.isArray(json) ? FIELDS.filter((f) => f in (json as object)) : [];
  if (given.length !== 1) {
    throw new InvalidInputError(`the request must be a JSON object with exactly one of ${FIELDS.join(', ')} (MLflow's scoring format)`);
  }
  const value = (json as Record<string, unknown>)[given[0]!];
  switch (given[0]) {
    case 'dataframe_split': {
      const split = value as { data?: unknown };
      if (!split || typeof split !== 'object' || !Array.isArray(split.data)) throw new InvalidInputError('"dataframe_split" must have a "data" list of rows');
      return split.data;
    }
    case 'dataframe_records':
      return rowsFromRecords(value);
    default: {
      // A mapping of input names to tensors: this model has one input, so take the only one.
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        const entries = Object.values(value as object);
        if (entries.length !== 1) throw new InvalidInputError(`"${given[0]}" names ${entries.length} inputs; this model takes one`);
        return entries[0];
      }
      return value;
    }
  }
}

/** Fits the request's rows to the model input: as given when the ranks match, else each row reshaped to one item. */
function toModelInput(payload: unknown, target: InferenceTarget): Tensor {
  const spec = target.model.inputs[0]!;
  const shape = shapeOf(payload, 'the input');
  if (shape.length === 0 || shape[0] === 0) throw new InvalidTensorError('the input has no rows');
  const t = castTensor(tensorFromJson('FP64', shape, payload, 'the input', 50_000_000), spec.dtype as DType);
  const itemDims = spec.shape.slice(1).map((d) => (typeof d === 'number' && d > 0 ? d : undefined));
  if (itemDims.some((d) => d === undefined)) return t;
  const itemSize = sizeOf(itemDims as number[]);
  const rowSize = sizeOf(shape.slice(1));
  if (rowSize !== itemSize) {
    throw new InvalidTensorError(`each row has ${rowSize} values; the model's input "${spec.name}" takes ${itemSize} per item ([${spec.shape.join(', ')}])`);
  }
  return { ...t, shape: [shape[0]!, ...(itemDims as number[])] };
}

function nest(t: Tensor): unknown {
  const flat = jsonData(t);
  const build = (offset: number, depth: number): unknown => {
    if (depth === t.shape.length) return flat[offset];
    const stride = sizeOf(t.shape.slice(depth + 1));
    return Array.from({ length: t.shape[depth]! }, (_, i) => build(offset + i * stride, depth + 1));
  };
  return build(0, 0);
}

export function installMlflowScoring(app: FastifyInstance, target: InferenceTarget, serverVersion: string, maxBodyBytes: number): void {
  app.register(async (scoring) => {
    rawBodies(scoring, maxBodyBytes);
    scoring.get('/ping', async (_req, reply) => reply.type('application/json').send('\n'));
    scoring.get('/version', async (_req, reply) => reply.type('text/plain').send(serverVersion));
    scoring.post('/invocations', async (req) => {
      const output = await target.infer(toModelInput(payloadOf(req), target));
      return { predictions: nest(output) };
    });
  });
}
