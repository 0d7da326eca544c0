/**
 * What `bento serve <model URI>` serves when there is no service code: the model (converted first if it needs to
 * be) behind MLflow's scoring protocol (/invocations, /ping, /health, /version), the Open Inference Protocol
 * (/v2/...), the probes and /metrics, with adaptive batching; /get_model_info; and /predict_image for an image
 * classifier whose preprocessing its metadata gives, or the settings (MODEL_MEAN, MODEL_STD). The model is
 * MODEL_URI, which the CLI sets from its target.
 */
import { readSettings } from '../config/settings.js';
import type { ImageInput } from '../vision/image-input.js';
import { Image } from '../io/image.js';
import { jsonOutput } from '../io/descriptor.js';
import { modelFromEnv } from '../models/model-selector.js';
import { LoadedModel, type ModelInfo } from '../runner/model-info.js';
import { api } from '../sdk/decorators/api.js';
import { method } from '../sdk/decorators/method.js';
import { runnable } from '../sdk/decorators/runnable.js';
import { type Runner, runner } from '../sdk/decorators/runner.js';
import { service } from '../sdk/decorators/service.js';
import type { Tensor } from '../tensor/tensor.js';
import { PREDICTION_SCHEMA, type Prediction, classNamesOf, outputWidth, toPredictions } from '../vision/predictions.js';
import { type PreprocessSpec, deferPixels, preprocessSpecFor } from '../vision/preprocess.js';

/** The runner's name: the model's name in the Open Inference Protocol's URLs (MLflow's MLServer calls it so too). */
export const MODEL_RUNNER = 'mlflow-model';

/** MLflow's own setting for its scoring server's request timeout (`mlflow models serve -t`), in seconds. */
function timeoutMs(): number {
  return readSettings().scoringTimeoutSeconds * 1000;
}

@runnable({ name: MODEL_RUNNER, model: modelFromEnv() })
export class ModelRunnable {
  constructor(private readonly model: LoadedModel) {}

  /** Every input by name in, every output by name out: any model, batched name by name. */
  @method({ batchable: true, namedTensors: true, maxBatchSize: 64, maxLatencyMs: 60_000 })
  async predict(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    return this.model.run(inputs);
  }
}

/** An image classifier: one rank-4 input of 1 or 3 channels, one [N, classes] output, and preprocessing given. */
function imageSpec(model: ModelInfo): PreprocessSpec | undefined {
  const [input, ...moreInputs] = model.inputs;
  const [output, ...moreOutputs] = model.outputs;
  if (
    !input ||
    !output ||
    moreInputs.length > 0 ||
    moreOutputs.length > 0 ||
    input.shape.length !== 4 ||
    output.shape.length !== 2
  )
    return undefined;
  const settings = readSettings();
  const given =
    model.metadata.preprocessing !== undefined || settings.modelMean !== undefined || settings.modelStd !== undefined;
  if (!given) return undefined;
  try {
    return preprocessSpecFor(input, model.metadata, process.env);
  } catch {
    return undefined;
  }
}

@service({ name: 'mlflow_model', traffic: { timeoutMs: timeoutMs() } })
export class ModelService {
  private readonly spec?: PreprocessSpec;

  constructor(@runner(ModelRunnable) private readonly model: Runner<ModelRunnable>) {
    this.spec = imageSpec(model.model);
  }

  @api({ summary: 'Model Info' })
  async get_model_info() {
    const info = this.model.model;
    return {
      model_uri: info.uri,
      resolved_uri: info.resolvedUri ?? info.uri,
      model_version: info.version ?? null,
      run_id: info.runId ?? null,
      model_format: info.format,
      flavor: info.metadata.flavor ?? null,
      backend: info.backend,
      device: info.device,
      inputs: info.inputs,
      outputs: info.outputs,
      model_metadata: { params: info.metadata.params ?? {}, metrics: info.metadata.metrics ?? {} },
      conversion: info.metadata.conversion ?? null,
      ...(this.spec ? { preprocessing: this.spec } : {}),
    };
  }

  @api({
    input: Image({ field: 'image' }),
    output: jsonOutput(PREDICTION_SCHEMA),
    summary: 'Predict Image',
    enabled: (svc) => (svc as ModelService).spec !== undefined,
  })
  async predict_image(image: ImageInput): Promise<Prediction> {
    const spec = this.spec!;
    const info = this.model.model;
    const pixels = await image.toPixels(spec);
    const outputs = await this.model.predict({
      [info.inputs[0].name]: deferPixels([pixels], spec),
    } as unknown as Record<string, Tensor>);
    const width = outputWidth(info) ?? outputs[info.outputs[0].name].shape[1];
    return toPredictions(outputs[info.outputs[0].name], classNamesOf(info, width), info.metadata.output_kind)[0];
  }
}
