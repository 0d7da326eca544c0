/**
 * Every setting a bento-ts server reads, in one catalogue: what `bento config`
 * prints, what docs/configuration.md documents (a test holds them together),
 * and which values are secrets to mask. Settings are environment variables, as
 * in the seed guide; some also have a `bento serve` flag. Defaults here are
 * what the code does when a setting is unset, written for people.
 */
export type SettingGroup =
  'server' | 'model' | 'convert' | 'limits' | 'runner' | 'logging' | 'mlflow' | 'storage' | 'tools';

export interface Setting {
  name: string;
  /** Other names read for the same setting, lower in priority. */
  aliases?: string[];
  /** The `bento serve` flag that sets it, above the environment. */
  flag?: string;
  default: string;
  group: SettingGroup;
  /** Masked by `bento config` and never logged. */
  secret?: boolean;
  description: string;
}

const s = (
  group: SettingGroup,
  name: string,
  def: string,
  description: string,
  extra: Partial<Setting> = {},
): Setting => ({
  name,
  group,
  default: def,
  description,
  ...extra,
});

export const SETTINGS: readonly Setting[] = [
  s('server', 'PORT', '3000', 'Listening port', { aliases: ['BENTO_PORT'], flag: '--port' }),
  s('server', 'HOST', '0.0.0.0', 'Listening interface', { flag: '--host' }),
  s(
    'server',
    'BENTO_WORKERS',
    'bento.yaml workers, else @service({ workers }), else 1',
    'HTTP worker processes sharing the port; cpu_count: one per core',
    { flag: '--workers' },
  ),
  s('server', 'BENTO_GRACEFUL_TIMEOUT', '30', 'Seconds allowed to finish in-flight requests on SIGTERM/SIGINT', {
    flag: '--graceful-timeout',
  }),
  s('server', 'BENTO_CONFIG', 'unset', "A config file (bento.yaml's serve-time keys) over bento.yaml", {
    flag: '--config',
  }),
  s('server', 'BENTO_METRICS', 'on', 'off: no metrics and no /metrics route'),
  s(
    'server',
    'MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT',
    '60',
    "Seconds a request to a model served with no service code may take (504 past it), as mlflow models serve's",
    { flag: '-t' },
  ),
  s(
    'model',
    'MODEL_URI',
    "the service's own default",
    'Any model URI: a path, file://, runs:/, models:/, s3://, https:// (with its plugin)',
  ),
  s('model', 'MODEL_RUN_ID', 'unset', 'Serve runs:/<id>/<MODEL_ARTIFACT_PATH>'),
  s('model', 'MODEL_ARTIFACT_PATH', 'model', 'Artifact path of the model inside a run'),
  s('model', 'MODEL_NAME', 'unset', 'Serve models:/<name>/<MODEL_VERSION> from the registry'),
  s('model', 'MODEL_VERSION', 'latest', 'Registered model version, or @alias'),
  s(
    'model',
    'MODEL_INPUT_SHAPE',
    'unset',
    'Input shape of a model whose signature and input example say none (e.g. -1,3,32,32), for its conversion',
  ),
  s(
    'model',
    'MODEL_CLASSES',
    "the model's labels file or metadata, else 0..n-1",
    'Class names of an image classifier served with no service code (/predict_image), comma-separated',
  ),
  s(
    'model',
    'MODEL_MEAN',
    "the model's metadata, else ImageNet's",
    'Per-channel mean for image normalisation, comma-separated',
  ),
  s('model', 'MODEL_STD', "the model's metadata, else ImageNet's", 'Per-channel standard deviation, comma-separated'),
  s('model', 'BENTO_DEFAULT_MODEL', 'unset', "A packed model's alias (or URI) served when MODEL_URI is unset"),
  s('model', 'BACKEND', 'onnx', "The example service's bundled model: onnx (model/) or tfjs (model-tfjs/)"),
  s('model', 'BENTO_TFJS_ENGINE', 'auto', 'TF.js engine: auto (tfjs-node if installed, else wasm), node, wasm, cpu'),
  s(
    'model',
    'BENTO_MODEL_POLL_SECONDS',
    'unset (off)',
    'Follow a moving model URI (models:/name@alias, /latest) and swap new versions in',
  ),
  s('model', 'BENTO_MODEL_VARIANTS', 'unset', "JSON of the only runner's variants (canary, A/B, shadow)"),
  s('model', 'BENTO_MODEL_VARIANT_HEADER', 'x-model-variant', 'Request header that picks a variant by name'),
  s(
    'convert',
    'BENTO_CONVERT_PYTHON',
    "unset: an environment made from the model's own requirements",
    'The Python that converts models (pytorch, sklearn) once, when they enter the store; never used to serve',
  ),
  s('convert', 'BENTO_CONVERT_OPSET', '17', 'ONNX opset converted models target'),
  s(
    'convert',
    'BENTO_CONVERT_SAMPLES',
    '8',
    "Samples a conversion's parity check runs (the input example's rows, then generated ones)",
  ),
  s(
    'convert',
    'BENTO_CONVERT_TOLERANCE',
    '0.0001',
    'Largest absolute difference a converted model may answer with, against the original; labels must be equal',
  ),
  s('limits', 'BENTO_MAX_BODY_BYTES', '20971520 (20 MiB)', 'Request body limit (413)'),
  s(
    'limits',
    'BENTO_MAX_IMAGE_PIXELS',
    '25000000',
    "Width x height limit (an animated image's first frame, the one decoded), checked before decoding (413)",
  ),
  s('limits', 'BENTO_MAX_FILES', '8', 'Files in one multipart request'),
  s('limits', 'BENTO_MAX_FIELDS', '16', 'Non-file fields in one multipart request'),
  s('limits', 'BENTO_MAX_HEADER_BYTES', '16384 (16 KiB)', 'Request header block (431)'),
  s(
    'limits',
    'BENTO_KEEP_ALIVE_TIMEOUT_MS',
    '72000',
    'How long an idle keep-alive connection stays open; keep it above the idle timeout of the load balancer or clients in front (60 s for most), so that side closes first',
  ),
  s(
    'limits',
    'BENTO_RECEIVE_TIMEOUT_MS',
    '60000',
    "How long a request's headers and body may take to arrive (408 RECEIVE_TIMEOUT): the bound on a slow or stalled client",
  ),
  s(
    'limits',
    'BENTO_JS_DECODE_MAX_PIXELS',
    '9216 (96x96)',
    'PNG/JPEG up to this size are decoded in JavaScript, larger ones by sharp off the event loop',
  ),
  s('limits', 'MAX_BATCH_IMAGES', '32', 'Images per /predict_batch request (the example service)'),
  s(
    'runner',
    'BENTO_RUNNER_WORKERS',
    'half the cores, at least 1',
    'Worker threads per runner, each with its own model session',
    { flag: '--runner-workers' },
  ),
  s('runner', 'BENTO_RUNNER_THREADS', '1', 'Backend intra-op threads per worker'),
  s('runner', 'BENTO_RUNNER_MAX_QUEUE', '1024', 'Non-batchable calls waiting for a worker before 503'),
  s(
    'runner',
    'BENTO_MAX_BATCH_SIZE',
    'the @method value',
    'Adaptive batching: most items per batch, for every batchable method',
  ),
  s('runner', 'BENTO_MAX_LATENCY_MS', 'the @method value', 'Adaptive batching: longest wait for a batch to fill'),
  s('logging', 'BENTO_LOG_LEVEL', 'info', 'debug, info, warn, error'),
  s('logging', 'BENTO_LOG_FORMAT', 'pretty on a terminal, else json', 'Log line format: pretty or json'),
  s('logging', 'BENTO_ACCESS_LOG', 'on', 'on (probes and scrapes left out), all, off'),
  s(
    'logging',
    'BENTO_DEBUG',
    'unset',
    'Set: the CLI prints the stack trace of an error bento-ts did not raise on purpose',
  ),
  s('logging', 'NO_COLOR', 'unset', 'Set: no ANSI colour anywhere (colour is only used on a terminal anyway)'),
  s(
    'logging',
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    'unset (tracing off)',
    'OpenTelemetry tracing over OTLP/HTTP (also OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_TRACES_EXPORTER, OTEL_SERVICE_NAME)',
  ),
  s('mlflow', 'MLFLOW_TRACKING_URI', 'unset', 'MLflow tracking server, for runs:/ and models:/ URIs'),
  s('mlflow', 'MLFLOW_REGISTRY_URI', 'MLFLOW_TRACKING_URI', 'Model registry server, when it is another one'),
  s('mlflow', 'MLFLOW_TRACKING_USERNAME', 'unset', 'Basic auth user'),
  s('mlflow', 'MLFLOW_TRACKING_PASSWORD', 'unset', 'Basic auth password', { secret: true }),
  s('mlflow', 'MLFLOW_TRACKING_TOKEN', 'unset', 'Bearer token', { secret: true }),
  s('mlflow', 'MLFLOW_TRACKING_INSECURE_TLS', 'false', "true: do not verify the server's TLS certificate"),
  s('mlflow', 'MLFLOW_TRACKING_SERVER_CERT_PATH', 'unset', 'CA bundle to verify the server with'),
  s('mlflow', 'MLFLOW_HTTP_REQUEST_TIMEOUT', '120', 'Seconds per MLflow request'),
  s('mlflow', 'MLFLOW_HTTP_REQUEST_MAX_RETRIES', '5', 'Retries of a failed MLflow request'),
  s('mlflow', 'MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR', '1', 'Backoff between retries, in seconds, doubled each time'),
  s('storage', 'BENTO_HOME', '~/bento', 'The local store of models and bentos'),
  s('storage', 'MLFLOW_S3_ENDPOINT_URL', 'unset (AWS)', 'S3-compatible artifact store (MinIO...)'),
  s('storage', 'MLFLOW_S3_IGNORE_TLS', 'false', "true: do not verify the object store's TLS certificate"),
  s('storage', 'AWS_ACCESS_KEY_ID', 'unset', 'Object store access key', { secret: true }),
  s('storage', 'AWS_SECRET_ACCESS_KEY', 'unset', 'Object store secret key', { secret: true }),
  s('storage', 'AWS_SESSION_TOKEN', 'unset', 'Object store session token', { secret: true }),
  s('storage', 'AWS_DEFAULT_REGION', 'us-east-1', 'Object store region (also AWS_REGION)', { aliases: ['AWS_REGION'] }),
  s(
    'storage',
    'BENTO_IMPORT_MAX_BYTES',
    '21474836480 (20 GiB)',
    'Largest total an archive may unpack to: bento import, and .tar.gz models of the https plugin',
  ),
  s('storage', 'BENTO_HTTPS_MAX_BYTES', '2147483648 (2 GiB)', '@bento-ts/plugin-https: largest download'),
  s('storage', 'BENTO_HTTPS_TIMEOUT_SECONDS', '600', '@bento-ts/plugin-https: time allowed for one download'),
  s('storage', 'BENTO_HTTPS_RETRIES', '3', '@bento-ts/plugin-https: retries of a failed download'),
  s(
    'tools',
    'BENTO_CONTAINERIZE_BACKEND',
    'the first of docker, podman, buildah that works',
    'Image builder of bento containerize',
  ),
  s(
    'tools',
    'BENTO_BASE_IMAGE',
    "the bento's docker.baseImage",
    'Base image bento containerize builds from (a mirror, a stand-in); --build-arg BASE_IMAGE= wins',
  ),
];

