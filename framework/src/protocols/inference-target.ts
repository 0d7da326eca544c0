import type { ModelInfo } from '../runner/model-info.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * A model as the standard protocols (Open Inference / KServe V2, MLflow
 * scoring) see it: one input tensor in, one output tensor out, through a
 * runner's batchable method, so protocol calls are batched with the service's own.
 */
export interface InferenceTarget {
  /** The runner's name: the model name in protocol URLs. */
  name: string;
  model: ModelInfo;
  /** The runner method it calls. */
  method: string;
  infer(input: Tensor): Promise<Tensor>;
}
