/**
 * Every setting a bento-ts server reads, in one catalogue: what `bento config`
 * prints, what docs/configuration.md documents (a test holds them together),
 * and which values are secrets to mask. Settings are environment variables, as
 * in the seed guide; some also have a `bento serve` flag. Defaults here are
 * what the code does when a setting is unset, written for people.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  type Parse,
  isSet,
  nameList,
  numberList,
  oneOf,
  pixelCount,
  port,
  nonNegativeInt,
  positiveInt,
  positiveNumber,
  processCount,
  headerName,
  text,
} from './setting-parsers.js';

type Env = Readonly<Record<string, string | undefined>>;

export type SettingGroup =
  'server' | 'model' | 'convert' | 'limits' | 'runner' | 'logging' | 'mlflow' | 'storage' | 'tools';

export interface Setting<T = unknown> {
  name: string;
  /** Other names read for the same setting, lower in priority. */
  aliases?: string[];
  /** The `bento serve` flag that sets it, above the environment. */
  flag?: string;
  /** What the code does when it is unset, written for people (`bento config`, docs/configuration.md). */
  default: string;
  group: SettingGroup;
  /** Masked by `bento config` and never logged. */
  secret?: boolean;
  description: string;
  /**
   * How the framework reads it (its default included). Settings without one are read by their owner: a plugin
   * (MLFLOW_*, AWS_*) through its context's environment, or the example service.
   */
  read?: Parse<T>;
}

type Extra = Partial<Pick<Setting, 'aliases' | 'flag' | 'secret'>>;

function s<T>(
  group: SettingGroup,
  name: string,
  def: string,
  description: string,
  extra: Extra & { read: Parse<T> },
): Setting<T> & { read: Parse<T> };
function s(group: SettingGroup, name: string, def: string, description: string, extra?: Extra): Setting<never>;
function s(group: SettingGroup, name: string, def: string, description: string, extra: Extra = {}): Setting {
  return { name, group, default: def, description, ...extra };
}

const MiB = 1024 * 1024;

