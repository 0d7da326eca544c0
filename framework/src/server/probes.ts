import type { FastifyInstance } from 'fastify';
import type { ApiDefinition } from '../sdk/decorators/api.js';

/**
 * Kubernetes-style probes. The server listens only once every model is loaded
 * in its workers, so a server that answers is ready; a closing server answers
 * 503 (fastify's return503OnClosing). A service's own API on the same route wins.
 */
export function installProbes(app: FastifyInstance, apis: ApiDefinition[]): void {
  const taken = new Set(apis.filter((a) => a.method === 'GET').map((a) => a.route));
  const probes: Array<[string, string]> = [
    ['/livez', 'live'],
    ['/readyz', 'ready'],
    ['/healthz', 'healthy'],
  ];
  for (const [route, status] of probes) {
    if (!taken.has(route)) app.get(route, async () => ({ status }));
  }
}
