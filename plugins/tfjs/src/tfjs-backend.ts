import type { Backend, BackendOptions, ModelSession, ResolvedModel } from '@bento-ts/framework/plugin';

/** The TF.js backend. It imports TF.js only when it loads a model (tfjs-session.ts). */
export const tfjsBackend: Backend = {
  name: 'tfjs',
  formats: ['tfjs', 'tf-saved-model'],
  async load(model: ResolvedModel, options: BackendOptions): Promise<ModelSession> {
    const { loadModel } = await import('./tfjs-session.js');
    return loadModel(model, options);
  },
};
