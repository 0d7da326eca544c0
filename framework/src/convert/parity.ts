import type { ParityReport } from '../models/converted-model.js';
import type { ModelSession } from '../plugins/types.js';
import { slice } from '../tensor/concat.js';
import type { Tensor } from '../tensor/tensor.js';
import { sizeOf } from '../tensor/tensor.js';

function numbers(t: Tensor): ArrayLike<number> {
  return t.dtype === 'int64' ? Array.from(t.data as BigInt64Array, Number) : (t.data as ArrayLike<number>);
}

/** Row maxima (predicted classes) of a [N, C] float tensor. */
function argmaxRows(t: Tensor): number[] {
  const [rows, width] = [t.shape[0], sizeOf(t.shape.slice(1))];
  const data = numbers(t);
  return Array.from({ length: rows }, (_, r) => {
    let best = 0;
    for (let c = 1; c < width; c++) if (data[r * width + c] > data[r * width + best]) best = c;
    return best;
  });
}

interface OutputCheck {
  maxAbsDiff?: number;
  equal?: boolean;
  problem?: string;
}

function compare(name: string, got: Tensor | undefined, want: Tensor, tolerance: number): OutputCheck {
  if (!got) return { equal: false, problem: `output "${name}" is missing from the converted model` };
  if (sizeOf(got.shape) !== sizeOf(want.shape) || got.shape[0] !== want.shape[0]) {
    return {
      equal: false,
      problem: `output "${name}" has shape [${got.shape.join(', ')}], the original's is [${want.shape.join(', ')}]`,
    };
  }
  const floats = want.dtype === 'float32' || want.dtype === 'float64';
  if (!floats) {
    // Labels (integer or string classes) must be the same, whatever their type on each side.
    const a = Array.from(got.data as ArrayLike<unknown>, String);
    const b = Array.from(want.data as ArrayLike<unknown>, String);
    const at = a.findIndex((v, i) => v !== b[i]);
    return at < 0
      ? { equal: true }
      : {
          equal: false,
          problem: `output "${name}" differs at element ${at}: ${a[at]} where the original answers ${b[at]}`,
        };
  }
  const [x, y] = [numbers(got), numbers(want)];
  let maxAbsDiff = 0;
  let worst = 0;
  for (let i = 0; i < y.length; i++) {
    const [u, v] = [x[i], y[i]];
    if (Number.isNaN(u) && Number.isNaN(v)) continue;
    const diff = Number.isNaN(u) || Number.isNaN(v) ? Infinity : Math.abs(u - v);
    if (diff > maxAbsDiff) [maxAbsDiff, worst] = [diff, i];
  }
  if (maxAbsDiff > tolerance) {
    return {
      maxAbsDiff,
      problem: `output "${name}" differs by ${maxAbsDiff.toExponential(2)} at most (element ${worst}: ${x[worst]} where the original answers ${y[worst]}), more than ${tolerance}`,
    };
  }
  if (want.shape.length === 2 && want.shape[1] > 1) {
    const [a, b] = [argmaxRows(got), argmaxRows(want)];
    const row = a.findIndex((c, i) => c !== b[i]);
    if (row >= 0)
      return {
        maxAbsDiff,
        equal: false,
        problem: `output "${name}" picks class ${a[row]} for sample ${row}, where the original picks ${b[row]}`,
      };
    return { maxAbsDiff, equal: true };
  }
  return { maxAbsDiff };
}

/**
 * Runs the converted model on the inputs the original was run on, as one batch and then the first sample alone (so
 * a batch axis that did not stay free is caught), and compares every output with the original's. Returns the report
 * and the problems found; a conversion with any problem is not kept.
 */
export async function checkParity(
  session: ModelSession,
  reference: { inputs: Record<string, Tensor>; outputs: Record<string, Tensor> },
  tolerance: number,
): Promise<{ report: ParityReport; problems: string[] }> {
  const names = Object.keys(reference.outputs);
  const batch = await session.run(reference.inputs, names);
  const firstInputs = Object.fromEntries(Object.entries(reference.inputs).map(([k, t]) => [k, slice(t, 0, 0, 1)]));
  const single = await session.run(firstInputs, names);
  const outputs: ParityReport['outputs'] = {};
  const problems: string[] = [];
  for (const name of names) {
    const want = reference.outputs[name];
    const check = compare(name, batch[name], want, tolerance);
    const alone = compare(name, single[name], slice(want, 0, 0, 1), tolerance);
    if (check.problem) problems.push(check.problem);
    else if (alone.problem) problems.push(`run on one sample alone, ${alone.problem}`);
    const maxAbsDiff = Math.max(check.maxAbsDiff ?? 0, alone.maxAbsDiff ?? 0);
    outputs[name] =
      check.maxAbsDiff === undefined
        ? { equal: check.equal }
        : { maxAbsDiff, ...(check.equal === undefined ? {} : { equal: check.equal }) };
  }
  const diffs = Object.values(outputs).map((o) => o.maxAbsDiff ?? 0);
  const samples = Object.values(reference.inputs)[0]?.shape[0] ?? 0;
  return {
    report: {
      samples,
      tolerance,
      maxAbsDiff: Math.max(0, ...diffs),
      labelsEqual: Object.values(outputs).every((o) => o.equal !== false),
      outputs,
    },
    problems,
  };
}
