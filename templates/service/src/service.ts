/**
 * {{name}}: an image classification service made with `bento new`.
 * Put an ONNX image classifier in ./model (model.onnx, and labels.txt with one
 * class per line), or set MODEL_URI. Then: npm run build && npx bento serve .
 */
import {
  Image,
  type ImageInput,
  LoadedModel,
  type PreprocessSpec,
  type Runner,
  type Tensor,
  api,
  method,
  modelFromEnv,
  pixelsToTensor,
  preprocessSpecFor,
  runnable,
  runner,
  service,
} from '@bento-ts/framework';

@runnable({ name: '{{name}}_runner', model: modelFromEnv('./model') })
export class {{className}}Runnable {
  constructor(private readonly model: LoadedModel) {}

  @method({ batchable: true, maxBatchSize: 32, maxLatencyMs: 100 })
  async predict(batch: Tensor): Promise<Tensor> {
    return this.model.runSingle(batch);
  }
}

@service({ name: '{{name}}' })
export class {{className}}Service {
  private readonly spec: PreprocessSpec;

  constructor(@runner({{className}}Runnable) private readonly model: Runner<{{className}}Runnable>) {
    this.spec = preprocessSpecFor(model.model.inputs[0]!, model.model.metadata, process.env);
  }

  @api({ input: Image() })
  async classify(image: ImageInput) {
    const output = await this.model.predict(pixelsToTensor([await image.toPixels(this.spec)], this.spec));
    const scores = Array.from(output.data as Float32Array);
    const best = scores.indexOf(Math.max(...scores));
    const classes = this.model.model.metadata.classes;
    return { class: classes?.[best] ?? String(best), index: best, scores };
  }

  @api()
  async health() {
    return { status: 'healthy', service: '{{name}}' };
  }
}
