import type { FastifyRequest } from 'fastify';
import type { ModelInfo } from '../runner/model-info.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Runs one protocol request's work under the server's traffic limits (request timeout, concurrency cap), as the
 * service's own routes run: the protocols answer from the same runners and must not outlast or outnumber them.
 */
export type GuardRequest = <T>(req: FastifyRequest, work: () => Promise<T>) => Promise<T>;

/**
 * A model as the standard protocols (Open Inference / KServe V2, MLflow
 * scoring) see it: named input tensors in, named output tensors out, through a
 * runner's batchable method, so protocol calls are batched with the service's own.
 */
export interface InferenceTarget {
  /** The runner's name: the model name in protocol URLs. */
  name: string;
  model: ModelInfo;
  /** The runner method it calls. */
  method: string;
  /** Runs the model on every one of its inputs, by name; answers every output, by name. */
  infer(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>>;
}
