/**
 * Pillow's `Image.resize`, bit for bit, for 8-bit images (L, LA, RGB, RGBA). Training pipelines resize with Pillow;
 * a serving resize that differs by one grey level on some pixels is train/serve skew. This follows Pillow's
 * libImaging (Resample.c, Geometry.c's nearest scaling, Convert.c's premultiplied alpha) step for step:
 *
 * - the filters (box, bilinear, hamming, bicubic, lanczos) widen their support by the scale when reducing, and
 *   their weights are normalised per output pixel, then turned into 22-bit fixed point, rounded away from zero;
 * - each pass rounds to 8 bits before the next (which is where a float pipeline differs). The horizontal pass runs
 *   first, only on the rows the vertical pass reads; Pillow 13 runs the vertical pass first when the height shrinks
 *   by more than twice what the width does, and Pillow 12.2 and 12.3 when the image is over 100 times taller than
 *   wide, so the version changes some pixels by one level, and `pillow` names the version to match;
 * - images with alpha are resized premultiplied (RGBa), then unpremultiplied with Pillow's integer division;
 * - nearest takes, for each output pixel, the source pixel under its centre, stepping by the scale as Pillow does
 *   (by repeated addition, so its rounding is Pillow's too).
 *
 * `framework/test/pillow-resize.test.ts` compares it with Pillow itself on generated images.
 */

export type PillowFilter = 'nearest' | 'box' | 'bilinear' | 'hamming' | 'bicubic' | 'lanczos';

interface Filter {
  support: number;
  weight(x: number): number;
}

const sinc = (x: number): number => {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
};

// Pillow's hamming filter computes 0.54f + 0.46f * cos(x) with single-precision constants.
const HAMMING_A = Math.fround(0.54);
const HAMMING_B = Math.fround(0.46);

