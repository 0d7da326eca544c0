// tsyringe needs the Reflect polyfill loaded before it evaluates, and ESM evaluates imports in order.
import 'reflect-metadata';
import { injectable } from 'tsyringe';
import { ServiceDefinitionError } from '../../errors.js';
import { type Constructor, SERVICE_KEY, getRunnerParams } from '../metadata.js';

export interface TrafficOptions {
  /** Time a request may take until its response starts; past it the client gets 504. Default 60 000. */
  timeoutMs?: number;
  /** Requests handled at once by this process; more are refused with 429. Default: unlimited. */
  maxConcurrency?: number;
}

export interface ServiceOptions {
  /** Service name: lowercase letters, digits, `-`, `_` and `.` (BentoML's tag rules), at most 63 characters. */
  name: string;
  description?: string;
  traffic?: TrafficOptions;
  /**
   * HTTP worker processes sharing the port, each with its own runner pools
   * (BentoML's `workers`). `cpu_count` starts one per core. Default 1.
   */
  workers?: number | 'cpu_count';
}

export interface ServiceDefinition {
  name: string;
  description?: string;
  workers?: number | 'cpu_count';
  traffic: { timeoutMs: number; maxConcurrency?: number };
  /** Runnable classes the service asks for with `@runner(...)`, in parameter order. */
  runnables: Constructor[];
}

export const NAME_PATTERN = /^[a-z0-9]([-._a-z0-9]*[a-z0-9])?$/;
export const DEFAULT_TIMEOUT_MS = 60_000;

function checkPositive(value: number | undefined, what: string, service: string): void {
  if (value !== undefined && (!Number.isFinite(value) || value <= 0)) {
    throw new ServiceDefinitionError(`@service "${service}": ${what} must be a positive number, got ${value}`);
  }
}

/**
 * Guards against the silent tsyringe failure mode: without decorator metadata
 * (a transpiler such as esbuild or tsx), constructor parameters that carry no
 * explicit token are injected as `undefined`.
 */
export function assertInjectable(cls: Constructor, what: string): void {
  const paramTypes = Reflect.getMetadata('design:paramtypes', cls) as unknown[] | undefined;
  const tokens = (Reflect.getOwnMetadata('injectionTokens', cls) as Record<number, unknown> | undefined) ?? {};
  for (let i = 0; i < cls.length; i++) {
    if (paramTypes?.[i] === undefined && tokens[i] === undefined) {
      throw new ServiceDefinitionError(
        `${what} ${cls.name}: constructor parameter ${i + 1} has no type metadata. Compile with tsc ` +
          '(experimentalDecorators and emitDecoratorMetadata on), or give the parameter an explicit @inject(Token) or @runner(Runnable).',
      );
    }
  }
}

/** Declares a class as a bento-ts service; its `@api` methods become HTTP routes. */
export function service(options: ServiceOptions): ClassDecorator {
  return (target) => {
    const cls = target as unknown as Constructor;
    const name = options?.name;
    if (typeof name !== 'string' || name.length > 63 || !NAME_PATTERN.test(name)) {
      throw new ServiceDefinitionError(
        `@service on ${cls.name}: name ${JSON.stringify(name)} is invalid; use lowercase letters, digits, "-", "_" and "." (at most 63 characters)`,
      );
    }
    checkPositive(options.traffic?.timeoutMs, 'traffic.timeoutMs', name);
    checkPositive(options.traffic?.maxConcurrency, 'traffic.maxConcurrency', name);
    if (
      options.workers !== undefined &&
      options.workers !== 'cpu_count' &&
      !(Number.isInteger(options.workers) && options.workers >= 1)
    ) {
      throw new ServiceDefinitionError(
        `@service "${name}": workers must be a positive integer or "cpu_count", got ${JSON.stringify(options.workers)}`,
      );
    }
    assertInjectable(cls, '@service');
    injectable()(cls);
    const definition: ServiceDefinition = {
      name,
      description: options.description,
      ...(options.workers !== undefined ? { workers: options.workers } : {}),
      traffic: {
        timeoutMs: options.traffic?.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        maxConcurrency: options.traffic?.maxConcurrency,
      },
      runnables: getRunnerParams(cls).map((p) => p.runnable),
    };
    Reflect.defineMetadata(SERVICE_KEY, definition, cls);
  };
}

/** What `@service` recorded on a class (its own, not a parent's), or undefined. */
export function getServiceDefinition(cls: Constructor): ServiceDefinition | undefined {
  return Reflect.getOwnMetadata(SERVICE_KEY, cls) as ServiceDefinition | undefined;
}
