import type { FilePart, InputDescriptor, JsonSchema, RawInput } from './descriptor.js';
import { pickFile } from './file-part.js';

export interface FileOptions {
  /** Multipart field holding the file. Default `file`. */
  field?: string;
  /** Accepted media types for a raw body (`text/csv`, `audio/*`); default any. */
  mediaTypes?: string[];
}

/** Any uploaded file, as bytes with its name and media type. */
export function File(options: FileOptions = {}): InputDescriptor<FilePart> {
  const field = options.field ?? 'file';
  const rawTypes = options.mediaTypes ?? ['application/octet-stream'];
  // `audio/*` takes every audio subtype.
  const accepts = (t: string) =>
    options.mediaTypes === undefined ||
    rawTypes.some((m) => m === t || (m.endsWith('/*') && t.startsWith(m.slice(0, -1))));
  return {
    kind: 'file',
    mediaTypes: ['multipart/form-data', ...rawTypes],
    requestSchema() {
      const binary = { type: 'string', format: 'binary' };
      return Object.fromEntries<JsonSchema>([
        ['multipart/form-data', { type: 'object', required: [field], properties: { [field]: binary } }],
        ...rawTypes.map((t): [string, JsonSchema] => [t, binary]),
      ]);
    },
    async decode(input: RawInput) {
      return pickFile(input, field, accepts, 'uploaded');
    },
  };
}
