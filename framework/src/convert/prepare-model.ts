/**
 * Making a model servable before it is stored: a model whose format some backend loads is kept as it is; an MLflow
 * model of another flavor is converted, once, by the converter plugin that takes its flavor, checked against the
 * original on the same samples, and kept inside the model's directory (bento-converted/) with its record. What
 * fails any of this is refused, and nothing of it is kept.
 */
import { readSettings } from '../config/settings.js';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BentoError, ConversionFailedError, ModelNotConvertibleError, ParityError } from '../errors.js';
import { stepReporter } from '../logging/step-reporter.js';
import {
  CONVERSION_FILE,
  CONVERTED_DIR,
  type ConversionRecord,
  MLFLOW_FLAVOR_FORMAT,
} from '../models/converted-model.js';
import { inspectModelPath } from '../models/model-dir.js';
import type { Registry } from '../plugins/registry.js';
import type { Logger } from '../plugins/types.js';
import { knownInputs, requireInputs } from './model-inputs.js';
import { checkParity } from './parity.js';
import { conversionPython } from './python-env.js';

/** Flavors a backend loads as they are, for messages. */
const SERVED_AS_IS = ['onnx', 'tfjs', 'tensorflow (SavedModel)'];

export interface PrepareContext {
  registry: Registry;
  env: Readonly<Record<string, string | undefined>>;
  logger: Logger;
  /** Draw progress (stderr is a terminal). */
  progress: boolean;
  /** BENTO_HOME: the conversions' Python environments are kept in its python-envs/. */
  home: string;
  /** The model's URI, for messages. */
  label: string;
}

/** What bento-ts can serve, for every refusal: the flavors loaded as they are, and those a converter takes. */
function servable(registry: Registry): string {
  const converted = registry.listConverters().flatMap((c) => c.flavors);
  return `bento-ts serves MLflow models of the flavors ${SERVED_AS_IS.join(', ')}${converted.length ? `, and converted once: ${converted.join(', ')}` : ''}`;
}

/** A converter's refusals of the model itself (not of the machine): they say what can be served, as ours do. */
const MODEL_REFUSALS = new Set(['MODEL_UNPICKLE_FAILED', 'MODEL_UNTRUSTED_TYPES', 'ONNX_UNSUPPORTED_OPERATOR']);

/** Why a model of `flavor` cannot be served, and what can be. */
function notConvertible(
  label: string,
  flavor: string,
  mlmodel: Record<string, unknown> | undefined,
  registry: Registry,
): BentoError {
  const converted = registry.listConverters().flatMap((c) => c.flavors);
  const can = servable(registry);
  const pyfunc = ((mlmodel?.flavors ?? {}) as Record<string, Record<string, unknown>>).python_function;
  if (
    flavor === 'python_function' &&
    (pyfunc?.python_model !== undefined || pyfunc?.loader_module === 'mlflow.pyfunc.model')
  ) {
    return new ModelNotConvertibleError(
      `${label} is a custom Python model (mlflow.pyfunc.PythonModel): its predict is Python code, which bento-ts does not run; ${can}`,
    );
  }
  const hint =
    ['pytorch', 'sklearn'].includes(flavor) && !converted.includes(flavor)
      ? ' Install @bento-ts/plugin-converters, which converts it.'
      : '';
  return new ModelNotConvertibleError(
    `${label} is an MLflow ${flavor} model, which no converter takes; ${can}.${hint}`,
  );
}

/**
 * Makes the model in `dir` servable (see the module's comment). Returns the conversion's record, or undefined when
 * the model is served as it is (or was converted before: its record is read back, not made again).
 */
