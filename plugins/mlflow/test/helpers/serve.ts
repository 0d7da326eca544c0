import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ImageInput,
  type RunningServer,
  loadProject,
  pixelsToTensor,
  preprocessSpecFor,
  startServer,
} from '@bento-ts/framework';
import * as ort from 'onnxruntime-node';
import { SERVICE_DIR } from './stack.js';

export const SAMPLE = readFileSync(join(SERVICE_DIR, 'samples', 'ankle_boot.png'));

/** The seed's classifier served by bento-ts on an ephemeral port, its model picked by `env`. */
export function serve(env: Record<string, string>): Promise<RunningServer> {
  return startServer({
    project: loadProject(SERVICE_DIR),
    port: 0,
    host: '127.0.0.1',
    env: { ...process.env, ...env },
    runnerWorkers: 1,
    logger: false,
  });
}

export interface Prediction {
  predicted_class: string;
  predicted_index: number;
  probabilities: Record<string, number>;
}

/** Posts a PNG to /predict_image. */
export function postImage(server: RunningServer, image = SAMPLE): Promise<Response> {
  const form = new FormData();
  form.append('image', new Blob([image], { type: 'image/png' }), 'sample.png');
  return fetch(`${server.url}/predict_image`, { method: 'POST', body: form });
}

export async function predict(server: RunningServer, image = SAMPLE): Promise<Prediction> {
  const res = await postImage(server, image);
  if (res.status !== 200) throw new Error(`predict_image answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Prediction;
}

/** The model version that answered a prediction (its X-Model-Version header). */
export async function answeredBy(server: RunningServer): Promise<string | null> {
  const res = await postImage(server);
  await res.arrayBuffer();
  return res.headers.get('x-model-version');
}

/** Serves with `env`, checks that the sample is classified as the bundled model does, and returns /get_model_info. */
export async function servesAnkleBoot(env: Record<string, string>): Promise<Record<string, unknown>> {
  const server = await serve(env);
  try {
    if ((await predict(server)).predicted_class !== 'Ankle boot')
      throw new Error('the sample was not classified as Ankle boot');
    return await modelInfo(server);
  } finally {
    await server.close();
  }
}

export async function modelInfo(
  server: RunningServer,
): Promise<
  Record<string, unknown> & { model_metadata: { params: Record<string, string>; metrics: Record<string, number> } }
> {
  return (await (await fetch(`${server.url}/get_model_info`)).json()) as never;
}

/** Softmax of the ONNX file's output for `image`, computed here with onnxruntime-node and the model's own preprocessing. */
export async function directProbabilities(
  modelFile: string,
  metadata: Record<string, unknown>,
  image = SAMPLE,
): Promise<number[]> {
  const session = await ort.InferenceSession.create(modelFile);
  try {
    const meta = session.inputMetadata[0] as unknown as { shape?: ReadonlyArray<number | string> } | undefined;
    const spec = preprocessSpecFor(
      { name: session.inputNames[0], dtype: 'float32', shape: [...(meta?.shape ?? [null, 3, 32, 32])] },
      metadata,
    );
    const pixels = await (await ImageInput.probe(image, 1 << 24)).toPixels(spec);
    const t = pixelsToTensor([pixels], spec);
    const out = await session.run({
      [session.inputNames[0]]: new ort.Tensor('float32', t.data as Float32Array, t.shape),
    });
    const logits = [...(out[session.outputNames[0]].data as Float32Array)];
    const max = Math.max(...logits);
    const exps = logits.map((v) => Math.exp(v - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    return exps.map((e) => e / sum);
  } finally {
    await session.release();
  }
}
