import type { Backend, BackendOptions, ModelSession, ResolvedModel } from '@bento-ts/framework/plugin';

/** The ONNX Runtime backend. It imports onnxruntime-node only when it loads a model (onnx-session.ts). */
export const onnxBackend: Backend = {
  name: 'onnxruntime',
  formats: ['onnx'],
  async load(model: ResolvedModel, options: BackendOptions): Promise<ModelSession> {
    const { loadModel } = await import('./onnx-session.js');
    return loadModel(model, options);
  },
};
