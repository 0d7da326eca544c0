/**
 * TF.js sessions: what tfjsBackend's `load` imports when a TF.js model is loaded. TF.js (core, layers, converter
 * and an engine) costs about 60 MB and 150 ms to import in every thread that does; a server whose models are all
 * ONNX never pays it.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { type GraphModel, loadGraphModel } from '@tensorflow/tfjs-converter';
import { type LayersModel, loadLayersModel } from '@tensorflow/tfjs-layers';
import {
  type BackendOptions,
  type DType,
  InvalidTensorError,
  ModelLoadError,
  type ModelSession,
  type ResolvedModel,
  type Tensor,
  type TensorSpec,
} from '@bento-ts/framework/plugin';
import { readModelFiles, modelJsonIn } from './model-files.js';
import { ENGINES, type Engine, type EngineChoice, engine } from './runtime.js';

/** TF.js dtypes and the bento dtypes they come from and go to. */
const TO_TF: Partial<Record<DType, tf.DataType>> = { float32: 'float32', int32: 'int32', bool: 'bool' };
const FROM_TF: Record<string, DType> = { float32: 'float32', int32: 'int32', bool: 'bool' };

/** What every engine tells of a model's input or output. */
interface TensorDescription {
  name: string;
  dtype?: string;
  shape?: ReadonlyArray<number | null>;
}

const specOf = (t: { dtype?: string; shape?: ReadonlyArray<number | null> }, name: string): TensorSpec => ({
  name,
  dtype: t.dtype ?? 'float32',
  shape: [...(t.shape ?? [])].map((d) => (typeof d === 'number' && d >= 0 ? d : null)),
});

function toTf(spec: TensorSpec, t: Tensor | undefined): tf.Tensor {
  if (!t) throw new InvalidTensorError(`model input "${spec.name}" is missing`);
  const dtype = TO_TF[t.dtype];
  if (!dtype || dtype !== spec.dtype)
    throw new InvalidTensorError(`model input "${spec.name}" takes ${spec.dtype}, got ${t.dtype}`);
  return tf.tensor(t.data as Float32Array | Int32Array | Uint8Array, [...t.shape], dtype);
}

/** Copies a TF.js tensor's values out into a bento tensor that owns them. */
function fromTf(t: tf.Tensor): Tensor {
  const dtype = FROM_TF[t.dtype];
  if (!dtype) throw new InvalidTensorError(`model output of type ${t.dtype} is not supported`);
  const values = t.dataSync();
  const data = dtype === 'bool' ? Uint8Array.from(values as Uint8Array) : (values as Float32Array | Int32Array).slice();
  return { dtype, shape: [...t.shape], data };
}

/**
 * One loaded TF.js model. Every call builds its input tensors and reads its outputs inside one `tf.tidy`, and
 * disposes what tidy cannot see (the input tensors), so a call leaves no tensor behind on the engine.
 */
class TfjsSession implements ModelSession {
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  readonly device = 'cpu';

  constructor(
    private readonly model: LayersModel | GraphModel | tf.InferenceModel,
    readonly backend: string,
    inputs: TensorSpec[],
    outputs: TensorSpec[],
  ) {
    this.inputs = inputs;
    this.outputs = outputs;
  }

  async run(feeds: Record<string, Tensor>, outputNames?: string[]): Promise<Record<string, Tensor>> {
    const wanted = outputNames ?? this.outputs.map((o) => o.name);
    // Filled one by one inside the try: when a later input is refused, the earlier ones are still disposed.
    const inputs: tf.Tensor[] = [];
    try {
      for (const spec of this.inputs) inputs.push(toTf(spec, feeds[spec.name]));
      return tf.tidy(() => {
        const given = inputs.length === 1 ? inputs[0] : inputs;
        const raw = this.model.predict(given, {});
        const list = raw instanceof tf.Tensor ? [raw] : Array.isArray(raw) ? raw : this.outputs.map((o) => raw[o.name]);
        const out: Record<string, Tensor> = {};
        this.outputs.forEach((spec, i) => {
          if (wanted.includes(spec.name)) out[spec.name] = fromTf(list[i]);
        });
        return out as never;
      });
    } finally {
      for (const t of inputs) t.dispose();
    }
  }

  async dispose(): Promise<void> {
    (this.model as { dispose?: () => void }).dispose?.();
  }

  /** Tensors (and their bytes) the engine holds now: the models' weights, and nothing a call left behind. */
  static memory(): { tensors: number; bytes: number } {
    const { numTensors, numBytes } = tf.memory();
    return { tensors: numTensors, bytes: numBytes };
  }
}

