/**
 * @bento-ts/plugin-onnx: runs `onnx` models with ONNX Runtime (onnxruntime-node)
 * inside runner worker threads. The whole model directory is kept, so models
 * with external weight files load as they are.
 */
import { definePlugin } from '@bento-ts/framework/plugin';
import { onnxBackend } from './onnx-backend.js';

export { onnxBackend };

export default definePlugin({
  name: 'onnx',
  setup(registry) {
    registry.addBackend(onnxBackend);
  },
});
