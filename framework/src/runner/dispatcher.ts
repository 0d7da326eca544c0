import { BentoError, InferenceError, ServiceUnavailableError } from '../errors.js';
import {
  type BatchInput,
  type BatchOutput,
  concatBatch,
  isBatchInput,
  itemsOf,
  materializeBatch,
  sliceBatch,
  splitBatch,
  tensorsOf,
} from '../tensor/batch.js';
import { isTensorInput } from '../tensor/deferred.js';
import { type Tensor, isTensor } from '../tensor/tensor.js';
import { tagAnswer } from '../request/answered-by.js';
import { ArrivalRate } from './arrival-rate.js';
import { CostModel } from './cost-model.js';
import { type RequestTiming, timingOf } from '../request/request-timing.js';

/** Time source and timer; injected so tests drive the cost model and batch holding deterministically. */
export interface Clock {
  now(): number;
  /** Calls `fn` after `ms`; the timer must not keep the process alive. */
  schedule(fn: () => void, ms: number): void;
}

const TIMER_RESOLUTION_MS = 1;
/**
 * Recent values kept for admission's bad cases (batches' round-trip excess over the cost model, responses' sending
 * time), and the quantile taken of them.
 */
const TAIL_WINDOW = 64;
const TAIL_QUANTILE = 0.99;

/** Adds `value` to a window of recent values and returns their 99th percentile. */
function tail(window: number[], value: number): number {
  window.push(value);
  if (window.length > TAIL_WINDOW) window.shift();
  const sorted = [...window].sort((x, y) => x - y);
  return sorted[Math.floor(TAIL_QUANTILE * (sorted.length - 1))];
}

export const systemClock: Clock = {
  now: () => performance.now(),
  schedule: (fn, ms) => void setTimeout(fn, ms).unref(),
};

export interface DispatcherOptions {
  /** For error messages: `runner.method`. */
  name: string;
  /** Largest batch, in items along the input batch axis. */
  maxBatchSize: number;
  /** Latency objective per request, from arrival to result, in ms. */
  maxLatencyMs: number;
  /** Items that may wait; beyond it requests are refused at once. */
  maxQueueSize: number;
  /** [input axis, output axis] the batch is formed and split on. */
  batchDim: [number, number];
  /** Batches run at the same time (the runner's worker count). */
  concurrency: number;
  /** Batch sizes the model runs best at; a batch is cut down to the largest that fits, when one does. */
  preferredBatchSizes?: number[];
  /** First batches left out of the cost model (backend warm-up); default 2, as BentoML. */
  warmupBatches?: number;
  clock?: Clock;
  /** Told about every batch once it has run (metrics). */
  observer?: BatchObserver;
}

export interface BatchObserver {
  /**
   * A batch of `items` ran for `elapsedMs` (the runner's own measure when it gives one). `waitsMs`: how long
   * each request in it waited in the queue before this batch took its rows.
   */
  batch(items: number, waitsMs: number[], elapsedMs: number, failed: boolean): void;
}

/** A batch's output, and how long the model took on it when the runner measured that (else the round trip counts). */
export interface BatchResult {
  output: unknown;
  costMs?: number;
  /** The model version that ran the batch; each caller's rows are tagged with it (`answered-by.ts`). */
  model?: string;
}

export interface DispatcherStats {
  batches: number;
  items: number;
  /** Histogram: batch size → number of batches. */
  batchSizes: Record<number, number>;
  queuedItems: number;
  inFlight: number;
  rejectedQueueFull: number;
  rejectedLatency: number;
  /** Requests that waited so long that they could no longer be answered within maxLatencyMs, refused at dispatch. */
  expired: number;
  /** Times a partial batch was held for more work instead of dispatched at once. */
  holds: number;
  cost: { a: number; b: number };
  /** Expected ms between arriving items (undefined until known). */
  arrivalGapMs: number | undefined;
  /** The share of the latency objective kept for sending answers (99th percentile of recent responses). */
  deliveryMs: number;
  /** How far batches' round trips run past the cost model (99th percentile of recent batches). */
  excessMs: number;
}

interface Pending {
  input: BatchInput;
  /** When the request reached the server (its latency objective runs from there), or else when it was submitted. */
  arrivedAt: number;
  /** When it joined the queue. */
  queuedAt: number;
  /** Admitted because a worker was free for it: run, however late the estimates say it is (see expireLate). */
  startsNow: boolean;
  timing?: RequestTiming;
  rows: number;
  /** Rows handed to batches so far. */
  taken: number;
  /** Result pieces by starting row. */
  parts: Array<{ start: number; output: BatchOutput }>;
  done: number;
  settled: boolean;
  resolve(value: BatchOutput): void;
  reject(err: unknown): void;
}

