/**
 * The primary process of `bento serve --workers N`: it forks N worker
 * processes that share the port (node:cluster hands each connection to one of
 * them), restarts a worker that dies, aggregates their metrics for `/metrics`,
 * and stops them all gracefully on SIGTERM or SIGINT.
 *
 * Each worker is a whole server (HTTP, batching, its own runner pools), so the
 * primary holds no model and no request state.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import { ConfigError } from '../../errors.js';
import { type FromPrimary, type FromWorker, WORKER_ID_ENV, type WorkerMetrics, isBentoMessage } from './messages.js';

/** A worker that leaves its share of a scrape unanswered this long is left out of it. */
const COLLECT_TIMEOUT_MS = 2000;
/** Restart back-off: doubled for each crash within the window, capped. */
const RESTART_BASE_MS = 500;
const RESTART_MAX_MS = 30_000;
const CRASH_WINDOW_MS = 60_000;

export type WorkersSetting = number | 'cpu_count' | undefined;

/** The number of worker processes from a setting (a count, a numeric string or `cpu_count`); unset or empty: 1. */
export function serveWorkerCount(setting: WorkersSetting | (string & {})): number {
  if (setting === undefined || setting === '') return 1;
  if (setting === 'cpu_count') return availableParallelism();
  const n = Number(setting);
  if (!Number.isInteger(n) || n < 1)
    throw new ConfigError(`workers must be a positive integer or "cpu_count", got ${JSON.stringify(setting)}`);
  return n;
}

export interface PrimaryOptions {
  workers: number;
  /** Seconds each worker has to finish its in-flight requests on shutdown. */
  graceSeconds: number;
  /** Start-up banner and life-cycle lines. */
  out: (text: string) => void;
  log: (line: string) => void;
}

interface Slot {
  id: number;
  worker?: Worker;
  ready: boolean;
  crashes: number[];
}

class ClusterMetrics {
  readonly registry = new Registry();
  readonly processes = new Gauge({
    name: 'bento_worker_processes',
    help: 'Worker processes serving the port and ready',
    registers: [this.registry],
  });
  readonly restarts = new Counter({
    name: 'bento_worker_restarts_total',
    help: 'Worker processes restarted after they died',
    registers: [this.registry],
  });
  private nextId = 0;
  private readonly collecting = new Map<number, { parts: WorkerMetrics[]; waiting: Set<number>; done: () => void }>();

  /** Every ready worker's registry, summed by prom-client's cluster aggregation (each metric's `aggregator`). */
  async collect(workers: Worker[]): Promise<string> {
    const id = this.nextId++;
    const parts: WorkerMetrics[] = [await this.registry.getMetricsAsJSON()];
    await new Promise<void>((resolve) => {
      const waiting = new Set(workers.map((w) => w.id));
      const timer = setTimeout(done, COLLECT_TIMEOUT_MS);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.collecting.set(id, { parts, waiting, done });
      for (const w of workers) {
        // A worker may have died since the list was made: leave it out rather than wait for it.
        if (!w.isConnected()) waiting.delete(w.id);
        else
          w.send(
            { type: 'bento:metrics-collect', id } satisfies FromPrimary,
            (err: Error | null) => err && this.received(w, id, []),
          );
      }
      if (waiting.size === 0) done();
    });
    this.collecting.delete(id);
    return AggregatorRegistry.aggregate(parts).metrics();
  }

  received(worker: Worker, id: number, metrics: WorkerMetrics): void {
    const c = this.collecting.get(id);
    if (!c || !c.waiting.delete(worker.id)) return;
    c.parts.push(metrics);
    if (c.waiting.size === 0) c.done();
  }
}

/**
 * Runs the primary until every worker has stopped. Resolves with the exit code:
 * 0 after a graceful stop in which every worker exited 0.
 */
