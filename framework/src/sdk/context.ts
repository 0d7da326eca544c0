import type { Logger } from '../plugins/types.js';

/** Passed as the second argument of every `@api` method. */
export interface RequestContext {
  /** The request's ID (`X-Request-ID` if the client sent one). */
  readonly requestId: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The query string's parameters (`?top=3&tag=a&tag=b` gives `{ top: '3', tag: ['a', 'b'] }`). */
  readonly query: Readonly<Record<string, string | string[] | undefined>>;
  /** Aborted when the request times out or the client goes away. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Response headers to add. */
  readonly responseHeaders: Record<string, string>;
  /** Response status; defaults to 200. */
  status?: number;
}
