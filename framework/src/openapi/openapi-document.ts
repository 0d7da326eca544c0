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

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

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
            content: Object.fromEntries(
              Object.entries(api.input.requestSchema()).map(([type, schema]) => [type, { schema }]),
            ),
          },
        }
      : {}),
    responses,
  };
}

const STATUS_SCHEMA: JsonSchema = { type: 'object', properties: { status: { type: 'string' } } };

/** The routes every bento-ts server adds beside the service's APIs. */
const INFRASTRUCTURE: Record<string, Record<string, unknown>> = {
  '/livez': {
    get: {
      operationId: 'livez',
      summary: 'Liveness: the process answers',
      tags: ['Infrastructure'],
      responses: { '200': { description: 'Live', content: { 'application/json': { schema: STATUS_SCHEMA } } } },
    },
  },
  '/readyz': {
    get: {
      operationId: 'readyz',
      summary: 'Readiness: every model loaded and warmed up, not shutting down',
      tags: ['Infrastructure'],
      responses: {
        '200': { description: 'Ready', content: { 'application/json': { schema: STATUS_SCHEMA } } },
        '503': errorResponse('Shutting down'),
      },
    },
  },
  '/healthz': {
    get: {
      operationId: 'healthz',
      summary: 'Live and ready',
      tags: ['Infrastructure'],
      responses: {
        '200': { description: 'Healthy', content: { 'application/json': { schema: STATUS_SCHEMA } } },
        '503': errorResponse('Shutting down'),
      },
    },
  },
  '/metrics': {
    get: {
      operationId: 'metrics',
      summary: 'Prometheus metrics',
      tags: ['Infrastructure'],
      responses: {
        '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } },
      },
    },
  },
};

export function openApiDocument(
  definition: ServiceDefinition,
  apis: ApiDefinition[],
  version: string,
  options: { infrastructure?: boolean } = {},
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const api of apis) {
    paths[api.route] = { ...paths[api.route], [api.method.toLowerCase()]: operation(api) };
  }
  if (options.infrastructure) {
    for (const [route, ops] of Object.entries(INFRASTRUCTURE)) paths[route] ??= ops;
  }
  return {
    openapi: '3.0.3',
    info: {
      title: definition.name,
      description: definition.description ?? `The ${definition.name} service, served by bento-ts`,
      version,
    },
    paths,
    components: { schemas: { Error: ERROR_SCHEMA } },
  };
}
