/**
 * Gives back the memory a thread's start-up used and no longer needs, once, when it is about to idle: loading
 * modules and a model grows V8's young generation to its largest size, and V8 keeps it committed (about 5 MB per
 * thread here) until a collection made under memory pressure shrinks it. Node.js has no public call for that; the
 * `gc` function V8 exposes to a context created after `--expose-gc` is set is that collection, with the
 * `last-resort` flavour. It takes a few milliseconds, before the server says it is ready, so it costs no request.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

let gc: Gc | null | undefined;

/** V8's `gc`, or null where this V8 does not give it: then the memory stays, and nothing else changes. */
function v8Gc(): Gc | null {
  try {
    setFlagsFromString('--expose-gc');
    const found: unknown = runInNewContext('typeof gc === "function" ? gc : null');
    return typeof found === 'function' ? (found as Gc) : null;
  } catch {
    return null;
  }
}

export function releaseStartupMemory(): void {
  gc ??= v8Gc();
  gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
