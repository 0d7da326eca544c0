/**
 * {{name}}: a tensor-in, tensor-out service made with `bento new --template tensor`.
 * POST /predict takes {"features": [[f1, f2, f3, f4], ...]} and answers
 * {"scores": [[s1, s2, s3], ...]} from the ONNX model in ./model (or MODEL_URI).
 * The model that ships is a fixed linear layer, for a start; put yours in its place
 * and change FEATURES and the shape below to match its input.
 */
import { LoadedModel, NdArray, type Runner, type Tensor, api, method, modelFromEnv, runnable, runner, service } from '@bento-ts/framework';

/** Width of one input row: the model's input is [batch, FEATURES]. */
const FEATURES = 4;

@runnable({ name: '{{name}}_runner', model: modelFromEnv('./model') })
export class {{className}}Runnable {
  constructor(private readonly model: LoadedModel) {}

  /** Rows from concurrent requests run as one batch: up to 256 rows, waiting at most 10 ms. */
  @method({ batchable: true, maxBatchSize: 256, maxLatencyMs: 10 })
  async predict(features: Tensor): Promise<Tensor> {
    return this.model.runSingle(features);
  }
}

@service({ name: '{{name}}', traffic: { timeoutMs: 5_000 } })
export class {{className}}Service {
  constructor(@runner({{className}}Runnable) private readonly model: Runner<{{className}}Runnable>) {}

  @api({
    input: NdArray({ field: 'features', dtype: 'float32', shape: [null, FEATURES], maxItems: 256 }),
    summary: 'Score rows of features',
  })
  async predict(features: Tensor) {
    const scores = await this.model.predict(features);
    const [rows, width] = scores.shape as [number, number];
    const data = scores.data as Float32Array;
    return { scores: Array.from({ length: rows }, (_, r) => Array.from(data.subarray(r * width, (r + 1) * width))) };
  }

  @api({ method: 'GET', summary: 'Service health', traffic: false })
  async health() {
    return { status: 'healthy', service: '{{name}}' };
  }
}
