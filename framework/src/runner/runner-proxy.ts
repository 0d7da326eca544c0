import { ServiceDefinitionError } from '../errors.js';
import type { Runner } from '../sdk/decorators/runner.js';
import { type Constructor, getMethods } from '../sdk/metadata.js';
import type { RunnerPool } from './runner-pool.js';

/**
 * Builds the object a service receives for `@runner(Cls)`: one async function
 * per `@method` of the Runnable, each forwarding to the pool. Adaptive batching
 * of `batchable` methods hooks in here (one dispatcher per method).
 */
export function createRunner<T>(runnable: Constructor<T>, pool: RunnerPool): Runner<T> {
  const methods = getMethods(runnable);
  const target: Record<string, unknown> = {};
  for (const m of methods) {
    target[m.name] = (...args: unknown[]) => pool.call(m.name, args);
  }
  Object.defineProperty(target, 'runnerName', { value: pool.name, enumerable: true });
  Object.defineProperty(target, 'model', { value: pool.model, enumerable: true });
  return new Proxy(target, {
    get(obj, key) {
      if (key in obj || typeof key === 'symbol' || key === 'then') return (obj as Record<string | symbol, unknown>)[key];
      throw new ServiceDefinitionError(`runner "${pool.name}" has no method "${String(key)}"; add @method() to ${runnable.name}.${String(key)}`);
    },
  }) as unknown as Runner<T>;
}
