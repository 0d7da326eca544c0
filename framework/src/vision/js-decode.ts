import pngjs from 'pngjs';
import type { RawImage } from './pixels.js';

/**
 * Decodes a small PNG in JavaScript. For thumbnails this costs tens of microseconds, where a round trip through
 * sharp's thread pool costs a millisecond or more; PNG decoding is lossless, so the pixels are Pillow's. JPEG is
 * not decoded here: jpeg-js's IDCT and upsampling differ from libjpeg-turbo's, which Pillow and sharp share, by a
 * grey level or more on most pixels of a small colour JPEG. Returns undefined for what this path does not handle
 * (other formats, anything it fails on): sharp decodes those, and reports real errors.
 */
export function decodeSmall(data: Uint8Array, format: string): RawImage | undefined {
  if (format !== 'png') return undefined;
  try {
    // pngjs inflates with Node's zlib and hands back 8-bit RGBA for every colour type and depth; `color` is false
    // for grey ones.
    const png = pngjs.PNG.sync.read(
      Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    );
    const pixels = png.width * png.height;
    if (png.data.length !== pixels * 4) return undefined;
    if (png.color) return { data: png.data, width: png.width, height: png.height, channels: 4 };
    // A grey PNG (alpha by channel or by tRNS aside) comes back with R = G = B: handing on one channel keeps the
    // resize to one plane, where an RGB model's three would cost three times as much for the same values.
    const channels = png.alpha ? 2 : 1;
    const grey = new Uint8Array(pixels * channels);
    for (let i = 0; i < pixels; i++) {
      grey[i * channels] = png.data[i * 4]!;
      if (channels === 2) grey[i * 2 + 1] = png.data[i * 4 + 3]!;
    }
    return { data: grey, width: png.width, height: png.height, channels };
  } catch {
    return undefined;
  }
}
