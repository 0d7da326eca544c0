/**
 * The worker's side of `bento serve --workers N`: it tells the primary when it
 * is ready, hands its metrics over for aggregation, answers `/metrics` with
 * every worker's metrics together, and stops when the primary says so.
 */
import type { ServerMetrics } from '../../observability/metrics.js';
import { type FromPrimary, type FromWorker, WORKER_ID_ENV, isBentoMessage } from './messages.js';

/** A scrape that the primary leaves unanswered this long fails (a worker may be stuck or restarting). */
const METRICS_TIMEOUT_MS = 5000;

export function workerSlot(env: Readonly<Record<string, string | undefined>> = process.env): number | undefined {
  const id = env[WORKER_ID_ENV];
  return id !== undefined && typeof process.send === 'function' ? Number(id) : undefined;
}

function send(message: FromWorker): void {
  // The channel may already be closing; the primary then no longer waits for this.
  if (process.connected) process.send?.(message, undefined, undefined, () => undefined);
}

/**
 * Joins this process's metrics to the primary's aggregation: the primary
 * collects each worker's registry, and this worker's `/metrics` shows the sum.
 */
export function linkMetrics(metrics: ServerMetrics): void {
  let nextId = 0;
  const pending = new Map<
    number,
    { resolve: (text: string) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }
  >();
  process.on('message', (message: unknown) => {
    if (!isBentoMessage<FromPrimary>(message)) return;
    if (message.type === 'bento:metrics-collect') {
      metrics.registry.getMetricsAsJSON().then(
        (json) => send({ type: 'bento:metrics-collected', id: message.id, metrics: json }),
        () => send({ type: 'bento:metrics-collected', id: message.id, metrics: [] }),
      );
    } else if (message.type === 'bento:metrics') {
      const waiting = pending.get(message.id);
      if (!waiting) return;
      pending.delete(message.id);
      clearTimeout(waiting.timer);
      if (message.text !== undefined) waiting.resolve(message.text);
      else waiting.reject(new Error(message.error ?? 'no metrics'));
    }
  });
  metrics.renderWith(
    () =>
      new Promise<string>((resolve, reject) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`the primary process did not send the aggregated metrics in ${METRICS_TIMEOUT_MS} ms`));
        }, METRICS_TIMEOUT_MS);
        pending.set(id, { resolve, reject, timer });
        send({ type: 'bento:metrics-request', id });
      }),
  );
}

export function reportReady(url: string, banner: string): void {
  send({ type: 'bento:ready', url, banner });
}

/**
 * Calls `stop` when the primary asks for a graceful stop, or on a signal of
 * its own: a terminal's Ctrl-C or systemd's stop signals the whole process
 * group at once. Several of these may come for one stop; the primary handles a
 * second signal by killing the workers. (A worker whose primary dies is ended
 * by node:cluster itself as soon as the IPC channel closes.) Install it before
 * the server starts: a stop asked for while the models load is kept and done
 * once the server is up.
 */
export function onPrimaryStop(stop: (why: string) => void): void {
  let stopping = false;
  const once = (why: string) => {
    if (stopping) return;
    stopping = true;
    stop(why);
  };
  process.on('message', (message: unknown) => {
    if (isBentoMessage<FromPrimary>(message) && message.type === 'bento:shutdown')
      once('shutdown requested by the primary process');
  });
  process.on('SIGTERM', () => once('SIGTERM received'));
  process.on('SIGINT', () => once('SIGINT received'));
}
