import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ShuttingDownError } from '../errors.js';
import { sendError } from './error-handler.js';
import type { ApiDefinition } from '../sdk/decorators/api.js';

/** What the readiness probe reports. The server listens only once every model is loaded and warmed up. */
export interface ServerState {
  /** Set when shutdown begins: the server finishes what it has, and takes nothing new. */
  draining: boolean;
}

/**
 * Kubernetes-style probes: `/livez` (the process answers), `/readyz` (ready
 * for traffic: 503 while draining), `/healthz` (both). A service's own API on
 * the same route wins.
 */
export function installProbes(app: FastifyInstance, apis: ApiDefinition[], state: ServerState): void {
  const taken = new Set(apis.filter((a) => a.method === 'GET').map((a) => a.route));
  const ready = async (_req: FastifyRequest, reply: FastifyReply) => {
    if (!state.draining) return { status: 'ready' };
    return sendError(
      reply,
      new ShuttingDownError('the server is shutting down; send requests to another instance', { retryAfter: 1 }),
    );
  };
  const probes: Array<[string, (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>]> = [
    ['/livez', async () => ({ status: 'live' })],
    ['/readyz', ready],
    ['/healthz', ready],
  ];
  for (const [path, handler] of probes) if (!taken.has(path)) app.get(path, handler);
}
