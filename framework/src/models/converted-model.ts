import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelFormatError } from '../errors.js';

/** Where a converted model lives inside the model's own directory, beside the original's files. */
export const CONVERTED_DIR = 'bento-converted';
/** The record of a conversion, in CONVERTED_DIR. */
export const CONVERSION_FILE = 'conversion.json';
/** The format of an MLflow model no backend loads as it is: `mlflow.<flavor>` (`mlflow.pytorch`). */
export const MLFLOW_FLAVOR_FORMAT = 'mlflow.';

/** What the converted model was checked against: the original, run on the same samples. */
export interface ParityReport {
  samples: number;
  tolerance: number;
  /** The largest absolute difference over every float output. */
  maxAbsDiff: number;
  /** Whether every label (integer or string output, and the row maxima of 2-D float outputs) was equal. */
  labelsEqual: boolean;
  /** Per output: its largest difference, or whether it was equal. */
  outputs: Record<string, { maxAbsDiff?: number; equal?: boolean }>;
}

/** Where a served model came from when it was converted: kept in CONVERTED_DIR and in the store's manifest. */
export interface ConversionRecord {
  converter: string;
  /** The MLflow flavor converted, and the MLflow version that logged it. */
  from: { flavor: string; mlflowVersion?: string };
  format: string;
  /** The converted file, relative to the model's directory. */
  file: string;
  libraries: Record<string, string>;
  opset?: number;
  /** Where the input shapes came from. */
  inputsFrom?: string;
  parity: ParityReport;
  /** What serving needs that the file does not say (the converter's `serving`). */
  serving?: Record<string, unknown>;
  convertedAt: string;
  seconds: number;
}

/** The conversion recorded in a model directory, or undefined when it holds none. */
export async function readConversion(dir: string): Promise<ConversionRecord | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, CONVERTED_DIR, CONVERSION_FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as ConversionRecord;
  } catch (err) {
    throw new ModelFormatError(
      `${join(dir, CONVERTED_DIR, CONVERSION_FILE)} is damaged (${(err as Error).message}); remove ${join(dir, CONVERTED_DIR)} to convert again`,
    );
  }
}
