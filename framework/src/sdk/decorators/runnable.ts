// tsyringe needs the Reflect polyfill loaded before it evaluates, and ESM evaluates imports in order.
import 'reflect-metadata';
import { injectable } from 'tsyringe';
import { ServiceDefinitionError } from '../../errors.js';
import { type Constructor, RUNNABLE_KEY } from '../metadata.js';
import { getMethods } from './method.js';
import { assertInjectable } from './service.js';

/** A model URI, or a function choosing one from the environment at server start. */
export type ModelSelector = string | ((env: Readonly<Record<string, string | undefined>>) => string);

export interface RunnableOptions {
  /** Runner name (metrics, logs). Defaults to the class name in lowercase. */
  name?: string;
  /** The model this runnable serves; resolved by a model-source plugin, loaded by a backend plugin. */
  model: ModelSelector;
  /** Worker threads, each with its own model session. Default: half the cores, at least 1; `BENTO_RUNNER_WORKERS` overrides. */
  workers?: number | 'cpu_count';
  /** Threads one inference call may use inside a worker. Default 1; `BENTO_RUNNER_THREADS` overrides. */
  threadsPerWorker?: number;
  /** Backend by name, when several load the model's format. */
  backend?: string;
  /** Requested device; backends fall back to `cpu` and report what they use. */
  device?: string;
  /** Passed through to the backend (e.g. ONNX Runtime session options). */
  backendOptions?: Record<string, unknown>;
}

export interface RunnableDefinition extends Omit<RunnableOptions, 'name'> {
  name: string;
}

/**
 * Declares a class whose `@method`s run in a pool of worker threads, next to a
 * loaded model. Its constructor may ask for the `LoadedModel`.
 */
export function runnable(options: RunnableOptions): ClassDecorator {
  return (target) => {
    const cls = target as unknown as Constructor;
    if (options?.model === undefined || (typeof options.model !== 'string' && typeof options.model !== 'function')) {
      throw new ServiceDefinitionError(
        `@runnable on ${cls.name}: "model" must be a model URI or a function returning one`,
      );
    }
    if (getMethods(cls).length === 0) {
      throw new ServiceDefinitionError(
        `@runnable on ${cls.name}: it has no @method(); a runner without methods cannot be called`,
      );
    }
    assertInjectable(cls, '@runnable');
    injectable()(cls);
    Reflect.defineMetadata(RUNNABLE_KEY, { ...options, name: options.name ?? cls.name.toLowerCase() }, cls);
  };
}

/** What `@runnable` recorded on a class (its own, not a parent's), or undefined. */
export function getRunnableDefinition(cls: Constructor): RunnableDefinition | undefined {
  return Reflect.getOwnMetadata(RUNNABLE_KEY, cls) as RunnableDefinition | undefined;
}
