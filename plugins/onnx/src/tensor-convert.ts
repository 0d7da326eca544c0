import ort from 'onnxruntime-node';
import { type DType, type Tensor, InvalidTensorError } from '@bento-ts/framework/plugin';

const ORT_TYPES: Record<DType, ort.Tensor.Type> = {
  float32: 'float32',
  float64: 'float64',
  int8: 'int8',
  uint8: 'uint8',
  int16: 'int16',
  uint16: 'uint16',
  int32: 'int32',
  uint32: 'uint32',
  int64: 'int64',
  bool: 'bool',
  string: 'string',
};

export function toOrt(t: Tensor): ort.Tensor {
  return new ort.Tensor(ORT_TYPES[t.dtype], t.data, t.shape);
}

/** Copies an ORT output into a bento tensor that owns its buffer (ORT may reuse its own). */
export function fromOrt(value: ort.Tensor): Tensor {
  const dtype = (Object.keys(ORT_TYPES) as DType[]).find((d) => ORT_TYPES[d] === value.type);
  if (!dtype) throw new InvalidTensorError(`model output of type ${value.type} is not supported`);
  const data = (value.data as unknown as { slice(): Tensor['data'] }).slice();
  return { dtype, shape: [...value.dims], data };
}
