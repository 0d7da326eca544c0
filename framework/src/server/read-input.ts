import type { FastifyRequest } from 'fastify';
import { PayloadTooLargeError } from '../errors.js';
import type { FilePart, RawInput } from '../io/descriptor.js';

/**
 * Turns a request into the RawInput an input descriptor decodes. Multipart
 * bodies are read completely here, part by part, within the multipart limits
 * the server was configured with (too many parts or too large a file fail
 * before anything is buffered past the limit).
 */
export async function readInput(req: FastifyRequest, maxBodyBytes: number): Promise<RawInput> {
  if (req.isMultipart()) {
    const files: FilePart[] = [];
    const fields: Record<string, string> = {};
    // The multipart limits bound each file; the body limit bounds them all together.
    let total = 0;
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        const data = await part.toBuffer();
        total += data.length;
        files.push({ field: part.fieldname, filename: part.filename, contentType: part.mimetype, data });
      } else {
        const value = String(part.value);
        fields[part.fieldname] = value;
        total += Buffer.byteLength(value);
      }
      if (total > maxBodyBytes) throw new PayloadTooLargeError(`the multipart body exceeds ${maxBodyBytes} bytes`);
    }
    return { kind: 'multipart', files, fields };
  }
  const body = req.body;
  const contentType = (req.headers['content-type'] ?? 'application/octet-stream').split(';')[0].trim().toLowerCase();
  if (Buffer.isBuffer(body)) return { kind: 'binary', contentType, data: body };
  // fastify parses text/plain into a string: keep it as the bytes it was, so only JSON counts as JSON.
  if (typeof body === 'string' && contentType !== 'application/json')
    return { kind: 'binary', contentType, data: Buffer.from(body) };
  if (body === undefined || body === null) {
    return req.headers['content-type'] === undefined ? { kind: 'none' } : { kind: 'json', value: body };
  }
  return { kind: 'json', value: body };
}
