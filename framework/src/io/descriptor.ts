/**
 * IO descriptors turn an HTTP request into the first argument of an `@api`
 * method, and describe that request for validation and OpenAPI.
 */
import type { Limits } from '../config/limits.js';

/** One uploaded file of a multipart request, read fully (within the configured limits). */
export interface FilePart {
  field: string;
  filename?: string;
  contentType: string;
  data: Buffer;
}

/** A request body as the server hands it to an input descriptor. */
export type RawInput =
  | { kind: 'json'; value: unknown }
  | { kind: 'multipart'; files: FilePart[]; fields: Record<string, string> }
  | { kind: 'binary'; contentType: string; data: Buffer }
  | { kind: 'none' };

/** A JSON Schema object (draft 7 / OpenAPI 3.0 subset). */
export type JsonSchema = Record<string, unknown>;

export interface InputDescriptor<T> {
  /** Descriptor kind, for docs and error messages. */
  readonly kind: string;
  /** Request media types accepted (`application/json`, `multipart/form-data`, `image/*`...). */
  readonly mediaTypes: string[];
  /** Request body schema per media type (OpenAPI `requestBody.content`). */
  requestSchema(): Record<string, JsonSchema>;
  /** Turns the request body into the API argument; throws a 4xx BentoError on bad input. */
  decode(input: RawInput, limits: Limits): Promise<T>;
}

/** The response schema of an API, for documentation. */
export interface OutputSpec {
  schema: JsonSchema;
  mediaType?: string;
}

/** Describes a JSON response by its schema. */
export function jsonOutput(schema: JsonSchema): OutputSpec {
  return { schema, mediaType: 'application/json' };
}
