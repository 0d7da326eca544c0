/**
 * The Open Inference Protocol (KServe V2, Triton's HTTP/REST API) over the
 * service's runners: health, server and model metadata, and `infer` with JSON
 * tensors or the binary tensor data extension. Each runner whose model has one
 * input and one output, called through a batchable method, is a model here.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidInputError, InvalidJsonError, InvalidTensorError, NotFoundError } from '../errors.js';
import type { TensorSpec } from '../plugins/types.js';
import type { DType, Tensor } from '../tensor/tensor.js';
import type { InferenceTarget } from './inference-target.js';
import { rawBodies } from './raw-body.js';
import { bytesOf, castTensor, jsonData, tensorFromBytes, tensorFromJson, toDatatype } from './tensor-codec.js';

const HEADER_LENGTH = 'inference-header-content-length';

interface InferInput {
  name?: unknown;
  shape?: unknown;
  datatype?: unknown;
  data?: unknown;
  parameters?: { binary_data_size?: unknown };
}

interface InferRequest {
  id?: unknown;
  inputs?: unknown;
  outputs?: Array<{ name?: unknown; parameters?: { binary_data?: unknown } }>;
  parameters?: { binary_data_output?: unknown };
}

const versionOf = (t: InferenceTarget) => t.model.version ?? '1';
const dims = (spec: TensorSpec) => spec.shape.map((d) => (typeof d === 'number' && d > 0 ? d : -1));
const describe = (spec: TensorSpec) => ({ name: spec.name, datatype: toDatatype(spec.dtype), shape: dims(spec) });

/** Splits a request body into its JSON header and the binary data after it. */
function splitBody(req: FastifyRequest): { header: InferRequest; binary: Buffer } {
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const declared = req.headers[HEADER_LENGTH];
  const length = declared === undefined ? body.length : Number(declared);
  if (!Number.isInteger(length) || length < 0 || length > body.length) {
    throw new InvalidInputError(`${HEADER_LENGTH} is ${JSON.stringify(declared)}; it must be the JSON header's byte length, at most the body's ${body.length}`);
  }
  let header: unknown;
  try {
    header = JSON.parse(body.subarray(0, length).toString('utf8'));
  } catch (err) {
    throw new InvalidJsonError(`the inference request is not valid JSON: ${(err as Error).message}`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw new InvalidInputError('the inference request must be a JSON object');
  return { header: header as InferRequest, binary: body.subarray(length) };
}

function inputTensor(request: InferRequest, binary: Buffer, spec: TensorSpec, maxElements: number): Tensor {
  if (!Array.isArray(request.inputs) || request.inputs.length !== 1) {
    throw new InvalidInputError(`"inputs" must list exactly one tensor (this model takes "${spec.name}")`);
  }
  const input = request.inputs[0] as InferInput;
  if (input.name !== spec.name) throw new InvalidInputError(`unknown input ${JSON.stringify(input.name)}; this model takes "${spec.name}"`);
  if (typeof input.datatype !== 'string') throw new InvalidTensorError(`input "${spec.name}": "datatype" is missing`);
  const size = input.parameters?.binary_data_size;
  let t: Tensor;
  if (size !== undefined) {
    if (!Number.isInteger(size) || (size as number) !== binary.length) {
      throw new InvalidTensorError(`input "${spec.name}": binary_data_size is ${JSON.stringify(size)} but ${binary.length} bytes follow the JSON header`);
    }
    t = tensorFromBytes(input.datatype, input.shape, binary, `input "${spec.name}"`);
    if (t.dtype !== spec.dtype) throw new InvalidTensorError(`input "${spec.name}" is ${input.datatype}; the model takes ${toDatatype(spec.dtype)}`);
  } else {
    t = castTensor(tensorFromJson(input.datatype, input.shape, input.data, `input "${spec.name}"`, maxElements), spec.dtype as DType);
  }
  const want = dims(spec);
  if (t.shape.length !== want.length || want.some((d, i) => d !== -1 && d !== t.shape[i])) {
    throw new InvalidTensorError(`input "${spec.name}" has shape [${t.shape.join(', ')}]; the model takes [${want.join(', ')}] (-1: any)`);
  }
  if (t.shape[0] === 0) throw new InvalidTensorError(`input "${spec.name}" has no items`);
  return t;
}

export function installOpenInference(app: FastifyInstance, targets: InferenceTarget[], serverVersion: string, maxBodyBytes: number): void {
  const byName = new Map(targets.map((t) => [t.name, t]));
  const find = (req: FastifyRequest): InferenceTarget => {
    const { name, version } = req.params as { name: string; version?: string };
    const target = byName.get(name);
    if (!target) throw new NotFoundError(`no model "${name}"; this server has ${[...byName.keys()].join(', ') || 'none'}`);
    if (version !== undefined && version !== versionOf(target)) throw new NotFoundError(`model "${name}" has no version "${version}" (it serves ${versionOf(target)})`);
    return target;
  };

  app.register(async (v2) => {
    // Every body arrives as bytes: JSON, or a JSON header followed by binary tensors.
    rawBodies(v2, maxBodyBytes);

    v2.get('/v2', async () => ({ name: 'bento-ts', version: serverVersion, extensions: ['binary_tensor_data'] }));
    v2.get('/v2/health/live', async () => ({ live: true }));
    v2.get('/v2/health/ready', async () => ({ ready: true }));
    for (const prefix of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
      v2.get(prefix, async (req) => {
        const t = find(req);
        return { name: t.name, versions: [versionOf(t)], platform: t.model.backend, inputs: t.model.inputs.map(describe), outputs: t.model.outputs.map(describe) };
      });
      v2.get(`${prefix}/ready`, async (req) => {
        const t = find(req);
        return { name: t.name, ready: true };
      });
      v2.post(`${prefix}/infer`, async (req: FastifyRequest, reply: FastifyReply) => {
        const target = find(req);
        const [inSpec, outSpec] = [target.model.inputs[0]!, target.model.outputs[0]!];
        const { header, binary } = splitBody(req);
        const input = inputTensor(header, binary, inSpec, Math.floor(maxBodyBytes / 2));
        const output = await target.infer(input);
        const requested = header.outputs?.find((o) => o.name === outSpec.name);
        if (header.outputs && header.outputs.length > 0 && !requested) {
          throw new InvalidInputError(`unknown output requested; this model's output is "${outSpec.name}"`);
        }
        const binaryOut = requested?.parameters?.binary_data === true || header.parameters?.binary_data_output === true;
        const base = { name: outSpec.name, datatype: toDatatype(output.dtype), shape: [...output.shape] };
        const response = {
          model_name: target.name,
          model_version: versionOf(target),
          ...(typeof header.id === 'string' ? { id: header.id } : {}),
          outputs: [binaryOut ? { ...base, parameters: { binary_data_size: output.data.byteLength } } : { ...base, data: jsonData(output) }],
        };
        if (!binaryOut) return response;
        const json = Buffer.from(JSON.stringify(response));
        reply.header(HEADER_LENGTH, String(json.length)).type('application/octet-stream');
        return Buffer.concat([json, bytesOf(output)]);
      });
    }
  });
}
