/**
 * The extension points of bento-ts. A plugin registers model sources (where
 * models come from), backends (what runs them), model converters (what turns a
 * model no backend loads into one that some backend does, once, before it is
 * served) and request hooks (checks every request passes, such as
 * authentication); the framework picks a source by the model URI's scheme, a
 * converter by the model's MLflow flavor and a backend by the model's format.
 * Input types are not plugins: an `InputDescriptor` (io/descriptor.ts) is passed
 * to `@api({ input })`.
 *
 * Plugins are loaded twice: once on the HTTP thread (model sources resolve
 * models there) and once in every runner worker thread (backends load and run
 * models there). `setup` must therefore be cheap and free of side effects other
 * than registering.
 */
import type { ModelMetadata, ResolvedModel, TensorSpec } from '../models/model.js';
import type { ConversionRecord } from '../models/converted-model.js';
import type { ModelStoreAccess } from '../models/store/model-store.js';
import type { Tensor } from '../tensor/tensor.js';

// The model vocabulary plugins speak, declared once in models/model.ts.
export type { ModelMetadata, ResolvedModel, TensorSpec };

export interface Logger {
  debug(msg: string, ...args: unknown[]): void;
  info(msg: string, ...args: unknown[]): void;
  warn(msg: string, ...args: unknown[]): void;
  error(msg: string, ...args: unknown[]): void;
}

export interface ModelSourceContext {
  /** Directory relative paths are resolved against (the service project's root). */
  cwd: string;
  /** Directory a source may cache downloads in. */
  cacheDir: string;
  /**
   * The local model store (`BENTO_HOME`). Sources that download keep models
   * here, so that each is fetched once and a server restarts without its source.
   */
  store: ModelStoreAccess;
  /** Whether to draw download progress (stderr is a terminal). */
  progress: boolean;
  env: Readonly<Record<string, string | undefined>>;
  logger: Logger;
  /**
   * Makes a downloaded model directory servable before the source keeps it: when no backend loads its format and a
   * converter takes its flavor, converts it inside `dir` (under `bento-converted/`) and checks the result against the
   * original (see ModelConverter). Returns the conversion's record for the manifest, or undefined when the model
   * needed none. Throws a BentoError when the model cannot be served; then nothing outside `dir` was written, and
   * the source should discard it. Call it on a staging directory before `store.commit`.
   */
  prepare(dir: string): Promise<ConversionRecord | undefined>;
}

/** Turns a model URI into a model on local disk. */
export interface ModelSource {
  name: string;
  /**
   * URI schemes handled, without the colon (`file`, `runs`, `models`, `s3`). The
   * empty string claims plain filesystem paths (no scheme).
   */
  schemes: string[];
  /**
   * Called once per model at server start, on the HTTP thread, before any worker
   * starts. May download; must return only once the files are complete on disk.
   * Throw a BentoError (ModelNotFoundError, ModelFormatError...) for problems
   * the user can act on.
   */
  resolve(uri: string, ctx: ModelSourceContext): Promise<ResolvedModel>;
}

export interface BackendOptions {
  /** Threads the backend may use for one call (intra-op parallelism). */
  threads: number;
  /** Requested device (`cpu`, `cuda:0`...); a backend falls back to CPU and reports what it used. */
  device: string;
  logger: Logger;
  /** Backend-specific options from the runnable config. */
  extra: Record<string, unknown>;
  /** The environment the model is served in: where a backend reads its own settings (e.g. BENTO_TFJS_ENGINE). */
  env: Readonly<Record<string, string | undefined>>;
}

/** A loaded model, owned by exactly one worker thread. */
export interface ModelSession {
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  /** Device actually in use, reported truthfully (e.g. `cpu`). */
  readonly device: string;
  /** Backend name and version, for model info and metrics. */
  readonly backend: string;
  /** Runs the model. May block its (worker) thread; never called on the HTTP thread. */
  run(feeds: Record<string, Tensor>, outputNames?: string[]): Promise<Record<string, Tensor>>;
  dispose(): Promise<void>;
}

/** Loads models of some formats into sessions. */
export interface Backend {
  name: string;
  /** Model formats this backend loads (`ResolvedModel.format`). */
  formats: string[];
  /** Called in a worker thread; each worker loads its own session. */
  load(model: ResolvedModel, options: BackendOptions): Promise<ModelSession>;
}

/** A column of a table a model takes (an MLflow column signature): its name and MLflow type (`double`, `long`, `string`...). */
export interface ColumnSpec {
  name: string;
  type: string;
}

/** A model a converter is asked to convert: an MLflow model directory whose flavor it takes. */
export interface ConversionInput {
  /** The model's directory (its MLmodel at the root). Read it; write only into `ConverterContext.outDir`. */
  path: string;
  /** The MLflow flavor being converted (one of the converter's `flavors`). */
  flavor: string;
  /** The parsed MLmodel file. */
  mlmodel: Record<string, unknown>;
  /**
   * The model's input tensors as far as they are known, from the MLflow signature, else the input example, else the
   * user (MODEL_INPUT_SHAPE); `inputsFrom` says which. Unset for a table (see `columns`) or when nothing tells.
   */
  inputs?: TensorSpec[];
  /** The table's columns, for a model that takes one (a column signature, or the columns of the input example). */
  columns?: ColumnSpec[];
  /** The signature's outputs, when it has tensor ones. */
  outputs?: TensorSpec[];
  inputsFrom?: 'signature' | 'input example' | 'MODEL_INPUT_SHAPE';
  /** Absolute path of the model's input example (MLflow's input_example.json), when it has one. */
  example?: string;
  /** The ONNX opset to target (BENTO_CONVERT_OPSET). */
  opset: number;
  /** How many samples the parity check should run (the example's rows, then generated ones). */
  samples: number;
}

