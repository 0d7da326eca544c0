import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { openApiDocument } from '../openapi/openapi-document.js';
import type { ApiDefinition } from '../sdk/decorators/api.js';
import type { ServiceDefinition } from '../sdk/decorators/service.js';

/**
 * The API's documentation: the OpenAPI 3 document generated from the `@api`
 * declarations at `/docs.json` (and `/json`, `/yaml`), and Swagger UI at `/`.
 */
export async function installDocs(
  app: FastifyInstance,
  definition: ServiceDefinition,
  apis: ApiDefinition[],
  version: string,
): Promise<void> {
  const document = openApiDocument(definition, apis, version, { infrastructure: true });
  await app.register(fastifySwagger, { mode: 'static', specification: { document: document as never } });
  await app.register(fastifySwaggerUi, {
    routePrefix: '/',
    uiConfig: { docExpansion: 'list', deepLinking: true, tryItOutEnabled: false },
    logLevel: 'warn',
  });
  app.get('/docs.json', { logLevel: 'warn' }, async () => app.swagger());
}
