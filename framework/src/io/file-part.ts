import { MissingFieldError, UnsupportedMediaTypeError } from '../errors.js';
import type { FilePart, RawInput } from './descriptor.js';

/**
 * Finds the uploaded bytes of a file input: the multipart part named `field`,
 * or the whole body when it was sent raw with an accepted media type.
 */
export function pickFile(
  input: RawInput,
  field: string,
  accepts: (contentType: string) => boolean,
  what: string,
): FilePart {
  if (input.kind === 'multipart') {
    const part = input.files.find((f) => f.field === field);
    if (part) return part;
    const fieldNames = [...input.files.map((f) => f.field), ...Object.keys(input.fields)];
    const seen = fieldNames.length ? `; the request has ${fieldNames.map((n) => `"${n}"`).join(', ')}` : '';
    throw new MissingFieldError(`multipart field "${field}" with the ${what} file is missing${seen}`);
  }
  if (input.kind === 'binary' && accepts(input.contentType)) {
    return { field, contentType: input.contentType, data: input.data };
  }
  const got = input.kind === 'binary' ? input.contentType : input.kind === 'json' ? 'application/json' : 'no body';
  throw new UnsupportedMediaTypeError(
    `send the ${what} as multipart/form-data with a "${field}" field, or as the raw request body; got ${got}`,
  );
}
