/**
 * Converts interleaved pixels to 1 (grey) or 3 (RGB) channels as Pillow's `convert('L')` and `convert('RGB')` do:
 * alpha is dropped, grey is replicated, and colour becomes grey by ITU-R 601 luma in Pillow's fixed point
 * (`(19595 R + 38470 G + 7471 B + 32768) >> 16`).
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
      out[i] = colour ? (src[p] * 19595 + src[p + 1] * 38470 + src[p + 2] * 7471 + 0x8000) >> 16 : src[p];
    }
  }
  return out;
}
