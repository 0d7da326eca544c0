import { InvalidInputError, InvalidTensorError, MissingFieldError, TooManyItemsError } from '../errors.js';
import {
  DTYPE_RANGE,
  type NumericDType,
  type Tensor,
  type TypedArrayOf,
  allocate,
  isIntegerDType,
  sizeOf,
} from '../tensor/tensor.js';
import type { InputDescriptor, JsonSchema, RawInput } from './descriptor.js';
import { requireJson } from './json.js';

/** One dimension's constraint: a fixed size, a set of allowed sizes, or null for any. */
export type DimSpec = number | number[] | null;

export interface TensorOptions<D extends NumericDType> {
  dtype: D;
  /** Expected shape; its length is the rank. Omit for "any rank". */
  shape?: DimSpec[];
  /** Alternative shapes (of different ranks), e.g. N×H×W or N×H×W×C; used instead of `shape`. */
  shapes?: DimSpec[][];
  /** JSON field holding the nested list (`{"input": [...]}`); omit when the body is the list itself. */
  field?: string;
  /** Most items along the first axis (413 above it). */
  maxItems?: number;
  /** Fewest items along the first axis. Default 1: an empty batch is refused. */
  minItems?: number;
  description?: string;
}

function describeDim(d: DimSpec): string {
  return d === null ? 'any' : Array.isArray(d) ? d.join('|') : String(d);
}

function dimAllows(spec: DimSpec | undefined, n: number): boolean {
  if (spec === undefined || spec === null) return true;
  return Array.isArray(spec) ? spec.includes(n) : spec === n;
}

/** Walks `value` down its first elements to find the shape it claims. */
function claimedShape(value: unknown, maxRank: number, path: string): number[] {
  const shape: number[] = [];
  let node = value;
  while (Array.isArray(node)) {
    if (shape.length === maxRank)
      throw new InvalidTensorError(`${path} is nested deeper than the expected rank ${maxRank}`);
    shape.push(node.length);
    if (node.length === 0) break;
    node = node[0];
  }
  return shape;
}

/**
 * Copies a nested JSON list into a typed array, checking every row length
 * (ragged lists), every leaf's type and its range for the dtype. Recursion depth
 * is bounded by the rank, never by the input.
 */
function fill<D extends NumericDType>(
  value: unknown,
  shape: number[],
  dtype: D,
  out: TypedArrayOf[D],
  path: string,
): void {
  const [lo, hi] = DTYPE_RANGE[dtype];
  const integer = isIntegerDType(dtype);
  const big = dtype === 'int64';
  let offset = 0;
  const walk = (node: unknown, depth: number, at: string): void => {
    if (depth === shape.length) {
      if (typeof node !== 'number' || !Number.isFinite(node)) {
        throw new InvalidTensorError(
          `${at} must be a number, got ${node === null ? 'null' : Array.isArray(node) ? 'a list' : typeof node}`,
        );
      }
      if (integer && !Number.isInteger(node))
        throw new InvalidTensorError(`${at} is ${node}; ${dtype} values must be integers`);
      if (node < lo || node > hi)
        throw new InvalidTensorError(`${at} is ${node}, outside the ${dtype} range ${lo}..${hi}`);
      (out as unknown as Array<number | bigint>)[offset++] = big ? BigInt(node) : node;
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      const got = Array.isArray(node) ? `${node.length} items` : node === null ? 'null' : typeof node;
      throw new InvalidTensorError(
        `${at} has ${got}; expected a list of ${shape[depth]} (the list is ragged or wrongly nested)`,
      );
    }
    for (let i = 0; i < node.length; i++) walk(node[i], depth + 1, `${at}[${i}]`);
  };
  walk(value, 0, path);
}

