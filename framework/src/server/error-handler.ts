import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BentoError, type ErrorBody } from '../errors.js';
import { lingerBeforeClose } from './lingering-close.js';

/** Fastify and plugin error codes → our codes, for errors the client caused. */
const FASTIFY_CODES: Record<string, [string, number]> = {
  FST_ERR_CTP_INVALID_JSON_BODY: ['INVALID_JSON', 400],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['INVALID_JSON', 400],
  FST_ERR_CTP_BODY_TOO_LARGE: ['PAYLOAD_TOO_LARGE', 413],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['UNSUPPORTED_MEDIA_TYPE', 415],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['INVALID_INPUT', 400],
  FST_ERR_VALIDATION: ['INVALID_INPUT', 400],
  FST_REQ_FILE_TOO_LARGE: ['PAYLOAD_TOO_LARGE', 413],
  FST_PARTS_LIMIT: ['TOO_MANY_PARTS', 413],
  FST_FILES_LIMIT: ['TOO_MANY_PARTS', 413],
  FST_FIELDS_LIMIT: ['TOO_MANY_PARTS', 413],
  FST_PROTO_VIOLATION: ['INVALID_MULTIPART', 400],
  FST_INVALID_MULTIPART_CONTENT_TYPE: ['INVALID_MULTIPART', 400],
  FST_INVALID_JSON_FIELD_ERROR: ['INVALID_MULTIPART', 400],
  // Raised by the router before any route or error handler runs (fastify's frameworkErrors).
  FST_ERR_BAD_URL: ['INVALID_URL', 400],
  FST_ERR_MAX_PARAM_LENGTH: ['URI_TOO_LONG', 414],
};

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

/** Maps any error to a status and a JSON body; never leaks a stack trace. */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody; retryAfter?: number } {
  if (err instanceof BentoError) {
    return { status: err.statusCode, body: errorBody(err.code, err.message), retryAfter: err.retryAfter };
  }
  const e = err as Partial<FastifyError> & { message?: string };
  const mapped = e.code ? FASTIFY_CODES[e.code] : undefined;
  if (mapped) return { status: mapped[1], body: errorBody(mapped[0], e.message ?? mapped[0]) };
  // Errors raised while reading a request body (busboy's malformed multipart, aborted uploads...) carry no status.
  if (
    typeof e.message === 'string' &&
    /multipart|boundary|unexpected end of form|malformed part header/i.test(e.message)
  ) {
    return { status: 400, body: errorBody('INVALID_MULTIPART', `malformed multipart body: ${e.message}`) };
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500)
    return { status, body: errorBody(e.code ?? 'BAD_REQUEST', e.message ?? 'bad request') };
  return {
    status: 500,
    body: errorBody('INTERNAL', 'an unexpected error occurred; see the server log (request ID in X-Request-ID)'),
  };
}

export function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  const { status, body, retryAfter } = toErrorResponse(err);
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

/** Installs the JSON error handler and the 404/405 handler. */
export function installErrorHandling(app: FastifyInstance, methodsByRoute: Map<string, Set<string>>): void {
  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const { status } = toErrorResponse(err);
    // Refused before its body was read: let the client finish sending so that it reads this answer.
    if (!req.raw.complete) lingerBeforeClose(req.raw.socket);
    if (status >= 500) req.log.error({ err }, 'request failed');
    else req.log.debug({ err: { code: err.code, message: err.message } }, 'request refused');
    return sendError(reply, err);
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    const allowed = methodsByRoute.get(path);
    if (allowed) {
      reply.header('allow', [...allowed].join(', '));
      return reply
        .code(405)
        .send(
          errorBody('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}; use ${[...allowed].join(' or ')}`),
        );
    }
    return reply.code(404).send(errorBody('NOT_FOUND', `no route ${req.method} ${path}`));
  });
}
