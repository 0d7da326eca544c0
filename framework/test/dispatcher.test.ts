import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type BentoError, InferenceError, type Tensor, allocate } from '../src/index.js';
import { Dispatcher, type DispatcherOptions } from '../src/runner/dispatcher.js';

/** A model stand-in: records each batch it is given and finishes it when the test says so. */
class FakeModel {
  readonly batches: Array<{ input: Tensor; resolve(t: unknown): void; reject(e: unknown): void }> = [];
  run = (input: Tensor) => new Promise<unknown>((resolve, reject) => this.batches.push({ input, resolve, reject }));
  /** Answers batch i with input × 10 (so each caller can check it got its own rows). */
  answer(i: number) {
    const { input, resolve } = this.batches[i]!;
    const out = allocate('float32', [...input.shape]);
    input.data.forEach((v, k) => (out.data[k] = Number(v) * 10));
    resolve(out);
  }
}

class FakeClock {
  t = 0;
  now = () => this.t;
}

const rows = (...values: number[]): Tensor => ({ dtype: 'float32', shape: [values.length, 1], data: Float32Array.from(values) });
const flush = () => new Promise((r) => setImmediate(r));

function make(overrides: Partial<DispatcherOptions> = {}) {
  const model = new FakeModel();
  const clock = new FakeClock();
  const dispatcher = new Dispatcher({ name: 'r.m', maxBatchSize: 4, maxLatencyMs: 100, maxQueueSize: 100, batchDim: [0, 0], concurrency: 1, clock, ...overrides }, model.run);
  return { model, clock, dispatcher };
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
    assert.deepEqual([...model.batches[1]!.input.data], [2, 3, 4, 5]);
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
    assert.deepEqual([...model.batches[1]!.input.data], [1, 2, 3, 4]);
    model.answer(1);
    await flush();
    assert.deepEqual([...model.batches[2]!.input.data], [5, 6]);
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
    assert.deepEqual(model.batches.map((b) => b.input.shape[0]), [2, 2, 1]);
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
    assert.deepEqual((await Promise.all(results)).map((t) => t.data[0]), [10, 20, 30]);
  });

  it('cuts batches down to a preferred size when one fits', async () => {
    const { model, dispatcher } = make({ maxBatchSize: 8, preferredBatchSizes: [1, 2, 4, 8] });
    const blocker = dispatcher.submit(rows(0));
    const rest = [1, 2, 3, 4, 5, 6].map((v) => dispatcher.submit(rows(v)));
    model.answer(0);
    await blocker;
    await flush();
    assert.equal(model.batches[1]!.input.shape[0], 4);
    model.answer(1);
    await flush();
    assert.equal(model.batches[2]!.input.shape[0], 2);
    model.answer(2);
    assert.deepEqual((await Promise.all(rest)).map((t) => t.data[0]), [10, 20, 30, 40, 50, 60]);
  });

  it('refuses at once, with 503 and Retry-After, when the queue is full', async () => {
    const { model, dispatcher } = make({ maxQueueSize: 3 });
    const inFlight = dispatcher.submit(rows(1, 2, 3, 4));
    const queued = dispatcher.submit(rows(1, 2));
    await assert.rejects(dispatcher.submit(rows(1, 2)), (err: BentoError) => err.statusCode === 503 && err.retryAfter === 1 && /queue holds 2 items \(limit 3\)/.test(err.message));
    assert.equal(dispatcher.stats().rejectedQueueFull, 1);
    model.answer(0);
    await inFlight;
    await flush();
    model.answer(1);
    await queued;
  });

  it('refuses what the cost model says cannot finish within maxLatencyMs', async () => {
    const { model, clock, dispatcher } = make({ maxBatchSize: 2, maxLatencyMs: 90 });
    // Teach the cost model: batches take 40 ms.
    for (let i = 0; i < 2; i++) {
      const p = dispatcher.submit(rows(1, 2));
      clock.t += 40;
      model.answer(i);
      await p;
    }
    assert.ok(dispatcher.stats().cost.a > 0);
    const accepted = [dispatcher.submit(rows(1, 2)), dispatcher.submit(rows(3, 4))];
    // Ahead now: one batch running (about 20 ms left) and one queued (40 ms); a third needs 40 ms more: 100 ms > 90.
    await assert.rejects(dispatcher.submit(rows(5, 6)), (err: BentoError) => err.statusCode === 503 && /latency objective of 90 ms \(about 100 ms expected/.test(err.message));
    assert.equal(dispatcher.stats().rejectedLatency, 1);
    clock.t += 40;
    model.answer(2);
    await flush();
    model.answer(3);
    await Promise.all(accepted);
  });

  it('fails every caller of a failing batch, and no one else', async () => {
    const { model, dispatcher } = make();
    const first = dispatcher.submit(rows(1));
    const second = [dispatcher.submit(rows(2)), dispatcher.submit(rows(3))];
    const later = dispatcher.submit(rows(4, 5, 6, 7, 8));
    model.answer(0);
    await first;
    await flush();
    model.batches[1]!.reject(new InferenceError('model exploded'));
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
    model.batches[0]!.resolve(rows(1));
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
    assert.deepEqual(model.batches[1]!.input.shape, [1, 3]);
    model.answer(1);
    assert.deepEqual([...(await a).data], [10, 20]);
    assert.deepEqual([...(await b).data], [30]);
  });

  it('refuses calls that are not one tensor', async () => {
    const { dispatcher } = make();
    await assert.rejects(dispatcher.submit([1, 2]), /call it with one tensor/);
  });
});
