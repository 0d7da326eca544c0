/**
 * Resizing for small images on the HTTP thread, with the same filter as PIL's `Image.resize(size,
 * BILINEAR)` (a triangle filter whose support widens when shrinking), which is how training pipelines
 * usually resize. libvips' linear kernel places an enlarged image differently (about 0.4 px off for
 * 28→32), so models trained with PIL see slightly different pixels through sharp.
 */

interface Taps {
  /** First source index of each output position. */
  start: Int32Array;
  /** Number of taps of each output position. */
  count: Int32Array;
  /** Weights, `maxTaps` per output position. */
  weights: Float64Array;
  maxTaps: number;
}

const tapCache = new Map<number, Taps>();

/** Filter taps for one axis; the same few size pairs recur for a model, so they are kept. */
function taps(inSize: number, outSize: number): Taps {
  const key = inSize * 65536 + outSize;
  let cached = tapCache.get(key);
  if (!cached) {
    if (tapCache.size > 256) tapCache.clear();
    cached = computeTaps(inSize, outSize);
    tapCache.set(key, cached);
  }
  return cached;
}

function computeTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the triangle filter's support is 1, scaled when shrinking
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * maxTaps);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support + 0.5));
    const hi = Math.min(inSize, Math.floor(center + support + 0.5));
    let total = 0;
    for (let i = lo; i < hi; i++) {
      const w = Math.max(0, 1 - Math.abs((i - center + 0.5) / filterScale));
      weights[o * maxTaps + (i - lo)] = w;
      total += w;
    }
    if (total > 0) for (let k = 0; k < hi - lo; k++) weights[o * maxTaps + k] /= total;
    start[o] = lo;
    count[o] = hi - lo;
  }
  return { start, count, weights, maxTaps };
}

/** Resizes interleaved 8-bit pixels (any channel count) to `outW`×`outH`, horizontally then vertically. */
export function resizeBilinear(
  src: Uint8Array,
  inW: number,
  inH: number,
  channels: number,
  outW: number,
  outH: number,
): Uint8Array {
  if (inW === outW && inH === outH) return src;
  const h = taps(inW, outW);
  const v = taps(inH, outH);
  // Hot loops: typed arrays in locals, offsets computed once per row (this runs on the HTTP thread).
  const hStart = h.start;
  const hCount = h.count;
  const hWeights = h.weights;
  const hMax = h.maxTaps;
  const mid = new Float64Array(outW * inH * channels);
  const inRow = inW * channels;
  const midRow = outW * channels;
  for (let y = 0; y < inH; y++) {
    const srcRow = y * inRow;
    const dstRow = y * midRow;
    for (let x = 0; x < outW; x++) {
      const first = srcRow + hStart[x] * channels;
      const n = hCount[x];
      const wBase = x * hMax;
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = 0, at = first + c; k < n; k++, at += channels) acc += src[at] * hWeights[wBase + k];
        mid[dstRow + x * channels + c] = acc;
      }
    }
  }
  const vStart = v.start;
  const vCount = v.count;
  const vWeights = v.weights;
  const vMax = v.maxTaps;
  const out = new Uint8Array(outW * outH * channels);
  for (let y = 0; y < outH; y++) {
    const first = vStart[y] * midRow;
    const n = vCount[y];
    const wBase = y * vMax;
    const dstRow = y * midRow;
    for (let i = 0; i < midRow; i++) {
      let acc = 0;
      for (let k = 0, at = first + i; k < n; k++, at += midRow) acc += mid[at] * vWeights[wBase + k];
      out[dstRow + i] = acc <= 0 ? 0 : acc >= 255 ? 255 : (acc + 0.5) | 0;
    }
  }
  return out;
}

/**
 * Converts interleaved pixels to 1 (grey, ITU-R 601 luma as PIL's "L") or 3 (RGB) channels, dropping
 * alpha (as PIL's convert does) and replicating grey.
 */
export function toChannels(src: Uint8Array, pixels: number, from: number, to: 1 | 3): Uint8Array {
  const colour = from >= 3;
  if (from === to) return src;
  const out = new Uint8Array(pixels * to);
  for (let i = 0; i < pixels; i++) {
    const p = i * from;
    if (to === 3) {
      if (colour) {
        out[i * 3] = src[p]!;
        out[i * 3 + 1] = src[p + 1]!;
        out[i * 3 + 2] = src[p + 2]!;
      } else {
        out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = src[p]!;
      }
    } else {
      out[i] = colour ? Math.round((src[p] * 299 + src[p + 1] * 587 + src[p + 2] * 114) / 1000) : src[p];
    }
  }
  return out;
}
