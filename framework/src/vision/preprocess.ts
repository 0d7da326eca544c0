import { readSettings, settingName } from '../config/settings.js';
import { numberList as parseNumberList } from '../config/setting-parsers.js';
import { ConfigError } from '../errors.js';
import { consoleLogger } from '../logging/console-logger.js';
import type { ModelMetadata, TensorSpec } from '../plugins/types.js';
import { type DeferredTensor, deferred, materialize } from '../tensor/deferred.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Pixels, ResizeFit, ResizeKernel } from './image-input.js';
import { earliestTiming, tagTiming } from '../request/request-timing.js';

/** How an image becomes a model input. Derived from the model; every field can be overridden. */
export interface PreprocessSpec {
  width: number;
  height: number;
  channels: 1 | 3;
  layout: 'NCHW' | 'NHWC';
  dtype: 'float32' | 'uint8';
  /** Pixels are divided by this before normalisation (255 maps 0..255 to 0..1). */
  scale: number;
  mean: number[];
  std: number[];
  fit: ResizeFit;
  kernel: ResizeKernel;
  /** The Pillow version the model was trained with (`preprocessing.pillow`): its resize is matched bit for bit. */
  pillow?: string;
}

/** torchvision's ImageNet statistics: the usual choice when a model says nothing. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];
const DEFAULT_SIZE = 224;

/** Environment variables overriding the normalisation (comma-separated numbers). */
export const PREPROCESS_ENV = { mean: settingName('modelMean'), std: settingName('modelStd') } as const;

function isFixed(dim: number | string | null | undefined): dim is number {
  return typeof dim === 'number' && dim > 0;
}

/** A metadata value that lists numbers: a YAML or JSON list, or a comma-separated string as settings take it. */
function numberList(value: unknown, what: string): number[] | undefined {
  if (value === undefined || value === null) return undefined;
  const list = typeof value === 'string' ? parseNumberList(value, what) : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((n) => typeof n === 'number' && Number.isFinite(n))) {
    throw new ConfigError(`${what} must be a list of numbers, got ${JSON.stringify(value)}`);
  }
  return list as number[];
}

function perChannel(values: number[], channels: number, what: string): number[] {
  if (values.length === channels) return values;
  if (values.length === 1) return Array(channels).fill(values[0]) as number[];
  if (channels === 1 && values.length === 3) return [values.reduce((a, b) => a + b, 0) / 3];
  throw new ConfigError(`${what} has ${values.length} values; the model takes ${channels} channels`);
}

/**
 * Works out the preprocessing of an image model: layout, size and channels from
 * its input tensor, the rest from its metadata's `preprocessing` block, then
 * from the environment (`MODEL_MEAN`, `MODEL_STD`).
 */
