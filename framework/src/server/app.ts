import fastifyMultipart from '@fastify/multipart';
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Limits } from '../config/limits.js';
import type { ApiDefinition } from '../sdk/decorators/api.js';
import type { ServiceDefinition } from '../sdk/decorators/service.js';
import type { RequestContext } from '../sdk/context.js';
import type { JSONDescriptor } from '../io/json.js';
import { installErrorHandling, sendError } from './error-handler.js';
import { clientErrorHandler, createHttpServer } from './http-server.js';
import { readInput } from './read-input.js';
import { TrafficControl } from './traffic.js';
import { installModelVersionHeader } from './model-version-header.js';
import { type ServerState, installProbes } from './probes.js';
import { installDocs } from './docs.js';
import type { InferenceTarget } from '../protocols/inference-target.js';
import type { HookRequest, RequestHook } from '../plugins/types.js';
import { installProtocols } from './protocols.js';
import { type RequestTiming, tagTiming, withRequestTiming } from '../request/request-timing.js';
import { type AccessLogMode, installObservability } from './observability-hooks.js';
import type { ServerMetrics } from '../observability/metrics.js';
import type { Tracing } from '../observability/tracing.js';

export interface AppOptions {
  service: object;
  definition: ServiceDefinition;
  apis: ApiDefinition[];
  limits: Limits;
  /** pino options, or false for no logs. */
  logger: boolean | Record<string, unknown>;
  /** Undefined: no metrics and no /metrics route. */
  metrics?: ServerMetrics;
  state: ServerState;
  accessLog: AccessLogMode;
  /** Shown in the OpenAPI document's info.version. */
  version?: string;
  /** Models offered through the Open Inference Protocol (and MLflow's scoring protocol, when there is one). */
  targets?: InferenceTarget[];
  /** OpenTelemetry tracing, when the environment turns it on. */
  tracing?: Tracing;
  /** Answers name the model versions that computed them (`X-Model-Version`): set while a runner follows its model. */
  modelVersionHeader?: boolean;
  /** The request header that picks a runner's variant, when some runner has variants. */
  variantHeader?: string;
  /** Plugins' checks on every request (authentication...), in order. */
  requestHooks?: RequestHook[];
}

type ApiMethod = (input: unknown, ctx: RequestContext) => unknown;
const TIMED = Symbol('bento.timing');
type Timed = FastifyRequest & { [TIMED]?: RequestTiming };

function contextFor(req: FastifyRequest, signal: AbortSignal): RequestContext {
  const query = (req.query ?? {}) as RequestContext['query'];
  return { requestId: String(req.id), headers: req.headers, query, signal, log: req.log, responseHeaders: {} };
}

/** An AbortSignal that fires when the client closes the connection before the response. */
function clientGoneSignal(req: FastifyRequest): AbortSignal {
  const controller = new AbortController();
  req.raw.once('close', () => {
    if (!req.raw.complete || !req.raw.socket?.writable) controller.abort(new Error('client closed the connection'));
  });
  return controller.signal;
}

/** Runs the plugins' request hooks before anything else is done for a request; a hook's BentoError is the answer. */
function installRequestHooks(app: FastifyInstance, hooks: RequestHook[]): void {
  if (hooks.length === 0) return;
  app.addHook('onRequest', async (req) => {
    const request: HookRequest = {
      method: req.method,
      url: req.url,
      route: req.routeOptions.url,
      headers: req.headers,
      ip: req.ip,
      requestId: String(req.id),
    };
    for (const hook of hooks) await hook.onRequest(request);
  });
}

/** Media types fastify parses itself (JSON, text; multipart through @fastify/multipart). */
const PARSED_TYPES = new Set(['application/json', 'text/plain', 'multipart/form-data']);

/** The content types to read as raw bytes: images, application/octet-stream, and those the APIs' inputs declare. */
function rawBodyTypes(apis: ApiDefinition[]): Array<string | RegExp> {
  const declared = new Set(apis.flatMap((a) => a.input?.mediaTypes ?? []).map((t) => t.toLowerCase()));
  const extra = [...declared].filter(
    (t) => !PARSED_TYPES.has(t) && !t.startsWith('image/') && t !== 'application/octet-stream',
  );
  // `audio/*` stands for every subtype.
  return [
    /^image\/[\w.+-]+$/,
    'application/octet-stream',
    ...extra.map((t) => (t.endsWith('/*') ? new RegExp(`^${t.slice(0, -2).replace(/[.+]/g, '\\$&')}/[\\w.+-]+$`) : t)),
  ];
}

