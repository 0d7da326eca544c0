/**
 * ONNX Runtime sessions: what onnxBackend's `load` imports when an ONNX model is loaded, so that a thread that
 * loads no ONNX model (the HTTP thread) does not load onnxruntime-node.
 */
import { join } from 'node:path';
import { createRequire } from 'node:module';
import ort from 'onnxruntime-node';
import {
  type BackendOptions,
  type ModelSession,
  ModelLoadError,
  type ResolvedModel,
  type Tensor,
  type TensorSpec,
  InvalidTensorError,
} from '@bento-ts/framework/plugin';
import { fromOrt, toOrt } from './tensor-convert.js';

const ortVersion = (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;

/** Session options a runnable may pass through `backendOptions`. */
const PASSTHROUGH = [
  'graphOptimizationLevel',
  'executionMode',
  'enableCpuMemArena',
  'enableMemPattern',
  'interOpNumThreads',
  'logSeverityLevel',
] as const;

/** Execution providers this build can use, so a request for `cuda` falls back instead of throwing. */
function providersFor(device: string): { providers: string[]; device: string } {
  const supported =
    (
      ort as unknown as { listSupportedBackends?: () => Array<{ name: string; bundled: boolean }> }
    ).listSupportedBackends?.() ?? [];
  const wanted = device.split(':')[0];
  const hasCuda = supported.some((b) => b.name === 'cuda' && b.bundled);
  if (wanted === 'cuda' && hasCuda) return { providers: ['cuda', 'cpu'], device };
  return { providers: ['cpu'], device: 'cpu' };
}

function specsOf(names: readonly string[], metadata: readonly unknown[]): TensorSpec[] {
  return names.map((name, i) => {
    const m = metadata[i] as { isTensor?: boolean; type?: string; shape?: Array<number | string> } | undefined;
    return {
      name,
      dtype: m?.type ?? 'unknown',
      shape: (m?.shape ?? []).map((d) => (typeof d === 'number' && d >= 0 ? d : typeof d === 'string' ? d : null)),
    };
  });
}

class OnnxSession implements ModelSession {
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  readonly backend = `onnxruntime-node ${ortVersion}`;

  constructor(
    private readonly session: ort.InferenceSession,
    readonly device: string,
  ) {
    this.inputs = specsOf(session.inputNames, session.inputMetadata ?? []);
    this.outputs = specsOf(session.outputNames, session.outputMetadata ?? []);
  }

  async run(feeds: Record<string, Tensor>, outputNames?: string[]): Promise<Record<string, Tensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const spec of this.inputs) {
      const t = feeds[spec.name];
      if (!t) throw new InvalidTensorError(`model input "${spec.name}" is missing`);
      if (t.dtype !== spec.dtype)
        throw new InvalidTensorError(`model input "${spec.name}" takes ${spec.dtype}, got ${t.dtype}`);
      ortFeeds[spec.name] = toOrt(t);
    }
    const results = await this.session.run(ortFeeds, outputNames ?? this.session.outputNames);
    const out: Record<string, Tensor> = {};
    for (const [name, value] of Object.entries(results)) {
      out[name] = fromOrt(value);
      value.dispose();
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/** Loads `model` into an ONNX Runtime session: onnx-backend.ts's `load`, imported when an ONNX model is loaded. */
export async function loadModel(model: ResolvedModel, options: BackendOptions): Promise<ModelSession> {
  const file = join(model.path, model.file ?? 'model.onnx');
  const { providers, device } = providersFor(options.device);
  const extra: Record<string, unknown> = {};
  for (const key of PASSTHROUGH) if (key in options.extra) extra[key] = options.extra[key];
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(file, {
      executionProviders: providers,
      intraOpNumThreads: options.threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      ...extra,
    } as ort.InferenceSession.SessionOptions);
  } catch (err) {
    throw new ModelLoadError(`ONNX Runtime could not load ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (device !== options.device)
    options.logger.warn(`device "${options.device}" is not available in this onnxruntime-node build; using cpu`);
  return new OnnxSession(session, device);
}