const BY_NAME = new Map(
  SETTINGS.flatMap((setting) => [setting.name, ...(setting.aliases ?? [])].map((n) => [n, setting] as const)),
);

export function settingNamed(name: string): Setting | undefined {
  return BY_NAME.get(name);
}

/** Names of credentials, whatever reads them. */
const SECRET_NAME = /(PASSWORD|TOKEN|SECRET|_KEY$|^AWS_ACCESS_KEY_ID$|CREDENTIAL)/i;

/**
 * A name that holds a credential, catalogued or not (a plugin's own token, a
 * bento.yaml env entry): masked by `bento config`, refused in a ConfigMap by
 * `bento deploy`.
 */
export function isSecretName(name: string): boolean {
  return settingNamed(name)?.secret === true || SECRET_NAME.test(name);
}

/**
 * A text with the credentials of every URL in it replaced by `mask`: the user and password (`https://user:pass@host`),
 * and the query, since a signed URL's query is one (`?X-Amz-Signature=…`, `?sig=…`, `?token=…`).
 */
export function hideUrlCredentials(text: string, mask = '****'): string {
  return text
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s:@]+:[^/\s@]+@/gi, `$1${mask}@`)
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s?#"']*)\?[^\s#"']+/gi, `$1?${mask}`);
}

/** A value as it may be shown: secrets masked, credentials in a URL blanked. */
export function maskValue(name: string, value: string): string {
  if (isSecretName(name)) return value === '' ? '' : '****';
  return hideUrlCredentials(value);
}

/**
 * A configuration tree (bento.yaml's overrides, say) as it may be shown: every value under a secret's name masked,
 * and every string's URL credentials blanked, however deep.
 */
export function maskTree(value: unknown, name = ''): unknown {
  if (typeof value === 'string') return maskValue(name, value);
  if (Array.isArray(value)) return value.map((v) => maskTree(v, name));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskTree(v, k)]));
  return value;
}