interface Segment {
  request: Pending;
  start: number;
  count: number;
}

/**
 * The tensors of `batch` in buffers the dispatcher allocated (joined or deferred requests): a request's own tensor,
 * run as a batch by itself, is still its caller's, and handing its buffer to a worker would empty it under them.
 */
function ownTensors(batch: BatchOutput, segments: Segment[]): Tensor[] {
  const bufferOf = (t: Tensor) => (Array.isArray(t.data) ? undefined : t.data.buffer);
  const callers = new Set(segments.flatMap(({ request }) => tensorsOf(request.input).filter(isTensor).map(bufferOf)));
  return (tensorsOf(batch) as Tensor[]).filter((t) => bufferOf(t) && !callers.has(bufferOf(t)));
}

/**
 * Adaptive batching for one batchable method. Calls join one queue; whenever
 * a worker is free, the queue's head (up to maxBatchSize items, splitting a
 * large request across batches) runs as one tensor, and each caller gets its
 * own rows back. Under load the queue fills while workers are busy, so batches
 * grow with load. With a worker free and a partial batch queued, the batch is
 * held for more work only while that pays: the next item is expected sooner
 * than the fixed per-batch cost it would save (b of the a·n + b model), the
 * oldest item has not yet waited that long, and it would still finish within
 * maxLatencyMs. At light load (gaps longer than b) a lone request runs at once.
 * A request that cannot finish within maxLatencyMs, by the fitted cost model,
 * is refused with 503 instead of being queued; one that waited past the point
 * where it still could is refused when its batch would start. maxLatencyMs runs
 * from the request's arrival at the server (request-timing.ts) to its response
 * being sent: the time before the call and the time sending answers takes (its
 * recent 99th percentile) are counted against it.
 */
export class Dispatcher {
  private readonly queue: Pending[] = [];
  private queuedItems = 0;
  private readonly cost: CostModel;
  private readonly arrivals = new ArrivalRate();
  private readonly clock: Clock;
  private holding = false;
  /** Batches running now (their count is the workers in use), for the time their workers still need. */
  private readonly running = new Set<{ started: number; items: number }>();
  /** Recent batches' round trips beyond the cost model's estimate, and their 99th percentile. */
  private readonly excesses: number[] = [];
  private excessMs = 0;
  /** Recent times from an answer to its response being sent, and their 99th percentile. */
  private readonly deliveries: number[] = [];
  private deliveryMs = 0;
  /** When the last batch ended with nothing queued or running (undefined while there is work). */
  private idleSince: number | undefined;
  private readonly counters = { batches: 0, items: 0, rejectedQueueFull: 0, rejectedLatency: 0, expired: 0, holds: 0 };
  private readonly sizes: Record<number, number> = {};
  /** preferredBatchSizes, largest first. */
  private readonly preferred: number[];

  constructor(
    private readonly options: DispatcherOptions,
    /** `movable`: the batch's tensors this dispatcher wrote itself, whose buffers no caller holds. */
    private readonly runBatch: (batch: BatchOutput, movable: Tensor[]) => Promise<BatchResult>,
  ) {
    this.clock = options.clock ?? systemClock;
    this.cost = new CostModel(64, options.warmupBatches ?? 2);
    this.preferred = [...(options.preferredBatchSizes ?? [])].sort((a, b) => b - a);
  }

  /** The batching settings it runs with, as the service's definition resolved them. */
  get settings(): Readonly<
    Pick<DispatcherOptions, 'maxBatchSize' | 'maxLatencyMs' | 'maxQueueSize' | 'preferredBatchSizes'>
  > {
    const { maxBatchSize, maxLatencyMs, maxQueueSize, preferredBatchSizes } = this.options;
    return { maxBatchSize, maxLatencyMs, maxQueueSize, preferredBatchSizes };
  }

  stats(): DispatcherStats {
    return {
      ...this.counters,
      batchSizes: { ...this.sizes },
      queuedItems: this.queuedItems,
      inFlight: this.running.size,
      cost: this.cost.coefficients,
      arrivalGapMs: this.arrivals.gap,
      deliveryMs: this.deliveryMs,
      excessMs: this.excessMs,
    };
  }

