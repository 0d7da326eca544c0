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
import type { GuardRequest, InferenceTarget } from './inference-target.js';
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
    throw new InvalidInputError(
      `${HEADER_LENGTH} is ${JSON.stringify(declared)}; it must be the JSON header's byte length, at most the body's ${body.length}`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(body.subarray(0, length).toString('utf8'));
  } catch (err) {
    throw new InvalidJsonError(`the inference request is not valid JSON: ${(err as Error).message}`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header))
    throw new InvalidInputError('the inference request must be a JSON object');
  return { header: header, binary: body.subarray(length) };
}

function inputTensor(input: InferInput, binary: Buffer | undefined, spec: TensorSpec, maxElements: number): Tensor {
  if (typeof input.datatype !== 'string') throw new InvalidTensorError(`input "${spec.name}": "datatype" is missing`);
  const size = input.parameters?.binary_data_size;
  let t: Tensor;
  if (size !== undefined) {
    if (!binary || !Number.isInteger(size) || (size as number) !== binary.length) {
      throw new InvalidTensorError(
        `input "${spec.name}": binary_data_size is ${JSON.stringify(size)}, which does not match the ${binary?.length ?? 0} bytes left after the JSON header`,
      );
    }
    t = tensorFromBytes(input.datatype, input.shape, binary, `input "${spec.name}"`);
    if (t.dtype !== spec.dtype)
      throw new InvalidTensorError(
        `input "${spec.name}" is ${input.datatype}; the model takes ${toDatatype(spec.dtype)}`,
      );
  } else {
    t = castTensor(
      tensorFromJson(input.datatype, input.shape, input.data, `input "${spec.name}"`, maxElements),
      spec.dtype as DType,
    );
  }
  const want = dims(spec);
  if (t.shape.length !== want.length || want.some((d, i) => d !== -1 && d !== t.shape[i])) {
    throw new InvalidTensorError(
      `input "${spec.name}" has shape [${t.shape.join(', ')}]; the model takes [${want.join(', ')}] (-1: any)`,
    );
  }
  if (t.shape[0] === 0) throw new InvalidTensorError(`input "${spec.name}" has no items`);
  return t;
}

/** Every input the model takes, from the request's list (in any order); binary ones take their bytes in turn. */
function inputTensors(
  request: InferRequest,
  binary: Buffer,
  specs: TensorSpec[],
  maxElements: number,
): Record<string, Tensor> {
  const names = specs.map((s) => `"${s.name}"`).join(', ');
  if (!Array.isArray(request.inputs) || request.inputs.length !== specs.length) {
    throw new InvalidInputError(
      `"inputs" must list ${specs.length === 1 ? 'exactly one tensor' : `${specs.length} tensors`} (this model takes ${names})`,
    );
  }
  const feeds: Record<string, Tensor> = {};
  let offset = 0;
  for (const raw of request.inputs as InferInput[]) {
    const spec = specs.find((s) => s.name === raw?.name);
    if (!spec) throw new InvalidInputError(`unknown input ${JSON.stringify(raw?.name)}; this model takes ${names}`);
    if (feeds[spec.name]) throw new InvalidInputError(`input "${spec.name}" is given twice`);
    const size = raw.parameters?.binary_data_size;
    // Binary inputs follow the header in the order they are listed, each binary_data_size bytes long.
    const bytes =
      size === undefined
        ? undefined
        : binary.subarray(
            offset,
            offset + (Number.isInteger(size) && (size as number) >= 0 ? (size as number) : binary.length + 1),
          );
    if (bytes) offset += bytes.length;
    feeds[spec.name] = inputTensor(raw, bytes, spec, maxElements);
  }
  if (offset !== binary.length)
    throw new InvalidTensorError(`${binary.length - offset} bytes after the JSON header belong to no input`);
  return feeds;
}

export function installOpenInference(
  app: FastifyInstance,
  targets: InferenceTarget[],
  serverVersion: string,
  maxBodyBytes: number,
  guard: GuardRequest,
): void {
  const byName = new Map(targets.map((t) => [t.name, t]));
  const find = (req: FastifyRequest): InferenceTarget => {
    const { name, version } = req.params as { name: string; version?: string };
    const target = byName.get(name);
    if (!target)
      throw new NotFoundError(`no model "${name}"; this server has ${[...byName.keys()].join(', ') || 'none'}`);
    if (version !== undefined && version !== versionOf(target))
      throw new NotFoundError(`model "${name}" has no version "${version}" (it serves ${versionOf(target)})`);
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
        return {
          name: t.name,
          versions: [versionOf(t)],
          platform: t.model.backend,
          inputs: t.model.inputs.map(describe),
          outputs: t.model.outputs.map(describe),
        };
      });
      v2.get(`${prefix}/ready`, async (req) => {
        const t = find(req);
        return { name: t.name, ready: true };
      });
      v2.post(`${prefix}/infer`, (req: FastifyRequest, reply: FastifyReply) => guard(req, () => infer(req, reply)));
    }
  });

  async function infer(req: FastifyRequest, reply: FastifyReply) {
    const target = find(req);
    const { header, binary } = splitBody(req);
    const feeds = inputTensors(header, binary, target.model.inputs, Math.floor(maxBodyBytes / 2));
    const known = target.model.outputs.map((o) => o.name);
    const asked = header.outputs ?? [];
    for (const o of asked)
      if (!known.includes(o?.name as string))
        throw new InvalidInputError(
          `unknown output ${JSON.stringify(o?.name)}; this model's outputs are ${known.map((n) => `"${n}"`).join(', ')}`,
        );
    const results = await target.infer(feeds);
    const wanted =
      asked.length > 0
        ? asked.map((o) => ({ name: o.name as string, binary: o.parameters?.binary_data === true }))
        : known.map((name) => ({ name, binary: false }));
    const allBinary = header.parameters?.binary_data_output === true;
    const blobs: Buffer[] = [];
    const outputs = wanted.map(({ name, binary: asBinary }) => {
      const output = results[name];
      const base = { name, datatype: toDatatype(output.dtype), shape: [...output.shape] };
      if (!asBinary && !allBinary) return { ...base, data: jsonData(output) };
      const bytes = bytesOf(output);
      blobs.push(bytes);
      return { ...base, parameters: { binary_data_size: bytes.length } };
    });
    const response = {
      model_name: target.name,
      model_version: versionOf(target),
      ...(typeof header.id === 'string' ? { id: header.id } : {}),
      outputs,
    };
    if (blobs.length === 0) return response;
    const json = Buffer.from(JSON.stringify(response));
    reply.header(HEADER_LENGTH, String(json.length)).type('application/octet-stream');
    return Buffer.concat([json, ...blobs]);
  }
}
