import { decode as decodePng } from 'fast-png';
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
 * path does not handle (16-bit or palette PNG, other formats, anything it fails on): sharp decodes
 * those, and reports real errors.
 */
export function decodeSmall(data: Uint8Array, format: string): RawImage | undefined {
  try {
    if (format === 'png') {
      const png = decodePng(data);
      if (png.depth !== 8 || png.palette || !(png.data instanceof Uint8Array)) return undefined;
      if (png.data.length !== png.width * png.height * png.channels) return undefined;
      return { data: png.data, width: png.width, height: png.height, channels: png.channels };
    }
    if (format === 'jpeg') {
      const img = jpeg.decode(data, { useTArray: true, formatAsRGBA: false, tolerantDecoding: false, maxMemoryUsageInMB: 64 });
      const channels = img.data.length / (img.width * img.height);
      if (channels !== 3 && channels !== 1) return undefined;
      return { data: img.data, width: img.width, height: img.height, channels };
    }
  } catch {
    return undefined;
  }
  return undefined;
}
