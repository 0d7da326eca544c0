/**
 * The tensor shape that crosses every boundary in bento-ts: HTTP decoding,
 * worker threads (structured clone, buffers transferable) and backends. It is a
 * plain object on purpose: class instances lose their prototype when posted to
 * a worker.
 */

export type DType =
  | 'float32'
  | 'float64'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'bool';

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
}

export type AnyTypedArray = TypedArrayOf[DType];

export interface Tensor<D extends DType = DType> {
  dtype: D;
  shape: number[];
  data: TypedArrayOf[D];
}

const CONSTRUCTORS: { [D in DType]: { new (n: number): TypedArrayOf[D] } } = {
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

export const DTYPES = Object.keys(CONSTRUCTORS) as DType[];

/** Inclusive value range a JSON number must fall in to be stored in `dtype` without loss. */
export const DTYPE_RANGE: { [D in DType]: [number, number] } = {
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
  return dtype !== 'float32' && dtype !== 'float64';
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function allocate<D extends DType>(dtype: D, shape: number[]): Tensor<D> {
  return { dtype, shape, data: new CONSTRUCTORS[dtype](sizeOf(shape)) as TypedArrayOf[D] };
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
  const data = t.data.subarray(start * row, end * row) as TypedArrayOf[D];
  return { dtype: t.dtype, shape: [end - start, ...t.shape.slice(1)], data };
}

/** Buffers to list in a worker `postMessage` transfer list. */
export function transferablesOf(values: Iterable<Tensor>): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  for (const t of values) {
    const buf = t.data.buffer;
    // Only whole, unshared buffers can move; a view into a larger pool buffer must be copied.
    if (buf instanceof ArrayBuffer && t.data.byteOffset === 0 && t.data.byteLength === buf.byteLength) seen.add(buf);
  }
  return [...seen];
}

export function isTensor(value: unknown): value is Tensor {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<Tensor>;
  return typeof v.dtype === 'string' && Array.isArray(v.shape) && ArrayBuffer.isView(v.data);
}
