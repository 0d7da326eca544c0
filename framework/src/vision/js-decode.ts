import pngjs from 'pngjs';
import jpeg from 'jpeg-js';

/** Decoded interleaved 8-bit pixels. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/**
 * Decodes a small PNG or JPEG in JavaScript. For thumbnails this costs tens of microseconds, where a
 * round trip through sharp's thread pool costs a millisecond or more. Returns undefined for what this
 * path does not handle (other formats, anything it fails on): sharp decodes those, and reports real
 * errors.
 */
export function decodeSmall(data: Uint8Array, format: string): RawImage | undefined {
  try {
    if (format === 'png') {
      // pngjs inflates with Node's zlib and hands back 8-bit RGBA for every colour type and depth.
      const png = pngjs.PNG.sync.read(
        Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength),
      );
      if (png.data.length !== png.width * png.height * 4) return undefined;
      return { data: png.data, width: png.width, height: png.height, channels: 4 };
    }
    if (format === 'jpeg') {
      const img = jpeg.decode(data, {
        useTArray: true,
        formatAsRGBA: false,
        tolerantDecoding: false,
        maxMemoryUsageInMB: 64,
      });
      const channels = img.data.length / (img.width * img.height);
      if (channels !== 3 && channels !== 1) return undefined;
      return { data: img.data, width: img.width, height: img.height, channels };
    }
  } catch {
    return undefined;
  }
  return undefined;
}
