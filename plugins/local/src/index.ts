/**
 * @bento-ts/plugin-local: serves models from the local filesystem: plain paths
 * (relative to the service project) and `file://` URIs, pointing at a model
 * directory (MLflow model, ONNX or TF.js) or a single model file.
 */
import { fileURLToPath } from 'node:url';
import { isAbsolute, resolve } from 'node:path';
import { InvalidInputError, type ModelSource, definePlugin, inspectModelPath } from '@bento-ts/framework/plugin';

function toPath(uri: string, cwd: string): string {
  if (uri.startsWith('file:')) {
    // file:./relative is not a valid URL, but users write it; treat it as a relative path.
    if (!uri.startsWith('file://')) return resolve(cwd, uri.slice('file:'.length));
    try {
      return fileURLToPath(uri);
    } catch (err) {
      throw new InvalidInputError(`invalid file URI ${uri}: ${(err as Error).message}`);
    }
  }
  return isAbsolute(uri) ? uri : resolve(cwd, uri);
}

export const localModelSource: ModelSource = {
  name: 'local',
  schemes: ['', 'file'],
  async resolve(uri, ctx) {
    const path = toPath(uri, ctx.cwd);
    const info = await inspectModelPath(path);
    return {
      uri,
      resolvedUri: path === uri ? undefined : `file://${path}`,
      source: 'local',
      path: info.path,
      format: info.format,
      file: info.file,
      version: typeof info.mlmodel?.model_uuid === 'string' ? info.mlmodel.model_uuid : undefined,
      metadata: info.metadata,
    };
  },
};

export default definePlugin({
  name: 'local',
  setup(registry) {
    registry.addModelSource(localModelSource);
  },
});
