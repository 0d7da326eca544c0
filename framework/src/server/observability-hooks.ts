import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ServiceUnavailableError } from '../errors.js';
import type { ServerMetrics } from '../observability/metrics.js';
import type { Tracing } from '../observability/tracing.js';

/** Routes left out of the access log by default: probes and scrapes would drown the requests that matter. */
export const QUIET_ROUTES = new Set([
  '/health',
  '/livez',
  '/readyz',
  '/healthz',
  '/metrics',
  '/v2/health/live',
  '/v2/health/ready',
  '/ping',
]);

/** `BENTO_ACCESS_LOG`: `on` (default; quiet routes left out), `all`, or `off`. */
export type AccessLogMode = 'on' | 'all' | 'off';

const routeOf = (req: FastifyRequest): string => req.routeOptions.url ?? 'unmatched';

/**
 * Counts, times and logs every request: Prometheus metrics by route template
 * (never the raw URL, whose cardinality is unbounded) and one access-log line
 * with the request ID fastify puts on every log line of the request.
 */
export function installObservability(
  app: FastifyInstance,
  metrics: ServerMetrics | undefined,
  mode: AccessLogMode,
  tracing?: Tracing,
): void {
  // Label children cached per route/method/status: prom-client hashes the label set on every unbound call.
  type Child<K extends 'httpRequests' | 'httpDuration' | 'inFlight'> = ReturnType<ServerMetrics[K]['labels']>;
  const children = new Map<string, { count: Child<'httpRequests'>; time: Child<'httpDuration'> }>();
  const gauges = new Map<string, Child<'inFlight'>>();
  const inFlight = (route: string) => {
    let g = gauges.get(route);
    if (!g) gauges.set(route, (g = metrics!.inFlight.labels(route)));
    return g;
  };
  if (['debug', 'trace'].includes(app.log.level)) {
    // At debug, a request is logged as it arrives too: one received and never answered shows as a lone line.
    app.addHook('onRequest', (req, _reply, done) => {
      req.log.debug({ method: req.method, url: req.url }, 'received');
      done();
    });
  }
  if (metrics) {
    // Callback hooks: a request pays no promise for them.
    app.addHook('onRequest', (req, _reply, done) => {
      inFlight(routeOf(req)).inc();
      done();
    });
    app.get('/metrics', { logLevel: 'warn' }, async (_req, reply) => {
      let text: string;
      try {
        text = await metrics.exposition();
      } catch (err) {
        throw new ServiceUnavailableError(`metrics are unavailable: ${(err as Error).message}`, { retryAfter: 1 });
      }
      reply.type(metrics.registry.contentType);
      return text;
    });
  }
  if (!metrics && mode === 'off') return;
  app.addHook('onResponse', (req: FastifyRequest, reply: FastifyReply, done) => {
    const route = routeOf(req);
    if (metrics) {
      const key = `${route} ${req.method} ${reply.statusCode}`;
      let c = children.get(key);
      if (!c) {
        const status = String(reply.statusCode);
        c = {
          count: metrics.httpRequests.labels(route, req.method, status),
          time: metrics.httpDuration.labels(route, req.method, status),
        };
        children.set(key, c);
      }
      inFlight(route).dec();
      c.count.inc();
      c.time.observe(reply.elapsedTime / 1000);
    }
    if (mode === 'all' || (mode === 'on' && !(QUIET_ROUTES.has(route) && reply.statusCode < 400))) {
      const bytes = Number(reply.getHeader('content-length') ?? 0);
      const traceId = tracing?.traceIdOf(req);
      req.log.info(
        {
          method: req.method,
          route,
          url: req.url,
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime * 100) / 100,
          bytes,
          ...(traceId ? { traceId } : {}),
        },
        'request',
      );
    }
    done();
  });
}