/** What a converter may use while it runs. */
export interface ConverterContext {
  /** An empty directory to write the converted model into. It is kept, inside the model, once parity holds. */
  outDir: string;
  /**
   * A Python interpreter for this model: BENTO_CONVERT_PYTHON when set, else a virtualenv made once from the model's
   * own python_env.yaml / requirements.txt plus `packages` (pip requirement strings), cached in BENTO_HOME by their
   * hash, as `mlflow models serve --env-manager virtualenv` does. Resolves to the interpreter's path.
   */
  python(packages: string[]): Promise<string>;
  /** Reports a step of the conversion: drawn on a terminal, logged otherwise. */
  progress(step: string): void;
  env: Readonly<Record<string, string | undefined>>;
  logger: Logger;
}

/** A converted model, and what the original answered, so the framework can check the two agree. */
export interface ConversionResult {
  /** The format written (a backend must load it), e.g. `onnx`. */
  format: string;
  /** The main file, relative to `outDir`. */
  file: string;
  /** Library versions (`torch`, `skl2onnx`...) and the opset used: recorded in the manifest. */
  libraries: Record<string, string>;
  opset?: number;
  /**
   * Inputs the original model was run on, by the converted model's input names, and what it answered, by output
   * name. The framework runs the converted model on the same inputs: every float output within 1e-4
   * (BENTO_CONVERT_TOLERANCE) of the original's, every integer or string output (labels) equal, and the same row
   * maxima of 2-D float outputs (the predicted classes); else the conversion is refused.
   */
  reference: { inputs: Record<string, Tensor>; outputs: Record<string, Tensor> };
  /**
   * What serving needs to know that the converted file does not say (e.g. which output MLflow's pyfunc predict
   * answers with, the table's columns): kept in the model's metadata as `serving`.
   */
  serving?: Record<string, unknown>;
}

/**
 * Turns models of some MLflow flavors into a format a backend loads. Runs once, when a model enters the model store
 * (`bento models pull`, the first `bento serve`, `bento build`), on the HTTP thread's process before any worker
 * starts; never at request time. Conversion may run code the model carries (a pickle): the framework converts only
 * models whose URI the operator named. Throw a BentoError with a code for what the user can act on.
 */
export interface ModelConverter {
  name: string;
  /** MLflow flavors it converts (keys of MLmodel's `flavors`: `pytorch`, `sklearn`...). */
  flavors: string[];
  /** The format it produces (`onnx`). */
  produces: string;
  /**
   * Whether it reads the input shapes off the model itself when neither the signature, nor the input example, nor
   * the user gives them (scikit-learn's `n_features_in_`). Otherwise the framework refuses such a model first.
   */
  infersInputs?: boolean;
  convert(model: ConversionInput, ctx: ConverterContext): Promise<ConversionResult>;
}

/** What a request hook sees of a request: its head, before the body is read. */
export interface HookRequest {
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
  /** The route it matched (`/predict_image`, `/v2/models/:name/infer`), or undefined when none matched (a 404 to be). */
  readonly route?: string;
  /** Lower-cased header names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The client's address (the socket's; fastify's trustProxy is off). */
  readonly ip: string;
  readonly requestId: string;
}

/**
 * A check every request passes before any work is done for it: authentication,
 * allow lists, tenant headers. Runs on the HTTP thread (never in runner
 * workers), for every route including probes and /metrics (look at `route` to
 * exempt some), in the order plugins registered them, before the body is read.
 * Return to let the request through; throw a BentoError to refuse it with that
 * error's status and JSON body (`UnauthorizedError` answers 401, `ForbiddenError`
 * 403). Anything else thrown answers 500, and is a bug in the hook.
 */
export interface RequestHook {
  name: string;
  onRequest(request: HookRequest): void | Promise<void>;
}

export interface PluginRegistry {
  /** A source for some URI schemes; a scheme claimed twice fails at start. */
  addModelSource(source: ModelSource): void;
  /** A backend for some model formats; the first registered for a format is its default, others are chosen by name. */
  addBackend(backend: Backend): void;
  /** A converter for some MLflow flavors; a flavor claimed twice fails at start. */
  addConverter(converter: ModelConverter): void;
  /** A check run on every request before it is served (see RequestHook). */
  addRequestHook(hook: RequestHook): void;
}

export interface BentoPlugin {
  /** Unique name, shown in errors and in model info. */
  name: string;
  /** Registers the plugin's pieces. Runs on the HTTP thread and in every worker. */
  setup(registry: PluginRegistry): void | Promise<void>;
}

/**
 * Declares a plugin: `export default definePlugin({ name, setup(registry) { ... } })`.
 * It only gives the object its type, so an editor checks every hook against
 * this file; the registry checks the pieces again when the plugin is loaded.
 */
export function definePlugin(plugin: BentoPlugin): BentoPlugin {
  return plugin;
}
