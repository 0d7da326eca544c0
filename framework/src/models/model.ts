/**
 * The vocabulary of models, on the ground floor: what a model source hands over (ResolvedModel), what the framework
 * knows of a model beyond its weights (ModelMetadata), its tensors' names, types and shapes (TensorSpec), and what
 * the HTTP side knows once the workers loaded it (ModelInfo). Everything else (plugins, the model store, runners,
 * the server) imports these from here; this module imports nothing but the tensor types.
 */
import type { DType } from '../tensor/tensor.js';

/** What the framework knows about a model beyond its weights. Every field is optional. */
export interface ModelMetadata {
  /** Class names in output order. */
  classes?: string[];
  /** `logits` (the server applies softmax) or `probabilities`; unset means "detect". */
  output_kind?: 'logits' | 'probabilities';
  /** How to turn an image into the model's input; see `PreprocessSpec` in the vision module. */
  preprocessing?: Record<string, unknown>;
  /** Training parameters (MLflow params are strings). */
  params?: Record<string, string>;
  /** Training metrics. */
  metrics?: Record<string, number>;
  [key: string]: unknown;
}

/** A model made available on local disk by a ModelSource. Must be structured-clonable: it is posted to workers. */
export interface ResolvedModel {
  /** The URI as the user gave it. */
  uri: string;
  /** The fully resolved URI (e.g. a registry alias turned into a version), when it differs. */
  resolvedUri?: string;
  /** Name of the ModelSource that resolved it. */
  source: string;
  /** Local directory holding the model's files. */
  path: string;
  /** Model format; selects the backend (e.g. `onnx`, `tfjs`). */
  format: string;
  /** Main model file, relative to `path`, when the format has one. */
  file?: string;
  name?: string;
  version?: string;
  runId?: string;
  metadata: ModelMetadata;
}

export interface TensorSpec {
  name: string;
  dtype: DType | (string & {});
  /** Dimensions; a string or null is a free (symbolic) dimension such as the batch axis. */
  shape: Array<number | string | null>;
}

/** How a model's warm-up went: it ran (and took `ms`), it failed, or it could not be tried. */
export type WarmUp = { ran: true; ms: number } | { ran: false; failed?: string; skipped?: string };

/** What the HTTP side knows of a model once the workers have loaded it. */
export interface ModelInfo extends ResolvedModel {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  device: string;
  backend: string;
  /** How its warm-up inference went in the first worker. */
  warmUp: WarmUp;
}
