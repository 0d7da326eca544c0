import type { WarmUp } from '../models/model.js';
import type { Logger, ModelSession } from '../plugins/types.js';
import { DTYPES, type DType, allocate } from '../tensor/tensor.js';

export type { WarmUp };

/**
 * Runs the model once on zeros (free dimensions as 1) right after loading, so
 * the first request does not pay for lazy initialisation (kernel selection,
 * memory arenas) and a model that cannot run at all is found before the server
 * says it is ready. At start-up a failure is only warned about: some models
 * cannot take zeros or a dimension of 1 and serve real inputs well. At a hot
 * update the outcome is compared with the served model's (`RunnerPool.reload`).
 */
export async function warmUp(session: ModelSession, logger: Logger): Promise<WarmUp> {
  const feeds: Record<string, ReturnType<typeof allocate>> = {};
  for (const input of session.inputs) {
    if (!(DTYPES as string[]).includes(input.dtype) && input.dtype !== 'string') {
      const skipped = `input "${input.name}" has dtype ${input.dtype}`;
      logger.warn(`warm-up skipped: ${skipped}`);
      return { ran: false, skipped };
    }
    const shape = input.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    feeds[input.name] = allocate(input.dtype as DType, shape);
  }
  const started = performance.now();
  try {
    await session.run(feeds);
  } catch (err) {
    const failed = (err as Error).message;
    logger.warn(`warm-up inference on zeros failed: ${failed}`);
    return { ran: false, failed };
  }
  return { ran: true, ms: performance.now() - started };
}
