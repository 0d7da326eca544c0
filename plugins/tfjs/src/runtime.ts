/**
 * Which TensorFlow.js engine runs the models: tfjs-node (native libtensorflow) when the user has installed
 * `@tensorflow/tfjs-node`, else the WebAssembly backend, whose `.wasm` files ship inside its npm package (so it
 * installs offline), else the plain JavaScript CPU backend. Chosen once per worker thread.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { ModelLoadError } from '@bento-ts/framework/plugin';

/** `auto` (tfjs-node if installed, else wasm), or one engine by name. */
export type EngineChoice = 'auto' | 'node' | 'wasm' | 'cpu';
export const ENGINES: EngineChoice[] = ['auto', 'node', 'wasm', 'cpu'];

export interface Engine {
  /** The TF.js backend in use: `tensorflow` (tfjs-node), `wasm` or `cpu`. */
  name: string;
  /** For model info and metrics: `tfjs 4.22.0 (wasm, simd)`. */
  description: string;
  /** tfjs-node's API (SavedModel loading), when it is the engine. */
  node?: TfNode;
}

/** The part of tfjs-node's API this plugin uses. */
export interface TfNode {
  node: { loadSavedModel(path: string, tags?: string[], signature?: string): Promise<tf.InferenceModel> };
}

const require = createRequire(import.meta.url);
let chosen: { choice: EngineChoice; engine: Promise<Engine> } | undefined;

async function tryNode(): Promise<TfNode | undefined> {
  try {
    require.resolve('@tensorflow/tfjs-node');
  } catch {
    return undefined;
  }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- an optional package: a string specifier keeps tsc from resolving it
  return (await import('@tensorflow/tfjs-node' as string)) as TfNode;
}

async function choose(choice: EngineChoice, threads: number): Promise<Engine> {
  const version = tf.version_core;
  if (choice === 'auto' || choice === 'node') {
    const node = await tryNode();
    if (node) {
      await tf.setBackend('tensorflow');
      return { name: 'tensorflow', description: `tfjs-node ${version}`, node };
    }
    if (choice === 'node')
      throw new ModelLoadError(
        'the TF.js engine "node" needs @tensorflow/tfjs-node, which is not installed (npm install @tensorflow/tfjs-node); use "wasm" or "auto"',
      );
  }
  if (choice === 'auto' || choice === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // Threads only where the runtime can share memory with them; otherwise one thread, as in every worker.
    if (threads > 1) wasm.setThreadsCount(threads);
    if (await tf.setBackend('wasm')) {
      await tf.ready();
      const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'simd' : 'no simd';
      return { name: 'wasm', description: `tfjs ${version} (wasm, ${simd})` };
    }
    if (choice === 'wasm') throw new ModelLoadError('the TF.js WebAssembly backend could not start in this runtime');
  }
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  return { name: 'cpu', description: `tfjs ${version} (cpu)` };
}

/**
 * The engine of this thread, chosen at its first model load: TF.js has one active backend per thread, so a later
 * load asking for another engine by name is refused (`auto` takes whichever runs).
 */
export async function engine(choice: EngineChoice, threads: number): Promise<Engine> {
  chosen ??= { choice, engine: choose(choice, threads) };
  const running = await chosen.engine;
  const asked = choice === 'node' ? 'tensorflow' : choice;
  if (choice !== 'auto' && chosen.choice !== choice && running.name !== asked) {
    throw new ModelLoadError(
      `this worker thread already runs TF.js on ${running.name}; it cannot also run a model on "${choice}"`,
    );
  }
  return running;
}
