/**
 * Where decorators keep what they learn. Keys are registered symbols so that two
 * copies of the framework in one process (a service and a plugin resolving
 * different installs) still read each other's metadata. What each key holds, and
 * its typed reader, belong to the decorator that writes it (decorators/*.ts).
 */
import 'reflect-metadata';

export const SERVICE_KEY = Symbol.for('bento-ts:service');
export const APIS_KEY = Symbol.for('bento-ts:apis');
export const RUNNABLE_KEY = Symbol.for('bento-ts:runnable');
export const METHODS_KEY = Symbol.for('bento-ts:methods');
export const RUNNER_PARAMS_KEY = Symbol.for('bento-ts:runner-params');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Constructor<T = any> = new (...args: any[]) => T;

/** Appends to a class's own list, copying an inherited list first so subclasses never mutate their parent's. */
export function appendOwn<T>(key: symbol, target: object, item: T): void {
  const own = Reflect.getOwnMetadata(key, target) as T[] | undefined;
  const list = own ?? [...((Reflect.getMetadata(key, target) as T[] | undefined) ?? [])];
  list.push(item);
  Reflect.defineMetadata(key, list, target);
}

export interface RunnerParam {
  index: number;
  runnable: Constructor;
}

export function getRunnerParams(cls: Constructor): RunnerParam[] {
  return (Reflect.getOwnMetadata(RUNNER_PARAMS_KEY, cls) as RunnerParam[] | undefined) ?? [];
}
