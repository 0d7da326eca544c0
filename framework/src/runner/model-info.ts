import type { ModelInfo, ModelMetadata, ResolvedModel, TensorSpec, WarmUp } from '../models/model.js';
import type { ModelSession } from '../plugins/types.js';
import type { Tensor } from '../tensor/tensor.js';

export type { ModelInfo };

/**
 * The model as a Runnable sees it inside its worker: the resolved model and the
 * backend session that runs it. Ask for it in a Runnable's constructor.
 */
export class LoadedModel {
  constructor(
    readonly resolved: ResolvedModel,
    readonly session: ModelSession,
    private readonly warmUp: WarmUp = { ran: false, skipped: 'the model was not warmed up' },
  ) {}

  get metadata(): ModelMetadata {
    return this.resolved.metadata;
  }

  get inputs(): TensorSpec[] {
    return this.session.inputs;
  }

  get outputs(): TensorSpec[] {
    return this.session.outputs;
  }

  run(feeds: Record<string, Tensor>, outputNames?: string[]): Promise<Record<string, Tensor>> {
    return this.session.run(feeds, outputNames);
  }

  /** Runs a model with one input and one output: the common case. */
  async runSingle(input: Tensor): Promise<Tensor> {
    const [inputSpec] = this.session.inputs;
    const [outputSpec] = this.session.outputs;
    if (!inputSpec || !outputSpec) throw new Error('runSingle needs a model with at least one input and one output');
    const out = await this.session.run({ [inputSpec.name]: input }, [outputSpec.name]);
    return out[outputSpec.name];
  }

  info(): ModelInfo {
    return {
      ...this.resolved,
      inputs: this.session.inputs,
      outputs: this.session.outputs,
      device: this.session.device,
      backend: this.session.backend,
      warmUp: this.warmUp,
    };
  }
}
