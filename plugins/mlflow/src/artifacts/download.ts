import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join, normalize, sep } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  BentoError,
  type Logger,
  ModelLoadError,
  ModelNotFoundError,
  ModelSourceUnavailableError,
} from '@bento-ts/framework/plugin';
import cliProgress from 'cli-progress';
import { isBrokenTransfer } from '../rest-client.js';
import { type ArtifactEntry, type ArtifactRepository, listFiles } from './repository.js';

export interface DownloadOptions {
  /** Draw a progress bar on stderr. */
  progress: boolean;
  /** Label for the bar. */
  label: string;
  /** Further attempts at a file whose transfer broke, stalled or came short (MLFLOW_HTTP_REQUEST_MAX_RETRIES). */
  retries?: number;
  /** Wait before the first retry, doubled for each next one (MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR, in ms here). */
  backoffMs?: number;
  logger?: Logger;
}

/** Files fetched at once: enough to hide latency, few enough not to swamp a small server. */
const PARALLEL = Math.min(2 * availableParallelism(), 8);

function safeTarget(dest: string, path: string): string {
  const target = normalize(join(dest, path));
  if (!target.startsWith(dest + sep))
    throw new ModelLoadError(`refusing artifact path "${path}": it leaves the download directory`);
  return target;
}

async function fetchFile(
  repo: ArtifactRepository,
  entry: ArtifactEntry,
  dest: string,
  onBytes: (n: number) => void,
): Promise<void> {
  const target = safeTarget(dest, entry.path);
  await mkdir(dirname(target), { recursive: true });
  const body = await repo.open(entry.path);
  const md5 = entry.md5 ? createHash('md5') : undefined;
  let size = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      md5?.update(chunk);
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
  try {
    await pipeline(body, count, createWriteStream(target));
  } catch (err) {
    // AWS's client checks an object's bytes against the checksum header the store sent, as they stream.
    if (/^Checksum mismatch/.test((err as Error).message)) {
      throw new ModelLoadError(`download of ${repo.uri}/${entry.path} is corrupt: ${(err as Error).message}`, {
        cause: err,
      });
    }
    throw err;
  }
  if (entry.size !== undefined && size !== entry.size) {
    throw new ModelLoadError(`download of ${repo.uri}/${entry.path} is incomplete: ${size} of ${entry.size} bytes`);
  }
  if (md5 && entry.md5 && md5.digest('hex') !== entry.md5) {
    throw new ModelLoadError(
      `download of ${repo.uri}/${entry.path} is corrupt: its MD5 does not match the store's ETag`,
    );
  }
}

/**
 * A transfer that broke, stalled or came short is worth another try; an answer
 * the server meant (not found, refused, a path that leaves the directory) is not.
 */
function isTransferFailure(err: unknown): boolean {
  if (err instanceof ModelLoadError) return /is incomplete|is corrupt/.test(err.message);
  if (err instanceof BentoError) return false;
  // Network failures only: a full disk or a permission error does not get better by downloading again.
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  return (
    e.name === 'TimeoutError' ||
    e.name === 'AbortError' ||
    isBrokenTransfer([e.code, e.message, e.cause?.code, e.cause?.message].filter(Boolean).join(' '))
  );
}

async function fetchWithRetries(
  repo: ArtifactRepository,
  entry: ArtifactEntry,
  dest: string,
  onBytes: (n: number) => void,
  options: DownloadOptions,
): Promise<void> {
  const retries = options.retries ?? 0;
  for (let attempt = 0; ; attempt++) {
    let received = 0;
    try {
      // Each attempt writes the file anew; the directory is committed to the store only once every file is whole.
      await fetchFile(repo, entry, dest, (n) => {
        received += n;
        onBytes(n);
      });
      return;
    } catch (err) {
      onBytes(-received);
      if (!isTransferFailure(err)) throw err;
      if (attempt >= retries) {
        if (err instanceof BentoError) throw err;
        // A raw stream error ("terminated", a timeout) says nothing to the user on its own.
        throw new ModelSourceUnavailableError(
          `download of ${repo.uri}/${entry.path} failed after ${attempt + 1} attempt${attempt ? 's' : ''} (${(err as Error).message}): the connection broke or went quiet`,
          { cause: err },
        );
      }
      // As the REST client's: doubled per retry, at most 30 s.
      const wait = Math.min(30_000, (options.backoffMs ?? 1000) * 2 ** attempt);
      options.logger?.warn(
        `download of ${entry.path} failed (${(err as Error).message}); retry ${attempt + 1}/${retries} in ${(wait / 1000).toFixed(1)} s`,
      );
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/**
 * Copies every file of `repo` into `dest` (which must be empty), in parallel,
 * checking each file's size (and MD5, where the store gives one) against the
 * listing, and retrying a file whose transfer failed. Returns the files fetched.
 */
export async function downloadTree(
  repo: ArtifactRepository,
  dest: string,
  options: DownloadOptions,
): Promise<ArtifactEntry[]> {
  const files = await listFiles(repo);
  if (files.length === 0) throw new ModelNotFoundError(`no artifacts at ${repo.uri}`);
  const total = files.reduce((n, f) => n + (f.size ?? 0), 0);
  const bar = options.progress
    ? new cliProgress.SingleBar(
        {
          format: `${options.label} [{bar}] {percentage}% {value}/{total} bytes | {files} files`,
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(total, 0, { files: files.length });
  let done = 0;
  const queue = [...files];
  let failure: { error: unknown } | undefined;
  try {
    // On the first failure no lane takes another file, and the download ends only once the files in flight in the
    // other lanes have: the caller then discards `dest`, which a lane still writing into would fill again.
    await Promise.all(
      Array.from({ length: Math.min(PARALLEL, files.length) }, async () => {
        for (let entry = queue.shift(); entry && !failure; entry = queue.shift()) {
          const onBytes = (n: number) => {
            done += n;
            bar?.update(done);
          };
          await fetchWithRetries(repo, entry, dest, onBytes, options).catch(
            (error: unknown) => void (failure ??= { error }),
          );
        }
      }),
    );
  } finally {
    bar?.stop();
  }
  if (failure) throw failure.error;
  return files;
}
