import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resizeBilinear, toChannels } from '../src/vision/resample.js';

describe('resizeBilinear (PIL BILINEAR filter)', () => {
  it('enlarges with half-pixel centres: [0, 100] → [0, 25, 75, 100]', () => {
    assert.deepEqual([...resizeBilinear(Uint8Array.from([0, 100]), 2, 1, 1, 4, 1)], [0, 25, 75, 100]);
  });

  it('shrinks with a widened (antialiasing) triangle filter', () => {
    // Output 0 is centred on input 1 with support 2: weights 0.75, 0.75, 0.25 over inputs 0..2.
    assert.deepEqual([...resizeBilinear(Uint8Array.from([0, 100, 200, 255]), 4, 1, 1, 2, 1)], [71, 209]); // as PIL 9.4 gives
  });

  it('works per channel and in both directions, and returns the input when the size is unchanged', () => {
    const rgb = Uint8Array.from([10, 20, 30, 50, 60, 70]);
    assert.deepEqual([...resizeBilinear(rgb, 1, 2, 3, 1, 4)], [10, 20, 30, 20, 30, 40, 40, 50, 60, 50, 60, 70]);
    assert.equal(resizeBilinear(rgb, 2, 1, 3, 2, 1), rgb);
    const flat = resizeBilinear(new Uint8Array(28 * 28).fill(77), 28, 28, 1, 32, 32);
    assert.ok(flat.every((v) => v === 77));
  });
});

describe('toChannels', () => {
  it("replicates grey, drops alpha and takes PIL's luma for grey", () => {
    assert.deepEqual([...toChannels(Uint8Array.from([5, 9]), 2, 1, 3)], [5, 5, 5, 9, 9, 9]);
    assert.deepEqual([...toChannels(Uint8Array.from([1, 2, 3, 255]), 1, 4, 3)], [1, 2, 3]);
    assert.deepEqual([...toChannels(Uint8Array.from([7, 128]), 1, 2, 3)], [7, 7, 7]);
    assert.deepEqual([...toChannels(Uint8Array.from([255, 0, 0]), 1, 3, 1)], [76]);
  });
});
