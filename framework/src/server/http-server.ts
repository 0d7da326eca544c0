import { type Server, createServer } from 'node:http';
import type { Socket } from 'node:net';
import type { Limits } from '../config/limits.js';
import { BadRequestError, HeadersTooLargeError, ReceiveTimeoutError } from '../errors.js';
import { errorBody } from './error-handler.js';

/**
 * The Node server under fastify, made here for the limits fastify cannot set on one it makes: the header block size,
 * and how long a request may take to arrive. A server of our own does not get fastify's keep-alive timeout either:
 * Node's 5 s would close idle connections under clients that reuse them later, and a request sent as one closes is
 * reset unanswered (the overload and soak runs lost requests in pairs that way).
 */
export function createHttpServer(limits: Limits, handler: Parameters<typeof createServer>[1]): Server {
  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      // A client that trickles its headers or body (slowloris) holds a connection and a parser: both have to arrive
      // within the receive timeout. Node checks the deadlines every connectionsCheckingInterval, 30 s by default,
      // which would let a short setting run up to 30 s over.
      requestTimeout: limits.receiveTimeoutMs,
      headersTimeout: Math.min(60_000, limits.receiveTimeoutMs),
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(limits.receiveTimeoutMs / 4))),
    },
    handler,
  );
  return Object.assign(server, { keepAliveTimeout: limits.keepAliveTimeoutMs });
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

/**
 * Answers, in the JSON error shape, what Node refuses before fastify sees a request: a request it cannot parse,
 * a header block over the limit, a request that did not arrive in time.
 */
export function clientErrorHandler(limits: Limits): (err: Error, socket: Socket) => void {
  return (err, socket) => {
    const code = (err as NodeJS.ErrnoException).code;
    const error =
      code === 'HPE_HEADER_OVERFLOW'
        ? new HeadersTooLargeError(`request headers exceed ${limits.maxHeaderBytes} bytes`)
        : code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? new ReceiveTimeoutError(
              `the request did not arrive within ${limits.receiveTimeoutMs} ms (BENTO_RECEIVE_TIMEOUT_MS)`,
            )
          : new BadRequestError('malformed HTTP request');
    const body = JSON.stringify(errorBody(error.code, error.message));
    // The answer to a HEAD has no body (the client would read one as the start of the next answer); the request
    // could not be parsed, so its method is read from the bytes that came.
    const raw: unknown = (err as { rawPacket?: unknown }).rawPacket;
    const head = Buffer.isBuffer(raw) && raw.subarray(0, 5).toString('latin1') === 'HEAD ';
    if (socket.writable) {
      const status = error.statusCode;
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${head ? '' : body}`,
      );
    } else socket.destroy();
  };
}
