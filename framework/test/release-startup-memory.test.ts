/**
 * The collection a thread makes once its start-up is over gives back the young generation start-up grew: V8's
 * own heap statistics show the space shrink (its committed size, what the process's resident memory follows).
 */
import assert from 'node:assert/strict';
import { getHeapSpaceStatistics } from 'node:v8';
import { describe, it } from 'node:test';
import { releaseStartupMemory } from '../src/runtime/release-startup-memory.js';

const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size;

describe('releaseStartupMemory', () => {
  it("shrinks the young generation that a burst of short-lived objects grew to V8's smallest", (t) => {
    const kept: object[] = [];
    for (let i = 0; i < 3_000_000; i++) {
      kept.push({ i, text: `item ${i}` });
      if (kept.length > 100_000) kept.length = 0;
    }
    kept.length = 0;
    const grown = newSpace();
    // A young generation capped small (NODE_OPTIONS=--max-semi-space-size=1) has nothing to give back.
    if (grown < 8 << 20) return t.skip(`the young generation did not grow past ${grown} bytes`);
    releaseStartupMemory();
    const after = newSpace();
    assert.ok(after <= grown / 4, `${grown} → ${after} bytes`);
    // A second call (a runner worker reloaded in the same thread) works the same.
    releaseStartupMemory();
  });
});
