/**
 * Tensors as the Open Inference Protocol writes them: JSON (`data` as a flat
 * or nested list, row-major) or, with the binary tensor data extension, raw
 * little-endian bytes after the JSON header.
 */
import { InvalidTensorError } from '../errors.js';
import { type DType, type Tensor, allocate, sizeOf, tensor } from '../tensor/tensor.js';

const TO_DTYPE: Record<string, DType> = {
  FP32: 'float32',
  FP64: 'float64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  BOOL: 'bool',
  BYTES: 'string',
};

export function toDType(datatype: string): DType {
  const dtype = TO_DTYPE[datatype];
  if (!dtype)
    throw new InvalidTensorError(
      `datatype ${datatype} is not supported; use one of ${Object.keys(TO_DTYPE).join(', ')}`,
    );
  return dtype;
}

export function toDatatype(dtype: DType | (string & {})): string {
  const found = Object.entries(TO_DTYPE).find(([, d]) => d === dtype);
  if (!found) throw new InvalidTensorError(`dtype ${dtype} has no Open Inference Protocol datatype`);
  return found[0];
}

function checkShape(shape: unknown, what: string): number[] {
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new InvalidTensorError(`${what}: "shape" must be a non-empty list of non-negative integers`);
  }
  return shape as number[];
}

/** A tensor from JSON `data` (flat or nested). */
export function tensorFromJson(
  datatype: string,
  shapeValue: unknown,
  data: unknown,
  what: string,
  maxElements: number,
): Tensor {
  const dtype = toDType(datatype);
  const shape = checkShape(shapeValue, what);
  const size = sizeOf(shape);
  if (size > maxElements)
    throw new InvalidTensorError(`${what}: ${size} elements is more than the ${maxElements} allowed`);
  const flat = Array.isArray(data) ? (data as unknown[]).flat(Infinity) : undefined;
  if (!flat) throw new InvalidTensorError(`${what}: "data" must be a list`);
  if (flat.length !== size)
    throw new InvalidTensorError(
      `${what}: "data" has ${flat.length} elements, shape [${shape.join(', ')}] needs ${size}`,
    );
  const out = allocate(dtype, shape);
  const big = dtype === 'int64';
  for (let i = 0; i < size; i++) {
    const v = flat[i];
    if (dtype === 'string') {
      if (typeof v !== 'string')
        throw new InvalidTensorError(`${what}: element ${i} is ${JSON.stringify(v)}, not a string (BYTES)`);
      (out.data as string[])[i] = v;
      continue;
    }
    if (
      dtype === 'bool' ? typeof v !== 'boolean' && typeof v !== 'number' : typeof v !== 'number' || !Number.isFinite(v)
    ) {
      throw new InvalidTensorError(
        `${what}: element ${i} is ${JSON.stringify(v)}, not a finite ${dtype === 'bool' ? 'boolean' : 'number'}`,
      );
    }
    (out.data as unknown as Array<number | bigint>)[i] = big ? BigInt(Math.trunc(v as number)) : Number(v);
  }
  return out;
}

/** BYTES elements as the binary extension writes them: each a 4-byte little-endian length, then its bytes. */
function stringsFromBytes(bytes: Buffer, size: number, what: string): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < bytes.length && out.length < size) {
    if (at + 4 > bytes.length) break;
    const length = bytes.readUInt32LE(at);
    if (at + 4 + length > bytes.length) break;
    out.push(bytes.toString('utf8', at + 4, at + 4 + length));
    at += 4 + length;
  }
  if (out.length !== size || at !== bytes.length)
    throw new InvalidTensorError(`${what}: the binary data does not hold ${size} length-prefixed BYTES elements`);
  return out;
}

/** A tensor from raw little-endian bytes (the binary extension). */
export function tensorFromBytes(datatype: string, shapeValue: unknown, bytes: Buffer, what: string): Tensor {
  const dtype = toDType(datatype);
  const shape = checkShape(shapeValue, what);
  if (dtype === 'string') return tensor('string', shape, stringsFromBytes(bytes, sizeOf(shape), what));
  const out = allocate<Exclude<DType, 'string'>>(dtype, shape);
  if (bytes.length !== out.data.byteLength)
    throw new InvalidTensorError(
      `${what}: ${bytes.length} bytes of binary data, shape [${shape.join(', ')}] of ${datatype} needs ${out.data.byteLength}`,
    );
  new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength).set(bytes);
  return out;
}

/** JSON values for a tensor's data (int64 as numbers, as Triton writes them; strings as they are). */
export function jsonData(t: Tensor): Array<number | boolean | string> {
  if (Array.isArray(t.data)) return t.data;
  return Array.from(t.data as ArrayLike<number | bigint>, (v) =>
    typeof v === 'bigint' ? Number(v) : t.dtype === 'bool' ? Boolean(v) : v,
  );
}

/** A tensor's data as the binary extension sends it (BYTES elements each prefixed with its length). */
export function bytesOf(t: Tensor): Buffer {
  if (!Array.isArray(t.data)) return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return Buffer.concat(
    t.data.flatMap((s) => {
      const text = Buffer.from(s, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(text.length);
      return [length, text];
    }),
  );
}

/** Converts a tensor to `dtype` (e.g. FP64 from a JSON client to a float32 model); integers and floats only. */
export function castTensor(t: Tensor, dtype: DType): Tensor {
  if (t.dtype === dtype) return t;
  if (dtype === 'string' || t.dtype === 'string')
    throw new InvalidTensorError(`cannot convert ${t.dtype} values to ${dtype}`);
  const big = dtype === 'int64';
  const out = allocate(dtype, [...t.shape]);
  const src = t.data as ArrayLike<number | bigint>;
  for (let i = 0; i < src.length; i++)
    (out.data as unknown as Array<number | bigint>)[i] = big ? BigInt(Math.trunc(Number(src[i]))) : Number(src[i]);
  return tensor(dtype, out.shape, out.data);
}
