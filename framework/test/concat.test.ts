import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Tensor } from '../src/index.js';
import { concat, slice, split } from '../src/tensor/concat.js';

// 2 × 3 × 2, values 0..11 in row-major order.
const t: Tensor<'float32'> = {
  dtype: 'float32',
  shape: [2, 3, 2],
  data: Float32Array.from({ length: 12 }, (_, i) => i),
};

describe('slice, split and concat', () => {
  it('slices along axis 0 as a view and along inner axes as a copy', () => {
    const rows = slice(t, 0, 1, 1);
    assert.deepEqual(
      [rows.shape, [...rows.data]],
      [
        [1, 3, 2],
        [6, 7, 8, 9, 10, 11],
      ],
    );
    assert.equal(rows.data.buffer, t.data.buffer);
    const mid = slice(t, 1, 1, 2);
    assert.deepEqual(
      [mid.shape, [...mid.data]],
      [
        [2, 2, 2],
        [2, 3, 4, 5, 8, 9, 10, 11],
      ],
    );
    assert.notEqual(mid.data.buffer, t.data.buffer);
    assert.equal(slice(t, 2, 0, 2), t);
    assert.throws(() => slice(t, 1, 2, 2), /cannot take 2..4 of axis 1/);
  });

  it('splits and concatenates back to the original along every axis', () => {
    for (const [axis, sizes] of [
      [0, [1, 1]],
      [1, [1, 2]],
      [2, [1, 1]],
    ] as Array<[number, number[]]>) {
      const pieces = split(t, axis, sizes);
      assert.deepEqual(
        pieces.map((p) => p.shape[axis]),
        sizes,
      );
      const back = concat(pieces, axis);
      assert.deepEqual([back.shape, [...back.data]], [t.shape, [...t.data]]);
    }
    assert.throws(() => split(t, 1, [1, 1]), /cannot split axis 1 of size 3/);
    assert.throws(
      () => concat([t, { ...t, dtype: 'int32', data: new Int32Array(12) } as unknown as Tensor<'float32'>], 0),
      /cannot concat int32/,
    );
  });
});
