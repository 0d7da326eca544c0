/**
 * What `/invocations` answers with, by the model's MLflow flavor, as MLflow's pyfunc wrappers shape it: a
 * scikit-learn model answers its predict_fn's values (labels, numbers, or probability rows); a PyTorch model its
 * output tensor, or a table's records ({"0": …, "1": …}) when it was sent a table; an ONNX model (served as it is)
 * every output by name (records of them, for a table); anything else its one output, or its outputs by name.
 */
import type { ModelInfo } from '../runner/model-info.js';
import type { Tensor } from '../tensor/tensor.js';
import { sizeOf } from '../tensor/tensor.js';
import { jsonData } from './tensor-codec.js';

/** A tensor as nested JSON lists (NaN and infinities become null: JSON has no such numbers). */
export function nested(t: Tensor): unknown {
  const flat = jsonData(t).map((v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
  const build = (offset: number, depth: number): unknown => {
    if (depth === t.shape.length) return flat[offset];
    const stride = sizeOf(t.shape.slice(depth + 1));
    return Array.from({ length: t.shape[depth] }, (_, i) => build(offset + i * stride, depth + 1));
  };
  return build(0, 0);
}

/** A [N, 1] (or [N]) tensor as a flat list; anything wider as rows. */
function values(t: Tensor): unknown {
  return t.shape.length === 2 && t.shape[1] === 1 ? nested({ ...t, shape: [t.shape[0]] }) : nested(t);
}

export function predictions(outputs: Record<string, Tensor>, model: ModelInfo, fromTable: boolean): unknown {
  const serving = model.metadata.serving as { flavor?: string; predict_output?: string } | undefined;
  const flavor = serving?.flavor ?? (model.metadata.flavor as string | undefined);
  const names = model.outputs.map((o) => o.name).filter((n) => n in outputs);
  if (flavor === 'sklearn') return values(outputs[serving?.predict_output ?? names[0]]);
  // PyTorch's pyfunc answers a DataFrame with a DataFrame; Keras's does when the model has no signature.
  const records =
    flavor === 'pytorch' || ((flavor === 'keras' || flavor === 'tensorflow') && !model.metadata.signature);
  if (records && fromTable) {
    // pyfunc returns pd.DataFrame(preds) for a DataFrame: columns 0..k-1, sent as records.
    const rows = nested(outputs[names[0]]) as unknown[][];
    return rows.map((row) => Object.fromEntries((Array.isArray(row) ? row : [row]).map((v, i) => [String(i), v])));
  }
  if (flavor === 'onnx' && fromTable) {
    // The ONNX wrapper answers a DataFrame with one column per output: records of each row's output values.
    const columns = names.map((n) => [n, nested(outputs[n]) as unknown[]] as const);
    return (columns[0]?.[1] ?? []).map((_, i) => Object.fromEntries(columns.map(([n, rows]) => [n, rows[i]])));
  }
  if (flavor === 'onnx' || names.length > 1) return Object.fromEntries(names.map((n) => [n, nested(outputs[n])]));
  return nested(outputs[names[0]]);
}