export function runPrimary(options: PrimaryOptions): Promise<number> {
  const slots: Slot[] = Array.from({ length: options.workers }, (_, id) => ({ id, ready: false, crashes: [] }));
  const metrics = new ClusterMetrics();
  let started = false;
  let stopping = false;
  let failed = false;
  // A worker that could not start exits as the CLI does (2: configuration, 3: not found): the primary passes its code on.
  let startFailure: number | undefined;
  let banner: string | undefined;

  return new Promise<number>((resolve) => {
    const ready = () => slots.filter((s) => s.ready && s.worker?.isConnected()).map((s) => s.worker!);
    const alive = () => slots.filter((s) => s.worker && !s.worker.isDead());
    const updateGauge = () => metrics.processes.set(ready().length);

    const finishIfDone = () => {
      if (alive().length === 0) resolve(failed ? (startFailure ?? 1) : 0);
    };

    const fork = (slot: Slot) => {
      slot.ready = false;
      const worker = cluster.fork({ [WORKER_ID_ENV]: String(slot.id) });
      slot.worker = worker;
      // A send to a worker that is going away fails with an error event; its 'exit' handles the rest.
      worker.on('error', (err) => options.log(`worker ${slot.id}: ${err.message}`));
      worker.on('message', (message: unknown) => {
        if (!isBentoMessage<FromWorker>(message)) return;
        if (message.type === 'bento:ready') {
          slot.ready = true;
          banner ??= message.banner;
          updateGauge();
          if (stopping) worker.send({ type: 'bento:shutdown' } satisfies FromPrimary);
          else if (!started) startRest();
          else options.log(`worker ${slot.id} (pid ${worker.process.pid}) is back`);
        } else if (message.type === 'bento:metrics-request') {
          metrics.collect(ready()).then(
            (text) =>
              worker.isConnected() &&
              worker.send({ type: 'bento:metrics', id: message.id, text } satisfies FromPrimary, () => undefined),
            (err: Error) =>
              worker.isConnected() &&
              worker.send(
                { type: 'bento:metrics', id: message.id, error: err.message } satisfies FromPrimary,
                () => undefined,
              ),
          );
        } else if (message.type === 'bento:metrics-collected') {
          metrics.received(worker, message.id, message.metrics);
        }
      });
      worker.on('exit', (code, signal) => {
        const wasReady = slot.ready;
        slot.ready = false;
        updateGauge();
        const how = signal ? `signal ${signal}` : `code ${code}`;
        if (stopping) {
          if (code !== 0) failed = true;
          options.log(`worker ${slot.id} (pid ${worker.process.pid}) stopped with ${how}`);
          finishIfDone();
          return;
        }
        if (!started && !wasReady) {
          // A worker that cannot start (a model that does not load, a port in use) will not start on a retry either.
          options.log(`worker ${slot.id} exited with ${how} before it was ready: stopping`);
          failed = true;
          startFailure ??= code && code > 0 ? code : 1;
          stopAll();
          finishIfDone();
          return;
        }
        const now = Date.now();
        slot.crashes = [...slot.crashes.filter((t) => now - t < CRASH_WINDOW_MS), now];
        const delay = Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** (slot.crashes.length - 1));
        options.log(`worker ${slot.id} (pid ${worker.process.pid}) exited with ${how}: restarting in ${delay} ms`);
        metrics.restarts.inc();
        setTimeout(() => stopping || fork(slot), delay).unref();
      });
    };

    // The first worker starts alone: it downloads the models into the store, where the others then find them.
    const startRest = () => {
      const waiting = slots.filter((s) => !s.worker);
      if (waiting.length > 0) {
        waiting.forEach(fork);
        return;
      }
      if (slots.every((s) => s.ready)) {
        started = true;
        options.out(banner ?? '');
        options.log(
          `${slots.length} worker processes serving: pids ${slots.map((s) => s.worker!.process.pid).join(', ')}`,
        );
      }
    };

    const stopAll = () => {
      if (stopping) return;
      stopping = true;
      for (const s of alive()) {
        if (s.worker!.isConnected()) s.worker!.send({ type: 'bento:shutdown' } satisfies FromPrimary, () => undefined);
        else s.worker!.kill('SIGTERM');
      }
      // Workers enforce the grace period themselves; this catches one that hangs past it (or is still starting).
      setTimeout(
        () => {
          for (const s of alive()) {
            options.log(`worker ${s.id} did not stop within the grace period: killing it`);
            s.worker!.process.kill('SIGKILL');
          }
          failed = true;
        },
        (options.graceSeconds + 5) * 1000,
      ).unref();
    };

    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        options.log(`${signal} received again: stopping the workers without waiting`);
        for (const s of alive()) s.worker!.process.kill('SIGKILL');
        failed = true;
        return;
      }
      options.log(
        `${signal} received: each worker finishes its in-flight requests (up to ${options.graceSeconds} s), then stops`,
      );
      stopAll();
      finishIfDone();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    fork(slots[0]);
  });
}
