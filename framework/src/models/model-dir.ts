import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ModelFormatError, ModelNotFoundError } from '../errors.js';
import type { ModelMetadata } from '../plugins/types.js';
import { MLFLOW_FLAVOR_FORMAT, readConversion } from './converted-model.js';
import { signatureOf } from './signature.js';

/** What a model directory (or file) holds, as far as the framework can tell from its files. */
export interface ModelDirInfo {
  /** Directory holding the model. */
  path: string;
  format: string;
  /** Main file relative to `path`. */
  file?: string;
  metadata: ModelMetadata;
  /** The parsed MLmodel file, when the directory is an MLflow model. */
  mlmodel?: Record<string, unknown>;
}

/** Files whose lines (or JSON list) name the classes, looked for beside the model. */
export const LABEL_FILES = ['labels.txt', 'classes.txt', 'labels.json', 'classes.json'];

/** MLflow flavors whose files the framework can hand to a backend, keyed to our format names. */
const SERVABLE_FLAVORS: Record<string, string> = { onnx: 'onnx', tfjs: 'tfjs', tensorflow: 'tf-saved-model' };

const EXTENSION_FORMATS: Record<string, string> = { '.onnx': 'onnx' };

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function readLabels(dir: string): Promise<string[] | undefined> {
  for (const name of LABEL_FILES) {
    const file = join(dir, name);
    if (!(await exists(file))) continue;
    const text = await readFile(file, 'utf8');
    if (name.endsWith('.json')) {
      const parsed: unknown = JSON.parse(text);
      const list = Array.isArray(parsed) ? parsed : (parsed as { classes?: unknown }).classes;
      if (!Array.isArray(list) || !list.every((c) => typeof c === 'string'))
        throw new ModelFormatError(`${file} must hold a JSON list of class names`);
      return list;
    }
    return text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
  }
  return undefined;
}

