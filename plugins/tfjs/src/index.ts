/**
 * @bento-ts/plugin-tfjs: runs TensorFlow.js models (`model.json` layers or graph models) inside runner worker
 * threads, on tfjs-node when it is installed and on the WebAssembly backend otherwise; TensorFlow SavedModels
 * through tfjs-node only. Pick the engine with the runnable's `backendOptions: { engine }` or BENTO_TFJS_ENGINE
 * (`auto`, `node`, `wasm`, `cpu`).
 */
import { definePlugin } from '@bento-ts/framework/plugin';
import { tfjsBackend } from './tfjs-backend.js';

export { tfjsBackend };
export { readModelFiles } from './model-files.js';

export default definePlugin({
  name: 'tfjs',
  setup(registry) {
    registry.addBackend(tfjsBackend);
  },
});
