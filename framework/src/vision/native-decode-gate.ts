import pLimit from 'p-limit';

/**
 * Every sharp (libvips) call on untrusted bytes goes through this gate, one at a time.
 *
 * Why: the hostile-input fuzz suite killed the server with SIGSEGV at 16 concurrent clients (once in CI, once in
 * seven local runs), and never when the same 20,000 requests were sent one after another. A native crash takes the whole
 * process down, every accepted request with it, so the decoders of mutated images must not run side by side.
 * The cost is small where it matters: PNG and JPEG images up to JS_DECODE_MAX_PIXELS are decoded in JavaScript
 * and never reach the gate.
 */
export const nativeDecode = pLimit(1);
