import { RequestTimeoutError, TooManyRequestsError } from '../errors.js';

/**
 * Per-process traffic control for API routes (BentoML's `traffic` config):
 * a non-queuing concurrency cap (429 when full) and a response-start timeout (504).
 */
export class TrafficControl {
  private inFlight = 0;

  constructor(
    readonly timeoutMs: number,
    readonly maxConcurrency?: number,
  ) {}

  get current(): number {
    return this.inFlight;
  }

  /** Runs `work` under both limits; `abort` is told when the deadline passes. */
  async run<T>(work: (signal: AbortSignal) => Promise<T>, clientGone?: AbortSignal): Promise<T> {
    if (this.maxConcurrency !== undefined && this.inFlight >= this.maxConcurrency) {
      throw new TooManyRequestsError(`the server is handling ${this.inFlight} requests, its limit; retry shortly`, {
        retryAfter: 1,
      });
    }
    this.inFlight++;
    const controller = new AbortController();
    const onGone = () => controller.abort(clientGone?.reason);
    clientGone?.addEventListener('abort', onGone, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new RequestTimeoutError(`the request did not complete within ${this.timeoutMs} ms`);
        controller.abort(err);
        reject(err);
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([work(controller.signal), deadline]);
    } finally {
      clearTimeout(timer);
      clientGone?.removeEventListener('abort', onGone);
      this.inFlight--;
    }
  }
}
