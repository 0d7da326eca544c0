/**
 * The OpenAPI 3 description of a service, generated from its `@api`
 * declarations: what `bento build` writes to `apis/openapi.yaml`.
 */
import type { JsonSchema } from '../io/descriptor.js';
import type { ApiDefinition } from '../sdk/decorators/api.js';
import type { ServiceDefinition } from '../sdk/decorators/service.js';

const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string', example: 'INVALID_IMAGE' }, message: { type: 'string' } },
    },
  },
};

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });

function operation(api: ApiDefinition): Record<string, unknown> {
  const responses: Record<string, unknown> = {
    '200': {
      description: 'Success',
      content: { [api.output?.mediaType ?? 'application/json']: { schema: api.output?.schema ?? {} } },
    },
  };
  if (api.input) {
    responses['400'] = errorResponse('Invalid input');
    responses['413'] = errorResponse('Body, image or batch too large');
    responses['415'] = errorResponse('Unsupported media type or image format');
  }
  if (api.traffic !== false) {
    responses['429'] = errorResponse('Too many concurrent requests');
    responses['503'] = errorResponse('Overloaded or not ready; retry after Retry-After seconds');
    responses['504'] = errorResponse('Timed out');
  }
  return {
    operationId: api.name,
    summary: api.summary ?? api.name,
    ...(api.description ? { description: api.description } : {}),
    tags: ['Service APIs'],
    ...(api.input
      ? {
          requestBody: {
            required: true,
            content: Object.fromEntries(Object.entries(api.input.requestSchema()).map(([type, schema]) => [type, { schema }])),
          },
        }
      : {}),
    responses,
  };
}

export function openApiDocument(definition: ServiceDefinition, apis: ApiDefinition[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const api of apis) {
    paths[api.route] = { ...paths[api.route], [api.method.toLowerCase()]: operation(api) };
  }
  return {
    openapi: '3.0.3',
    info: { title: definition.name, description: definition.description ?? `The ${definition.name} service, served by bento-ts`, version },
    paths,
    components: { schemas: { Error: ERROR_SCHEMA } },
  };
}
