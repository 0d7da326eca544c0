/**
 * Every error bento-ts raises on purpose, in one place. Each has a stable `code`
 * (what clients and tests match on) and an HTTP `statusCode` (what the server
 * answers when the error escapes a request). Anything that is not a BentoError
 * is a bug and answers 500 with a generic message.
 */

export interface ErrorBody {
  error: { code: string; message: string };
}

export class BentoError extends Error {
  readonly code: string;
  readonly statusCode: number;
  /** Seconds a client should wait before retrying (sets `Retry-After`). */
  readonly retryAfter?: number;

  constructor(code: string, message: string, statusCode = 500, options?: { cause?: unknown; retryAfter?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.statusCode = statusCode;
    this.retryAfter = options?.retryAfter;
  }

  toJSON(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

type ErrorClass = new (message: string, options?: { cause?: unknown; retryAfter?: number }) => BentoError;

function coded(code: string, statusCode: number): ErrorClass {
  const cls = class extends BentoError {
    static readonly code = code;
    constructor(message: string, options?: { cause?: unknown; retryAfter?: number }) {
      super(code, message, statusCode, options);
    }
  };
  const words = code.toLowerCase().replace(/_error$/, '');
  Object.defineProperty(cls, 'name', {
    value: words.replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase()) + 'Error',
  });
  return cls;
}

// ---- request errors (4xx): the client can fix these ----
/** A request the HTTP parser could not read. */
export const BadRequestError = coded('BAD_REQUEST', 400);
export const InvalidInputError = coded('INVALID_INPUT', 400);
export const InvalidJsonError = coded('INVALID_JSON', 400);
export const MissingFieldError = coded('MISSING_FIELD', 400);
export const InvalidImageError = coded('INVALID_IMAGE', 400);
export const InvalidTensorError = coded('INVALID_TENSOR', 400);
export const UnauthorizedError = coded('UNAUTHORIZED', 401);
export const ForbiddenError = coded('FORBIDDEN', 403);
export const NotFoundError = coded('NOT_FOUND', 404);
export const MethodNotAllowedError = coded('METHOD_NOT_ALLOWED', 405);
/** Headers or body still arriving when the receive timeout passed (a slow or stalled client). */
export const ReceiveTimeoutError = coded('RECEIVE_TIMEOUT', 408);
export const PayloadTooLargeError = coded('PAYLOAD_TOO_LARGE', 413);
export const TooManyItemsError = coded('TOO_MANY_ITEMS', 413);
export const UnsupportedMediaTypeError = coded('UNSUPPORTED_MEDIA_TYPE', 415);
export const UnsupportedImageFormatError = coded('UNSUPPORTED_IMAGE_FORMAT', 415);
export const ImageTooLargeError = coded('IMAGE_TOO_LARGE', 413);
export const HeadersTooLargeError = coded('HEADERS_TOO_LARGE', 431);
export const TooManyRequestsError = coded('TOO_MANY_REQUESTS', 429);

/**
 * A request MLflow's scoring protocol (`/invocations`) refuses. `mlflowCode` is the `error_code` MLflow's own server
 * answers the same request with: BAD_REQUEST for what cannot be read, INVALID_PARAMETER_VALUE for what does not fit
 * the model's signature.
 */
export class MlflowInputError extends BentoError {
  constructor(
    readonly mlflowCode: 'BAD_REQUEST' | 'INVALID_PARAMETER_VALUE',
    message: string,
  ) {
    super('INVALID_INPUT', message, 400);
  }

  static badRequest(message: string): MlflowInputError {
    return new MlflowInputError('BAD_REQUEST', message);
  }

  static invalidParameter(message: string): MlflowInputError {
    return new MlflowInputError('INVALID_PARAMETER_VALUE', message);
  }
}

// ---- server-side errors (5xx) ----
export const RequestTimeoutError = coded('TIMEOUT', 504);
export const ServiceUnavailableError = coded('SERVICE_UNAVAILABLE', 503);
export const InferenceError = coded('INFERENCE_FAILED', 500);
export const RunnerCrashedError = coded('RUNNER_CRASHED', 503);
/** The server is draining: readiness says so, so that traffic goes elsewhere. */
export const ShuttingDownError = coded('SHUTTING_DOWN', 503);
export const InternalError = coded('INTERNAL', 500);

// ---- start-up and configuration errors: raised before serving, reported by the CLI ----
/** A CLI command given arguments it cannot work with (exit code 2). */
export const UsageError = coded('USAGE_ERROR', 400);
export const ConfigError = coded('CONFIG_ERROR', 500);
export const PluginError = coded('PLUGIN_ERROR', 500);
/** The port the server was told to listen on is taken (or not ours to take); checked before any model loads. */
export const PortUnavailableError = coded('PORT_UNAVAILABLE', 500);
export const ServiceDefinitionError = coded('SERVICE_DEFINITION_ERROR', 500);
export const ModelSourceNotFoundError = coded('MODEL_SOURCE_NOT_FOUND', 500);
export const ModelNotFoundError = coded('MODEL_NOT_FOUND', 500);
export const ModelFormatError = coded('MODEL_FORMAT_ERROR', 500);
export const BackendNotFoundError = coded('BACKEND_NOT_FOUND', 500);
export const ModelLoadError = coded('MODEL_LOAD_FAILED', 500);
/** A model source (e.g. an MLflow server) could not be reached or answered with a server error. */
export const ModelSourceUnavailableError = coded('MODEL_SOURCE_UNAVAILABLE', 503);
/** A bento (directory or archive) is damaged, incomplete or unsafe to unpack. */
export const BentoIntegrityError = coded('BENTO_INTEGRITY_ERROR', 500);
export const BentoNotFoundError = coded('BENTO_NOT_FOUND', 500);
export const BentoExistsError = coded('BENTO_EXISTS', 500);
// `bento deploy`: options that cannot make valid manifests, or a secret passed where it would be written in clear.
export const DeployError = coded('DEPLOY_ERROR', 500);
/** Building a bento failed (compiling, packing dependencies or models). */
export const BuildError = coded('BUILD_ERROR', 500);
/** No usable container builder, or the image build failed. */
export const ContainerizeError = coded('CONTAINERIZE_ERROR', 500);
/** A model source refused our credentials (401/403). */
export const ModelSourceAuthError = coded('MODEL_SOURCE_UNAUTHORIZED', 500);
/** The local model store is damaged or cannot be written. */
export const ModelStoreError = coded('MODEL_STORE_ERROR', 500);
// A download whose bytes are not the ones its URI names (`#sha256=`): nothing of it is stored.
export const ModelChecksumError = coded('MODEL_CHECKSUM_MISMATCH', 500);

// ---- model conversion (a converter plugin turning an MLflow flavor into a format a backend loads) ----
/** A model no backend loads and no converter takes: a custom pyfunc, an unknown flavor. */
export const ModelNotConvertibleError = coded('MODEL_NOT_CONVERTIBLE', 500);
/** Nothing gives the model's input shapes: no signature, no input example, no MODEL_INPUT_SHAPE. */
export const InputShapeUnknownError = coded('INPUT_SHAPE_UNKNOWN', 500);
/** The Python environment for a conversion could not be made (pins that cannot be installed, no such Python). */
export const ConvertEnvError = coded('CONVERT_ENV_FAILED', 500);
/** A converter failed; converters report their own codes (MODEL_UNPICKLE_FAILED, ONNX_UNSUPPORTED_OPERATOR...) too. */
export const ConversionFailedError = coded('CONVERSION_FAILED', 500);
/** The converted model does not answer as the original does: it is not kept. */
export const ParityError = coded('CONVERSION_PARITY_FAILED', 500);

export function isBentoError(err: unknown): err is BentoError {
  return err instanceof BentoError;
}
