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
    // pngjs inflates with Node's zlib and hands back 8-bit RGBA for every colour type and depth.
    const png = pngjs.PNG.sync.read(
      Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    );
    if (png.data.length !== png.width * png.height * 4) return undefined;
    return { data: png.data, width: png.width, height: png.height, channels: 4 };
  } catch {
    return undefined;
  }
}
