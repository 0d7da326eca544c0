/**
 * Reads a TF.js model from a directory (`model.json` and its weight shards) into the artifacts TF.js loads from
 * memory: no fetch, no file:// handler, so it works on every engine, tfjs-node or not.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import { ModelFormatError } from '@bento-ts/framework/plugin';

export type TfjsFormat = 'layers-model' | 'graph-model';

interface ModelJson {
  format?: string;
  modelTopology?: unknown;
  weightsManifest?: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  signature?: unknown;
  userDefinedMetadata?: Record<string, unknown>;
  modelInitializer?: unknown;
}

/** Which kind of TF.js model a model.json describes: its `format`, else the shape of its topology. */
function formatOf(json: ModelJson, file: string): TfjsFormat {
  if (json.format === 'layers-model' || json.format === 'graph-model') return json.format;
  const topology = json.modelTopology as { node?: unknown; class_name?: unknown; model_config?: unknown } | undefined;
  if (topology?.node) return 'graph-model';
  if (topology?.class_name || topology?.model_config) return 'layers-model';
  throw new ModelFormatError(
    `${file} is neither a TF.js layers model nor a graph model (format "${json.format ?? 'unset'}")`,
  );
}

export async function readModelFiles(file: string): Promise<{ format: TfjsFormat; artifacts: tf.io.ModelArtifacts }> {
  let json: ModelJson;
  try {
    json = JSON.parse(await readFile(file, 'utf8')) as ModelJson;
  } catch (err) {
    throw new ModelFormatError(`${file} is not a TF.js model.json: ${(err as Error).message}`);
  }
  if (!json.modelTopology) throw new ModelFormatError(`${file} has no modelTopology`);
  const format = formatOf(json, file);
  const dir = dirname(file);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const shards: Buffer[] = [];
  for (const group of json.weightsManifest ?? []) {
    specs.push(...group.weights);
    for (const path of group.paths) {
      const shard = resolve(dir, path);
      // A manifest names shards beside it; one pointing elsewhere would read files outside the model.
      if (relative(dir, shard).startsWith('..'))
        throw new ModelFormatError(`${file} names weight file ${path}, outside the model directory`);
      shards.push(
        await readFile(shard).catch((err: Error) =>
          Promise.reject(new ModelFormatError(`weight file ${path} of ${file} cannot be read: ${err.message}`)),
        ),
      );
    }
  }
  const all = Buffer.concat(shards);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const expected = specs.reduce(
    (n, s) => n + s.shape.reduce((a, b) => a * b, 1) * bytesPer(s.dtype, s.quantization),
    0,
  );
  if (expected !== weightData.byteLength) {
    throw new ModelFormatError(
      `the weight files of ${file} hold ${weightData.byteLength} bytes; its manifest describes ${expected}`,
    );
  }
  return {
    format,
    artifacts: {
      modelTopology: json.modelTopology,
      weightSpecs: specs,
      weightData,
      format: json.format,
      signature: json.signature as tf.io.ModelArtifacts['signature'],
      userDefinedMetadata: json.userDefinedMetadata as tf.io.ModelArtifacts['userDefinedMetadata'],
      modelInitializer: json.modelInitializer as tf.io.ModelArtifacts['modelInitializer'],
    },
  };
}

function bytesPer(dtype: string, quantization?: { dtype?: string }): number {
  const q = quantization?.dtype;
  if (q === 'uint8') return 1;
  if (q === 'uint16' || q === 'float16') return 2;
  return dtype === 'bool' ? 1 : 4;
}

export const MODEL_JSON = 'model.json';
export const modelJsonIn = (dir: string, file?: string) => join(dir, file ?? MODEL_JSON);
