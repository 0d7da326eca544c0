import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { BentoError, RunnerCrashedError, ServiceUnavailableError } from '../errors.js';
import type { RunnableDefinition } from '../sdk/decorators/runnable.js';
import { isTensor, transferablesOf, type Tensor } from '../tensor/tensor.js';
import type { Dispatcher } from './dispatcher.js';
import type { ModelInfo } from './model-info.js';
import { INFO_METHOD, type InfoResponse, type TaskResponse, type WorkerBootstrap } from './protocol.js';

export interface RunnerPoolOptions {
  workers: number;
  /** Calls waiting for a free worker before new ones are refused with 503. */
  maxQueue: number;
}

/**
 * Worker count from config: a number, `cpu_count`, or by default half the cores (at least one): the
 * HTTP thread decodes and preprocesses on a core of its own, and on 2 cores a second worker measured
 * slower (1,016 against 1,299 req/s at c=64 for the bundled classifier).
 */
export function resolveWorkerCount(value: RunnableDefinition['workers'], override?: number): number {
  if (override !== undefined) return override;
  if (value === 'cpu_count') return availableParallelism();
  return value ?? Math.max(1, Math.floor(availableParallelism() / 2));
}

function fromSerialized(error: { code: string; message: string; statusCode: number }): BentoError {
  return new BentoError(error.code, error.message, error.statusCode);
}

/**
 * A pool of worker threads, each owning one session of the same model. Calls
 * are queued (bounded) and go to the next free worker. A worker that dies is
 * replaced by the pool; the call it was running fails with RUNNER_CRASHED.
 */
export class RunnerPool {
  /** Adaptive-batching dispatchers of this runner's batchable methods, by method name. */
  readonly dispatchers = new Map<string, Dispatcher>();

  private constructor(
    readonly name: string,
    private readonly pool: Piscina,
    readonly model: ModelInfo,
  ) {}

  static async start(name: string, bootstrap: WorkerBootstrap, options: RunnerPoolOptions): Promise<RunnerPool> {
    const pool = new Piscina({
      filename: new URL('./worker.js', import.meta.url).href,
      workerData: bootstrap,
      minThreads: options.workers,
      maxThreads: options.workers,
      // Workers hold a loaded model: never let the pool retire them for being idle.
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
      // Piscina's own timing histograms cost about 20 µs a call; the dispatcher keeps the figures we use.
      recordTiming: false,
      maxQueue: options.maxQueue,
    });
    try {
      // Every worker loads the model; ask each one so that start-up fails here, not on the first request.
      const infos = await Promise.all(Array.from({ length: options.workers }, () => pool.run({ method: INFO_METHOD, args: [] }) as Promise<InfoResponse>));
      const failed = infos.find((r) => !r.ok);
      if (failed && !failed.ok) throw fromSerialized(failed.error);
      return new RunnerPool(name, pool, (infos[0] as { value: ModelInfo }).value);
    } catch (err) {
      await pool.destroy().catch(() => undefined);
      throw err;
    }
  }

  get workers(): number {
    return this.pool.threads.length;
  }

  get queueSize(): number {
    return this.pool.queueSize;
  }

  async call(method: string, args: unknown[]): Promise<unknown> {
    return (await this.callTimed(method, args)).value;
  }

  /** `call`, with how long the method itself ran in its worker. */
  async callTimed(method: string, args: unknown[]): Promise<{ value: unknown; elapsedMs?: number }> {
    const tensors = args.filter(isTensor) as Tensor[];
    let response: TaskResponse;
    try {
      response = (await this.pool.run({ method, args }, { transferList: transferablesOf(tensors) })) as TaskResponse;
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      if (/queue is at limit/i.test(message)) {
        throw new ServiceUnavailableError(`runner "${this.name}" is saturated: its queue is full`, { retryAfter: 1 });
      }
      if (/terminated|destroyed|closed/i.test(message) && /pool/i.test(message)) {
        throw new ServiceUnavailableError(`runner "${this.name}" is shutting down`, { retryAfter: 1 });
      }
      throw new RunnerCrashedError(`runner "${this.name}" worker stopped while handling the call: ${message}`, { cause: err });
    }
    if (!response.ok) throw fromSerialized(response.error);
    return { value: response.value, elapsedMs: response.elapsedMs };
  }

  async close(): Promise<void> {
    await this.pool.close({ force: false });
    await this.pool.destroy();
  }
}
