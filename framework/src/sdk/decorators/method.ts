import { ServiceDefinitionError } from '../../errors.js';
import { type Constructor, METHODS_KEY, appendOwn } from '../metadata.js';

export interface MethodOptions {
  /** Whether calls may be merged into one call along `batchDim` (adaptive batching). Default false. */
  batchable?: boolean;
  /** Axis the batch is formed on: one number, or `[inputAxis, outputAxis]`. Default 0. */
  batchDim?: number | [number, number];
  /** Largest batch, counted in items along `batchDim`. Default 100 (as BentoML). */
  maxBatchSize?: number;
  /** Latency objective for a batched call, in milliseconds. Default 60 000 (as BentoML). */
  maxLatencyMs?: number;
  /** Items that may wait for a batch; more are refused with 503. Default max(1024, 4 × maxBatchSize), of the batch size as configured (bento.yaml, environment). */
  maxQueueSize?: number;
  /** Batch sizes the model runs best at (e.g. [1, 8, 32]); batches are cut to the largest that fits. */
  preferredBatchSizes?: number[];
  /**
   * The method takes and returns named tensors (an object keyed by the model's input and output names, all with
   * the same items along the batch axis) instead of one tensor: for models of several inputs or outputs (a table's
   * columns, a classifier's label and probabilities). Batching joins and splits them name by name.
   */
  namedTensors?: boolean;
}

export interface MethodDefinition {
  name: string;
  batchable: boolean;
  batchDim: [number, number];
  maxBatchSize: number;
  maxLatencyMs: number;
  /** As declared; unset, it follows the batch size the method ends up with (`defaultMaxQueueSize`). */
  maxQueueSize?: number;
  preferredBatchSizes?: number[];
  namedTensors: boolean;
}

export const METHOD_DEFAULTS = { batchable: false, batchDim: 0, maxBatchSize: 100, maxLatencyMs: 60_000 } as const;

/** A method's queue size when none is set: room for several full batches, and never less than 1024 items. */
export function defaultMaxQueueSize(maxBatchSize: number): number {
  return Math.max(1024, 4 * maxBatchSize);
}

/** Marks a Runnable method as callable from the service through its Runner. Runs in a worker thread. */
export function method(options: MethodOptions = {}): MethodDecorator {
  return (target, key, descriptor) => {
    const name = String(key);
    const where = `@method on ${target.constructor.name}.${name}`;
    if (typeof descriptor.value !== 'function')
      throw new ServiceDefinitionError(`${where}: only methods can be runnable methods`);
    const dim = options.batchDim ?? METHOD_DEFAULTS.batchDim;
    const batchDim: [number, number] = Array.isArray(dim) ? [dim[0], dim[1]] : [dim, dim];
    const maxBatchSize = options.maxBatchSize ?? METHOD_DEFAULTS.maxBatchSize;
    const maxLatencyMs = options.maxLatencyMs ?? METHOD_DEFAULTS.maxLatencyMs;
    if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1)
      throw new ServiceDefinitionError(`${where}: maxBatchSize must be a positive integer`);
    if (!(maxLatencyMs > 0)) throw new ServiceDefinitionError(`${where}: maxLatencyMs must be positive`);
    if (!batchDim.every((d) => Number.isInteger(d) && d >= 0))
      throw new ServiceDefinitionError(`${where}: batchDim must be non-negative integers`);
    const maxQueueSize = options.maxQueueSize;
    if (maxQueueSize !== undefined && (!Number.isInteger(maxQueueSize) || maxQueueSize < 1))
      throw new ServiceDefinitionError(`${where}: maxQueueSize must be a positive integer`);
    const preferred = options.preferredBatchSizes;
    if (preferred && !preferred.every((n) => Number.isInteger(n) && n >= 1 && n <= maxBatchSize)) {
      throw new ServiceDefinitionError(
        `${where}: preferredBatchSizes must be integers from 1 to maxBatchSize (${maxBatchSize})`,
      );
    }
    appendOwn<MethodDefinition>(METHODS_KEY, target.constructor, {
      name,
      batchable: options.batchable ?? METHOD_DEFAULTS.batchable,
      batchDim,
      maxBatchSize,
      maxLatencyMs,
      maxQueueSize,
      preferredBatchSizes: preferred ? [...preferred] : undefined,
      namedTensors: options.namedTensors ?? false,
    });
  };
}

/** The class's `@method`s, inherited ones included, as declared (before bento.yaml and the environment apply). */
export function getMethods(cls: Constructor): MethodDefinition[] {
  return (Reflect.getMetadata(METHODS_KEY, cls) as MethodDefinition[] | undefined) ?? [];
}