async function readMlmodel(dir: string): Promise<Record<string, unknown> | undefined> {
  const file = join(dir, 'MLmodel');
  if (!(await exists(file))) return undefined;
  try {
    const parsed: unknown = parseYaml(await readFile(file, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not a mapping');
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new ModelFormatError(`${file} is not a valid MLmodel file: ${(err as Error).message}`);
  }
}

/**
 * Where MLflow's tensorflow flavor keeps a SavedModel a backend can load: a tf.Module's (and a TF 1 estimator's)
 * `saved_model_dir`, or a Keras model's `data/model` SavedModel (TF up to 2.15). A Keras model saved as a `.keras`
 * or `.h5` file (TF 2.16 and later) is no SavedModel: undefined, for a converter to take.
 */
async function tensorflowModelPath(conf: Record<string, unknown>, dir: string): Promise<string | undefined> {
  if (typeof conf.saved_model_dir === 'string') return conf.saved_model_dir;
  const data = typeof conf.data === 'string' ? conf.data : undefined;
  if (!data) return undefined;
  if (await exists(join(dir, data, 'model', 'saved_model.pb'))) return join(data, 'model');
  for (const ext of ['.keras', '.h5']) if (await exists(join(dir, data, `model${ext}`))) return undefined;
  return data;
}

/** The flavor an MLflow model is saved in, beside the generic python_function one. */
export function mainFlavor(mlmodel: Record<string, unknown>): string | undefined {
  const flavors = Object.keys(mlmodel.flavors ?? {});
  return flavors.find((f) => f !== 'python_function') ?? flavors[0];
}

async function formatFromMlmodel(
  mlmodel: Record<string, unknown>,
  dir: string,
): Promise<{ format: string; file?: string }> {
  const flavors = (mlmodel.flavors ?? {}) as Record<string, Record<string, unknown>>;
  for (const [flavor, format] of Object.entries(SERVABLE_FLAVORS)) {
    const conf = flavors[flavor];
    if (!conf) continue;
    if (flavor === 'tensorflow') {
      const file = await tensorflowModelPath(conf, dir);
      if (file === undefined) continue;
      return { format, file };
    }
    const file = [conf.data, conf.model_dir].find((v): v is string => typeof v === 'string');
    return { format, file };
  }
  // mlflow.pytorch.log_model(..., extra_files=["model.onnx"]) ships an ONNX export beside the pickle: served as it is.
  const extras = (flavors.pytorch?.extra_files ?? []) as Array<{ path?: unknown }>;
  const onnxExtra = extras
    .map((e) => e?.path)
    .find((p): p is string => typeof p === 'string' && p.toLowerCase().endsWith('.onnx'));
  if (onnxExtra) return { format: 'onnx', file: onnxExtra };
  // Anything else is served once converted (a converter plugin takes the flavor): the framework decides.
  const flavor = mainFlavor(mlmodel);
  if (!flavor) throw new ModelFormatError(`the MLflow model at ${dir} has no flavors in its MLmodel`);
  return { format: `${MLFLOW_FLAVOR_FORMAT}${flavor}` };
}

/**
 * Inspects a model on disk: an MLflow model directory (its MLmodel file decides
 * the format and carries metadata), a directory with one `.onnx` file, a TF.js
 * `model.json` directory, or a single model file. A directory holding a
 * conversion (`bento-converted/`) is served as converted, its record and what
 * serving needs in `metadata.conversion` and `metadata.serving`; an MLflow model
 * of a flavor no backend loads is reported as format `mlflow.<flavor>`, for a
 * converter to take. Class names come from a labels file beside the model
 * first, then from metadata.
 */
export async function inspectModelPath(target: string): Promise<ModelDirInfo> {
  let info;
  try {
    info = await stat(target);
  } catch {
    throw new ModelNotFoundError(`model path ${target} does not exist`);
  }
  let dir = target;
  let format: string | undefined;
  let file: string | undefined;
  let metadata: ModelMetadata = {};
  let mlmodel: Record<string, unknown> | undefined;
  if (info.isFile()) {
    dir = dirname(target);
    file = basename(target);
    format =
      EXTENSION_FORMATS[extname(target).toLowerCase()] ?? (basename(target) === 'model.json' ? 'tfjs' : undefined);
    if (!format)
      throw new ModelFormatError(`cannot tell the format of model file ${target} (known: .onnx, model.json)`);
  } else {
    mlmodel = await readMlmodel(dir);
    const conversion = await readConversion(dir);
    if (mlmodel) {
      metadata = { ...((mlmodel.metadata ?? {}) as ModelMetadata) };
      const signature = signatureOf(mlmodel);
      if (signature) metadata.signature = signature;
      const flavor = mainFlavor(mlmodel);
      if (flavor) metadata.flavor = flavor;
    }
    if (conversion) {
      [format, file] = [conversion.format, conversion.file];
      const { serving, ...record } = conversion;
      Object.assign(metadata, { conversion: record, ...(serving ? { serving } : {}) });
    } else if (mlmodel) {
      ({ format, file } = await formatFromMlmodel(mlmodel, dir));
    } else {
      const entries = await readdir(dir);
      const onnx = entries.filter((e) => e.toLowerCase().endsWith('.onnx'));
      if (onnx.length === 1) [format, file] = ['onnx', onnx[0]];
      else if (onnx.length > 1)
        throw new ModelFormatError(
          `${dir} holds several .onnx files (${onnx.join(', ')}); point MODEL_URI at one of them`,
        );
      else if (entries.includes('model.json')) [format, file] = ['tfjs', 'model.json'];
      else if (entries.includes('saved_model.pb')) format = 'tf-saved-model';
      else
        throw new ModelFormatError(
          `${dir} holds no model bento-ts can serve (an MLmodel file, a .onnx file, a TF.js model.json or a TensorFlow saved_model.pb)`,
        );
    }
  }
  const labels = await readLabels(dir);
  if (labels) metadata.classes = labels;
  return { path: dir, format, file, metadata, mlmodel };
}