/** Converts a nested JSON list into a tensor of `dtype`, enforcing `options`' shape and item limits. */
export function tensorFromJson<D extends NumericDType>(
  value: unknown,
  options: TensorOptions<D>,
  path = options.field ?? 'body',
): Tensor<D> {
  if (!Array.isArray(value)) throw new InvalidTensorError(`${path} must be a nested list of numbers`);
  const alternatives = options.shapes ?? (options.shape ? [options.shape] : undefined);
  const maxRank = alternatives ? Math.max(...alternatives.map((a) => a.length)) : 32;
  const shape = claimedShape(value, maxRank, path);
  const minItems = options.minItems ?? 1;
  if (shape[0] < minItems)
    throw new InvalidTensorError(`${path} is empty; send at least ${minItems} item${minItems === 1 ? '' : 's'}`);
  if (options.maxItems !== undefined && shape[0] > options.maxItems) {
    throw new TooManyItemsError(`${path} has ${shape[0]} items; at most ${options.maxItems} are accepted per request`);
  }
  if (alternatives) {
    const sameRank = alternatives.filter((a) => a.length === shape.length);
    const described = alternatives.map((a) => `[${a.map(describeDim).join(', ')}]`).join(' or ');
    if (sameRank.length === 0) {
      throw new InvalidTensorError(
        `${path} has rank ${shape.length} (shape [${shape.join(', ')}]); expected ${described}`,
      );
    }
    if (!sameRank.some((alt) => alt.every((dim, i) => dimAllows(dim, shape[i])))) {
      const alt = sameRank[0];
      const axis = alt.findIndex((dim, i) => !dimAllows(dim, shape[i]));
      throw new InvalidTensorError(
        `${path} has shape [${shape.join(', ')}]; axis ${axis} must be ${describeDim(alt[axis])}, got ${shape[axis]} (expected ${described})`,
      );
    }
  }
  if (shape.includes(0)) throw new InvalidTensorError(`${path} has an empty axis (shape [${shape.join(', ')}])`);
  const out = allocate(options.dtype, shape);
  fill(value, shape, options.dtype, out.data, path);
  if (out.data.length !== sizeOf(shape))
    throw new InvalidTensorError(`${path} does not fill shape [${shape.join(', ')}]`);
  return out;
}

function nestedSchema(options: TensorOptions<NumericDType>): JsonSchema {
  const leaf: JsonSchema = isIntegerDType(options.dtype)
    ? { type: 'integer', minimum: DTYPE_RANGE[options.dtype][0], maximum: DTYPE_RANGE[options.dtype][1] }
    : { type: 'number' };
  const dims = options.shapes?.[options.shapes.length - 1] ?? options.shape ?? [null];
  return dims.reduceRight<JsonSchema>((inner, dim, i) => {
    const s: JsonSchema = { type: 'array', items: inner };
    if (typeof dim === 'number') Object.assign(s, { minItems: dim, maxItems: dim });
    if (i === 0 && options.maxItems !== undefined) s.maxItems = options.maxItems;
    if (i === 0) s.minItems = options.minItems ?? 1;
    return s;
  }, leaf);
}

/**
 * A tensor sent as JSON nested lists, as `numpy.ndarray.tolist()` makes them,
 * either as the whole body or under `field`. Checked for rank, shape, dtype
 * range and raggedness before the method sees it.
 */
export function NdArray<D extends NumericDType>(options: TensorOptions<D>): InputDescriptor<Tensor<D>> {
  return {
    kind: 'tensor',
    mediaTypes: ['application/json'],
    requestSchema() {
      const list = {
        ...nestedSchema(options),
        description: options.description ?? `${options.dtype} tensor as nested lists`,
      };
      const schema = options.field
        ? { type: 'object', required: [options.field], properties: { [options.field]: list } }
        : list;
      return { 'application/json': schema };
    },
    async decode(input: RawInput) {
      const body = requireJson(input);
      if (options.field === undefined) return tensorFromJson(body, options);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new InvalidInputError(`the body must be a JSON object with a "${options.field}" field`);
      }
      if (!(options.field in body)) throw new MissingFieldError(`the body has no "${options.field}" field`);
      return tensorFromJson((body as Record<string, unknown>)[options.field], options);
    },
  };
}
