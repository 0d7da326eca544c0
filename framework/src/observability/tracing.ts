/**
 * Optional OpenTelemetry tracing: a server span per request (continuing the
 * caller's W3C `traceparent`), a child span per runner call, exported over
 * OTLP. Off unless the environment asks for it, and then the SDK is loaded
 * lazily, so a server without tracing pays nothing for it.
 *
 * Configuration is OpenTelemetry's own environment variables, read by the SDK
 * from the process environment: OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT,
 * _HEADERS, _TIMEOUT, _PROTOCOL, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
 * OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_*. Propagation is W3C trace context and baggage.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Span, Tracer } from '@opentelemetry/api';
import { ConfigError } from '../errors.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Wraps one runner call in a span. */
export type CallTracer = <T>(runner: string, method: string, call: () => Promise<T>) => Promise<T>;

export interface Tracing {
  /** What the spans are sent to, for the start-up log. */
  readonly destination: string;
  /** Starts a server span for each request and makes it current for the handler. */
  install(app: FastifyInstance): void;
  /** The trace ID of a request's span, for its access-log line. */
  traceIdOf(req: FastifyRequest): string | undefined;
  readonly call: CallTracer;
  /** Sends the spans still buffered and unregisters the SDK. */
  shutdown(): Promise<void>;
}

/**
 * The trace exporters the environment asks for: OTEL_TRACES_EXPORTER when set
 * (`otlp`, `console`, `none`), else `otlp` when an OTLP endpoint is given, else
 * none. OTEL_SDK_DISABLED=true turns everything off.
 */
export function tracesExporters(env: Env): Array<'otlp' | 'console'> {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return [];
  const named = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (named.includes('none')) return [];
  if (named.length === 0)
    return env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? ['otlp'] : [];
  for (const name of named) {
    if (name !== 'otlp' && name !== 'console')
      throw new ConfigError(`OTEL_TRACES_EXPORTER=${name} is not supported; use otlp, console or none`);
  }
  return [...new Set(named)] as Array<'otlp' | 'console'>;
}

function otlpProtocol(env: Env): 'http/protobuf' | 'http/json' {
  const protocol = (
    env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ??
    env.OTEL_EXPORTER_OTLP_PROTOCOL ??
    'http/protobuf'
  ).trim();
  if (protocol === 'http/protobuf' || protocol === 'http/json') return protocol;
  throw new ConfigError(
    `OTEL_EXPORTER_OTLP_PROTOCOL=${protocol} is not supported: bento-ts exports over OTLP/HTTP; use http/protobuf (port 4318) or http/json`,
  );
}

function otlpUrl(env: Env): string {
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://localhost:4318';
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

/** Starts tracing when the environment asks for it (see tracesExporters); undefined otherwise. */
export async function tracingFromEnv(
  env: Env,
  service: { name: string; version?: string },
): Promise<Tracing | undefined> {
  const exporters = tracesExporters(env);
  if (exporters.length === 0) return undefined;
  const [api, node, base, resources] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
  ]);
  const destinations: string[] = [];
  const processors = [];
  for (const name of exporters) {
    if (name === 'console') {
      processors.push(new base.SimpleSpanProcessor(new base.ConsoleSpanExporter()));
      destinations.push('console');
      continue;
    }
    const protocol = otlpProtocol(env);
    const { OTLPTraceExporter } =
      protocol === 'http/json'
        ? await import('@opentelemetry/exporter-trace-otlp-http')
        : await import('@opentelemetry/exporter-trace-otlp-proto');
    processors.push(new base.BatchSpanProcessor(new OTLPTraceExporter()));
    destinations.push(`OTLP ${protocol} to ${otlpUrl(env)}`);
  }
  // The service's name and version, unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say otherwise.
  const resource = resources
    .defaultResource()
    .merge(
      resources.resourceFromAttributes({
        'service.name': service.name,
        ...(service.version ? { 'service.version': service.version } : {}),
      }),
    )
    .merge(
      resources.detectResources({
        detectors: [resources.hostDetector, resources.processDetector, resources.envDetector],
      }),
    );
  const provider = new node.NodeTracerProvider({ resource, spanProcessors: processors });
  provider.register();
  const tracer = api.trace.getTracer('bento-ts');
  return new OtelTracing(api, tracer, provider, destinations.join(' and '));
}

type Api = typeof import('@opentelemetry/api');

class OtelTracing implements Tracing {
  private readonly spans = new WeakMap<
    FastifyRequest,
    { span: Span; ctx: ReturnType<Api['context']['active']>; ended?: boolean }
  >();

  constructor(
    private readonly api: Api,
    private readonly tracer: Tracer,
    private readonly provider: { shutdown(): Promise<void> },
    readonly destination: string,
  ) {}

  install(app: FastifyInstance): void {
    const { api, tracer, spans } = this;
    app.addHook('onRequest', (req, _reply, done) => {
      const route = req.routeOptions.url;
      const parent = api.propagation.extract(api.ROOT_CONTEXT, req.headers);
      const span = tracer.startSpan(
        route ? `${req.method} ${route}` : req.method,
        {
          kind: api.SpanKind.SERVER,
          attributes: {
            'http.request.method': req.method,
            'url.path': req.url.split('?')[0],
            'url.scheme': req.protocol,
            'client.address': req.ip,
            'user_agent.original': req.headers['user-agent'],
            'bento.request_id': String(req.id),
            ...(route ? { 'http.route': route } : {}),
          },
        },
        parent,
      );
      spans.set(req, { span, ctx: api.trace.setSpan(parent, span) });
      done();
    });
    // Body parsing resumes in the socket's async context; the handler is brought back into the span's.
    app.addHook('preHandler', (req, _reply, done) => {
      const entry = spans.get(req);
      if (entry) api.context.with(entry.ctx, done);
      else done();
    });
    const end = (req: FastifyRequest, status: number | undefined, aborted: boolean) => {
      const entry = spans.get(req);
      // Kept after the end: the access-log line of the request still reads its trace ID.
      if (!entry || entry.ended) return;
      entry.ended = true;
      if (status !== undefined) entry.span.setAttribute('http.response.status_code', status);
      if (aborted)
        entry.span.setStatus({ code: api.SpanStatusCode.ERROR, message: 'the client closed the connection' });
      else if (status !== undefined && status >= 500) entry.span.setStatus({ code: api.SpanStatusCode.ERROR });
      entry.span.end();
    };
    app.addHook('onResponse', (req, reply, done) => {
      end(req, reply.statusCode, false);
      done();
    });
    app.addHook('onRequestAbort', (req, done) => {
      end(req, undefined, true);
      done();
    });
  }

  traceIdOf(req: FastifyRequest): string | undefined {
    return this.spans.get(req)?.span.spanContext().traceId;
  }

  readonly call: CallTracer = (runner, method, call) =>
    this.tracer.startActiveSpan(
      `${runner}.${method}`,
      { kind: this.api.SpanKind.INTERNAL, attributes: { 'bento.runner': runner, 'bento.method': method } },
      async (span) => {
        try {
          return await call();
        } catch (err) {
          span.recordException(err as Error);
          span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: (err as Error).message });
          throw err;
        } finally {
          span.end();
        }
      },
    );

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
    this.api.trace.disable();
    this.api.context.disable();
    this.api.propagation.disable();
  }
}