  /** Queues one call's input; resolves with its rows of the batch's output (a tensor, or named tensors, as the method returns). */
  submit<T extends BatchOutput = Tensor>(input: unknown): Promise<T> {
    const { name, batchDim, maxQueueSize } = this.options;
    if (!isBatchInput(input))
      return Promise.reject(
        new InferenceError(`${name} is batchable: call it with one tensor, or an object of named tensors`),
      );
    const rows = itemsOf(input, batchDim[0]);
    if (rows === undefined)
      return Promise.reject(
        new InferenceError(`${name}: the named tensors have different numbers of items along axis ${batchDim[0]}`),
      );
    if (!rows || rows < 1)
      return Promise.reject(new InferenceError(`${name}: the input has no items along axis ${batchDim[0]}`));
    // An empty queue takes any request (its size is bounded by the body limit); otherwise the queue is bounded.
    if (this.queuedItems > 0 && this.queuedItems + rows > maxQueueSize) {
      this.counters.rejectedQueueFull++;
      return Promise.reject(
        new ServiceUnavailableError(
          `${name} is overloaded: its queue holds ${this.queuedItems} items (limit ${maxQueueSize})`,
          { retryAfter: 1 },
        ),
      );
    }
    // A request that can start at once is never refused: the cost model keeps learning, so one slow spell cannot
    // leave estimates that refuse everything for good.
    const startsNow = this.queuedItems === 0 && this.running.size < this.options.concurrency;
    const now = this.clock.now();
    this.forgetStaleTails(now);
    const timing = isTensorInput(input) ? timingOf(input) : undefined;
    const arrivedAt = timing ? Math.min(now, timing.receivedAt) : now;
    const expected = startsNow ? 0 : now - arrivedAt + this.expectedLatency(rows) + this.deliveryMs;
    if (expected > this.options.maxLatencyMs) {
      this.counters.rejectedLatency++;
      return Promise.reject(
        new ServiceUnavailableError(
          `${name} cannot answer within its latency objective of ${this.options.maxLatencyMs} ms (about ${Math.round(expected)} ms expected with ${this.queuedItems} items queued)`,
          { retryAfter: Math.max(1, Math.ceil(expected / 1000)) },
        ),
      );
    }
    this.arrivals.record(now, rows);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        input,
        arrivedAt,
        queuedAt: now,
        startsNow,
        timing,
        rows,
        taken: 0,
        parts: [],
        done: 0,
        settled: false,
        resolve: resolve as (v: BatchOutput) => void,
        reject,
      });
      this.queuedItems += rows;
      this.pump();
    });
  }

  /**
   * Time until a request of `rows` items, joining now, would have its result: the queue ahead is cut into full
   * batches, each taken by whichever worker frees first. Workers free when their running batch ends (by its start and
   * the cost model), so a request is never admitted on an average that the batch in flight has already used up. The
   * last batch is costed with the items expected to join it before it starts.
   */
  private expectedLatency(rows: number): number {
    if (!this.cost.fitted) return 0;
    const { maxBatchSize, concurrency } = this.options;
    const now = this.clock.now();
    const free = [...this.running].map((b) => Math.max(0, b.started + this.roundTrip(b.items) - now));
    while (free.length < concurrency) free.push(0);
    free.sort((x, y) => x - y);
    // Batch k goes to worker k mod c (in order of freeing): every full batch adds the same time to its worker.
    const ahead = this.queuedItems + rows;
    const last = Math.ceil(ahead / maxBatchSize) - 1;
    const starts = free[last % concurrency] + Math.floor(last / concurrency) * this.roundTrip(maxBatchSize);
    // The request's last batch takes in what arrives until it starts: under load it runs full, and costs that.
    const gap = this.arrivals.gap;
    const joining = gap === undefined || gap <= 0 ? 0 : Math.floor(starts / gap);
    return starts + this.roundTrip(Math.min(maxBatchSize, ahead - last * maxBatchSize + joining));
  }

  /**
   * After a quiet spell longer than the objective, the bad cases learned before it are forgotten: they measured a
   * load that has gone (an overload's event-loop delays, most of all). Kept, they would refuse a burst on an idle
   * runner until 64 new batches had replaced them, which at light traffic takes minutes. The next batches learn
   * afresh, and one slow batch is enough to count again.
   */
  private forgetStaleTails(now: number): void {
    if (this.idleSince === undefined || this.running.size > 0 || this.queuedItems > 0) return;
    if (now - this.idleSince <= this.options.maxLatencyMs) return;
    this.idleSince = undefined;
    this.excesses.length = 0;
    this.excessMs = 0;
    this.deliveries.length = 0;
    this.deliveryMs = 0;
  }

  /** What a batch of `items` costs its callers, in a bad case: the model's time, the hand-over and their jitter. */
  private roundTrip(items: number): number {
    return this.cost.estimate(items) + this.excessMs;
  }

  private pump(): void {
    while (this.running.size < this.options.concurrency && this.queuedItems > 0) {
      this.expireLate();
      if (this.queuedItems === 0) return;
      const hold = this.holdTime();
      if (hold > 0) return this.holdFor(hold);
      this.dispatch(this.takeBatch());
    }
  }

  /**
   * Refuses, from the queue's head, requests that can no longer be answered in time: admission judged them by an
   * estimate, and a slow batch ahead can still make them late. Answering them late would break the objective for
   * the caller; a 503 now lets it retry elsewhere, and spares the batch the work.
   *
   * A request admitted because a worker was free for it is run all the same. The bad-case shares this limit counts
   * (round-trip excess, sending time) are learned only from batches that run and answers that are sent: refusing
   * such a request on them would, after one slow spell, refuse every request arriving on an idle worker, run
   * nothing, and so never learn that the spell was over.
   */
  private expireLate(): void {
    const { maxLatencyMs, name } = this.options;
    const limit = maxLatencyMs - this.roundTrip(this.batchSize()) - this.deliveryMs;
    // When a batch alone takes longer than the objective, no wait would have been short enough: run it.
    if (limit <= 0 || !this.cost.fitted) return;
    const now = this.clock.now();
    while (this.queue.length > 0) {
      const head = this.queue[0];
      // A request split across batches has rows running already: it is seen through.
      if (head.taken > 0 || head.startsNow || now - head.arrivedAt <= limit) return;
      this.counters.expired++;
      this.fail(
        head,
        new ServiceUnavailableError(
          `${name} cannot answer within its latency objective of ${maxLatencyMs} ms: the request has waited ${Math.round(now - head.arrivedAt)} ms since it arrived`,
          { retryAfter: 1 },
        ),
      );
    }
  }

  /** How long to hold the queued partial batch for more work (0: dispatch now). */
  private holdTime(): number {
    const gap = this.arrivals.gap;
    if (this.queuedItems >= this.options.maxBatchSize || !this.cost.fitted || gap === undefined) return 0;
    const saving = this.cost.coefficients.b;
    if (gap >= saving) return 0;
    const now = this.clock.now();
    const head = this.queue[0];
    const budget = Math.min(
      saving - (now - head.queuedAt),
      this.options.maxLatencyMs - this.deliveryMs - this.roundTrip(this.queuedItems + 1) - (now - head.arrivedAt),
    );
    // Timers cannot wait less than 1 ms: a shorter hold would overshoot its budget.
    return budget >= TIMER_RESOLUTION_MS ? Math.min(Math.max(gap, TIMER_RESOLUTION_MS), budget) : 0;
  }

  private holdFor(ms: number): void {
    if (this.holding) return;
    this.holding = true;
    this.counters.holds++;
    this.clock.schedule(() => {
      this.holding = false;
      this.pump();
    }, ms);
  }

  private batchSize(): number {
    const available = Math.min(this.queuedItems, this.options.maxBatchSize);
    return this.preferred.find((s) => s <= available) ?? available;
  }

  private takeBatch(): Segment[] {
    let room = this.batchSize();
    const segments: Segment[] = [];
    while (room > 0 && this.queue.length > 0) {
      const request = this.queue[0];
      const count = Math.min(room, request.rows - request.taken);
      segments.push({ request, start: request.taken, count });
      request.taken += count;
      room -= count;
      this.queuedItems -= count;
      if (request.taken === request.rows) this.queue.shift();
    }
    return segments;
  }

  /** One tensor (or set of named ones) of the segments' rows; whole deferred requests are written straight into it. */
  private batchInput(segments: Segment[]): BatchOutput {
    const axis = this.options.batchDim[0];
    const parts = segments.map(({ request, start, count }) => {
      if (start === 0 && count === request.rows) return request.input;
      // A request split across batches is written once, into a buffer of its own, then sliced.
      const whole = materializeBatch(request.input);
      request.input = whole;
      return sliceBatch(whole, axis, start, count);
    });
    return parts.length === 1 ? materializeBatch(parts[0]) : concatBatch(parts, axis);
  }

  private dispatch(segments: Segment[]): void {
    const items = segments.reduce((n, s) => n + s.count, 0);
    this.counters.batches++;
    this.counters.items += items;
    this.sizes[items] = (this.sizes[items] ?? 0) + 1;
    const started = this.clock.now();
    const run = { started, items };
    this.running.add(run);
    let batch: BatchOutput;
    let movable: Tensor[];
    try {
      batch = this.batchInput(segments);
      movable = ownTensors(batch, segments);
    } catch (err) {
      this.finish(segments, run, err);
      return;
    }
    const observe = (failed: boolean, costMs?: number) =>
      this.options.observer?.batch(
        items,
        segments.map((s) => started - s.request.queuedAt),
        costMs ?? this.clock.now() - started,
        failed,
      );
    this.runBatch(batch, movable).then(
      ({ output, costMs, model }) => {
        observe(false, costMs);
        this.finish(segments, run, undefined, output, costMs, model);
      },
      (err: unknown) => {
        observe(true);
        this.finish(segments, run, err);
      },
    );
  }

  private finish(
    segments: Segment[],
    run: { started: number; items: number },
    error?: unknown,
    output?: unknown,
    costMs?: number,
    model?: string,
  ): void {
    this.running.delete(run);
    const { started, items } = run;
    // The model's own time when the runner reports it: the round trip also holds event-loop delays batching does not save.
    if (error === undefined) {
      const roundTrip = this.clock.now() - started;
      const learned = this.cost.record(items, costMs ?? roundTrip);
      // How far round trips run past the cost model (worker messages, event-loop delay, a slow run), and how much
      // that varies: admission counts on the bad case, so accepted requests keep the objective at the tail.
      if (learned) {
        this.excessMs = Math.max(0, tail(this.excesses, roundTrip - this.cost.estimate(items)));
      }
    }
    let pieces: BatchOutput[] | undefined;
    if (error === undefined) {
      const axis = this.options.batchDim[1];
      const returned = isBatchInput(output) ? itemsOf(output, axis) : undefined;
      if (returned !== items) {
        const got = isTensor(output)
          ? `shape [${output.shape.join(', ')}]`
          : isBatchInput(output)
            ? `named tensors of ${returned ?? 'differing numbers of'} items`
            : typeof output;
        error = new InferenceError(
          `${this.options.name} returned ${got} for a batch of ${items}; a batchable method must return one tensor (or named tensors) with ${items} items along axis ${axis}`,
        );
      } else {
        pieces = splitBatch(
          output as BatchOutput,
          axis,
          segments.map((s) => s.count),
        );
      }
    }
    segments.forEach((segment, i) => {
      const { request } = segment;
      if (request.settled) return;
      if (!pieces) return this.fail(request, error);
      request.parts.push({ start: segment.start, output: pieces[i] });
      request.done += segment.count;
      if (request.done === request.rows) {
        request.settled = true;
        if (request.timing) {
          request.timing.answeredAt = this.clock.now();
          request.timing.delivered = this.recordDelivery;
        }
        const parts = request.parts.sort((x, y) => x.start - y.start).map((p) => p.output);
        request.resolve(tagAnswer(parts.length === 1 ? parts[0] : concatBatch(parts, this.options.batchDim[1]), model));
      }
    });
    this.pump();
    if (this.running.size === 0 && this.queuedItems === 0) this.idleSince = this.clock.now();
  }

  /** How long a response took to send after its answer: the share of the objective left to the HTTP side. */
  private readonly recordDelivery = (ms: number): void => {
    // A client slow to read its answer stalls the sending: it must not take the whole objective from the others.
    this.deliveryMs = Math.min(this.options.maxLatencyMs / 2, tail(this.deliveries, ms));
  };

  private fail(request: Pending, error: unknown): void {
    request.settled = true;
    // Rows of this request still waiting would only be wasted work.
    const index = this.queue.indexOf(request);
    if (index >= 0) {
      this.queue.splice(index, 1);
      this.queuedItems -= request.rows - request.taken;
    }
    request.reject(
      error instanceof BentoError
        ? error
        : new InferenceError(`${this.options.name} failed: ${(error as Error)?.message ?? error}`),
    );
  }
}
