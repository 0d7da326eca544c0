import { UnsupportedMediaTypeError } from '../errors.js';
import type { InputDescriptor, JsonSchema, RawInput } from './descriptor.js';

export interface JSONOptions {
  /** JSON Schema the body must satisfy; checked by the server before the method runs. */
  schema?: JsonSchema;
}

export interface JSONDescriptor<T> extends InputDescriptor<T> {
  readonly bodySchema?: JsonSchema;
}

export function requireJson(input: RawInput): unknown {
  if (input.kind !== 'json') {
    const got =
      input.kind === 'binary' ? input.contentType : input.kind === 'multipart' ? 'multipart/form-data' : 'no body';
    throw new UnsupportedMediaTypeError(`send a JSON body with Content-Type: application/json; got ${got}`);
  }
  return input.value;
}

/** A JSON body, validated against `schema`. */
export function JSONBody<T = unknown>(options: JSONOptions = {}): JSONDescriptor<T> {
  return {
    kind: 'json',
    mediaTypes: ['application/json'],
    bodySchema: options.schema,
    requestSchema() {
      return { 'application/json': options.schema ?? {} };
    },
    async decode(input: RawInput) {
      return requireJson(input) as T;
    },
  };
}
