/**
 * The seed guide's `mlflow_vision_classifier`: an image classifier behind four
 * endpoints. The model is chosen by MODEL_URI, MODEL_RUN_ID or MODEL_NAME
 * (+ MODEL_VERSION); without them, the bundled Fashion-MNIST model: ./model
 * (ONNX Runtime), or with BACKEND=tfjs the same weights as a TF.js model in
 * ./model-tfjs. Everything about preprocessing comes from the model, so any
 * ONNX or TF.js image classifier can be served by pointing MODEL_URI at it.
 */
import {
  type ImageInput,
  Image,
  LoadedModel,
  NdArray,
  type Pixels,
  type PreprocessSpec,
  type Runner,
  type Tensor,
  api,
  envInt,
  jsonOutput,
  method,
  modelFromEnv,
  deferPixels,
  preprocessSpecFor,
  resizePixels,
  runnable,
  runner,
  service,
  ConfigError,
  PREDICTION_SCHEMA,
  type Prediction,
  classNamesOf,
  outputWidth,
  toPredictions,
} from '@bento-ts/framework';

/** Images accepted by one /predict_batch call (the seed's default: 32). */
export const MAX_BATCH_IMAGES = envInt(process.env, 'MAX_BATCH_IMAGES', 32);

/** The bundled model for BACKEND (`onnx`, the default, or `tfjs`): one set of trained weights in both formats. */
export const BUNDLED_MODELS: Record<string, string> = { onnx: './model', tfjs: './model-tfjs' };

function bundledModel(env: Readonly<Record<string, string | undefined>>): string {
  const backend = env.BACKEND?.trim() || 'onnx';
  const dir = BUNDLED_MODELS[backend];
  if (!dir) throw new ConfigError(`BACKEND must be one of ${Object.keys(BUNDLED_MODELS).join(', ')}, got "${backend}"`);
  return modelFromEnv(dir)(env);
}

@runnable({ name: 'vision_model_runner', model: bundledModel })
export class VisionModelRunnable {
  constructor(private readonly model: LoadedModel) {}

  /** Runs a preprocessed [N, C, H, W] (or NHWC) batch and returns the model's [N, classes] output. */
  @method({ batchable: true, batchDim: 0, maxBatchSize: 64, maxLatencyMs: 500 })
  async classify(batch: Tensor): Promise<Tensor> {
    return this.model.runSingle(batch);
  }
}

@service({ name: 'mlflow_vision_classifier', traffic: { timeoutMs: 60_000 } })
export class VisionClassifierService {
  private readonly spec: PreprocessSpec;
  private readonly classes: string[];

  constructor(@runner(VisionModelRunnable) private readonly model: Runner<VisionModelRunnable>) {
    const info = model.model;
    const input = info.inputs[0];
    if (!input || info.outputs.length === 0)
      throw new ConfigError(`model ${info.uri} needs one image input and one output`);
    this.spec = preprocessSpecFor(input, info.metadata, process.env);
    const width = outputWidth(info);
    if (!width)
      throw new ConfigError(
        `model ${info.uri}: the number of classes is unknown (no fixed output width, no class names)`,
      );
    this.classes = classNamesOf(info, width);
  }

  private async predict(images: Pixels[]): Promise<Prediction[]> {
    const output = await this.model.classify(deferPixels(images, this.spec));
    return toPredictions(output, this.classes, this.model.model.metadata.output_kind);
  }

  @api({ input: Image({ field: 'image' }), output: jsonOutput(PREDICTION_SCHEMA), summary: 'Predict Image' })
  async predict_image(image: ImageInput): Promise<Prediction> {
    const [prediction] = await this.predict([await image.toPixels(this.spec)]);
    return prediction;
  }

  @api({
    input: NdArray({
      field: 'input',
      dtype: 'uint8',
      // N×H×W (grey) or N×H×W×C with 1, 3 or 4 channels, as numpy's .tolist() writes them.
      shapes: [
        [null, null, null],
        [null, null, null, [1, 3, 4]],
      ],
      maxItems: MAX_BATCH_IMAGES,
      description: 'uint8 images, N×H×W×C or N×H×W (numpy .tolist())',
    }),
    output: jsonOutput({ type: 'array', items: PREDICTION_SCHEMA }),
    summary: 'Predict Batch',
  })
  async predict_batch(batch: Tensor<'uint8'>): Promise<Prediction[]> {
    const [n, height, width, channels = 1] = batch.shape as [number, number, number, number?];
    const size = height * width * channels;
    const images = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        resizePixels(
          { data: Buffer.from(batch.data.buffer, batch.data.byteOffset + i * size, size), width, height, channels },
          this.spec,
        ),
      ),
    );
    return this.predict(images);
  }

  @api({ summary: 'Model Info' })
  async get_model_info() {
    const info = this.model.model;
    return {
      model_metadata: { params: info.metadata.params ?? {}, metrics: info.metadata.metrics ?? {} },
      device: info.device,
      classes: this.classes,
      num_classes: this.classes.length,
      model_uri: info.uri,
      resolved_uri: info.resolvedUri ?? info.uri,
      model_version: info.version ?? null,
      run_id: info.runId ?? null,
      model_format: info.format,
      backend: info.backend,
      input: { ...info.inputs[0], preprocessing: this.spec },
    };
  }

  @api({ summary: 'Health', traffic: false })
  async health() {
    return { status: 'healthy', service: 'mlflow_vision_classifier' };
  }
}
