/**
 * What a batchable runner method takes and returns: one tensor, or named tensors with the same number of items
 * along the batch axis (a model of several inputs or outputs: a table's columns, a classifier's label and
 * probabilities). Batching joins and cuts both the same way, name by name.
 */
import { concat, slice } from './concat.js';
import { type TensorInput, isTensorInput, materialize } from './deferred.js';
import type { Tensor } from './tensor.js';

/** Named tensors of one batch. */
export type TensorRecord = Record<string, Tensor>;
/** A batchable method's argument. */
export type BatchInput = TensorInput | Record<string, TensorInput>;
/** A batchable method's result. */
export type BatchOutput = Tensor | TensorRecord;

function entries(value: BatchInput): Array<[string, TensorInput]> | undefined {
  return isTensorInput(value) ? undefined : Object.entries(value);
}

export function isBatchInput(value: unknown): value is BatchInput {
  if (isTensorInput(value)) return true;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const values = Object.values(value);
  return values.length > 0 && values.every(isTensorInput);
}

/** The tensors of a batch value: itself, or its named ones. */
export function tensorsOf(value: BatchInput): TensorInput[] {
  return entries(value)?.map(([, t]) => t) ?? [value as TensorInput];
}

/** Items along `axis`: the same for every named tensor, else undefined. */
export function itemsOf(value: BatchInput, axis: number): number | undefined {
  const named = entries(value);
  if (!named) return (value as TensorInput).shape[axis];
  const counts = new Set(named.map(([, t]) => t.shape[axis]));
  return counts.size === 1 ? [...counts][0] : undefined;
}

export function materializeBatch(value: BatchInput): BatchOutput {
  const named = entries(value);
  return named ? Object.fromEntries(named.map(([k, t]) => [k, materialize(t)])) : materialize(value as TensorInput);
}

/** Items `[start, start + count)` along `axis`. */
export function sliceBatch(value: BatchOutput, axis: number, start: number, count: number): BatchOutput {
  const named = entries(value);
  return named
    ? Object.fromEntries(named.map(([k, t]) => [k, slice(t as Tensor, axis, start, count)]))
    : slice(value as Tensor, axis, start, count);
}

/** Joins batch values along `axis`; named ones must all name the same tensors. */
export function concatBatch(parts: BatchInput[], axis: number): BatchOutput {
  const first = parts[0];
  const named = entries(first);
  if (!named) return concat(parts as TensorInput[], axis);
  const keys = named.map(([k]) => k);
  for (const p of parts) {
    const theirs = Object.keys(p);
    if (theirs.length !== keys.length || theirs.some((k) => !keys.includes(k)))
      throw new RangeError(`cannot batch tensors named ${theirs.join(', ')} with ${keys.join(', ')}`);
  }
  return Object.fromEntries(
    keys.map((k) => [
      k,
      concat(
        parts.map((p) => (p as Record<string, TensorInput>)[k]),
        axis,
      ),
    ]),
  );
}

/** Cuts a batch's output into consecutive pieces of the given sizes along `axis`. */
export function splitBatch(value: BatchOutput, axis: number, sizes: number[]): BatchOutput[] {
  let start = 0;
  return sizes.map((n) => {
    const piece = sliceBatch(value, axis, start, n);
    start += n;
    return piece;
  });
}
