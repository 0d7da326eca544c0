/**
 * Decoded pixels, and how they are fitted to a model's input: Pillow's `convert(mode)` then `Image.resize`, bit for
 * bit (pillow-resize.ts, channels.ts). Pure JavaScript with no native module, so that resize-worker.ts can run it
 * off the event loop.
 */
import { toChannels } from './channels.js';
import { type PillowFilter, pillowResize } from './pillow-resize.js';

/** Decoded interleaved 8-bit pixels, as a decoder gives them (any channel count, alpha last). */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

export type ResizeFit = 'fill' | 'cover' | 'contain';
export type ResizeKernel = 'nearest' | 'linear' | 'cubic' | 'lanczos3';

export interface PixelOptions {
  width: number;
  height: number;
  /** 1 (grey) or 3 (RGB). Colour images become grey by luminance; grey ones are replicated. Alpha is dropped. */
  channels: 1 | 3;
  fit?: ResizeFit;
  kernel?: ResizeKernel;
  /** The Pillow version whose resize to match (pillow-resize.ts); the newest when unset. */
  pillow?: string;
}

/** Each kernel as Pillow's filter of the same name: a stretch (`fill`) resizes as Pillow's Image.resize does. */
const PILLOW_FILTERS: Record<ResizeKernel, PillowFilter> = {
  nearest: 'nearest',
  linear: 'bilinear',
  cubic: 'bicubic',
  lanczos3: 'lanczos',
};

/** Interleaved 8-bit pixels, row-major, `channels` values per pixel. */
export interface Pixels {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

/** A plain stretch to the model's size: resized in JavaScript as Pillow's Image.resize does, whatever the decoder. */
export function isStretch(options: PixelOptions): boolean {
  return (options.fit ?? 'fill') === 'fill';
}

/**
 * Resizes and converts decoded pixels in JavaScript as a Pillow pipeline does (`convert(mode)`, then `resize`):
 * channels are dropped before resizing (Pillow's luma for grey) and added after (grey replicated, which commutes
 * with the resize).
 */
export function fitPixels(raw: RawImage, options: PixelOptions): Pixels {
  const { width, height, channels } = options;
  let data = raw.data;
  let have = raw.channels;
  const pixels = raw.width * raw.height;
  // Alpha goes first, as Pillow's convert to L or RGB drops it before the resize.
  if (have === 2 || have === 4) {
    data = toChannels(data, pixels, have, have === 4 ? 3 : 1);
    have--;
  }
  if (have > channels) {
    data = toChannels(data, pixels, have, channels);
    have = channels;
  }
  data = pillowResize(data, raw.width, raw.height, width, height, {
    channels: have as 1 | 3,
    filter: PILLOW_FILTERS[options.kernel ?? 'linear'],
    pillow: options.pillow,
  });
  if (have !== channels) data = toChannels(data, width * height, have, channels);
  return { data: Buffer.from(data.buffer, data.byteOffset, data.byteLength), width, height, channels };
}