const FILTERS: Record<Exclude<PillowFilter, 'nearest'>, Filter> = {
  box: { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: {
    support: 1,
    weight: (x) => {
      const ax = x < 0 ? -x : x;
      return ax < 1 ? 1 - ax : 0;
    },
  },
  hamming: {
    support: 1,
    weight: (x) => {
      const ax = x < 0 ? -x : x;
      if (ax === 0) return 1;
      if (ax >= 1) return 0;
      const px = ax * Math.PI;
      return (Math.sin(px) / px) * (HAMMING_A + HAMMING_B * Math.cos(px));
    },
  },
  bicubic: {
    support: 2,
    weight: (x) => {
      const a = -0.5;
      const ax = x < 0 ? -x : x;
      if (ax < 1) return ((a + 2) * ax - (a + 3)) * ax * ax + 1;
      if (ax < 2) return (((ax - 5) * ax + 8) * ax - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, weight: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

/** One axis's taps: for output i, source `first[i]` onwards, `count[i]` weights at `weights[i * size]`. */
interface Taps {
  first: Int32Array;
  count: Int32Array;
  weights: Int32Array;
  size: number;
}

const tapCache = new Map<string, Taps>();

/** The taps of one axis; a model's inputs come in a few sizes, so they are computed once and kept. */
function taps(inSize: number, in0: number, in1: number, outSize: number, name: Exclude<PillowFilter, 'nearest'>): Taps {
  const key = `${name} ${inSize} ${in0} ${in1} ${outSize}`;
  let cached = tapCache.get(key);
  if (!cached) {
    if (tapCache.size >= 256) tapCache.clear();
    cached = computeTaps(inSize, in0, in1, outSize, FILTERS[name]);
    tapCache.set(key, cached);
  }
  return cached;
}

/** Pillow's precompute_coeffs and normalize_coeffs_8bpc: `in0`..`in1` of the source axis onto `outSize` pixels. */
function computeTaps(inSize: number, in0: number, in1: number, outSize: number, filter: Filter): Taps {
  // in0 and in1 are C floats in Pillow, subtracted as floats, then divided as doubles.
  let filterScale = Math.fround(Math.fround(in1) - Math.fround(in0)) / outSize;
  const scale = filterScale;
  if (filterScale < 1) filterScale = 1;
  const support = filter.support * filterScale;
  const size = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * size);
  const raw = new Float64Array(size);
  const inverse = 1 / filterScale;
  const start = Math.fround(in0);
  for (let o = 0; o < outSize; o++) {
    const center = start + (o + 0.5) * scale;
    // C's (int) truncates toward zero.
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.weight((x + xmin - center + 0.5) * inverse);
      raw[x] = w;
      total += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = total !== 0 ? raw[x] / total : raw[x];
      weights[o * size + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    first[o] = xmin;
    count[o] = Math.max(0, xmax);
  }
  return { first, count, weights, size };
}

/** Pillow's clip8: the fixed-point sum back to 0..255. */
function clip8(sum: number): number {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** The horizontal pass over rows `rowFrom`..`rowTo` of `src` (`inW` wide, `channels` interleaved). */
function horizontal(
  src: Uint8Array,
  inW: number,
  channels: number,
  rowFrom: number,
  rowTo: number,
  t: Taps,
  outW: number,
): Uint8Array {
  const out = new Uint8Array(outW * (rowTo - rowFrom) * channels);
  const { first, count, weights, size } = t;
  for (let y = rowFrom; y < rowTo; y++) {
    const inRow = y * inW * channels;
    const outRow = (y - rowFrom) * outW * channels;
    for (let x = 0; x < outW; x++) {
      const k = x * size;
      const n = count[x];
      const base = inRow + first[x] * channels;
      for (let c = 0; c < channels; c++) {
        let sum = HALF;
        for (let i = 0; i < n; i++) sum += src[base + i * channels + c] * weights[k + i];
        out[outRow + x * channels + c] = clip8(sum);
      }
    }
  }
  return out;
}

/** The vertical pass: `src` is `w` wide; output row y reads from source row `first[y] - offset`. */
function vertical(src: Uint8Array, w: number, channels: number, t: Taps, offset: number, outH: number): Uint8Array {
  const out = new Uint8Array(w * outH * channels);
  const { first, count, weights, size } = t;
  const row = w * channels;
  for (let y = 0; y < outH; y++) {
    const k = y * size;
    const n = count[y];
    const base = (first[y] - offset) * row;
    const outRow = y * row;
    for (let i = 0; i < row; i++) {
      let sum = HALF;
      for (let j = 0; j < n; j++) sum += src[base + j * row + i] * weights[k + j];
      out[outRow + i] = clip8(sum);
    }
  }
  return out;
}

/** Pillow's ImagingScaleAffine with the nearest filter. */
function nearest(
  src: Uint8Array,
  inW: number,
  inH: number,
  channels: number,
  outW: number,
  outH: number,
  box: Box,
): Uint8Array {
  const out = new Uint8Array(outW * outH * channels);
  const a0 = Math.fround(Math.fround(box[2]) - Math.fround(box[0])) / outW;
  const a4 = Math.fround(Math.fround(box[3]) - Math.fround(box[1])) / outH;
  const xs = new Int32Array(outW).fill(-1);
  let xo = Math.fround(box[0]) + a0 * 0.5;
  for (let x = 0; x < outW; x++) {
    const xin = xo < 0 ? -1 : Math.trunc(xo);
    if (xin >= 0 && xin < inW) xs[x] = xin;
    xo += a0;
  }
  let yo = Math.fround(box[1]) + a4 * 0.5;
  for (let y = 0; y < outH; y++) {
    const yin = yo < 0 ? -1 : Math.trunc(yo);
    yo += a4;
    if (yin < 0 || yin >= inH) continue;
    for (let x = 0; x < outW; x++) {
      if (xs[x] < 0) continue;
      const from = (yin * inW + xs[x]) * channels;
      out.set(src.subarray(from, from + channels), (y * outW + x) * channels);
    }
  }
  return out;
}

/** Convert.c's MULDIV255: a·b/255, rounded as Pillow does. */
function mulDiv255(a: number, b: number): number {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

/** RGBA → RGBa (or LA → La): colour channels multiplied by alpha, the last channel. */
function premultiply(src: Uint8Array, channels: number): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let p = 0; p < src.length; p += channels) {
    const alpha = src[p + channels - 1];
    for (let c = 0; c < channels - 1; c++) out[p + c] = mulDiv255(src[p + c], alpha);
    out[p + channels - 1] = alpha;
  }
  return out;
}

/** RGBa → RGBA, in place: Pillow divides by alpha with integer division, and leaves alpha 0 and 255 alone. */
function unpremultiply(data: Uint8Array, channels: number): Uint8Array {
  for (let p = 0; p < data.length; p += channels) {
    const alpha = data[p + channels - 1];
    if (alpha === 255 || alpha === 0) continue;
    for (let c = 0; c < channels - 1; c++) data[p + c] = Math.min(255, Math.trunc((255 * data[p + c]) / alpha));
  }
  return data;
}

/** The source region to resize, as Pillow's `box`: left, upper, right, lower (fractions allowed). */
export type Box = readonly [number, number, number, number];

export interface PillowResizeOptions {
  /** 1 (L), 2 (LA), 3 (RGB) or 4 (RGBA) interleaved channels; with 2 and 4 the last is alpha. */
  channels: 1 | 2 | 3 | 4;
  filter: PillowFilter;
  /** Default: the whole image. */
  box?: Box;
  /** The Pillow version to match (`9.4.0`, `13.0`): the order of the two passes changed in 12.2 and 13. Default 13. */
  pillow?: string;
}

const versions = new Map<string, number[]>();

/** A version string's numbers, parsed once (every resize asks). */
function versionOf(pillow: string): number[] {
  let parsed = versions.get(pillow);
  if (!parsed) versions.set(pillow, (parsed = pillow.split('.').map(Number)));
  return parsed;
}

/** Whether that Pillow runs the vertical pass first for this resize (see the module's comment). */
function verticalFirst(pillow: string, inW: number, inH: number, outW: number, outH: number): boolean {
  const [major, minor] = versionOf(pillow);
  if (major >= 13) return inH - outH > 0 && inH - outH > (inW - outW) * 2;
  if (major === 12 && minor >= 2) return inH > inW * 100 && outH < inH;
  return false;
}

/**
 * `Image.resize((outW, outH), filter, box)` on `src` (`inW`×`inH`, interleaved 8-bit channels). Returns `src`
 * itself when there is nothing to do, as Pillow copies.
 */
export function pillowResize(
  src: Uint8Array,
  inW: number,
  inH: number,
  outW: number,
  outH: number,
  { channels, filter, box = [0, 0, inW, inH], pillow = '13.0' }: PillowResizeOptions,
): Uint8Array {
  if (src.length !== inW * inH * channels)
    throw new RangeError(`${src.length} bytes for a ${inW}x${inH} image of ${channels} channels`);
  if (outW < 1 || outH < 1) throw new RangeError('height and width must be > 0');
  // Image.resize returns a copy when the size and the box are the image's own.
  if (outW === inW && outH === inH && box[0] === 0 && box[1] === 0 && box[2] === inW && box[3] === inH) return src;
  // Images with alpha are resized premultiplied (Image.resize converts RGBA to RGBa and back), nearest excepted.
  const alpha = (channels === 2 || channels === 4) && filter !== 'nearest';
  const input = alpha ? premultiply(src, channels) : src;
  const done = (image: Uint8Array) => (alpha ? unpremultiply(image, channels) : image);
  // A box of whole pixels the size of the output is a crop.
  if (
    box[0] === Math.trunc(box[0]) &&
    box[1] === Math.trunc(box[1]) &&
    box[2] - box[0] === outW &&
    box[3] - box[1] === outH
  ) {
    const out = new Uint8Array(outW * outH * channels);
    for (let y = 0; y < outH; y++) {
      const from = ((box[1] + y) * inW + box[0]) * channels;
      out.set(input.subarray(from, from + outW * channels), y * outW * channels);
    }
    return done(out);
  }
  if (filter === 'nearest') return nearest(src, inW, inH, channels, outW, outH, box);
  const needHorizontal = outW !== inW || box[0] !== 0 || box[2] !== outW;
  const needVertical = outH !== inH || box[1] !== 0 || box[3] !== outH;
  const vTaps = taps(inH, box[1], box[3], outH, filter);
  if (verticalFirst(pillow, inW, inH, outW, outH)) {
    let image = needVertical ? vertical(input, inW, channels, vTaps, 0, outH) : input;
    if (needHorizontal)
      image = horizontal(image, inW, channels, 0, outH, taps(inW, box[0], box[2], outW, filter), outW);
    return done(image === src ? src.slice() : image);
  }
  let image = input;
  let width = inW;
  let offset = 0;
  if (needHorizontal) {
    // Only the rows the vertical pass reads.
    const rowFrom = vTaps.first[0];
    const rowTo = vTaps.first[outH - 1] + vTaps.count[outH - 1];
    image = horizontal(input, inW, channels, rowFrom, rowTo, taps(inW, box[0], box[2], outW, filter), outW);
    width = outW;
    offset = rowFrom;
  }
  if (needVertical) image = vertical(image, width, channels, vTaps, offset, outH);
  return done(image === src ? src.slice() : image);
}