/** Builds the HTTP app of a service: one route per `@api`, JSON errors, limits and traffic control. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { limits, definition } = options;
  let requestCounter = 0;
  const app = Fastify({
    logger: options.logger,
    bodyLimit: limits.maxBodyBytes,
    requestIdHeader: 'x-request-id',
    genReqId: () => `${process.pid.toString(36)}-${(++requestCounter).toString(36)}`,
    // fastify's two lines per request are replaced by one access-log line (observability-hooks.ts).
    logController: new LogController({ disableRequestLogging: true }),
    // A request on a connection still open while the server drains is served, and its connection then closed
    // (fastify adds `Connection: close`): the client gets its answer and reconnects elsewhere. fastify's own
    // drain 503 would answer outside our JSON error shape and without Retry-After.
    return503OnClosing: false,
    // Bad URLs and over-long path parameters are refused by the router itself: answer them in our JSON shape too.
    frameworkErrors: (err, _req, reply) => {
      sendError(reply, err);
    },
    // Validate what clients send as they sent it: no silent coercion, no silently dropped properties.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    serverFactory: (handler) => createHttpServer(limits, handler),
    clientErrorHandler: clientErrorHandler(limits),
  });

  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', String(req.id));
  });
  // A request that arrives while the server drains, before its listener closes (serve.ts), is answered and ends its
  // connection: the client reconnects elsewhere instead of sending again on a connection about to close.
  app.addHook('onRequest', async (_req, reply) => {
    if (options.state.draining) reply.header('connection', 'close');
  });
  // Before any route: a route keeps the hooks and error handler in force when it is built (registering the docs
  // plugins builds the routes declared so far).
  options.tracing?.install(app);
  installObservability(app, options.metrics, options.accessLog, options.tracing);
  if (options.modelVersionHeader) installModelVersionHeader(app, options.variantHeader);
  // The dispatcher that answered a request learns how long the answer then took to send: its share of the objective.
  app.addHook('onResponse', (req, _reply, done) => {
    const timing = (req as Timed)[TIMED];
    if (timing?.delivered && timing.answeredAt !== undefined) timing.delivered(performance.now() - timing.answeredAt);
    done();
  });
  // Every route's methods (the service's and the protocols'), for 405 answers with Allow.
  const methodsByRoute = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((m) => m !== 'HEAD');
    if (methods.length > 0)
      methodsByRoute.set(route.url, new Set([...(methodsByRoute.get(route.url) ?? []), ...methods]));
  });
  installErrorHandling(app, methodsByRoute);
  installRequestHooks(app, options.requestHooks ?? []);

  await app.register(fastifyMultipart, {
    limits: {
      fileSize: limits.maxBodyBytes,
      files: limits.maxFiles,
      fields: limits.maxFields,
      parts: limits.maxFiles + limits.maxFields,
      headerPairs: 100,
    },
  });
  // Raw uploads (an image as the whole body, or any type an API's input declares: text/csv, audio/wav...) reach the
  // input descriptor as bytes; fastify would refuse a type it has no parser for with 415 before the descriptor saw it.
  for (const type of rawBodyTypes(options.apis)) {
    app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: limits.maxBodyBytes }, (_req, body, done) =>
      done(null, body),
    );
  }

  const shared = new TrafficControl(definition.traffic.timeoutMs, definition.traffic.maxConcurrency);
  const trafficFor = (api: ApiDefinition): TrafficControl | undefined => {
    if (api.traffic === false) return undefined;
    if (!api.traffic) return shared;
    return new TrafficControl(api.traffic.timeoutMs ?? definition.traffic.timeoutMs, api.traffic.maxConcurrency);
  };
  for (const api of options.apis) {
    const fn = (options.service as Record<string, unknown>)[api.name] as ApiMethod;
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- tsc needs it to read bodySchema; JSONDescriptor only adds an optional field, so typescript-eslint takes the two types as equal
    const jsonSchema = (api.input as JSONDescriptor<unknown> | undefined)?.bodySchema;
    const traffic = trafficFor(api);
    app.route({
      method: api.method,
      url: api.route,
      schema: jsonSchema ? { body: jsonSchema } : undefined,
      handler: async (req, reply) => {
        // reply.elapsedTime runs from the request's arrival: the latency objective counts from there.
        const timing: RequestTiming = { receivedAt: performance.now() - reply.elapsedTime };
        (req as Timed)[TIMED] = timing;
        const work = async (signal: AbortSignal) => {
          const input = api.input
            ? tagTiming(await api.input.decode(await readInput(req, limits.maxBodyBytes), limits), timing)
            : undefined;
          const ctx = contextFor(req, signal);
          const result = await withRequestTiming(timing, () => fn.call(options.service, input, ctx));
          reply.headers(ctx.responseHeaders);
          if (ctx.status) reply.code(ctx.status);
          return result;
        };
        return traffic ? traffic.run(work, clientGoneSignal(req)) : work(new AbortController().signal);
      },
    });
  }
  installProbes(app, options.apis, options.state);
  await installDocs(app, definition, options.apis, options.version ?? '0.0.0');
  // The protocol routes share the service's limits: the same timeout and concurrency cap as its own routes.
  installProtocols(app, options.targets ?? [], options.apis, limits.maxBodyBytes, (req, work) =>
    shared.run(work, clientGoneSignal(req)),
  );
  return app;
}
