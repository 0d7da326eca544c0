import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ModelNotFoundError,
  ModelSourceAuthError,
  ModelSourceUnavailableError,
  type Logger,
} from '@bento-ts/framework/plugin';
import type { Agent, Response } from 'undici';
import { type MlflowConfig, redact } from './config.js';

/** Statuses worth another attempt: the server or a proxy is busy or restarting. */
const TRANSIENT = new Set([408, 429, 502, 503, 504]);

export interface RequestOptions {
  query?: Record<string, string | string[] | number | undefined>;
  body?: unknown;
  /** Treat HTTP 500 as transient too (metadata calls); artifact downloads answer 500 for a missing file. */
  retryOn500?: boolean;
}

/** An MLflow error answer: its JSON `error_code` when it sent one, else derived from the status. */
export class MlflowHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

function codeForStatus(status: number): string {
  if (status === 404) return 'ENDPOINT_NOT_FOUND';
  if (status === 401) return 'UNAUTHENTICATED';
  if (status === 403) return 'PERMISSION_DENIED';
  if (status === 400) return 'BAD_REQUEST';
  return 'INTERNAL_ERROR';
}

async function errorOf(res: Response): Promise<MlflowHttpError> {
  const text = await res.text().catch(() => '');
  try {
    const parsed = JSON.parse(text) as { error_code?: unknown; message?: unknown };
    if (parsed && typeof parsed === 'object' && typeof parsed.message === 'string') {
      return new MlflowHttpError(
        res.status,
        typeof parsed.error_code === 'string' ? parsed.error_code : codeForStatus(res.status),
        parsed.message,
      );
    }
  } catch {
    // Not JSON: an HTML or text page from the server, a proxy or the auth layer.
  }
  const line = text
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);
  return new MlflowHttpError(res.status, codeForStatus(res.status), line || res.statusText || `HTTP ${res.status}`);
}

/** A connection that was made and then broke or went quiet, as against one that could not be made at all. */
export function isBrokenTransfer(failure: string): boolean {
  return /UND_ERR_SOCKET|ECONNRESET|EPIPE|terminated|timed out|UND_ERR_(BODY|HEADERS)_TIMEOUT|aborted/i.test(failure);
}

function causeOf(err: unknown): string {
  const e = err as { cause?: { code?: string; message?: string }; code?: string; message?: string; name?: string };
  if (e?.name === 'TimeoutError') return 'timed out';
  return e?.cause?.code ?? e?.cause?.message ?? e?.code ?? e?.message ?? String(err);
}

/**
 * The HTTP side of MLflow: its REST API and its artifact proxy. Every call
 * carries the configured credentials and TLS settings, is retried with backoff
 * on connection failures and transient statuses, and fails with a framework
 * error whose message never contains a credential.
 */
export class MlflowRestClient {
  /** undici and its connection pool, imported on the first call: a runner worker thread, which loads this plugin for
   * nothing but its registrations, never makes one (undici costs about 10 MB in each thread that imports it). */
  private transport?: Promise<{ fetch: typeof import('undici').fetch; agent: Agent }>;

  constructor(
    readonly config: MlflowConfig,
    private readonly logger: Logger,
  ) {}

  private connect(): Promise<{ fetch: typeof import('undici').fetch; agent: Agent }> {
    this.transport ??= import('undici').then(({ Agent, fetch }) => {
      const { config } = this;
      const tls = config.insecureTls
        ? { rejectUnauthorized: false }
        : config.caCert
          ? { ca: config.caCert }
          : undefined;
      const agent = new Agent({
        connect: tls,
        headersTimeout: config.retry.timeoutMs,
        bodyTimeout: config.retry.timeoutMs,
      });
      return { fetch, agent };
    });
    return this.transport;
  }

  /** A REST call (`/api/2.0/mlflow/...`) against the tracking or the registry server, answered with JSON. */
  async call<T>(server: 'tracking' | 'registry', path: string, options: RequestOptions = {}): Promise<T> {
    const base = server === 'registry' ? this.config.registryUri : this.config.trackingUri;
    return this.json<T>(`${base}${path}`, options);
  }

  /** A JSON answer from any URL of the MLflow server (e.g. the artifact proxy's listing). */
  async json<T>(url: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.request(url, { retryOn500: true, ...options });
    const text = await res.text();
    try {
      return (text ? JSON.parse(text) : {}) as T;
    } catch {
      throw new ModelSourceUnavailableError(
        `MLflow answered ${this.show(new URL(url).pathname)} with something other than JSON: ${text.slice(0, 120)}`,
      );
    }
  }

  /** GET `url` (tracking server or artifact proxy) and hand its body over as a stream. */
  async download(url: string): Promise<Readable> {
    const res = await this.request(url, { retryOn500: false });
    if (!res.body) throw new ModelSourceUnavailableError(`MLflow sent no body for ${this.show(url)}`);
    return Readable.fromWeb(res.body);
  }

