/** Messages between the HTTP thread and runner worker threads. Everything here is structured-clonable. */
import type { PluginRef } from '../plugins/loader.js';
import type { ResolvedModel } from '../plugins/types.js';
import type { ModelInfo } from './model-info.js';

export interface WorkerBootstrap {
  plugins: PluginRef[];
  /** File URL of the compiled service module; the worker imports it to find the Runnable class. */
  serviceModule: string;
  /** Export name of the service class in that module. */
  serviceExport: string;
  /** Name of the runnable (its `@runnable` name). */
  runnable: string;
  model: ResolvedModel;
  backend?: string;
  device: string;
  threads: number;
  backendOptions: Record<string, unknown>;
  /** A built bento served without its own node_modules: its imports resolve from the framework's installation. */
  bentoDir?: string;
}

/** Reserved method name: returns the loaded model's info (and proves the worker is up). */
export const INFO_METHOD = '__info__';

export interface TaskRequest {
  method: string;
  args: unknown[];
}

export interface SerializedError {
  code: string;
  message: string;
  statusCode: number;
}

/** `elapsedMs`: how long the method ran in the worker (compute only, no queueing or hand-off). */
export type TaskResponse = { ok: true; value: unknown; elapsedMs?: number } | { ok: false; error: SerializedError };

export type InfoResponse = { ok: true; value: ModelInfo } | { ok: false; error: SerializedError };
