import type { FastifyInstance } from 'fastify';
import { DEFAULT_LIMITS } from '../../src/index.js';
import { getApis } from '../../src/sdk/decorators/api.js';
import { getServiceDefinition } from '../../src/sdk/decorators/service.js';
import type { Constructor } from '../../src/sdk/metadata.js';
import { type AppOptions, buildApp } from '../../src/server/app.js';

/**
 * The HTTP app of `service` (an instance of a class declared with @service) listening on an ephemeral loopback port,
 * quiet (no logger, no access log); `options` adds to or replaces what buildApp is given.
 */
export async function listeningApp(
  service: object,
  options: Partial<AppOptions> = {},
): Promise<{ app: FastifyInstance; url: string }> {
  const cls = service.constructor as Constructor;
  const app = await buildApp({
    service,
    definition: getServiceDefinition(cls)!,
    apis: getApis(cls),
    limits: DEFAULT_LIMITS,
    logger: false,
    state: { draining: false },
    accessLog: 'off',
    ...options,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` };
}
