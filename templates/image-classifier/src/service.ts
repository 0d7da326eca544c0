/**
 * {{name}}: an image classification service made with `bento new`.
 * It serves the ONNX model in ./model (or the one MODEL_URI names); the
 * preprocessing (size, channels, mean and std) and the class names come from
 * the model's metadata, so any ONNX image classifier with an MLmodel or a
 * labels.txt beside it is served the same way.
 */
import {
  Image,
  type ImageInput,
  LoadedModel,
  PREDICTION_SCHEMA,
  type Prediction,
  type PreprocessSpec,
  type Runner,
  type Tensor,
  api,
  classNamesOf,
  jsonOutput,
  method,
  modelFromEnv,
  outputWidth,
  pixelsToTensor,
  preprocessSpecFor,
  runnable,
  runner,
  service,
  toPredictions,
} from '@bento-ts/framework';

@runnable({ name: '{{name}}_runner', model: modelFromEnv('./model') })
export class {{className}}Runnable {
  constructor(private readonly model: LoadedModel) {}

  /** Concurrent requests are merged into batches of up to 32 images, waiting at most 20 ms for company. */
  @method({ batchable: true, maxBatchSize: 32, maxLatencyMs: 20 })
  async classify(batch: Tensor): Promise<Tensor> {
    return this.model.runSingle(batch);
  }
}

@service({ name: '{{name}}', traffic: { timeoutMs: 10_000 } })
export class {{className}}Service {
  private readonly spec: PreprocessSpec;
  private readonly classes: string[];

  constructor(@runner({{className}}Runnable) private readonly model: Runner<{{className}}Runnable>) {
    const info = model.model;
    this.spec = preprocessSpecFor(info.inputs[0]!, info.metadata, process.env);
    this.classes = classNamesOf(info, outputWidth(info) ?? 0);
  }

  @api({ input: Image({ field: 'image' }), output: jsonOutput(PREDICTION_SCHEMA), summary: 'Classify an image' })
  async classify(image: ImageInput): Promise<Prediction> {
    const output = await this.model.classify(pixelsToTensor([await image.toPixels(this.spec)], this.spec));
    return toPredictions(output, this.classes, this.model.model.metadata.output_kind)[0]!;
  }

  @api({ method: 'GET', summary: 'Service health', traffic: false })
  async health() {
    return { status: 'healthy', service: '{{name}}' };
  }
}
