import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerMetrics } from '../observability/metrics.js';

/** Routes left out of the access log by default: probes and scrapes would drown the requests that matter. */
export const QUIET_ROUTES = new Set(['/health', '/livez', '/readyz', '/healthz', '/metrics', '/v2/health/live', '/v2/health/ready', '/ping']);

/** `BENTO_ACCESS_LOG`: `on` (default; quiet routes left out), `all`, or `off`. */
export type AccessLogMode = 'on' | 'all' | 'off';

export function accessLogMode(value: string | undefined): AccessLogMode {
  return value === 'all' || value === 'off' ? value : 'on';
}

const routeOf = (req: FastifyRequest): string => req.routeOptions.url ?? 'unmatched';

/**
 * Counts, times and logs every request: Prometheus metrics by route template
 * (never the raw URL, whose cardinality is unbounded) and one access-log line
 * with the request ID fastify puts on every log line of the request.
 */
export function installObservability(app: FastifyInstance, metrics: ServerMetrics, mode: AccessLogMode): void {
  app.addHook('onRequest', async (req) => {
    metrics.inFlight.inc({ route: routeOf(req) });
  });
  app.addHook('onResponse', async (req: FastifyRequest, reply: FastifyReply) => {
    const route = routeOf(req);
    const labels = { route, method: req.method, status: String(reply.statusCode) };
    const seconds = reply.elapsedTime / 1000;
    metrics.inFlight.dec({ route });
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, seconds);
    if (mode === 'off' || (mode === 'on' && QUIET_ROUTES.has(route) && reply.statusCode < 400)) return;
    const bytes = Number(reply.getHeader('content-length') ?? 0);
    req.log.info({ method: req.method, route, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100, bytes }, 'request');
  });
  app.get('/metrics', { logLevel: 'warn' }, async (_req, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