export async function prepareModelDir(dir: string, ctx: PrepareContext): Promise<ConversionRecord | undefined> {
  const info = await inspectModelPath(dir);
  if (ctx.registry.loads(info.format)) return info.metadata.conversion as ConversionRecord | undefined;
  if (!info.format.startsWith(MLFLOW_FLAVOR_FORMAT) || !info.mlmodel) {
    ctx.registry.backendFor(info.format);
    return undefined;
  }
  const flavor = info.format.slice(MLFLOW_FLAVOR_FORMAT.length);
  const converter = ctx.registry.converterFor(flavor);
  if (!converter) throw notConvertible(ctx.label, flavor, info.mlmodel, ctx.registry);
  const known = knownInputs(dir, info.mlmodel, ctx.env);
  if (!converter.infersInputs) requireInputs(known, ctx.label);
  const reporter = stepReporter(`converting ${ctx.label} (${flavor} → ${converter.produces})`, {
    terminal: ctx.progress,
    logger: ctx.logger,
  });
  const outDir = join(dir, `${CONVERTED_DIR}.tmp-${process.pid}`);
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const started = performance.now();
  const settings = readSettings(ctx.env);
  try {
    const result = await converter.convert(
      {
        path: dir,
        flavor,
        mlmodel: info.mlmodel,
        ...known,
        opset: settings.convertOpset,
        samples: settings.convertSamples,
      },
      {
        outDir,
        python: (packages) =>
          conversionPython(dir, packages, { home: ctx.home, env: ctx.env, step: (t) => reporter.step(t) }),
        progress: (t) => reporter.step(t),
        env: ctx.env,
        logger: ctx.logger,
      },
    );
    reporter.step(`checking the ${result.format} model against the original`);
    const tolerance = settings.convertTolerance;
    const session = await ctx.registry
      .backendFor(result.format)
      .load(
        { uri: ctx.label, source: 'conversion', path: outDir, format: result.format, file: result.file, metadata: {} },
        { threads: 1, device: 'cpu', logger: ctx.logger, extra: {}, env: ctx.env },
      );
    let parity;
    try {
      parity = await checkParity(session, result.reference, tolerance);
    } finally {
      await session.dispose();
    }
    if (parity.problems.length > 0) {
      throw new ParityError(
        `${ctx.label}: the ${flavor} model converted to ${result.format} does not answer as the original does on ${parity.report.samples} samples: ${parity.problems.join('; ')}. It was not kept`,
      );
    }
    const record: ConversionRecord = {
      converter: converter.name,
      from: {
        flavor,
        ...(typeof info.mlmodel.mlflow_version === 'string' ? { mlflowVersion: info.mlmodel.mlflow_version } : {}),
      },
      format: result.format,
      file: `${CONVERTED_DIR}/${result.file}`,
      libraries: result.libraries,
      ...(result.opset === undefined ? {} : { opset: result.opset }),
      ...(known.inputsFrom ? { inputsFrom: known.inputsFrom } : {}),
      parity: parity.report,
      ...(result.serving ? { serving: result.serving } : {}),
      convertedAt: new Date().toISOString(),
      seconds: Math.round((performance.now() - started) / 100) / 10,
    };
    await writeFile(join(outDir, CONVERSION_FILE), JSON.stringify(record, null, 2));
    await rm(join(dir, CONVERTED_DIR), { recursive: true, force: true });
    await rename(outDir, join(dir, CONVERTED_DIR));
    reporter.done(
      `done; max |difference| from the original ${parity.report.maxAbsDiff.toExponential(1)} on ${parity.report.samples} samples, labels equal`,
    );
    return record;
  } catch (err) {
    await rm(outDir, { recursive: true, force: true }).catch(() => undefined);
    reporter.done('failed');
    if (err instanceof BentoError && MODEL_REFUSALS.has(err.code))
      throw new BentoError(err.code, `${err.message.replace(/\.?$/, '')}; ${servable(ctx.registry)}`, err.statusCode, {
        cause: err,
      });
    throw err instanceof BentoError
      ? err
      : new ConversionFailedError(`${ctx.label}: converting the ${flavor} model failed: ${(err as Error).message}`, {
          cause: err,
        });
  }
}
