/**
 * The server's Prometheus metrics (prom-client), on a registry of its own so
 * that several servers in one process (tests, embedding) never mix. Names and
 * labels are documented in docs/observability.md; keep the two in step.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchObserver } from '../runner/dispatcher.js';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

export interface ModelLabels {
  runner: string;
  name: string;
  version: string;
  format: string;
  backend: string;
  device: string;
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'bento_http_requests_total',
    help: 'HTTP requests answered, by route template, method and status code',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'bento_http_request_duration_seconds',
    help: 'Time from request arrival to the end of the response, by route template, method and status code',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({
    name: 'bento_http_requests_in_flight',
    help: 'HTTP requests being handled now, by route template',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  readonly queueWait = this.runnerHistogram(
    'bento_runner_queue_wait_seconds',
    'Time a call waited in its adaptive-batching queue before a batch took it',
    LATENCY_BUCKETS,
  );
  readonly batchSize = this.runnerHistogram(
    'bento_runner_batch_size',
    'Items per batch run by the model',
    BATCH_BUCKETS,
  );
  readonly inference = this.runnerHistogram(
    'bento_runner_inference_seconds',
    'Time the model took on one batch (measured in the worker)',
    LATENCY_BUCKETS,
  );
  /** Read at each scrape from the dispatchers watched (watchQueue); summed where variants share a runner's name. */
  readonly queueItems = new Gauge({
    name: 'bento_runner_queue_items',
    help: 'Items waiting in an adaptive-batching queue for a batch to take them, by runner and method',
    labelNames: ['runner', 'method'] as const,
    registers: [this.registry],
    collect: () => {
      this.queueItems.reset();
      for (const { labels, read } of this.queues) this.queueItems.inc(labels, read());
    },
  });
  private readonly queues: Array<{ labels: { runner: string; method: string }; read: () => number }> = [];
  readonly batchFailures = new Counter({
    name: 'bento_runner_batch_failures_total',
    help: 'Batches that failed in the runner, by runner and method',
    labelNames: ['runner', 'method'] as const,
    registers: [this.registry],
  });
  // Across worker processes: the slowest load, and one model-info sample per model rather than a count of workers.
  readonly modelLoad = new Gauge({
    name: 'bento_model_load_seconds',
    help: 'Time to resolve, load and warm up the model of a runner, at start or at its last hot update',
    labelNames: ['runner'] as const,
    aggregator: 'max',
    registers: [this.registry],
  });
  readonly modelInfo = new Gauge({
    name: 'bento_model_info',
    help: 'The model each runner serves (always 1): name, version, format, backend and device as labels',
    labelNames: ['runner', 'name', 'version', 'format', 'backend', 'device'] as const,
    aggregator: 'max',
    registers: [this.registry],
  });
  private render: () => Promise<string> = () => this.registry.metrics();

  private runnerHistogram(name: string, help: string, buckets: number[]): Histogram<'runner' | 'method'> {
    return new Histogram({
      name,
      help: `${help}, by runner and method`,
      labelNames: ['runner', 'method'] as const,
      buckets,
      registers: [this.registry],
    });
  }

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** The text exposition a scrape of `/metrics` returns. */
  exposition(): Promise<string> {
    return this.render();
  }

  /** Replaces this registry's own exposition, e.g. with every worker process's metrics aggregated. */
  renderWith(render: () => Promise<string>): void {
    this.render = render;
  }

  /** Reports `read()`, the items a runner method's queue holds, at every scrape. */
  watchQueue(runner: string, method: string, read: () => number): void {
    this.queues.push({ labels: { runner, method }, read });
  }

  /** The observer a runner method's dispatcher reports its batches to. */
  batchObserver(runner: string, method: string): BatchObserver {
    const labels = { runner, method };
    return {
      batch: (items, waitsMs, elapsedMs, failed) => {
        this.batchSize.observe(labels, items);
        for (const w of waitsMs) this.queueWait.observe(labels, w / 1000);
        if (failed) this.batchFailures.inc(labels);
        else this.inference.observe(labels, elapsedMs / 1000);
      },
    };
  }

  readonly modelUpdates = new Counter({
    name: 'bento_model_updates_total',
    help: "Hot updates of a runner's model: a new version swapped in, or refused (it failed to load or warm up, or its signature differs)",
    labelNames: ['runner', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly variantRequests = new Counter({
    name: 'bento_variant_requests_total',
    help: 'Runner calls by model variant (canary, A/B, shadow): which variant and version took them, as the primary answer or a shadow copy, and how they ended',
    labelNames: ['runner', 'variant', 'version', 'role', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly served = new Map<string, ModelLabels>();

  /** A runner's model is loaded (at start, or swapped in by a hot update): model info names it alone. */
  modelLoaded(model: ModelLabels, seconds: number): void {
    const before = this.served.get(model.runner);
    if (before) this.modelInfo.remove({ ...before });
    this.served.set(model.runner, model);
    this.modelLoad.set({ runner: model.runner }, seconds);
    this.modelInfo.set({ ...model }, 1);
  }
}
