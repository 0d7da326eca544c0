/**
 * Fitting large images off the event loop. Pillow's resize (pillow-resize.ts) runs in JavaScript: a few
 * milliseconds for an image of a few hundred thousand pixels (17 ms for 1000x700 to 224x224 on this project's
 * 2-core machine), which on the HTTP thread would stall every other request. Images above
 * BENTO_JS_DECODE_MAX_PIXELS, which sharp decodes in its own thread pool, are fitted on a worker thread of this
 * pool; small ones stay on the event loop, where a thread hop would cost more than the resize.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { Pixels, PixelOptions, RawImage } from './pixels.js';
import type { FitTask } from './resize-worker.js';

let pool: Piscina | undefined;

/** `raw` fitted to `options` on a worker thread. The pool starts with the first large image. */
export async function fitOffThread(raw: RawImage, options: PixelOptions): Promise<Pixels> {
  pool ??= new Piscina({
    filename: new URL('./resize-worker.js', import.meta.url).href,
    // Runner workers take half the cores by default; resizing takes what is left, at least one thread.
    minThreads: 0,
    maxThreads: Math.max(1, availableParallelism() - Math.floor(availableParallelism() / 2)),
    idleTimeout: 30_000,
    recordTiming: false,
  });
  const task: FitTask = { raw, options };
  const out = (await pool.run(task)) as { data: Uint8Array; width: number; height: number; channels: number };
  return { ...out, data: Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength) };
}

/** Stops the pool's threads (a server's close). */
export async function closeResizePool(): Promise<void> {
  const closing = pool;
  pool = undefined;
  await closing?.destroy();
}
