import { type TensorInput, isDeferred, materialize } from './deferred.js';
import { type DType, type Tensor, allocate, rangeOf, sizeOf } from './tensor.js';

type Elements = {
  subarray(begin: number, end: number): ArrayLike<unknown>;
  set(src: ArrayLike<unknown>, at: number): void;
};

/**
 * Copies `outer` blocks of `block` elements from `src` (rows of `srcRow`, starting at `srcAt`) to `dst`
 * (rows of `dstRow`, starting at `dstAt`): the one loop behind concat and slice along any axis.
 */
function copyBlocks(
  src: Tensor['data'],
  srcRow: number,
  srcAt: number,
  dst: Tensor['data'],
  dstRow: number,
  dstAt: number,
  block: number,
  outer: number,
): void {
  if (Array.isArray(src)) {
    // A string tensor: element by element (plain arrays have no subarray/set).
    const to = dst as string[];
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < block; i++) to[o * dstRow + dstAt + i] = src[o * srcRow + srcAt + i]!;
    return;
  }
  const from = src as unknown as Elements;
  const to = dst as unknown as Elements;
  for (let o = 0; o < outer; o++)
    to.set(from.subarray(o * srcRow + srcAt, o * srcRow + srcAt + block), o * dstRow + dstAt);
}

/**
 * Joins tensors along `axis`; all other dimensions and the dtype must match.
 * Deferred parts are written straight into the result along axis 0.
 */
export function concat<D extends DType>(parts: TensorInput<D>[], axis: number): Tensor<D> {
  const first = parts[0];
  if (!first) throw new RangeError('concat needs at least one tensor');
  if (parts.length === 1) return materialize(first);
  const rank = first.shape.length;
  if (axis < 0 || axis >= rank) throw new RangeError(`axis ${axis} is out of range for rank ${rank}`);
  for (const p of parts) {
    if (p.dtype !== first.dtype) throw new RangeError(`cannot concat ${p.dtype} with ${first.dtype}`);
    if (p.shape.length !== rank || p.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
      throw new RangeError(
        `cannot concat shape [${p.shape.join(', ')}] with [${first.shape.join(', ')}] along axis ${axis}`,
      );
    }
  }
  const shape = [...first.shape];
  shape[axis] = parts.reduce((n, p) => n + p.shape[axis], 0);
  const out = allocate(first.dtype, shape);
  const outer = sizeOf(first.shape.slice(0, axis));
  const inner = sizeOf(first.shape.slice(axis + 1));
  const outRow = shape[axis] * inner;
  let offset = 0;
  for (const p of parts) {
    const block = p.shape[axis] * inner;
    // Along axis 0 a part is one contiguous block, which a deferred part can write itself.
    if (isDeferred(p) && outer === 1) p.writeInto(out.data, offset);
    else copyBlocks(materialize(p).data, block, 0, out.data, outRow, offset, block, outer);
    offset += block;
  }
  return out;
}

/** Items `[start, start + count)` of `t` along `axis`: a view for axis 0 (or the tensor itself when whole), else a copy. */
export function slice<D extends DType>(t: Tensor<D>, axis: number, start: number, count: number): Tensor<D> {
  const size = t.shape[axis];
  if (start < 0 || count < 0 || start + count > size)
    throw new RangeError(`cannot take ${start}..${start + count} of axis ${axis} (size ${size})`);
  if (start === 0 && count === size) return t;
  const shape = [...t.shape];
  shape[axis] = count;
  const inner = sizeOf(t.shape.slice(axis + 1));
  if (axis === 0) return { dtype: t.dtype, shape, data: rangeOf(t.data, start * inner, (start + count) * inner) };
  const piece = allocate(t.dtype, shape);
  copyBlocks(
    t.data,
    size * inner,
    start * inner,
    piece.data,
    count * inner,
    0,
    count * inner,
    sizeOf(t.shape.slice(0, axis)),
  );
  return piece;
}

/** Cuts `t` along `axis` into consecutive pieces of the given sizes (views along axis 0, copies otherwise). */
export function split<D extends DType>(t: Tensor<D>, axis: number, sizes: number[]): Tensor<D>[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  if (t.shape[axis] !== total)
    throw new RangeError(`cannot split axis ${axis} of size ${t.shape[axis]} into ${sizes.join('+')}`);
  let start = 0;
  return sizes.map((n) => {
    const piece = slice(t, axis, start, n);
    start += n;
    return piece;
  });
}
