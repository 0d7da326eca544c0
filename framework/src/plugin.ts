/**
 * @bento-ts/framework/plugin: what a plugin author imports (docs/plugins.md; docs/api.md lists it). A plugin adds
 * model sources, backends, converters and request hooks; their hooks are documented where they are declared, in
 * plugins/types.ts.
 */
export {
  definePlugin,
  type BentoPlugin,
  type PluginRegistry,
  type ModelSource,
  type ModelSourceContext,
  type Backend,
  type BackendOptions,
  type ModelSession,
  type RequestHook,
  type HookRequest,
  type Logger,
  type ModelConverter,
  type ConversionInput,
  type ConversionResult,
  type ConverterContext,
  type ColumnSpec,
} from './plugins/types.js';

// What a model is: its files and what they say, the signature a session checks against
export type { ModelMetadata, ResolvedModel, TensorSpec } from './models/model.js';
export { inspectModelPath, LABEL_FILES, type ModelDirInfo } from './models/model-dir.js';
export { signatureOf, checkSignature, type ModelSignature } from './models/signature.js';
export { type ConversionRecord, type ParityReport, CONVERTED_DIR } from './models/converted-model.js';

// The model store (ModelSourceContext.store; a plugin's tests open it as ModelStore) and archives
export {
  ModelStore,
  tagPart,
  parseTag,
  type ModelStoreAccess,
  type StoredModel,
  type StoredFile,
  type NewModel,
} from './models/store/model-store.js';
export { unpackArchive, unpackLimits, type UnpackLimits, type UnpackErrors } from './models/store/unpack-archive.js';

// Tensors, as sessions take and give them
export {
  type DType,
  type NumericDType,
  type Tensor,
  DTYPES,
  allocate,
  tensor,
  isTensor,
  sizeOf,
  isIntegerDType,
} from './tensor/tensor.js';

// Settings and secrets: a plugin reads its own settings from its context's environment
export { envInt } from './config/setting-parsers.js';
export { hideUrlCredentials, isSecretName } from './config/settings.js';

// Errors a plugin throws: the CLI prints their code, the server answers their HTTP status
export {
  BentoError,
  isBentoError,
  ConfigError,
  PluginError,
  ModelNotFoundError,
  ModelFormatError,
  ModelLoadError,
  ModelSourceUnavailableError,
  ModelSourceAuthError,
  ModelChecksumError,
  ModelStoreError,
  InputShapeUnknownError,
  ConvertEnvError,
  ConversionFailedError,
  InferenceError,
  InvalidInputError,
  InvalidTensorError,
  PayloadTooLargeError,
  UnauthorizedError,
  ForbiddenError,
  TooManyRequestsError,
} from './errors.js';
