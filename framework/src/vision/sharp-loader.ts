import type sharpModule from 'sharp';

type SharpFactory = typeof sharpModule;

let loading: Promise<SharpFactory> | undefined;

/**
 * sharp (libvips), loaded on first use: it costs about 20 MB and 50 ms in every thread that imports it, and a
 * server whose uploads are small PNGs (decoded in JavaScript) never needs it. Its cache is off, as every upload is
 * new, and each call runs on one libvips thread: the concurrency comes from the requests.
 */
export function loadSharp(): Promise<SharpFactory> {
  loading ??= import('sharp').then(({ default: sharp }) => {
    sharp.cache(false);
    sharp.concurrency(1);
    return sharp;
  });
  return loading;
}