  /** Raw request with retries; resolves only to a 2xx response, else throws MlflowHttpError or a framework error. */
  async request(url: string, options: RequestOptions = {}): Promise<Response> {
    const { query, body } = options;
    const method = body === undefined ? 'GET' : 'POST';
    const target = new URL(url);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v === undefined) continue;
      for (const item of Array.isArray(v) ? v : [String(v)]) target.searchParams.append(k, item);
    }
    const headers: Record<string, string> = { 'user-agent': 'bento-ts-mlflow-client', accept: 'application/json, */*' };
    if (this.config.authorization) headers.authorization = this.config.authorization;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const { maxRetries } = this.config.retry;
    const { fetch, agent } = await this.connect();
    for (let attempt = 0; ; attempt++) {
      let failure = '';
      let res: Response | undefined;
      // The timeout bounds the wait for the answer's headers only: a large artifact may stream for longer, and the
      // agent's bodyTimeout catches a body that goes quiet.
      const headersDue = new AbortController();
      const timer = setTimeout(
        () => headersDue.abort(new DOMException('timed out', 'TimeoutError')),
        this.config.retry.timeoutMs,
      );
      try {
        res = await fetch(target, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          dispatcher: agent,
          signal: headersDue.signal,
        });
        clearTimeout(timer);
      } catch (err) {
        clearTimeout(timer);
        failure = causeOf(err);
        // A certificate problem does not go away by retrying: say which setting fixes it.
        if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/i.test(failure)) {
          throw new ModelSourceUnavailableError(
            `MLflow at ${this.show(target.origin)} presented a certificate this machine does not trust (${failure}); ` +
              'set MLFLOW_TRACKING_SERVER_CERT_PATH to its CA bundle, or MLFLOW_TRACKING_INSECURE_TLS=true to skip verification',
          );
        }
        if (attempt >= maxRetries) {
          const attempts = `after ${attempt + 1} attempt${attempt ? 's' : ''}`;
          // No connection at all, or one that broke or went quiet mid-answer: the fix differs.
          throw new ModelSourceUnavailableError(
            isBrokenTransfer(failure)
              ? `MLflow at ${this.show(target.origin)} did not answer whole (${failure}) ${attempts}: the connection broke or went quiet ` +
                  `(MLFLOW_HTTP_REQUEST_TIMEOUT is ${this.config.retry.timeoutMs / 1000} s)`
              : `MLflow at ${this.show(target.origin)} is unreachable (${failure}) ${attempts}; is the server running? (make start)`,
          );
        }
      }
      if (res) {
        if (res.ok) return res;
        const transient = TRANSIENT.has(res.status) || (options.retryOn500 === true && res.status === 500);
        if (!transient || attempt >= maxRetries) throw this.classify(await errorOf(res), target);
        failure = `HTTP ${res.status}`;
        await res.body?.cancel().catch(() => undefined);
      }
      const wait =
        attempt === 0
          ? 0
          : Math.min(30, this.config.retry.backoffFactor * 2 ** (attempt - 1)) * (1 + Math.random() * 0.25);
      this.logger.warn(
        `MLflow request ${method} ${this.show(target.pathname)} failed (${failure}); retry ${attempt + 1}/${maxRetries} in ${wait.toFixed(1)} s`,
      );
      await sleep(wait * 1000);
    }
  }

  /** A URL or text with every credential blanked out. */
  show(text: string): string {
    return redact(text, this.config);
  }

  /** MLflow's answer as the framework error a user can act on. */
  private classify(err: MlflowHttpError, url: URL): Error {
    const message = this.show(err.message);
    if (err.status === 401) {
      return new ModelSourceAuthError(
        `MLflow refused the request (401 Unauthorized): set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN`,
      );
    }
    if (err.status === 403) return new ModelSourceAuthError(`MLflow denied access (403): ${message}`);
    // Unknown run, model, version (404) and unknown alias or stage (MLflow answers those with 400).
    if (err.errorCode === 'RESOURCE_DOES_NOT_EXIST' || err.errorCode === 'NOT_FOUND' || err.status === 400)
      return new ModelNotFoundError(message);
    if (err.status === 404)
      return new MlflowHttpError(
        404,
        'ENDPOINT_NOT_FOUND',
        `${this.show(url.pathname)} not found on the MLflow server (${message})`,
      );
    // The proxy's 500 is an HTML page that names no cause: the usual one is the store behind it.
    if (err.status >= 500 && url.pathname.includes('/api/2.0/mlflow-artifacts/')) {
      return new ModelSourceUnavailableError(
        `MLflow's artifact proxy answered ${err.status} for ${this.show(url.pathname)}${url.search ? ` (${this.show(decodeURIComponent(url.search))})` : ''}: ` +
          'the MLflow server could not read it from its artifact store (--artifacts-destination: S3, MinIO...). Is that store up and reachable from the MLflow server? Its log names the cause',
      );
    }
    return new ModelSourceUnavailableError(`MLflow answered ${err.status} for ${this.show(url.pathname)}: ${message}`);
  }

  async close(): Promise<void> {
    const transport = this.transport;
    this.transport = undefined;
    if (transport) await (await transport).agent.close();
  }
}
