/**
 * @bento-ts/framework: what a service author imports (docs/api.md lists it). Plugin authors import
 * @bento-ts/framework/plugin. `import 'reflect-metadata'` happens here, so importing the framework first is enough.
 */
import 'reflect-metadata';

// Declaring a service
export { service, type ServiceOptions, type TrafficOptions } from './sdk/decorators/service.js';
export { api, type ApiOptions, type HttpMethod } from './sdk/decorators/api.js';
export { runnable, type RunnableOptions, type ModelSelector } from './sdk/decorators/runnable.js';
export { method, type MethodOptions } from './sdk/decorators/method.js';
export { runner, type Runner } from './sdk/decorators/runner.js';
export type { RequestContext } from './sdk/context.js';
export { inject, injectable, singleton } from 'tsyringe';

// Inputs and outputs of an API
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

// Tensors
export { type DType, type Tensor, allocate, tensor, isTensor, sizeOf } from './tensor/tensor.js';
export { deferred, type DeferredTensor, type TensorInput } from './tensor/deferred.js';
export { concat, slice, split } from './tensor/concat.js';

// Images: decoding, preprocessing as the model's metadata says, class predictions
export { ImageInput, resizePixels, type Pixels, type PixelOptions } from './vision/image-input.js';
export { PREDICTION_SCHEMA, classNamesOf, outputWidth, toPredictions, type Prediction } from './vision/predictions.js';
export { preprocessSpecFor, pixelsToTensor, deferPixels, type PreprocessSpec } from './vision/preprocess.js';

// The model a runnable is given
export { LoadedModel, type ModelInfo } from './runner/model-info.js';
export { modelFromEnv } from './models/model-selector.js';
export { envInt } from './config/setting-parsers.js';

// Errors a service throws: each answers its HTTP status with { "error": { "code", "message" } }
export {
  BentoError,
  isBentoError,
  type ErrorBody,
  BadRequestError,
  InvalidInputError,
  InvalidJsonError,
  MissingFieldError,
  InvalidImageError,
  InvalidTensorError,
  UnauthorizedError,
  ForbiddenError,
  NotFoundError,
  PayloadTooLargeError,
  TooManyItemsError,
  UnsupportedMediaTypeError,
  UnsupportedImageFormatError,
  ImageTooLargeError,
  TooManyRequestsError,
  RequestTimeoutError,
  ServiceUnavailableError,
  InferenceError,
  ConfigError,
} from './errors.js';

// Serving from code, as `bento serve` does (tests, embedding)
export { startServer } from './serve-from-code.js';
export type { ServeOptions, RunningServer } from './server/serve.js';
export { loadProject, type Project } from './config/project.js';
export { DEFAULT_LIMITS, type Limits } from './config/limits.js';