export function preprocessSpecFor(
  input: TensorSpec,
  metadata: ModelMetadata,
  env: Readonly<Record<string, string | undefined>> = {},
): PreprocessSpec {
  const pre = metadata.preprocessing ?? {};
  const shape = input.shape;
  if (shape.length !== 4) {
    throw new ConfigError(
      `model input "${input.name}" has rank ${shape.length}; an image model takes a rank-4 tensor (NCHW or NHWC)`,
    );
  }
  let layout: 'NCHW' | 'NHWC';
  if (pre.layout === 'NCHW' || pre.layout === 'NHWC') layout = pre.layout;
  else if (shape[1] === 1 || shape[1] === 3) layout = 'NCHW';
  else if (shape[3] === 1 || shape[3] === 3) layout = 'NHWC';
  else
    throw new ConfigError(
      `cannot tell the layout of model input "${input.name}" [${shape.join(', ')}]; set preprocessing.layout in its metadata`,
    );
  const [hDim, wDim, cDim] = layout === 'NCHW' ? [shape[2], shape[3], shape[1]] : [shape[1], shape[2], shape[3]];
  const size = numberList(pre.input_size, 'preprocessing.input_size');
  const height = isFixed(hDim) ? hDim : (size?.[0] ?? DEFAULT_SIZE);
  const width = isFixed(wDim) ? wDim : (size?.[1] ?? size?.[0] ?? DEFAULT_SIZE);
  const channels = isFixed(cDim) ? cDim : Number(pre.channels ?? 3);
  if (channels !== 1 && channels !== 3)
    throw new ConfigError(`model input "${input.name}" has ${channels} channels; image models take 1 or 3`);
  const dtype = input.dtype === 'uint8' ? 'uint8' : 'float32';
  if (dtype === 'float32' && input.dtype !== 'float32') {
    throw new ConfigError(
      `model input "${input.name}" is ${input.dtype}; image preprocessing produces float32 or uint8`,
    );
  }
  const settings = readSettings(env);
  const givenMean = settings.modelMean ?? numberList(pre.mean, 'preprocessing.mean');
  const givenStd = settings.modelStd ?? numberList(pre.std, 'preprocessing.std');
  if (dtype === 'float32' && (!givenMean || !givenStd)) {
    // A guess that is wrong skews every answer without an error: say so where the operator looks.
    consoleLogger('bento').warn(
      `model input "${input.name}": no normalisation ${givenMean ? 'std' : givenStd ? 'mean' : 'mean or std'} in the model's metadata (preprocessing) ` +
        `or in ${PREPROCESS_ENV.mean}/${PREPROCESS_ENV.std}: using ImageNet's, which is right only for models trained with it`,
    );
  }
  const mean = givenMean ?? IMAGENET_MEAN;
  const std = givenStd ?? IMAGENET_STD;
  if (std.some((s) => s === 0)) throw new ConfigError('preprocessing std values must be non-zero');
  const scale = pre.scale === undefined ? 255 : Number(pre.scale);
  if (!(scale > 0)) throw new ConfigError(`preprocessing.scale must be positive, got ${JSON.stringify(pre.scale)}`);
  const fit = (['fill', 'cover', 'contain'] as const).find((f) => f === pre.fit) ?? 'fill';
  // YAML reads 9.4 as a number: a version is taken as written, either way.
  const pillow = typeof pre.pillow === 'number' ? String(pre.pillow) : pre.pillow;
  if (pillow !== undefined && !(typeof pillow === 'string' && /^\d+(\.\d+)*$/.test(pillow)))
    throw new ConfigError(`preprocessing.pillow must be a Pillow version (e.g. 9.4.0), got ${JSON.stringify(pillow)}`);
  const kernel =
    pre.resize === 'nearest'
      ? 'nearest'
      : pre.resize === 'bicubic' || pre.resize === 'cubic'
        ? 'cubic'
        : pre.resize === 'lanczos'
          ? 'lanczos3'
          : 'linear';
  return {
    width,
    height,
    channels,
    layout,
    dtype,
    scale,
    mean: perChannel(mean, channels, 'mean'),
    std: perChannel(std, channels, 'std'),
    fit,
    kernel,
    ...(pillow === undefined ? {} : { pillow }),
  };
}

/**
 * Images (already at the spec's size and channels) as one batch tensor, not yet
 * written: the dispatcher writes it straight into its batch buffer, normalising
 * on the way: `(pixel / scale - mean) / std`, fused into one multiply-add.
 */
export function deferPixels(images: Pixels[], spec: PreprocessSpec): DeferredTensor<'float32' | 'uint8'> {
  for (const img of images) checkPixels(img, spec);
  return tagTiming(pixelTensor(images, spec), earliestTiming(images));
}

function pixelTensor(images: Pixels[], spec: PreprocessSpec): DeferredTensor<'float32' | 'uint8'> {
  const { width, height, channels, layout } = spec;
  const shape = layout === 'NCHW' ? [images.length, channels, height, width] : [images.length, height, width, channels];
  const plane = width * height;
  const size = plane * channels;
  if (spec.dtype === 'uint8') {
    return deferred('uint8', shape, (out, offset) => {
      images.forEach((img, b) => {
        const base = offset + b * size;
        if (layout === 'NHWC') out.set(img.data, base);
        else
          for (let i = 0; i < plane; i++)
            for (let c = 0; c < channels; c++) out[base + c * plane + i] = img.data[i * channels + c]!;
      });
    });
  }
  const mul = spec.std.map((s) => 1 / (spec.scale * s));
  const add = spec.mean.map((m, c) => -m / spec.std[c]);
  return deferred('float32', shape, (out, offset) => {
    images.forEach((img, b) => {
      const src = img.data;
      const base = offset + b * size;
      for (let c = 0; c < channels; c++) {
        const k = mul[c];
        const a = add[c];
        if (layout === 'NCHW') {
          const dst = base + c * plane;
          for (let i = 0; i < plane; i++) out[dst + i] = src[i * channels + c] * k + a;
        } else {
          for (let i = 0; i < plane; i++) out[base + i * channels + c] = src[i * channels + c] * k + a;
        }
      }
    });
  });
}

/** The same, written at once into a tensor of its own. */
export function pixelsToTensor(images: Pixels[], spec: PreprocessSpec): Tensor {
  return materialize(deferPixels(images, spec));
}

function checkPixels(img: Pixels, spec: PreprocessSpec): void {
  if (img.width !== spec.width || img.height !== spec.height || img.channels !== spec.channels) {
    throw new RangeError(
      `image is ${img.width}x${img.height}x${img.channels}, the model needs ${spec.width}x${spec.height}x${spec.channels}`,
    );
  }
}
