import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { get } from 'node:https';
import { Transform } from 'node:stream';
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

const MAX_REDIRECTS = 5;

/**
 * GET `url` with Node's https client, following redirects to https:// URLs. Not fetch: undici (Node 24's own
 * 7.30.2, and 6.29 from npm) aborts the whole process with an internal assertion (`assert(!this.paused)` in
 * Parser.finish) when a server that ends its body by closing the connection (HTTP/1.0 with no Content-Length, as
 * `openssl s_server -WWW` does) closes it while the download is held back by the disk: one pull in eight here.
 */
async function open(url: URL, signal: AbortSignal, redirects = MAX_REDIRECTS): Promise<IncomingMessage> {
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    // `on`, not `once`: an aborted request can report more than one error, and an unheard one would end the process.
    get(url, { signal, headers: { 'user-agent': 'bento-ts-plugin-https' } }, resolve).on('error', reject);
  });
  // The same for the answer: until a pipeline owns it, its errors (a cut connection, the timeout) are ignored here
  // and surface, if it is read, where it is read.
  res.on('error', () => undefined);
  const status = res.statusCode ?? 0;
  const location = res.headers.location;
  if (status < 300 || status >= 400 || !location) return res;
  res.resume();
  const next = new URL(location, url);
  if (next.protocol !== 'https:')
    throw new Refused(`${shown(url)} redirects to ${next.protocol}// (a model must not travel in clear)`);
  if (redirects === 0) throw new Refused(`${shown(url)}: more than ${MAX_REDIRECTS} redirects`);
  return open(next, signal, redirects - 1);
}

async function once(ref: HttpsModelRef, file: string, o: DownloadOptions): Promise<void> {
  const res = await open(ref.url, AbortSignal.timeout(o.timeoutMs));
  const status = res.statusCode ?? 0;
  if (status < 200 || status >= 300) {
    res.resume();
    const what = `${shown(ref.url)} answered ${status} ${res.statusMessage ?? ''}`.trim();
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) throw new Refused(what);
    throw new Error(what);
  }
  const declared = Number(res.headers['content-length'] ?? NaN);
  if (declared > o.maxBytes) {
    res.destroy();
    throw new Refused(`${shown(ref.url)} is ${declared} bytes, over BENTO_HTTPS_MAX_BYTES (${o.maxBytes})`);
  }
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
  await pipeline(res, count, createWriteStream(file));
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
