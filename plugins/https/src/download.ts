import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  ModelChecksumError,
  ModelNotFoundError,
  ModelSourceUnavailableError,
  PayloadTooLargeError,
  type Logger,
} from '@bento-ts/framework/plugin';
import { type HttpsModelRef, shown } from './https-uri.js';

export interface DownloadOptions {
  maxBytes: number;
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  logger: Logger;
}

/** An HTTP answer that retrying will not change (4xx): the URL is wrong or not allowed. */
class Refused extends Error {}

async function once(ref: HttpsModelRef, file: string, o: DownloadOptions): Promise<void> {
  const res = await fetch(ref.url, { redirect: 'follow', signal: AbortSignal.timeout(o.timeoutMs) });
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    const what = `${shown(ref.url)} answered ${res.status} ${res.statusText}`;
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw new Refused(what);
    throw new Error(what);
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > o.maxBytes)
    throw new Refused(`${shown(ref.url)} is ${declared} bytes, over BENTO_HTTPS_MAX_BYTES (${o.maxBytes})`);
  const hash = createHash('sha256');
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > o.maxBytes)
        return done(new Refused(`${shown(ref.url)} sent more than BENTO_HTTPS_MAX_BYTES (${o.maxBytes})`));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(res.body), count, createWriteStream(file));
  // A connection cut short without an error still leaves fewer bytes than declared.
  if (Number.isFinite(declared) && bytes !== declared)
    throw new Error(`${shown(ref.url)} sent ${bytes} of ${declared} bytes`);
  const got = hash.digest('hex');
  if (got !== ref.sha256) {
    throw new ModelChecksumError(
      `${shown(ref.url)} has SHA-256 ${got}, not the ${ref.sha256} its URI names: the file changed or is not the model meant; nothing was stored`,
    );
  }
}

/**
 * Downloads `ref` into `file`, checking size and SHA-256 as the bytes arrive. Network errors, timeouts, truncated
 * bodies and 5xx answers are retried with backoff; a 4xx, an oversize file or a checksum mismatch is final.
 */
export async function download(ref: HttpsModelRef, file: string, o: DownloadOptions): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await once(ref, file, o);
    } catch (err) {
      if (err instanceof ModelChecksumError) throw err;
      const message = (err as Error).message;
      if (err instanceof Refused)
        throw message.includes('BENTO_HTTPS_MAX_BYTES')
          ? new PayloadTooLargeError(message)
          : new ModelNotFoundError(message);
      if (attempt >= o.retries)
        throw new ModelSourceUnavailableError(
          `${shown(ref.url)} could not be downloaded after ${attempt + 1} tries: ${message}`,
        );
      const wait = o.backoffMs * 2 ** attempt;
      o.logger.warn(`downloading ${shown(ref.url)} failed (${message}); trying again in ${wait} ms`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
