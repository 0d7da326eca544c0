import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type BentoError, type DeferredTensor, InferenceError, type Tensor, allocate, deferred } from '../src/index.js';
import { Dispatcher, type DispatcherOptions } from '../src/runner/dispatcher.js';
import { type RequestTiming, tagTiming } from '../src/request/request-timing.js';

/** A model stand-in: records each batch it is given and finishes it when the test says so. */
class FakeModel {
  readonly batches: Array<{ input: Tensor; resolve: (t: unknown) => void; reject: (e: unknown) => void }> = [];
  run = (input: Tensor) => new Promise<unknown>((resolve, reject) => this.batches.push({ input, resolve, reject }));
  /** Answers batch i with input × 10 (so each caller can check it got its own rows). */
  answer(i: number) {
    const { input, resolve } = this.batches[i];
    const out = allocate('float32', [...input.shape]);
    input.data.forEach((v, k) => (out.data[k] = Number(v) * 10));
    resolve(out);
  }
}

class FakeClock {
  t = 0;
  timers: Array<{ at: number; fn: () => void }> = [];
  now = () => this.t;
  schedule = (fn: () => void, ms: number) => void this.timers.push({ at: this.t + ms, fn });
  /** Moves time on by `ms`, firing the timers that fall due. */
  advance(ms: number) {
    this.t += ms;
    const due = this.timers.filter((x) => x.at <= this.t + 1e-9);
    this.timers = this.timers.filter((x) => x.at > this.t + 1e-9);
    for (const timer of due) timer.fn();
  }
}

const rows = (...values: number[]): Tensor => ({
  dtype: 'float32',
  shape: [values.length, 1],
  data: Float32Array.from(values),
});
const flush = () => new Promise((r) => setImmediate(r));

function make(overrides: Partial<DispatcherOptions> = {}) {
  const model = new FakeModel();
  const clock = new FakeClock();
  const dispatcher = new Dispatcher(
    {
      name: 'r.m',
      maxBatchSize: 4,
      maxLatencyMs: 100,
      maxQueueSize: 100,
      batchDim: [0, 0],
      concurrency: 1,
      warmupBatches: 0,
      clock,
      ...overrides,
    },
    (t) => model.run(t as Tensor).then((output) => ({ output })),
  );
  return { model, clock, dispatcher };
}

/** Teaches the cost model: `batches` batches of two items, each taking `ms`. */
async function teach({ model, clock, dispatcher }: ReturnType<typeof make>, ms: number, batches = 2) {
  for (let i = 0; i < batches; i++) {
    const p = dispatcher.submit(rows(1, 2));
    clock.t += ms;
    model.answer(model.batches.length - 1);
    await p;
  }
}

/** A slow spell: two batches of `ms` each, whose answers then take `sendMs` to be sent. */
async function sendSlowly({ model, clock, dispatcher }: ReturnType<typeof make>, ms: number, sendMs: number) {
  for (let i = 0; i < 2; i++) {
    const timing: RequestTiming = { receivedAt: clock.t };
    const slow = dispatcher.submit(tagTiming(rows(1, 2), timing));
    clock.t += ms;
    model.answer(model.batches.length - 1);
    await slow;
    timing.delivered!(sendMs);
  }
}

