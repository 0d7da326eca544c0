import { ModelFormatError } from '../errors.js';
import type { ModelMetadata, TensorSpec } from '../plugins/types.js';

/** The tensor parts of an MLflow model signature (`signature.inputs` / `outputs` in MLmodel). */
export interface ModelSignature {
  inputs?: TensorSpec[];
  outputs?: TensorSpec[];
}

function tensorSpecs(raw: unknown, where: string): TensorSpec[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  let list: unknown;
  try {
    // MLmodel keeps each side as a JSON string inside the YAML.
    list = typeof raw === 'string' ? JSON.parse(raw) : raw;
  } catch (err) {
    throw new ModelFormatError(`MLmodel signature.${where} is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(list)) throw new ModelFormatError(`MLmodel signature.${where} must be a list`);
  // Column (DataFrame) signatures say nothing about tensors; only tensor specs are checked.
  if (!list.every((s: { type?: string }) => s?.type === 'tensor')) return undefined;
  return list.map((s: { name?: string; 'tensor-spec'?: { dtype?: string; shape?: number[] } }, i) => ({
    name: s.name ?? `input-${i}`,
    dtype: s['tensor-spec']?.dtype ?? 'float32',
    shape: (s['tensor-spec']?.shape ?? []).map((d) => (d === -1 ? null : d)),
  }));
}

export function signatureOf(mlmodel: Record<string, unknown>): ModelSignature | undefined {
  const sig = mlmodel.signature as { inputs?: unknown; outputs?: unknown } | undefined;
  if (!sig) return undefined;
  const inputs = tensorSpecs(sig.inputs, 'inputs');
  const outputs = tensorSpecs(sig.outputs, 'outputs');
  return inputs || outputs ? { inputs, outputs } : undefined;
}

function mismatch(declared: TensorSpec, actual: TensorSpec): string | undefined {
  if (declared.dtype !== actual.dtype) return `dtype ${actual.dtype}, the signature says ${declared.dtype}`;
  if (declared.shape.length !== actual.shape.length)
    return `rank ${actual.shape.length} [${actual.shape.join(', ')}], the signature says [${declared.shape.join(', ')}]`;
  for (let i = 0; i < declared.shape.length; i++) {
    const d = declared.shape[i];
    const a = actual.shape[i];
    if (typeof d === 'number' && typeof a === 'number' && d !== a)
      return `shape [${actual.shape.join(', ')}], the signature says [${declared.shape.map((x) => x ?? -1).join(', ')}]`;
  }
  return undefined;
}

/**
 * Checks a loaded model against the signature it was logged with: a model whose
 * inputs or outputs disagree with it (wrong file, wrong export) is refused at
 * start rather than failing on the first request.
 */
export function checkSignature(
  metadata: ModelMetadata,
  model: { inputs: TensorSpec[]; outputs: TensorSpec[] },
  what: string,
): void {
  const signature = metadata.signature as ModelSignature | undefined;
  for (const side of ['inputs', 'outputs'] as const) {
    const declared = signature?.[side];
    if (!declared) continue;
    declared.forEach((spec, i) => {
      const actual = model[side].find((t) => t.name === spec.name) ?? model[side][i];
      if (!actual)
        throw new ModelFormatError(
          `${what}: the MLmodel signature declares ${side.slice(0, -1)} "${spec.name}", which the model does not have`,
        );
      const problem = mismatch(spec, actual);
      if (problem) throw new ModelFormatError(`${what}: ${side.slice(0, -1)} "${actual.name}" has ${problem}`);
    });
  }
}
