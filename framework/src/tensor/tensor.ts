/**
 * The tensor shape that crosses every boundary in bento-ts: HTTP decoding,
 * worker threads (structured clone, buffers transferable) and backends. It is a
 * plain object on purpose: class instances lose their prototype when posted to
 * a worker.
 */

/** Element types whose data is a typed array (numbers, bigints for int64, bytes for bool). */
export type NumericDType =
  'float32' | 'float64' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'bool';

/**
 * Every element type. `string` (class labels, text columns of a table) keeps its data in a plain array: it is
 * copied, not moved, between threads.
 */
export type DType = NumericDType | 'string';

export interface TypedArrayOf {
  float32: Float32Array;
  float64: Float64Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int16: Int16Array;
  uint16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  bool: Uint8Array;
  string: string[];
}

export type AnyTypedArray = TypedArrayOf[DType];

export interface Tensor<D extends DType = DType> {
  dtype: D;
  shape: number[];
  data: TypedArrayOf[D];
}

const CONSTRUCTORS: { [D in NumericDType]: { new (n: number): TypedArrayOf[D] } } = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  bool: Uint8Array,
};

/** The numeric element types (what a JSON number can be stored as). */
export const DTYPES = Object.keys(CONSTRUCTORS) as NumericDType[];

/** Inclusive value range a JSON number must fall in to be stored in `dtype` without loss. */
export const DTYPE_RANGE: { [D in NumericDType]: [number, number] } = {
  float32: [-3.4028234663852886e38, 3.4028234663852886e38],
  float64: [-Number.MAX_VALUE, Number.MAX_VALUE],
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  bool: [0, 1],
};

export function isIntegerDType(dtype: DType): boolean {
  return dtype !== 'float32' && dtype !== 'float64' && dtype !== 'string';
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function allocate<D extends DType>(dtype: D, shape: number[]): Tensor<D> {
  const size = sizeOf(shape);
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- tsc does not narrow the generic D by the === 'string' test and needs it; typescript-eslint sees the narrowed type
  const data = dtype === 'string' ? new Array<string>(size).fill('') : new CONSTRUCTORS[dtype as NumericDType](size);
  return { dtype, shape, data: data as TypedArrayOf[D] };
}

export function tensor<D extends DType>(dtype: D, shape: number[], data: TypedArrayOf[D]): Tensor<D> {
  if (data.length !== sizeOf(shape)) {
    throw new RangeError(`tensor data has ${data.length} elements, shape [${shape.join(', ')}] needs ${sizeOf(shape)}`);
  }
  return { dtype, shape, data };
}

/** Rows `[start, end)` along the first axis, sharing memory with `t`. */
export function sliceRows<D extends DType>(t: Tensor<D>, start: number, end: number): Tensor<D> {
  const row = sizeOf(t.shape.slice(1));
  const data = rangeOf<TypedArrayOf[D]>(t.data, start * row, end * row);
  return { dtype: t.dtype, shape: [end - start, ...t.shape.slice(1)], data };
}

/** Elements `[begin, end)` of a tensor's data: a view of a typed array, a copy of a string array. */
export function rangeOf<A extends Tensor['data']>(data: A, begin: number, end: number): A {
  return (Array.isArray(data) ? data.slice(begin, end) : data.subarray(begin, end)) as A;
}

/** Buffers to list in a worker `postMessage` transfer list. */
export function transferablesOf(values: Iterable<Tensor>): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  for (const t of values) {
    if (Array.isArray(t.data)) continue;
    const buf = t.data.buffer;
    // Only whole, unshared buffers can move; a view into a larger pool buffer must be copied.
    if (buf instanceof ArrayBuffer && t.data.byteOffset === 0 && t.data.byteLength === buf.byteLength) seen.add(buf);
  }
  return [...seen];
}

export function isTensor(value: unknown): value is Tensor {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<Tensor>;
  return (
    typeof v.dtype === 'string' &&
    Array.isArray(v.shape) &&
    (v.dtype === 'string' ? Array.isArray(v.data) : ArrayBuffer.isView(v.data))
  );
}
