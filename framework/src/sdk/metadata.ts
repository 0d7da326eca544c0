/**
 * Where decorators keep what they learn. Keys are registered symbols so that two
 * copies of the framework in one process (a service and a plugin resolving
 * different installs) still read each other's metadata.
 */
import 'reflect-metadata';
import type { ApiDefinition } from './decorators/api.js';
import type { MethodDefinition } from './decorators/method.js';
import type { RunnableDefinition } from './decorators/runnable.js';
import type { ServiceDefinition } from './decorators/service.js';

export const SERVICE_KEY = Symbol.for('bento-ts:service');
export const APIS_KEY = Symbol.for('bento-ts:apis');
export const RUNNABLE_KEY = Symbol.for('bento-ts:runnable');
export const METHODS_KEY = Symbol.for('bento-ts:methods');
export const RUNNER_PARAMS_KEY = Symbol.for('bento-ts:runner-params');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Constructor<T = any> = new (...args: any[]) => T;

/** Appends to a class's own list, copying an inherited list first so subclasses never mutate their parent's. */
export function appendOwn<T>(key: symbol, target: object, item: T): void {
  const own: T[] | undefined = Reflect.getOwnMetadata(key, target);
  const list = own ?? [...((Reflect.getMetadata(key, target) as T[] | undefined) ?? [])];
  list.push(item);
  Reflect.defineMetadata(key, list, target);
}

export function getServiceDefinition(cls: Constructor): ServiceDefinition | undefined {
  return Reflect.getOwnMetadata(SERVICE_KEY, cls);
}

export function getApis(cls: Constructor): ApiDefinition[] {
  return Reflect.getMetadata(APIS_KEY, cls) ?? [];
}

export function getRunnableDefinition(cls: Constructor): RunnableDefinition | undefined {
  return Reflect.getOwnMetadata(RUNNABLE_KEY, cls);
}

export function getMethods(cls: Constructor): MethodDefinition[] {
  return Reflect.getMetadata(METHODS_KEY, cls) ?? [];
}

export interface RunnerParam {
  index: number;
  runnable: Constructor;
}

export function getRunnerParams(cls: Constructor): RunnerParam[] {
  return Reflect.getOwnMetadata(RUNNER_PARAMS_KEY, cls) ?? [];
}