interface LayerConfig {
  class_name?: string;
  config?: {
    name?: string;
    layers?: LayerConfig[];
    input_layers?: Array<[string, ...unknown[]]>;
    output_layers?: Array<[string, ...unknown[]]>;
  };
}

/** The input and output names a Keras topology declares: a functional model lists them, a Sequential implies them. */
function layerNames(topology: unknown): { inputs: string[]; outputs: string[] } {
  const root = ((topology as { model_config?: LayerConfig }).model_config ?? topology) as LayerConfig;
  const config = root.config ?? {};
  if (config.input_layers && config.output_layers)
    return { inputs: config.input_layers.map((l) => l[0]), outputs: config.output_layers.map((l) => l[0]) };
  const layers = config.layers ?? [];
  const first = layers[0];
  const last = layers[layers.length - 1];
  const input =
    first?.class_name === 'InputLayer' ? first.config?.name : first?.config?.name && `${first.config.name}_input`;
  return { inputs: input ? [input] : [], outputs: last?.config?.name ? [last.config.name] : [] };
}

function engineChoice(options: BackendOptions): EngineChoice {
  const engine = options.extra.engine ?? options.env.BENTO_TFJS_ENGINE ?? 'auto';
  const raw = typeof engine === 'string' ? engine : JSON.stringify(engine);
  if (!ENGINES.includes(raw as EngineChoice))
    throw new ModelLoadError(`TF.js engine "${raw}" is unknown; use one of ${ENGINES.join(', ')}`);
  return raw as EngineChoice;
}

async function loadTfjs(model: ResolvedModel, runtime: Engine): Promise<ModelSession> {
  const file = modelJsonIn(model.path, model.file);
  const { format, artifacts } = await readModelFiles(file);
  try {
    if (format === 'layers-model') {
      const layers = await loadLayersModel(tf.io.fromMemory(artifacts));
      // Names as the model file gives them: TF.js renames layers it has seen before in this thread (`input_2`).
      const names = layerNames(artifacts.modelTopology);
      const inputs = layers.inputs.map((t, i) => specOf(t, names.inputs[i] ?? t.name));
      const outputs = layers.outputs.map((t, i) => specOf(t, names.outputs[i] ?? t.sourceLayer.name));
      return new TfjsSession(layers, runtime.description, inputs, outputs);
    }
    const graph = await loadGraphModel(tf.io.fromMemory(artifacts));
    return new TfjsSession(
      graph,
      runtime.description,
      (graph.inputs as TensorDescription[]).map((t) => specOf(t, t.name)),
      (graph.outputs as TensorDescription[]).map((t) => specOf(t, t.name)),
    );
  } catch (err) {
    throw new ModelLoadError(`TF.js could not load ${file}: ${(err as Error).message}`, { cause: err });
  }
}

async function loadSavedModel(model: ResolvedModel, runtime: Engine): Promise<ModelSession> {
  const dir = join(model.path, model.file ?? '');
  if (!runtime.node) {
    throw new ModelLoadError(
      `${dir} is a TensorFlow SavedModel, which TF.js runs only through @tensorflow/tfjs-node (not installed here; the ${runtime.name} engine cannot). ` +
        'Install @tensorflow/tfjs-node, or convert the model to TF.js (tensorflowjs_converter --input_format=tf_saved_model) or to ONNX (python -m tf2onnx.convert --saved-model).',
    );
  }
  try {
    const saved = await runtime.node.node.loadSavedModel(dir);
    const info = saved as unknown as { inputs: TensorDescription[]; outputs: TensorDescription[] };
    return new TfjsSession(
      saved,
      runtime.description,
      info.inputs.map((t) => specOf(t, t.name)),
      info.outputs.map((t) => specOf(t, t.name)),
    );
  } catch (err) {
    throw new ModelLoadError(`tfjs-node could not load the SavedModel ${dir}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Loads `model` on the engine `options` choose: tfjs-backend.ts's `load`, imported when a TF.js model is loaded. */
export async function loadModel(model: ResolvedModel, options: BackendOptions): Promise<ModelSession> {
  const runtime = await engine(engineChoice(options), options.threads);
  if (options.device !== 'cpu')
    options.logger.warn(
      `device "${options.device}" is not available to TF.js here; using cpu (${runtime.description})`,
    );
  if (model.format === 'tf-saved-model') return loadSavedModel(model, runtime);
  await stat(modelJsonIn(model.path, model.file)).catch(() =>
    Promise.reject(new ModelLoadError(`no ${model.file ?? 'model.json'} in ${model.path}`)),
  );
  return loadTfjs(model, runtime);
}

export { TfjsSession };
