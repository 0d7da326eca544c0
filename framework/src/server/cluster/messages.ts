/**
 * What the primary and its worker processes tell each other over the cluster
 * IPC channel. Every type is prefixed so that messages of other libraries on
 * the same channel are told apart.
 */
import type { Registry } from 'prom-client';

/** The environment variable that marks a process as a worker of `bento serve --workers N`, holding its slot. */
export const WORKER_ID_ENV = 'BENTO_WORKER_ID';

/** One worker's metrics as prom-client serializes them for aggregation. */
export type WorkerMetrics = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** Sent by a worker to the primary. */
export type FromWorker =
  /** Listening with every model loaded and warmed up; `banner` is the start-up text to show once. */
  | { type: 'bento:ready'; url: string; banner: string }
  /** A scrape of `/metrics` reached this worker: it asks the primary for every worker's metrics together. */
  | { type: 'bento:metrics-request'; id: number }
  /** This worker's own metrics, answering a `bento:metrics-collect`. */
  | { type: 'bento:metrics-collected'; id: number; metrics: WorkerMetrics };

/** Sent by the primary to a worker. */
export type FromPrimary =
  | { type: 'bento:metrics-collect'; id: number }
  | { type: 'bento:metrics'; id: number; text?: string; error?: string }
  /** Stop gracefully, as on SIGTERM. */
  | { type: 'bento:shutdown' };

export function isBentoMessage<T extends { type: string }>(value: unknown): value is T {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { type?: unknown }).type === 'string' &&
    (value as { type: string }).type.startsWith('bento:')
  );
}
