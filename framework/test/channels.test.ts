import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toChannels } from '../src/vision/channels.js';

describe('toChannels (Pillow convert to L or RGB)', () => {
  it("replicates grey, drops alpha and takes Pillow's fixed-point luma for grey", () => {
    assert.deepEqual([...toChannels(Uint8Array.from([5, 9]), 2, 1, 3)], [5, 5, 5, 9, 9, 9]);
    assert.deepEqual([...toChannels(Uint8Array.from([1, 2, 3, 255]), 1, 4, 3)], [1, 2, 3]);
    assert.deepEqual([...toChannels(Uint8Array.from([7, 128]), 1, 2, 3)], [7, 7, 7]);
    assert.deepEqual([...toChannels(Uint8Array.from([255, 0, 0]), 1, 3, 1)], [76]);
    // Where Pillow's fixed point and a rounded 0.299/0.587/0.114 part: Pillow 9.4 and 13 give 27, not 28.
    assert.deepEqual([...toChannels(Uint8Array.from([2, 20, 133]), 1, 3, 1)], [27]);
  });
});
