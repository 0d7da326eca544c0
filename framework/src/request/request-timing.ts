/**
 * When a request arrived, for the batching dispatcher: a latency objective runs from the request's arrival to its
 * answer, as the client sees the server, not from the runner call. The time spent reading and decoding the body
 * before the call, and serialising and sending the answer after it, is part of it, and under overload the event
 * loop makes both grow.
 *
 * The timing reaches the dispatcher without AsyncLocalStorage (which costs every promise of every request): it
 * travels on the objects the framework decodes (a tensor, an ImageInput and the pixels decoded from it), and, for
 * a runner call the API method makes before its first await, in a slot set while the method's synchronous part
 * runs. A call that gets neither (a tensor the service built after an await) is timed from the call.
 */
export interface RequestTiming {
  /** `performance.now()` when the request arrived. */
  readonly receivedAt: number;
  /** Set by the dispatcher that answered: told, once the response is sent, how long that took after its answer. */
  delivered?: (ms: number) => void;
  /** `performance.now()` when that dispatcher's answer was ready. */
  answeredAt?: number;
}

const TIMING = Symbol('bento.requestTiming');
let current: RequestTiming | undefined;

/** Runs `fn` (synchronously) with `timing` as the request a runner call made from it belongs to. */
export function withRequestTiming<R>(timing: RequestTiming, fn: () => R): R {
  const previous = current;
  current = timing;
  try {
    return fn();
  } finally {
    current = previous;
  }
}

/** Inputs of a composite (multipart fields, a list of images) looked into: more are JSON records, not inputs. */
const MAX_MEMBERS = 64;

/**
 * Marks a decoded input as belonging to `timing`, and, when it is a plain object or a short array, the objects
 * in it (an ImageInput in a multipart form); nested lists and typed arrays are left alone.
 */
export function tagTiming<T>(value: T, timing: RequestTiming | undefined): T {
  if (!mark(value, timing)) return value;
  const members = Array.isArray(value)
    ? value
    : Object.getPrototypeOf(value) === Object.prototype
      ? Object.values(value as object)
      : [];
  if (members.length <= MAX_MEMBERS)
    for (const member of members) if (!Array.isArray(member) && !ArrayBuffer.isView(member)) mark(member, timing);
  return value;
}

function mark(value: unknown, timing: RequestTiming | undefined): value is object {
  if (timing === undefined || typeof value !== 'object' || value === null || !Object.isExtensible(value)) return false;
  Object.defineProperty(value, TIMING, { value: timing, configurable: true });
  return true;
}

/** The timing `value` carries, or the one of the runner call being made now, if any. */
export function timingOf(value: unknown): RequestTiming | undefined {
  const carried =
    typeof value === 'object' && value !== null ? (value as { [TIMING]?: RequestTiming })[TIMING] : undefined;
  return carried ?? current;
}

/** The earliest timing among `values` (a batch of images from several requests waits for the first of them). */
export function earliestTiming(values: readonly unknown[]): RequestTiming | undefined {
  let earliest: RequestTiming | undefined;
  for (const v of values) {
    const t = typeof v === 'object' && v !== null ? (v as { [TIMING]?: RequestTiming })[TIMING] : undefined;
    if (t && (!earliest || t.receivedAt < earliest.receivedAt)) earliest = t;
  }
  return earliest;
}
