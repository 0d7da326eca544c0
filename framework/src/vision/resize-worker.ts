/** A resize-pool.ts thread: fits decoded pixels to a model's input, as pixels.ts does on the event loop. */
import { type PixelOptions, type RawImage, fitPixels } from './pixels.js';

export interface FitTask {
  raw: RawImage;
  options: PixelOptions;
}

export default function fit({ raw, options }: FitTask): {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
} {
  const { data, width, height, channels } = fitPixels(raw, options);
  // A plain Uint8Array crosses back to the event loop as a copy; a Buffer would arrive as one too, but untyped.
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height, channels };
}
