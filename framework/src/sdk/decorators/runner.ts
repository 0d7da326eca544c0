// tsyringe needs the Reflect polyfill loaded before it evaluates, and ESM evaluates imports in order.
import 'reflect-metadata';
import { inject } from 'tsyringe';
import { ServiceDefinitionError } from '../../errors.js';
import type { ModelInfo } from '../../runner/model-info.js';
import type { DeferredTensor } from '../../tensor/deferred.js';
import type { Tensor } from '../../tensor/tensor.js';
import { type Constructor, RUNNER_PARAMS_KEY, type RunnerParam } from '../metadata.js';

type AnyFn = (...args: never[]) => unknown;

/** A Tensor parameter also takes a DeferredTensor, written straight into the batch (or materialized for a worker). */
type RunnerArgs<A extends unknown[]> = {
  [I in keyof A]: A[I] extends Tensor<infer D> ? A[I] | DeferredTensor<D> : A[I];
};

/** The service-side handle of a Runnable: the same methods, each running in a worker thread and returning a Promise. */
export type Runner<T> = {
  readonly [K in keyof T as T[K] extends AnyFn ? K : never]: T[K] extends (...args: infer A) => infer R
    ? (...args: RunnerArgs<A>) => Promise<Awaited<R>>
    : never;
} & {
  /** Runner name. */
  readonly runnerName: string;
  /** The model as loaded by the workers: where it came from, its metadata, inputs, outputs and device. */
  readonly model: ModelInfo;
};

const tokens = new WeakMap<Constructor, symbol>();

/** The DI token under which the Runner of `runnable` is registered. */
export function runnerToken(runnable: Constructor): symbol {
  let token = tokens.get(runnable);
  if (!token) {
    token = Symbol(`runner:${runnable.name}`);
    tokens.set(runnable, token);
  }
  return token;
}

/**
 * Injects the Runner of a `@runnable` class into a service constructor:
 * `constructor(@runner(MyRunnable) private readonly model: Runner<MyRunnable>)`.
 */
export function runner(runnable: Constructor): ParameterDecorator {
  return (target, key, index) => {
    if (key !== undefined) throw new ServiceDefinitionError('@runner() is for constructor parameters');
    if (typeof runnable !== 'function') {
      throw new ServiceDefinitionError(
        `@runner() on ${(target as Constructor).name} parameter ${index + 1}: pass the @runnable class (is it imported as a value, not with "import type"?)`,
      );
    }
    const list = (Reflect.getOwnMetadata(RUNNER_PARAMS_KEY, target) as RunnerParam[] | undefined) ?? [];
    list.push({ index, runnable });
    list.sort((a, b) => a.index - b.index);
    Reflect.defineMetadata(RUNNER_PARAMS_KEY, list, target);
    inject(runnerToken(runnable))(target, key, index);
  };
}
