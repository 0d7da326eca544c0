/**
 * Gives back the memory a thread's start-up used and no longer needs, once, when it is about to idle: loading
 * modules and a model grows V8's young generation to its largest size, and V8 keeps it committed until a collection
 * made under memory pressure shrinks it (about 25 MB for the HTTP thread and a runner worker together, measured with
 * the bundled service). Node.js has no public call for that collection; V8's `gc` function, with the `last-resort`
 * flavour, is it. `gc` is taken from a context made while `--expose-gc` is set, and the flag is put back at once,
 * so contexts and threads made later get no `gc` global and the flags stay what the compile cache was made with.
 * It costs the start a few tens of milliseconds (709 against 742 ms to ready, medians of 3, in bench/versions.mjs).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

let gc: Gc | null | undefined;

/** V8's `gc`, or null where this V8 does not give it: then the memory stays, and nothing else changes. */
function v8Gc(): Gc | null {
  const own: unknown = (globalThis as { gc?: unknown }).gc;
  if (typeof own === 'function') return own as Gc;
  try {
    setFlagsFromString('--expose-gc');
    try {
      const found: unknown = runInNewContext('typeof gc === "function" ? gc : null');
      return typeof found === 'function' ? (found as Gc) : null;
    } finally {
      setFlagsFromString('--no-expose-gc');
    }
  } catch {
    return null;
  }
}

export function releaseStartupMemory(): void {
  if (gc === undefined) gc = v8Gc();
  gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
