import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { BentoError, ModelLoadError, RunnerCrashedError, ServiceUnavailableError } from '../errors.js';
import type { RunnableDefinition } from '../sdk/decorators/runnable.js';
import { type Tensor, transferablesOf } from '../tensor/tensor.js';
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

/** Why a model cannot stand in for another behind the same service (its inputs or outputs differ), if it cannot. */
export function signatureChange(from: ModelInfo, to: ModelInfo): string | undefined {
  const spec = (specs: ModelInfo['inputs']) =>
    JSON.stringify(specs.map(({ name, dtype, shape }) => ({ name, dtype, shape })));
  if (spec(from.inputs) !== spec(to.inputs))
    return `its inputs ${spec(to.inputs)} differ from the served model's ${spec(from.inputs)}`;
  if (spec(from.outputs) !== spec(to.outputs))
    return `its outputs ${spec(to.outputs)} differ from the served model's ${spec(from.outputs)}`;
  // The service reads class names and preprocessing once, when it is built.
  for (const key of ['classes', 'preprocessing'] as const) {
    if (JSON.stringify(from.metadata[key]) !== JSON.stringify(to.metadata[key]))
      return `its ${key} differ from the served model's`;
  }
  return undefined;
}

/**
 * Why a model that loaded should not replace the served one at a hot update, if it should not: its warm-up failed
 * where the served model's ran. A served model that could not be warmed up either (it cannot take zeros, say) is no
 * measure, so then the new one is not held to it.
 */
export function warmUpRegression(from: ModelInfo, to: ModelInfo): string | undefined {
  if (!from.warmUp.ran || to.warmUp.ran) return undefined;
  return `its warm-up inference ${to.warmUp.failed ? `failed: ${to.warmUp.failed}` : `could not run: ${to.warmUp.skipped}`}`;
}

function fromSerialized(error: { code: string; message: string; statusCode: number }): BentoError {
  return new BentoError(error.code, error.message, error.statusCode);
}

/**
 * A pool of worker threads, each owning one session of the same model. Calls
 * are queued (bounded) and go to the next free worker. A worker that dies is
 * replaced by the pool; the call it was running fails with RUNNER_CRASHED.
 * `reload` swaps in another model (a hot update) without a call being lost.
 */
export class RunnerPool {
  /** Adaptive-batching dispatchers of this runner's batchable methods, by method name. */
  readonly dispatchers = new Map<string, Dispatcher>();
  private closed = false;

  private constructor(
    readonly name: string,
    private pool: Piscina,
    private current: ModelInfo,
    private readonly bootstrap: WorkerBootstrap,
    private readonly options: RunnerPoolOptions,
  ) {}

  static async start(name: string, bootstrap: WorkerBootstrap, options: RunnerPoolOptions): Promise<RunnerPool> {
    const { pool, info } = await RunnerPool.loaded(bootstrap, options);
    return new RunnerPool(name, pool, info, bootstrap, options);
  }

  /** Worker threads with the model loaded and warmed up in each, or the first worker's load error. */
  private static async loaded(
    bootstrap: WorkerBootstrap,
    options: RunnerPoolOptions,
  ): Promise<{ pool: Piscina; info: ModelInfo }> {
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
      const infos = await Promise.all(
        Array.from(
          { length: options.workers },
          () => pool.run({ method: INFO_METHOD, args: [] }) as Promise<InfoResponse>,
        ),
      );
      const failed = infos.find((r) => !r.ok);
      if (failed && !failed.ok) throw fromSerialized(failed.error);
      return { pool, info: (infos[0] as { value: ModelInfo }).value };
    } catch (err) {
      await pool.destroy().catch(() => undefined);
      throw err;
    }
  }

  /** The model the workers serve now. */
  get model(): ModelInfo {
    return this.current;
  }

  /**
   * Hot update: loads `model` and warms it up in a second set of workers while these go on serving, then swaps it
   * in at once. Calls already running finish on the old model, whose workers are then closed; calls made after the
   * swap go to the new one. A model that fails to load, fails the warm-up the served model passed, or whose inputs
   * and outputs differ from the ones the service was built against, is not swapped in: the error is thrown and the
   * old model serves on.
   */
  async reload(model: WorkerBootstrap['model']): Promise<ModelInfo> {
    if (this.closed) throw new ServiceUnavailableError(`runner "${this.name}" is shutting down`);
    const { pool, info } = await RunnerPool.loaded({ ...this.bootstrap, model }, this.options);
    const differs = signatureChange(this.current, info) ?? warmUpRegression(this.current, info);
    if (differs || this.closed) {
      await pool.destroy().catch(() => undefined);
      if (differs)
        throw new ModelLoadError(
          `runner "${this.name}": ${info.resolvedUri ?? info.uri} was not swapped in: ${differs}`,
        );
      throw new ServiceUnavailableError(`runner "${this.name}" is shutting down`);
    }
    const old = this.pool;
    this.pool = pool;
    this.current = info;
    await old.close({ force: false }).catch(() => undefined);
    await old.destroy().catch(() => undefined);
    return info;
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

  /**
   * `call`, with how long the method itself ran in its worker. Arguments are copied into the worker, except the
   * buffers of `movable`, which are handed over and left empty here: only tensors no caller holds any more belong
   * there (a batch the dispatcher assembled), or a service would find its own tensor emptied by the call.
   */
  async callTimed(
    method: string,
    args: unknown[],
    movable: readonly Tensor[] = [],
  ): Promise<{ value: unknown; elapsedMs?: number }> {
    let response: TaskResponse;
    try {
      response = (await this.pool.run({ method, args }, { transferList: transferablesOf(movable) })) as TaskResponse;
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      if (/queue is at limit/i.test(message)) {
        throw new ServiceUnavailableError(`runner "${this.name}" is saturated: its queue is full`, { retryAfter: 1 });
      }
      if (/terminated|destroyed|closed/i.test(message) && /pool/i.test(message)) {
        throw new ServiceUnavailableError(`runner "${this.name}" is shutting down`, { retryAfter: 1 });
      }
      throw new RunnerCrashedError(`runner "${this.name}" worker stopped while handling the call: ${message}`, {
        cause: err,
      });
    }
    if (!response.ok) throw fromSerialized(response.error);
    return { value: response.value, elapsedMs: response.elapsedMs };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pool.close({ force: false });
    await this.pool.destroy();
  }
}
