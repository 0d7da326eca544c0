import type { Logger, ModelSession } from '../plugins/types.js';
import { DTYPES, type DType, allocate } from '../tensor/tensor.js';

/**
 * Runs the model once on zeros (free dimensions as 1) right after loading, so
 * the first request does not pay for lazy initialisation (kernel selection,
 * memory arenas) and a model that cannot run at all is found before the server
 * says it is ready. A model whose inputs zeros cannot satisfy is only warned about.
 */
export async function warmUp(session: ModelSession, logger: Logger): Promise<number | undefined> {
  const feeds: Record<string, ReturnType<typeof allocate>> = {};
  for (const input of session.inputs) {
    if (!DTYPES.includes(input.dtype as DType)) {
      logger.warn(`warm-up skipped: input "${input.name}" has dtype ${input.dtype}`);
      return undefined;
    }
    const shape = input.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    feeds[input.name] = allocate(input.dtype as DType, shape);
  }
  const started = performance.now();
  try {
    await session.run(feeds);
  } catch (err) {
    logger.warn(`warm-up inference on zeros failed (the model is served anyway): ${(err as Error).message}`);
    return undefined;
  }
  return performance.now() - started;
}