const CATALOGUE = {
  port: s('server', 'PORT', '3000', 'Listening port', { aliases: ['BENTO_PORT'], flag: '--port', read: port(3000) }),
  host: s('server', 'HOST', '0.0.0.0', 'Listening interface', { flag: '--host', read: text('0.0.0.0') }),
  workers: s(
    'server',
    'BENTO_WORKERS',
    'bento.yaml workers, else @service({ workers }), else 1',
    'HTTP worker processes sharing the port; cpu_count: one per core',
    { flag: '--workers', read: processCount },
  ),
  gracefulTimeoutSeconds: s(
    'server',
    'BENTO_GRACEFUL_TIMEOUT',
    '30',
    'Seconds allowed to finish in-flight requests on SIGTERM/SIGINT',
    { flag: '--graceful-timeout', read: positiveInt(30) },
  ),
  idleCloseGraceMs: s(
    'server',
    'BENTO_IDLE_CLOSE_GRACE_MS',
    '0',
    'On SIGTERM/SIGINT, ms to keep listening and answer each request with Connection: close before closing idle connections (bento deploy k8s sets 2000)',
    { read: nonNegativeInt(0) },
  ),
  configFile: s('server', 'BENTO_CONFIG', 'unset', "A config file (bento.yaml's serve-time keys) over bento.yaml", {
    flag: '--config',
    read: text(),
  }),
  metrics: s('server', 'BENTO_METRICS', 'on', 'off: no metrics and no /metrics route', {
    read: oneOf(['on', 'off'], 'on'),
  }),
  scoringTimeoutSeconds: s(
    'server',
    'MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT',
    '60',
    "Seconds a request to a model served with no service code may take (504 past it), as mlflow models serve's",
    { flag: '-t', read: positiveNumber(60) },
  ),
  modelUri: s(
    'model',
    'MODEL_URI',
    "the service's own default",
    'Any model URI: a path, file://, runs:/, models:/, s3://, https:// (with its plugin)',
    { read: text() },
  ),
  modelRunId: s('model', 'MODEL_RUN_ID', 'unset', 'Serve runs:/<id>/<MODEL_ARTIFACT_PATH>', { read: text() }),
  modelArtifactPath: s('model', 'MODEL_ARTIFACT_PATH', 'model', 'Artifact path of the model inside a run', {
    read: text('model'),
  }),
  modelName: s('model', 'MODEL_NAME', 'unset', 'Serve models:/<name>/<MODEL_VERSION> from the registry', {
    read: text(),
  }),
  modelVersion: s('model', 'MODEL_VERSION', 'latest', 'Registered model version, or @alias', { read: text('latest') }),
  modelInputShape: s(
    'model',
    'MODEL_INPUT_SHAPE',
    'unset',
    'Input shape of a model whose signature and input example say none (e.g. -1,3,32,32), for its conversion',
    { read: text() },
  ),
  modelClasses: s(
    'model',
    'MODEL_CLASSES',
    "the model's labels file or metadata, else 0..n-1",
    'Class names of an image classifier served with no service code (/predict_image), comma-separated',
    { read: nameList },
  ),
  modelMean: s(
    'model',
    'MODEL_MEAN',
    "the model's metadata, else ImageNet's",
    'Per-channel mean for image normalisation, comma-separated',
    { read: numberList },
  ),
  modelStd: s(
    'model',
    'MODEL_STD',
    "the model's metadata, else ImageNet's",
    'Per-channel standard deviation, comma-separated',
    { read: numberList },
  ),
  defaultModel: s(
    'model',
    'BENTO_DEFAULT_MODEL',
    'unset',
    "A packed model's alias (or URI) served when MODEL_URI is unset",
    { read: text() },
  ),
  exampleBackend: s(
    'model',
    'BACKEND',
    'onnx',
    "The example service's bundled model: onnx (model/) or tfjs (model-tfjs/)",
  ),
  tfjsEngine: s(
    'model',
    'BENTO_TFJS_ENGINE',
    'auto',
    'TF.js engine: auto (tfjs-node if installed, else wasm), node, wasm, cpu',
  ),
  modelPollSeconds: s(
    'model',
    'BENTO_MODEL_POLL_SECONDS',
    'unset (off)',
    'Follow a moving model URI (models:/name@alias, /latest) and swap new versions in',
    { read: positiveNumber() },
  ),
  modelVariants: s(
    'model',
    'BENTO_MODEL_VARIANTS',
    'unset',
    "JSON of the only runner's variants (canary, A/B, shadow)",
    {
      read: text(),
    },
  ),
  variantHeader: s(
    'model',
    'BENTO_MODEL_VARIANT_HEADER',
    'x-model-variant',
    'Request header that picks a variant by name',
    { read: headerName('x-model-variant') },
  ),
  convertPython: s(
    'convert',
    'BENTO_CONVERT_PYTHON',
    "unset: an environment made from the model's own requirements",
    'The Python that converts models (pytorch, sklearn) once, when they enter the store; never used to serve',
    { read: text() },
  ),
  convertOpset: s('convert', 'BENTO_CONVERT_OPSET', '17', 'ONNX opset converted models target', {
    read: positiveInt(17),
  }),
  convertSamples: s(
    'convert',
    'BENTO_CONVERT_SAMPLES',
    '8',
    "Samples a conversion's parity check runs (the input example's rows, then generated ones)",
    { read: positiveInt(8) },
  ),
  convertTolerance: s(
    'convert',
    'BENTO_CONVERT_TOLERANCE',
    '0.0001',
    'Largest absolute difference a converted model may answer with, against the original; labels must be equal',
    { read: positiveNumber(1e-4) },
  ),
  maxBodyBytes: s('limits', 'BENTO_MAX_BODY_BYTES', '20971520 (20 MiB)', 'Request body limit (413)', {
    read: positiveInt(20 * MiB),
  }),
  maxImagePixels: s(
    'limits',
    'BENTO_MAX_IMAGE_PIXELS',
    '25000000',
    "Width x height limit (an animated image's first frame, the one decoded), checked before decoding (413)",
    { read: positiveInt(25_000_000) },
  ),
  maxFiles: s('limits', 'BENTO_MAX_FILES', '8', 'Files in one multipart request', { read: positiveInt(8) }),
  maxFields: s('limits', 'BENTO_MAX_FIELDS', '16', 'Non-file fields in one multipart request', {
    read: positiveInt(16),
  }),
  maxHeaderBytes: s('limits', 'BENTO_MAX_HEADER_BYTES', '16384 (16 KiB)', 'Request header block (431)', {
    read: positiveInt(16 * 1024),
  }),
  keepAliveTimeoutMs: s(
    'limits',
    'BENTO_KEEP_ALIVE_TIMEOUT_MS',
    '72000',
    'How long an idle keep-alive connection stays open; keep it above the idle timeout of the load balancer or clients in front (60 s for most), so that side closes first',
    { read: positiveInt(72_000) },
  ),
  receiveTimeoutMs: s(
    'limits',
    'BENTO_RECEIVE_TIMEOUT_MS',
    '60000',
    "How long a request's headers and body may take to arrive (408 RECEIVE_TIMEOUT): the bound on a slow or stalled client",
    { read: positiveInt(60_000) },
  ),
  jsDecodeMaxPixels: s(
    'limits',
    'BENTO_JS_DECODE_MAX_PIXELS',
    '9216 (96x96)',
    "Images up to this size are resized (Pillow's resize, in JavaScript) on the event loop, and PNGs decoded there too; larger ones are decoded by sharp and resized on a worker thread",
    { read: pixelCount(96 * 96) },
  ),
  exampleMaxBatchImages: s(
    'limits',
    'MAX_BATCH_IMAGES',
    '32',
    'Images per /predict_batch request (the example service)',
  ),
  runnerWorkers: s(
    'runner',
    'BENTO_RUNNER_WORKERS',
    'half the cores, at least 1',
    'Worker threads per runner, each with its own model session',
    { flag: '--runner-workers', read: positiveInt() },
  ),
  runnerThreads: s(
    'runner',
    'BENTO_RUNNER_THREADS',
    "the runnable's threadsPerWorker, else 1",
    'Backend intra-op threads per worker',
    {
      read: positiveInt(),
    },
  ),
  runnerMaxQueue: s('runner', 'BENTO_RUNNER_MAX_QUEUE', '1024', 'Non-batchable calls waiting for a worker before 503', {
    read: positiveInt(1024),
  }),
  maxBatchSize: s(
    'runner',
    'BENTO_MAX_BATCH_SIZE',
    'the @method value',
    'Adaptive batching: most items per batch, for every batchable method',
    { read: positiveInt() },
  ),
  maxLatencyMs: s(
    'runner',
    'BENTO_MAX_LATENCY_MS',
    'the @method value',
    'Adaptive batching: longest wait for a batch to fill',
    {
      read: positiveInt(),
    },
  ),
  logLevel: s('logging', 'BENTO_LOG_LEVEL', 'info', 'debug, info, warn, error', {
    read: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], 'info'),
  }),
  logFormat: s('logging', 'BENTO_LOG_FORMAT', 'pretty on a terminal, else json', 'Log line format: pretty or json', {
    read: oneOf(['pretty', 'json']),
  }),
  accessLog: s('logging', 'BENTO_ACCESS_LOG', 'on', 'on (probes and scrapes left out), all, off', {
    read: oneOf(['on', 'all', 'off'], 'on'),
  }),
  debug: s(
    'logging',
    'BENTO_DEBUG',
    'unset',
    'Set: the CLI prints the stack trace of an error bento-ts did not raise on purpose',
    { read: isSet },
  ),
  noColor: s(
    'logging',
    'NO_COLOR',
    'unset',
    'Set: no ANSI colour anywhere (colour is only used on a terminal anyway)',
    {
      read: isSet,
    },
  ),
  forceColor: s('logging', 'FORCE_COLOR', 'unset', 'Colour even when not on a terminal (0 or false: never)', {
    read: (raw) => (raw === undefined ? undefined : raw !== '0' && raw !== 'false'),
  }),
  otlpEndpoint: s(
    'logging',
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    'unset (tracing off)',
    'OpenTelemetry tracing over OTLP/HTTP (also OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_TRACES_EXPORTER, OTEL_SERVICE_NAME)',
  ),
  mlflowTrackingUri: s(
    'mlflow',
    'MLFLOW_TRACKING_URI',
    'unset',
    'MLflow tracking server, for runs:/ and models:/ URIs',
  ),
  mlflowRegistryUri: s(
    'mlflow',
    'MLFLOW_REGISTRY_URI',
    'MLFLOW_TRACKING_URI',
    'Model registry server, when it is another one',
  ),
  mlflowUsername: s('mlflow', 'MLFLOW_TRACKING_USERNAME', 'unset', 'Basic auth user'),
  mlflowPassword: s('mlflow', 'MLFLOW_TRACKING_PASSWORD', 'unset', 'Basic auth password', { secret: true }),
  mlflowToken: s('mlflow', 'MLFLOW_TRACKING_TOKEN', 'unset', 'Bearer token', { secret: true }),
  mlflowInsecureTls: s(
    'mlflow',
    'MLFLOW_TRACKING_INSECURE_TLS',
    'false',
    "true: do not verify the server's TLS certificate",
  ),
  mlflowServerCert: s('mlflow', 'MLFLOW_TRACKING_SERVER_CERT_PATH', 'unset', 'CA bundle to verify the server with'),
  mlflowTimeout: s('mlflow', 'MLFLOW_HTTP_REQUEST_TIMEOUT', '120', 'Seconds per MLflow request'),
  mlflowRetries: s('mlflow', 'MLFLOW_HTTP_REQUEST_MAX_RETRIES', '5', 'Retries of a failed MLflow request'),
  mlflowBackoff: s(
    'mlflow',
    'MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR',
    '1',
    'Backoff between retries, in seconds, doubled each time',
  ),
  bentoHome: s('storage', 'BENTO_HOME', '~/bento', 'The local store of models and bentos', {
    read: (raw) => resolve(raw ?? join(homedir(), 'bento')),
  }),
  s3Endpoint: s('storage', 'MLFLOW_S3_ENDPOINT_URL', 'unset (AWS)', 'S3-compatible artifact store (MinIO...)'),
  s3IgnoreTls: s('storage', 'MLFLOW_S3_IGNORE_TLS', 'false', "true: do not verify the object store's TLS certificate"),
  awsAccessKeyId: s('storage', 'AWS_ACCESS_KEY_ID', 'unset', 'Object store access key', { secret: true }),
  awsSecretAccessKey: s('storage', 'AWS_SECRET_ACCESS_KEY', 'unset', 'Object store secret key', { secret: true }),
  awsSessionToken: s('storage', 'AWS_SESSION_TOKEN', 'unset', 'Object store session token', { secret: true }),
  awsRegion: s('storage', 'AWS_DEFAULT_REGION', 'us-east-1', 'Object store region (also AWS_REGION)', {
    aliases: ['AWS_REGION'],
  }),
  importMaxBytes: s(
    'storage',
    'BENTO_IMPORT_MAX_BYTES',
    '21474836480 (20 GiB)',
    'Largest total an archive may unpack to: bento import, and .tar.gz models of the https plugin',
    { read: positiveInt(20 * 1024 * MiB) },
  ),
  httpsMaxBytes: s(
    'storage',
    'BENTO_HTTPS_MAX_BYTES',
    '2147483648 (2 GiB)',
    '@bento-ts/plugin-https: largest download',
  ),
  httpsTimeout: s(
    'storage',
    'BENTO_HTTPS_TIMEOUT_SECONDS',
    '600',
    '@bento-ts/plugin-https: time allowed for one download',
  ),
  httpsRetries: s('storage', 'BENTO_HTTPS_RETRIES', '3', '@bento-ts/plugin-https: retries of a failed download'),
  containerizeBackend: s(
    'tools',
    'BENTO_CONTAINERIZE_BACKEND',
    'the first of docker, podman, buildah that works',
    'Image builder of bento containerize',
    { read: oneOf(['docker', 'podman', 'buildah']) },
  ),
  baseImage: s(
    'tools',
    'BENTO_BASE_IMAGE',
    "the bento's docker.baseImage",
    'Base image bento containerize builds from (a mirror, a stand-in); --build-arg BASE_IMAGE= wins',
    { read: text() },
  ),
};

