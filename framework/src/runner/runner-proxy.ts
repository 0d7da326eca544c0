import { ServiceDefinitionError } from '../errors.js';
import type { Runner } from '../sdk/decorators/runner.js';
import { isDeferred, materialize } from '../tensor/deferred.js';
import { modelLabel, noteAnswer, outsideRequest, requestedVariant, taggedModel } from '../request/answered-by.js';
import { type BatchObserver, Dispatcher } from './dispatcher.js';
import type { RunnerPool } from './runner-pool.js';
import type { CallTracer } from '../observability/tracing.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ResolvedRunner } from '../definition/resolve-service.js';
import type { VariantRouter } from './variants.js';

/**
 * Builds the object a service receives for `@runner(Cls)`: one async function
 * per `@method` of the Runnable. Batchable methods go through their own
 * Dispatcher (adaptive batching), the others straight to the pool.
 */
export function createRunner<T>(
  runner: ResolvedRunner,
  pool: RunnerPool,
  observerFor?: (method: string) => BatchObserver,
  traced?: CallTracer,
): Runner<T> {
  const target: Record<string, unknown> = {};
  const trace = <R>(method: string, call: () => Promise<R>): Promise<R> =>
    traced ? traced(pool.name, method, call) : call();
  for (const m of runner.methods) {
    if (m.batchable) {
      const dispatcher = new Dispatcher(
        {
          name: `${pool.name}.${m.name}`,
          maxBatchSize: m.maxBatchSize,
          maxLatencyMs: m.maxLatencyMs,
          maxQueueSize: m.maxQueueSize,
          preferredBatchSizes: m.preferredBatchSizes,
          batchDim: m.batchDim,
          concurrency: pool.workers,
          observer: observerFor?.(m.name),
        },
        async (batch, movable) => {
          // The pool's model as the call goes out is the one that runs it: a hot update swaps only between calls.
          const model = modelLabel(pool.model);
          const { value, elapsedMs } = await pool.callTimed(m.name, [batch], movable);
          return { output: value, costMs: elapsedMs, model };
        },
      );
      pool.dispatchers.set(m.name, dispatcher);
      target[m.name] = (...args: unknown[]) => {
        if (args.length !== 1)
          return Promise.reject(
            new ServiceDefinitionError(`${pool.name}.${m.name} is batchable: it takes exactly one tensor`),
          );
        return trace(m.name, () => dispatcher.submit(args[0])).then((rows) => {
          const model = taggedModel(rows);
          if (model) noteAnswer(model);
          return rows;
        });
      };
    } else {
      // Only real buffers cross into a worker. A call is a batch of one for the metrics.
      const observer = observerFor?.(m.name);
      target[m.name] = (...args: unknown[]) =>
        trace(m.name, async () => {
          try {
            const model = modelLabel(pool.model);
            // Deferred arguments are written here, into buffers nobody else holds: those may move to the worker.
            const written: Tensor[] = [];
            const real = args.map((a) => {
              if (!isDeferred(a)) return a;
              const t = materialize(a);
              written.push(t);
              return t;
            });
            const { value, elapsedMs } = await pool.callTimed(m.name, real, written);
            observer?.batch(1, [], elapsedMs ?? 0, false);
            noteAnswer(model);
            return value;
          } catch (err) {
            observer?.batch(1, [], 0, true);
            throw err;
          }
        });
    }
  }
  Object.defineProperty(target, 'runnerName', { value: pool.name, enumerable: true });
  // The model served now: a hot update swaps it.
  Object.defineProperty(target, 'model', { get: () => pool.model, enumerable: true });
  return new Proxy(target, {
    get(obj, key) {
      if (key in obj || typeof key === 'symbol' || key === 'then')
        return (obj as Record<string | symbol, unknown>)[key];
      throw new ServiceDefinitionError(
        `runner "${pool.name}" has no method "${String(key)}"; add @method() to ${runner.cls.name}.${String(key)}`,
      );
    },
  }) as unknown as Runner<T>;
}

type Methods = Record<string, (...args: unknown[]) => Promise<unknown>>;

/** What became of one variant's call: for `bento_variant_requests_total`. */
export type VariantCallObserver = (variant: string, role: 'primary' | 'shadow', ok: boolean) => void;

/**
 * The runner a service receives when it serves several variants (canary, A/B, shadow): each call goes to the
 * variant its request asked for by header, else to one drawn by weight; every shadow gets the same arguments (a
 * call never empties a caller's tensors), outside the request, and what it answers is counted and dropped.
 */
export function createRoutedRunner<T>(
  runner: ResolvedRunner,
  router: VariantRouter<Runner<T>>,
  observe?: VariantCallObserver,
): Runner<T> {
  const target: Record<string, unknown> = {};
  for (const { name } of runner.methods) {
    target[name] = (...args: unknown[]) => {
      const chosen = router.pick(requestedVariant());
      for (const shadow of router.shadows) {
        // A shadow's answer never holds up the request: both outcomes are handled, and only counted.
        void outsideRequest(() =>
          (shadow.target as unknown as Methods)[name](...args).then(
            () => observe?.(shadow.name, 'shadow', true),
            () => observe?.(shadow.name, 'shadow', false),
          ),
        );
      }
      return (chosen.target as unknown as Methods)[name](...args).then(
        (value) => (observe?.(chosen.name, 'primary', true), value),
        (err: unknown) => {
          observe?.(chosen.name, 'primary', false);
          throw err;
        },
      );
    };
  }
  const main = router.main as unknown as { runnerName: string; model: unknown };
  Object.defineProperty(target, 'runnerName', { value: main.runnerName, enumerable: true });
  // What the service reads of its model (class names, preprocessing) is the same for every variant: the server
  // refuses variants whose signature differs.
  Object.defineProperty(target, 'model', { get: () => main.model, enumerable: true });
  return target as unknown as Runner<T>;
}
