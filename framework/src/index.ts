/**
 * @bento-ts/framework: what a service author and a plugin author import.
 * `import 'reflect-metadata'` happens here, so importing the framework first is enough.
 */
import 'reflect-metadata';

// Service SDK
export { service, type ServiceOptions, type TrafficOptions, type ServiceDefinition } from './sdk/decorators/service.js';
export { api, type ApiOptions, type ApiDefinition, type HttpMethod } from './sdk/decorators/api.js';
export { runnable, type RunnableOptions, type ModelSelector } from './sdk/decorators/runnable.js';
export { method, type MethodOptions, type MethodDefinition } from './sdk/decorators/method.js';
export { runner, runnerToken, type Runner } from './sdk/decorators/runner.js';
export type { RequestContext } from './sdk/context.js';
export { getApis } from './sdk/decorators/api.js';
export { getMethods } from './sdk/decorators/method.js';
export { getRunnableDefinition } from './sdk/decorators/runnable.js';
export { getServiceDefinition } from './sdk/decorators/service.js';
export { inject, injectable, singleton } from 'tsyringe';

// IO types
export { Image, type ImageOptions } from './io/image.js';
export { NdArray, tensorFromJson, type TensorOptions, type DimSpec } from './io/tensor.js';
export { JSONBody, type JSONOptions } from './io/json.js';
export { File, type FileOptions } from './io/file.js';
export {
  jsonOutput,
  type InputDescriptor,
  type OutputSpec,
  type RawInput,
  type FilePart,
  type JsonSchema,
} from './io/descriptor.js';

// Tensors and images
export * from './tensor/tensor.js';
export { deferred, isDeferred, materialize, type DeferredTensor, type TensorInput } from './tensor/deferred.js';
export { concat, slice, split } from './tensor/concat.js';
export { ImageInput, resizePixels, IMAGE_FORMATS, type Pixels, type PixelOptions } from './vision/image-input.js';
export { PREDICTION_SCHEMA, classNamesOf, outputWidth, toPredictions, type Prediction } from './vision/predictions.js';
export {
  preprocessSpecFor,
  pixelsToTensor,
  deferPixels,
  IMAGENET_MEAN,
  IMAGENET_STD,
  type PreprocessSpec,
} from './vision/preprocess.js';

// Models
export { LoadedModel, type ModelInfo } from './runner/model-info.js';
export { modelFromEnv, MODEL_ENV } from './models/model-selector.js';
export { signatureOf, checkSignature, type ModelSignature } from './models/signature.js';
export {
  ModelStore,
  storeRoot,
  tagPart,
  parseTag,
  BENTO_HOME_ENV,
  type StoredModel,
  type StoredFile,
  type NewModel,
  type ModelStoreAccess,
} from './store/model-store.js';
export {
  unpackArchive,
  unpackLimits,
  DEFAULT_UNPACK_LIMITS,
  type UnpackLimits,
  type UnpackErrors,
} from './store/unpack-archive.js';
export { inspectModelPath, LABEL_FILES, type ModelDirInfo } from './models/model-dir.js';

// Plugins
export {
  definePlugin,
  type BentoPlugin,
  type PluginRegistry,
  type ModelSource,
  type ModelSourceContext,
  type ResolvedModel,
  type ModelMetadata,
  type Backend,
  type BackendOptions,
  type ModelSession,
  type TensorSpec,
  type RequestHook,
  type HookRequest,
  type Logger,
  type ModelConverter,
  type ConversionInput,
  type ConversionResult,
  type ConverterContext,
  type ColumnSpec,
} from './plugins/types.js';
export { type ConversionRecord, type ParityReport, CONVERTED_DIR } from './models/converted-model.js';

// Configuration and errors
export { envInt, DEFAULT_LIMITS, type Limits } from './config/limits.js';
export { hideUrlCredentials, isSecretName } from './config/settings.js';
export * from './errors.js';

// Programmatic serving (what `bento serve` does)
export { startServer, type ServeOptions, type RunningServer } from './server/serve.js';
export { loadProject, type Project } from './config/project.js';
