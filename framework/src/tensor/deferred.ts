import { type DType, type Tensor, type TypedArrayOf, allocate, isTensor } from './tensor.js';

/**
 * A tensor whose elements are not written yet: its producer writes them
 * straight into whatever buffer it is handed. Preprocessing returns one so that
 * a dispatcher can write every request of a batch into the batch buffer itself,
 * with no per-request tensor allocated and copied again. Anything that needs
 * real data calls `materialize`.
 */
export interface DeferredTensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: number[];
  /** Writes all elements, in row-major order, into `target` from element `offset` on. */
  writeInto(target: TypedArrayOf[D], offset: number): void;
}

/** What a batchable runner method accepts: a tensor, or one to be written into the batch. */
export type TensorInput<D extends DType = DType> = Tensor<D> | DeferredTensor<D>;

export function deferred<D extends DType>(
  dtype: D,
  shape: number[],
  writeInto: (target: TypedArrayOf[D], offset: number) => void,
): DeferredTensor<D> {
  return { dtype, shape, writeInto };
}

export function isDeferred(value: unknown): value is DeferredTensor {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<DeferredTensor>;
  return typeof v.dtype === 'string' && Array.isArray(v.shape) && typeof v.writeInto === 'function';
}

export function isTensorInput(value: unknown): value is TensorInput {
  return isTensor(value) || isDeferred(value);
}

/** The tensor itself, or a deferred one written into a buffer of its own. */
export function materialize<D extends DType>(t: TensorInput<D>): Tensor<D> {
  if (!isDeferred(t)) return t;
  const out = allocate(t.dtype, [...t.shape]);
  t.writeInto(out.data, 0);
  return out;
}
