/**
 * Entry point of a runner worker thread. It loads the plugins, the service
 * module and the model once, then executes Runnable methods on request. The
 * backend's `run` may block this thread; the HTTP thread never waits on it.
 */
import 'reflect-metadata';
import { workerData } from 'node:worker_threads';
import { container } from 'tsyringe';
import { BentoError, ModelLoadError, ServiceDefinitionError } from '../errors.js';
import { loadPlugins } from '../plugins/loader.js';
import { getRunnableDefinition } from '../sdk/decorators/runnable.js';
import { getServiceDefinition } from '../sdk/decorators/service.js';
import type { Constructor } from '../sdk/metadata.js';
import { isTensor, transferablesOf, type Tensor } from '../tensor/tensor.js';
import { consoleLogger } from '../logging/console-logger.js';
import { checkSignature } from '../models/signature.js';
import { warmUp } from './warm-up.js';
import { LoadedModel } from './model-info.js';
import { INFO_METHOD, type TaskRequest, type TaskResponse, type WorkerBootstrap } from './protocol.js';
import { Piscina } from 'piscina';
import { useFrameworkModulesFor } from '../bento/resolve-fallback.js';
import { releaseStartupMemory } from '../runtime/release-startup-memory.js';

const boot = workerData as WorkerBootstrap;
const logger = consoleLogger(`runner:${boot.runnable}`);

async function findRunnable(): Promise<Constructor> {
  const mod = (await import(boot.serviceModule)) as Record<string, unknown>;
  const svc = mod[boot.serviceExport] as Constructor | undefined;
  const definition = svc && getServiceDefinition(svc);
  if (!definition)
    throw new ServiceDefinitionError(`${boot.serviceModule} no longer exports service ${boot.serviceExport}`);
  const cls = definition.runnables.find((r) => getRunnableDefinition(r)?.name === boot.runnable);
  if (!cls) throw new ServiceDefinitionError(`service ${boot.serviceExport} has no runnable "${boot.runnable}"`);
  return cls;
}

async function start(): Promise<{ instance: Record<string, unknown>; model: LoadedModel }> {
  // Before any import from the bento: a plugin it packs as a file imports the framework too.
  if (boot.bentoDir) useFrameworkModulesFor(boot.bentoDir);
  const registry = await loadPlugins(boot.plugins);
  const backend = registry.backendFor(boot.model.format, boot.backend);
  const cls = await findRunnable();
  let session;
  try {
    session = await backend.load(boot.model, {
      threads: boot.threads,
      device: boot.device,
      logger,
      extra: boot.backendOptions,
      env: process.env,
    });
  } catch (err) {
    if (err instanceof BentoError) throw err;
    throw new ModelLoadError(`backend "${backend.name}" could not load ${boot.model.uri}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  checkSignature(boot.model.metadata, session, `model ${boot.model.resolvedUri ?? boot.model.uri}`);
  const model = new LoadedModel(boot.model, session, await warmUp(session, logger));
  const scope = container.createChildContainer();
  scope.registerInstance(LoadedModel, model);
  const instance = scope.resolve(cls) as Record<string, unknown>;
  // The thread idles from here until its first batch: what loading left behind can go (a thread of its own, so
  // the collection is of this worker's heap only).
  releaseStartupMemory();
  return { instance, model };
}

const ready = start();
// A failed start is reported to the first task, which is the pool's warm-up call.
ready.catch(() => undefined);

function serializeError(err: unknown): TaskResponse {
  if (err instanceof BentoError)
    return { ok: false, error: { code: err.code, message: err.message, statusCode: err.statusCode } };
  const message = err instanceof Error ? err.message : String(err);
  logger.error(`runner method failed: ${err instanceof Error ? (err.stack ?? message) : message}`);
  return {
    ok: false,
    error: { code: 'INFERENCE_FAILED', message: `runner "${boot.runnable}" failed: ${message}`, statusCode: 500 },
  };
}

function collectTensors(value: unknown, out: Tensor[]): Tensor[] {
  if (isTensor(value)) out.push(value);
  else if (Array.isArray(value)) for (const v of value) collectTensors(v, out);
  else if (value && typeof value === 'object' && !ArrayBuffer.isView(value))
    for (const v of Object.values(value)) collectTensors(v, out);
  return out;
}

export default async function run(task: TaskRequest): Promise<TaskResponse> {
  try {
    const { instance, model } = await ready;
    if (task.method === INFO_METHOD) return { ok: true, value: model.info() };
    const fn = instance[task.method];
    if (typeof fn !== 'function')
      return serializeError(new ServiceDefinitionError(`runnable "${boot.runnable}" has no method "${task.method}"`));
    const started = performance.now();
    const value: unknown = await fn.apply(instance, task.args);
    const response: TaskResponse = { ok: true, value, elapsedMs: performance.now() - started };
    const transfer = transferablesOf(collectTensors(value, []));
    if (transfer.length === 0) return response;
    // Piscina's "movable" protocol: hand the output buffers over instead of copying them.
    const movable = { [Piscina.transferableSymbol]: transfer, [Piscina.valueSymbol]: response };
    return Piscina.move(movable as never) as unknown as TaskResponse;
  } catch (err) {
    return serializeError(err);
  }
}
