import { type DType, type Tensor, allocate, sizeOf } from './tensor.js';

/** Joins tensors along `axis`; all other dimensions and the dtype must match. */
export function concat<D extends DType>(parts: Tensor<D>[], axis: number): Tensor<D> {
  const first = parts[0];
  if (!first) throw new RangeError('concat needs at least one tensor');
  if (parts.length === 1) return first;
  const rank = first.shape.length;
  if (axis < 0 || axis >= rank) throw new RangeError(`axis ${axis} is out of range for rank ${rank}`);
  for (const p of parts) {
    if (p.dtype !== first.dtype) throw new RangeError(`cannot concat ${p.dtype} with ${first.dtype}`);
    if (p.shape.length !== rank || p.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
      throw new RangeError(`cannot concat shape [${p.shape.join(', ')}] with [${first.shape.join(', ')}] along axis ${axis}`);
    }
  }
  const shape = [...first.shape];
  shape[axis] = parts.reduce((n, p) => n + p.shape[axis]!, 0);
  const out = allocate(first.dtype, shape);
  const outer = sizeOf(first.shape.slice(0, axis));
  const inner = sizeOf(first.shape.slice(axis + 1));
  const outRow = shape[axis]! * inner;
  let offset = 0;
  for (const p of parts) {
    const block = p.shape[axis]! * inner;
    const data = p.data as unknown as { subarray(a: number, b: number): ArrayLike<number | bigint> };
    for (let o = 0; o < outer; o++) {
      (out.data as unknown as { set(src: ArrayLike<number | bigint>, at: number): void }).set(data.subarray(o * block, (o + 1) * block), o * outRow + offset);
    }
    offset += block;
  }
  return out;
}

/** Cuts `t` along `axis` into consecutive pieces of the given sizes (copies unless the axis is 0). */
export function split<D extends DType>(t: Tensor<D>, axis: number, sizes: number[]): Tensor<D>[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  if (t.shape[axis] !== total) throw new RangeError(`cannot split axis ${axis} of size ${t.shape[axis]} into ${sizes.join('+')}`);
  const outer = sizeOf(t.shape.slice(0, axis));
  const inner = sizeOf(t.shape.slice(axis + 1));
  const row = total * inner;
  const pieces: Tensor<D>[] = [];
  let start = 0;
  for (const n of sizes) {
    const shape = [...t.shape];
    shape[axis] = n;
    if (axis === 0) {
      pieces.push({ dtype: t.dtype, shape, data: t.data.subarray(start * inner, (start + n) * inner) as Tensor<D>['data'] });
    } else {
      const piece = allocate(t.dtype, shape);
      const data = t.data as unknown as { subarray(a: number, b: number): ArrayLike<number | bigint> };
      for (let o = 0; o < outer; o++) {
        (piece.data as unknown as { set(src: ArrayLike<number | bigint>, at: number): void }).set(data.subarray(o * row + start * inner, o * row + (start + n) * inner), o * n * inner);
      }
      pieces.push(piece);
    }
    start += n;
  }
  return pieces;
}