describe('Dispatcher', () => {
  it('runs a lone request at once, as a batch of its own', async () => {
    const { model, dispatcher } = make();
    const result = dispatcher.submit(rows(1));
    assert.equal(model.batches.length, 1);
    model.answer(0);
    assert.deepEqual([...(await result).data], [10]);
  });

  it('batches what arrives while the worker is busy and routes rows back to their callers in order', async () => {
    const { model, dispatcher } = make();
    const first = dispatcher.submit(rows(1));
    const waiting = [dispatcher.submit(rows(2, 3)), dispatcher.submit(rows(4)), dispatcher.submit(rows(5))];
    assert.equal(model.batches.length, 1, 'one batch in flight with concurrency 1');
    model.answer(0);
    await first;
    await flush();
    assert.equal(model.batches.length, 2);
    assert.deepEqual([...model.batches[1].input.data], [2, 3, 4, 5]);
    model.answer(1);
    const [a, b, c] = await Promise.all(waiting);
    assert.deepEqual([[...a.data], [...b.data], [...c.data]], [[20, 30], [40], [50]]);
    assert.deepEqual(dispatcher.stats().batchSizes, { 1: 1, 4: 1 });
  });

  it('counts items, not requests, and splits a request larger than what is left', async () => {
    const { model, dispatcher } = make();
    const blocker = dispatcher.submit(rows(0));
    const big = dispatcher.submit(rows(1, 2, 3));
    const bigger = dispatcher.submit(rows(4, 5, 6));
    model.answer(0);
    await blocker;
    await flush();
    assert.deepEqual([...model.batches[1].input.data], [1, 2, 3, 4]);
    model.answer(1);
    await flush();
    assert.deepEqual([...model.batches[2].input.data], [5, 6]);
    model.answer(2);
    assert.deepEqual([...(await big).data], [10, 20, 30]);
    assert.deepEqual([...(await bigger).data], [40, 50, 60], 'the split request is put back together in order');
  });

  it('splits one request larger than maxBatchSize over several batches', async () => {
    const { model, dispatcher } = make({ maxBatchSize: 2 });
    const result = dispatcher.submit(rows(1, 2, 3, 4, 5));
    for (let i = 0; i < 3; i++) {
      assert.equal(model.batches.length, i + 1);
      model.answer(i);
      await flush();
    }
    assert.deepEqual(
      model.batches.map((b) => b.input.shape[0]),
      [2, 2, 1],
    );
    assert.deepEqual([...(await result).data], [10, 20, 30, 40, 50]);
  });

  it('runs as many batches at once as it has workers', async () => {
    const { model, dispatcher } = make({ concurrency: 2 });
    const results = [dispatcher.submit(rows(1)), dispatcher.submit(rows(2)), dispatcher.submit(rows(3))];
    assert.equal(model.batches.length, 2);
    model.answer(1);
    await flush();
    assert.equal(model.batches.length, 3);
    model.answer(0);
    model.answer(2);
    assert.deepEqual(
      (await Promise.all(results)).map((t) => t.data[0]),
      [10, 20, 30],
    );
  });

  it('cuts batches down to a preferred size when one fits', async () => {
    const { model, dispatcher } = make({ maxBatchSize: 8, preferredBatchSizes: [1, 2, 4, 8] });
    const blocker = dispatcher.submit(rows(0));
    const rest = [1, 2, 3, 4, 5, 6].map((v) => dispatcher.submit(rows(v)));
    model.answer(0);
    await blocker;
    await flush();
    assert.equal(model.batches[1].input.shape[0], 4);
    model.answer(1);
    await flush();
    assert.equal(model.batches[2].input.shape[0], 2);
    model.answer(2);
    assert.deepEqual(
      (await Promise.all(rest)).map((t) => t.data[0]),
      [10, 20, 30, 40, 50, 60],
    );
  });

  it('refuses at once, with 503 and Retry-After, when the queue is full', async () => {
    const { model, dispatcher } = make({ maxQueueSize: 3 });
    const inFlight = dispatcher.submit(rows(1, 2, 3, 4));
    const queued = dispatcher.submit(rows(1, 2));
    await assert.rejects(
      dispatcher.submit(rows(1, 2)),
      (err: BentoError) =>
        err.statusCode === 503 && err.retryAfter === 1 && /queue holds 2 items \(limit 3\)/.test(err.message),
    );
    assert.equal(dispatcher.stats().rejectedQueueFull, 1);
    model.answer(0);
    await inFlight;
    await flush();
    model.answer(1);
    await queued;
  });

  it('refuses what the cost model says cannot finish within maxLatencyMs', async () => {
    const made = make({ maxBatchSize: 2, maxLatencyMs: 90 });
    const { model, clock, dispatcher } = made;
    await teach(made, 40);
    assert.ok(dispatcher.stats().cost.a > 0);
    const accepted = [dispatcher.submit(rows(1, 2)), dispatcher.submit(rows(3, 4))];
    clock.t += 20;
    // Ahead now: one batch running (20 ms of its 40 left) and one queued (40 ms); a third needs 40 ms more: 100 ms > 90.
    await assert.rejects(
      dispatcher.submit(rows(5, 6)),
      (err: BentoError) =>
        err.statusCode === 503 && /latency objective of 90 ms \(about 100 ms expected/.test(err.message),
    );
    assert.equal(dispatcher.stats().rejectedLatency, 1);
    clock.t += 20;
    model.answer(2);
    await flush();
    model.answer(3);
    await Promise.all(accepted);
  });

  it('counts the batch in flight by the time it has left, and the last batch as full when arrivals will fill it', async () => {
    const made = make({ maxBatchSize: 2, maxLatencyMs: 100 });
    const { model, clock, dispatcher } = made;
    await teach(made, 40);
    const running = dispatcher.submit(rows(1, 2));
    clock.t += 1;
    // `queued` waits for the 39 ms left of the running batch, then runs in a batch that items arriving about every
    // 20 ms fill before it starts: 39 + 40 = 79 ms, admitted.
    const queued = dispatcher.submit(rows(3));
    clock.t += 1;
    const second = dispatcher.submit(rows(4));
    // Another: 38 ms, the batch of `queued` and `second` (40), and its own, filled as it will be (40): 118 ms > 100.
    await assert.rejects(dispatcher.submit(rows(5)), /latency objective of 100 ms \(about 118 ms expected/);
    clock.t += 38;
    model.answer(2);
    await running;
    await flush();
    model.answer(3);
    await Promise.all([queued, second]);
  });

  it('refuses at dispatch a queued request that can no longer be answered in time, and runs the rest', async () => {
    const made = make({ maxBatchSize: 2, maxLatencyMs: 100 });
    const { model, clock, dispatcher } = made;
    await teach(made, 40);
    const slow = dispatcher.submit(rows(1, 2));
    const late = dispatcher.submit(rows(3, 4));
    // The running batch takes 90 ms instead of 40: `late` has waited 90 ms and its own batch needs 40 more.
    clock.t += 90;
    const fresh = dispatcher.submit(rows(5, 6));
    model.answer(2);
    await slow;
    await assert.rejects(
      late,
      (err: BentoError) =>
        err.statusCode === 503 && err.retryAfter === 1 && /waited 90 ms since it arrived/.test(err.message),
    );
    await flush();
    assert.deepEqual([...model.batches[3].input.data], [5, 6], 'the next batch is the request still on time');
    model.answer(3);
    await fresh;
    assert.equal(dispatcher.stats().expired, 1);
  });

  it('lets queued requests in after batches of one only, so that batches can grow', async () => {
    // Batches of one say nothing of the cost per item. Read per item, 50 ms each would price three items at
    // 150 ms, and only requests that start at once (batches of one again) would ever be let in.
    const made = make({ maxBatchSize: 8, maxLatencyMs: 150 });
    const { model, clock, dispatcher } = made;
    for (let i = 0; i < 3; i++) {
      const lone = dispatcher.submit(rows(i));
      clock.t += 50;
      model.answer(i);
      await lone;
    }
    assert.deepEqual(dispatcher.stats().cost, { a: 0, b: 50 });
    const running = dispatcher.submit(rows(1));
    clock.t += 5;
    const second = dispatcher.submit(rows(2));
    clock.t += 1;
    // Ahead: 44 ms of the running batch; then this one's batch, with the item expected to join it: 94 ms.
    const third = dispatcher.submit(rows(3));
    clock.t += 44;
    model.answer(3);
    await running;
    // Items are coming every few ms, sooner than the 50 ms a batch costs: the pair is held a while for more.
    for (let waited = 0; model.batches.length < 5 && waited < 50; waited++) clock.advance(1);
    assert.deepEqual([...model.batches[4].input.data], [2, 3], 'the two queued requests run as one batch');
    model.answer(4);
    assert.deepEqual([...(await second).data, ...(await third).data], [20, 30]);
    assert.equal(dispatcher.stats().rejectedLatency, 0);
  });

  it('counts the time before the call and the time answers take to send against the objective', async () => {
    const made = make({ maxBatchSize: 2, maxLatencyMs: 100 });
    const { model, clock, dispatcher } = made;
    await teach(made, 40);
    // Ahead of a request of two: 40 ms of the running batch and its own 40 ms.
    const running = dispatcher.submit(rows(1, 2));
    const decodedLate = tagTiming(rows(3, 4), { receivedAt: clock.t - 30 });
    await assert.rejects(dispatcher.submit(decodedLate), /latency objective of 100 ms \(about 110 ms expected/);
    const timing: RequestTiming = { receivedAt: clock.t };
    const onTime = dispatcher.submit(tagTiming(rows(5, 6), timing));
    clock.t += 40;
    model.answer(2);
    await running;
    clock.t += 40;
    model.answer(3);
    await onTime;
    assert.equal(timing.answeredAt, clock.t);
    // The server reports when the response was sent: 25 ms later. Sending now takes that share of the objective.
    timing.delivered!(25);
    assert.equal(dispatcher.stats().deliveryMs, 25);
    const next = dispatcher.submit(rows(7, 8));
    await assert.rejects(dispatcher.submit(rows(9, 10)), /about 105 ms expected/);
    clock.t += 40;
    model.answer(4);
    await next;
  });

  it('never refuses a request that can start at once, however slow the model has looked', async () => {
    const made = make({ maxBatchSize: 2, maxLatencyMs: 100 });
    const { model, clock, dispatcher } = made;
    await teach(made, 250, 3);
    // Batches of 250 ms, so 125 ms for one item, against a 100 ms objective: a request behind one is refused, one
    // on an idle worker runs (and teaches the cost model what the model takes now).
    const idle = dispatcher.submit(rows(1));
    await assert.rejects(dispatcher.submit(rows(2)), /latency objective/);
    clock.t += 10;
    model.answer(3);
    await idle;
    assert.equal(dispatcher.stats().batches, 4);
    const next = dispatcher.submit(rows(3));
    model.answer(4);
    await next;
  });

  it('runs a request that can start at once even when a slow spell left the estimates of its wait too high', async () => {
    const made = make({ maxBatchSize: 2, maxLatencyMs: 100 });
    const { model, clock, dispatcher } = made;
    await teach(made, 40);
    // A slow spell: two answers took 50 ms to send. Of the 100 ms objective, a batch (40 ms) and sending (50 ms)
    // leave 10 ms for the wait before a batch starts.
    await sendSlowly(made, 40, 50);
    assert.equal(dispatcher.stats().deliveryMs, 50);
    // Requests that took 15 ms to decode, each on an idle worker. Refused on the stale figure, none would run and
    // no answer would be sent to show that sending is fast again.
    for (let i = 0; i < 64; i++) {
      const timing: RequestTiming = { receivedAt: clock.t - 15 };
      const idle = dispatcher.submit(tagTiming(rows(i, i), timing));
      clock.t += 40;
      model.answer(model.batches.length - 1);
      await idle;
      timing.delivered!(1);
    }
    assert.equal(dispatcher.stats().expired, 0);
    assert.equal(dispatcher.stats().deliveryMs, 1, 'the spell has left the window of recent answers');
    // With the estimates current, a request behind a running batch is let in again: 40 + 40 + 1 ms.
    const running = dispatcher.submit(rows(1, 2));
    const queued = dispatcher.submit(rows(3, 4));
    clock.t += 40;
    model.answer(model.batches.length - 1);
    await running;
    clock.t += 40;
    model.answer(model.batches.length - 1);
    await queued;
    assert.equal(dispatcher.stats().rejectedLatency, 0);
  });

  it('forgets the bad cases of a load that has gone once it has been idle for longer than the objective', async () => {
    const made = make({ maxBatchSize: 2, maxLatencyMs: 100 });
    const { model, clock, dispatcher } = made;
    await teach(made, 40);
    // An overload's answers took 50 ms to send.
    await sendSlowly(made, 40, 50);
    // Behind a running batch, a request would wait 40 ms, run 40 and take 50 to send: refused.
    const refusedBehindABatch = async () => {
      const running = dispatcher.submit(rows(1, 2));
      await assert.rejects(dispatcher.submit(rows(3, 4)), /latency objective/);
      clock.t += 40;
      model.answer(model.batches.length - 1);
      await running;
    };
    await refusedBehindABatch();
    // Idle for a moment shorter than the objective: the figures still count.
    clock.t += 60;
    await refusedBehindABatch();
    // Idle for longer than the objective: the load that slowed sending has gone, and a burst is let in.
    clock.t += 101;
    const first = dispatcher.submit(rows(1, 2));
    const second = dispatcher.submit(rows(3, 4));
    assert.equal(dispatcher.stats().deliveryMs, 0);
    clock.t += 40;
    model.answer(model.batches.length - 1);
    await first;
    clock.t += 40;
    model.answer(model.batches.length - 1);
    assert.deepEqual([...(await second).data], [30, 40]);
    assert.equal(dispatcher.stats().rejectedLatency, 2);
  });

  it('fails every caller of a failing batch, and no one else', async () => {
    const { model, dispatcher } = make();
    const first = dispatcher.submit(rows(1));
    const second = [dispatcher.submit(rows(2)), dispatcher.submit(rows(3))];
    const later = dispatcher.submit(rows(4, 5, 6, 7, 8));
    model.answer(0);
    await first;
    await flush();
    model.batches[1].reject(new InferenceError('model exploded'));
    for (const p of second) await assert.rejects(p, /model exploded/);
    // The split request: its first rows rode in the failed batch, so it fails too, and its other rows are dropped.
    await assert.rejects(later, /model exploded/);
    await flush();
    assert.equal(dispatcher.stats().queuedItems, 0);
    const after = dispatcher.submit(rows(9));
    await flush();
    model.answer(model.batches.length - 1);
    assert.deepEqual([...(await after).data], [90]);
  });

  it('rejects a batch whose output does not have one row per item', async () => {
    const { model, dispatcher } = make();
    const p = dispatcher.submit(rows(1, 2));
    model.batches[0].resolve(rows(1));
    await assert.rejects(p, /returned shape \[1, 1\] for a batch of 2/);
  });

  it('batches along another axis when batchDim says so', async () => {
    const { model, dispatcher } = make({ batchDim: [1, 1] });
    const cols = (...v: number[]): Tensor => ({ dtype: 'float32', shape: [1, v.length], data: Float32Array.from(v) });
    const blocker = dispatcher.submit(cols(0));
    const a = dispatcher.submit(cols(1, 2));
    const b = dispatcher.submit(cols(3));
    model.answer(0);
    await blocker;
    await flush();
    assert.deepEqual(model.batches[1].input.shape, [1, 3]);
    model.answer(1);
    assert.deepEqual([...(await a).data], [10, 20]);
    assert.deepEqual([...(await b).data], [30]);
  });

  describe('holding a partial batch for more work', () => {
    /**
     * Teaches the cost model d(n) = 0.2·n + 8 ms (10 items in 10 ms, 2 in 8.4 ms) with arrivals
     * about 5 ms apart per item, and leaves the clock at t = 19 with the worker free.
     */
    async function taught(overrides: Partial<DispatcherOptions> = {}) {
      const made = make({ maxBatchSize: 16, ...overrides });
      const { model, clock, dispatcher } = made;
      const ten = dispatcher.submit(rows(...Array.from({ length: 10 }, (_, i) => i)));
      clock.t = 10;
      model.answer(0);
      await ten;
      const two = dispatcher.submit(rows(1, 2));
      clock.t = 18.4;
      model.answer(1);
      await two;
      clock.t = 19;
      const { a, b } = dispatcher.stats().cost;
      assert.ok(Math.abs(a - 0.2) < 1e-9 && Math.abs(b - 8) < 1e-9, `cost model a=${a} b=${b}`);
      return made;
    }

    it('holds while items arrive faster than the per-batch cost they save, and runs the batch once it is full', async () => {
      const { model, clock, dispatcher } = await taught();
      const first = dispatcher.submit(rows(1));
      assert.equal(
        model.batches.length,
        2,
        'the lone request is held: the next is expected in about 5.8 ms, sooner than the 8 ms a batch costs',
      );
      clock.t += 0.5;
      const second = dispatcher.submit(rows(2, 3));
      assert.equal(model.batches.length, 2, 'still partial: held');
      const rest = dispatcher.submit(rows(...Array.from({ length: 13 }, (_, i) => i + 4)));
      assert.equal(model.batches.length, 3, 'a full batch runs at once');
      assert.equal(model.batches[2].input.shape[0], 16);
      model.answer(2);
      assert.deepEqual([...(await first).data, ...(await second).data, (await rest).data[0]], [10, 20, 30, 40]);
      assert.equal(dispatcher.stats().holds, 1);
    });

    it('holds a request no longer than the per-batch cost (b)', async () => {
      const { model, clock, dispatcher } = await taught();
      const lone = dispatcher.submit(rows(7));
      clock.advance(5.8);
      assert.equal(model.batches.length, 2, 'still within its 8 ms budget');
      clock.advance(2.2);
      assert.equal(model.batches.length, 3, 'dispatched once it has waited b = 8 ms');
      model.answer(2);
      assert.deepEqual([...(await lone).data], [70]);
    });

    it('does not hold at light load, when the next item is expected later than b', async () => {
      const { model, clock, dispatcher } = await taught();
      clock.t = 60;
      const lone = dispatcher.submit(rows(7));
      assert.equal(model.batches.length, 3, 'dispatched at once');
      assert.equal(dispatcher.stats().holds, 0);
      model.answer(2);
      await lone;
    });

    it('holds only as long as the oldest request still meets maxLatencyMs', async () => {
      const { model, clock, dispatcher } = await taught({ maxLatencyMs: 12 });
      const lone = dispatcher.submit(rows(7));
      clock.advance(3.5);
      assert.equal(model.batches.length, 2);
      // 12 ms objective − 8.4 ms for a batch of two leaves 3.6 ms to wait.
      clock.advance(0.1);
      assert.equal(model.batches.length, 3);
      model.answer(2);
      await lone;
    });
  });

  it('has deferred inputs write themselves straight into the batch buffer, and a split one only once', async () => {
    const { model, dispatcher } = make();
    const writes: Array<{ target: ArrayLike<number>; offset: number }> = [];
    const lazy = (...values: number[]): DeferredTensor<'float32'> =>
      deferred('float32', [values.length, 1], (target, offset) => {
        writes.push({ target, offset });
        target.set(values, offset);
      });
    const blocker = dispatcher.submit(rows(0));
    const results = [dispatcher.submit(lazy(1, 2)), dispatcher.submit(rows(3)), dispatcher.submit(lazy(4, 5, 6))];
    model.answer(0);
    await blocker;
    await flush();
    const batch = model.batches[1].input;
    assert.deepEqual([...batch.data], [1, 2, 3, 4]);
    assert.equal(writes.length, 2);
    assert.deepEqual(
      writes.map((w) => [w.target === batch.data, w.offset]),
      [
        [false, 0],
        [true, 0],
      ],
      'the split request is written into a buffer of its own, then the whole one straight into the batch at 0',
    );
    model.answer(1);
    await flush();
    assert.deepEqual([...model.batches[2].input.data], [5, 6]);
    assert.equal(writes.length, 2, 'the split request was not written again');
    model.answer(2);
    assert.deepEqual(
      (await Promise.all(results)).map((t) => [...t.data]),
      [[10, 20], [30], [40, 50, 60]],
    );
  });

  it('leaves the warm-up batches out of its cost model, and prefers the time the runner measured', async () => {
    const model = new FakeModel();
    const clock = new FakeClock();
    const dispatcher = new Dispatcher(
      {
        name: 'r.m',
        maxBatchSize: 4,
        maxLatencyMs: 100,
        maxQueueSize: 100,
        batchDim: [0, 0],
        concurrency: 1,
        warmupBatches: 2,
        clock,
      },
      (t) => model.run(t as Tensor).then((output) => ({ output, costMs: 5 * (t as Tensor).shape[0] })),
    );
    for (let i = 0; i < 3; i++) {
      const p = dispatcher.submit(rows(...Array.from({ length: i + 1 }, () => 1)));
      clock.t += 1000; // the round trip, with event-loop delays, is not the model's cost
      model.answer(i);
      await p;
      if (i < 2) assert.deepEqual(dispatcher.stats().cost, { a: 0, b: 0 }, `batch ${i + 1} is warm-up`);
    }
    assert.deepEqual(
      dispatcher.stats().cost,
      { a: 5, b: 0 },
      'fitted from the third batch, with the runner-measured 15 ms for 3 items',
    );
  });

  it('refuses calls that are not one tensor', async () => {
    const { dispatcher } = make();
    await assert.rejects(dispatcher.submit([1, 2]), /call it with one tensor/);
  });
});