/** Every setting, in the order `bento config` and docs/configuration.md list them. */
export const SETTINGS: readonly Setting[] = Object.values(CATALOGUE);

type Catalogue = typeof CATALOGUE;
type ReadKey = { [K in keyof Catalogue]: Catalogue[K] extends { read: Parse<unknown> } ? K : never }[keyof Catalogue];

/** The framework's settings, parsed, by name: what every module reads instead of the environment. */
export type Settings = { readonly [K in ReadKey]: Catalogue[K] extends { read: Parse<infer T> } ? T : never };

/** A setting's raw value: its name's, else its aliases' in order; blank counts as unset. */
function rawValue(env: Env, setting: Setting): string | undefined {
  for (const name of [setting.name, ...(setting.aliases ?? [])]) {
    const raw = env[name]?.trim();
    if (raw) return raw;
  }
  return undefined;
}

/**
 * The settings `env` gives. Each is parsed, with its default, the first time it is read, and kept: a command reads
 * only what it uses, so a bad value elsewhere does not stop it (`bento serve` checks them all, with checkSettings).
 */
export function readSettings(env: Env = process.env): Settings {
  const settings = {};
  for (const [key, setting] of Object.entries(CATALOGUE) as Array<[string, Setting]>) {
    const read = setting.read;
    if (!read) continue;
    let value: unknown;
    let parsed = false;
    Object.defineProperty(settings, key, {
      enumerable: true,
      get() {
        if (!parsed) {
          value = read(rawValue(env, setting), setting.name);
          parsed = true;
        }
        return value;
      },
    });
  }
  return Object.freeze(settings) as Settings;
}

/** Parses every setting now, so that a server refuses a bad one before it starts instead of when it is used. */
export function checkSettings(settings: Settings): void {
  for (const key of Object.keys(settings)) void settings[key as keyof Settings];
}

/** A setting's name, for messages: the catalogue's, so no module spells it on its own. */
export function settingName(key: keyof Catalogue): string {
  return CATALOGUE[key].name;
}

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
