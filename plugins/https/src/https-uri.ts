import { InvalidInputError } from '@bento-ts/framework/plugin';

/** What an `https://` model URI names: where to fetch, the SHA-256 the bytes must have, and how to unpack them. */
export interface HttpsModelRef {
  /** The URL fetched: the URI without its fragment. */
  url: URL;
  sha256: string;
  /** A gzipped tarball of a model directory, unpacked into the store; else one model file, stored as it is. */
  archive: boolean;
  /** The file's name (the last path segment), which also names the model in the store. */
  fileName: string;
}

const ARCHIVE = /\.(tar\.gz|tgz)$/i;

/**
 * Parses `https://host/path/model.onnx#sha256=<64 hex digits>`. The checksum is required: a web server gives no other
 * guarantee that what it sends today is the model that was tested.
 */
export function parseHttpsUri(uri: string): HttpsModelRef {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new InvalidInputError(`${uri} is not a URL`);
  }
  if (url.protocol !== 'https:')
    throw new InvalidInputError(`${shown(url)}: only https:// is fetched (a model must not travel in clear)`);
  const sha256 = new URLSearchParams(url.hash.slice(1)).get('sha256')?.toLowerCase();
  if (!sha256 || !/^[0-9a-f]{64}$/.test(sha256)) {
    throw new InvalidInputError(
      `${shown(url)} names no checksum: add #sha256=<64 hex digits> (sha256sum <file>) so the download can be checked`,
    );
  }
  url.hash = '';
  const fileName = decodeURIComponent(url.pathname.split('/').pop() ?? '');
  if (!fileName || fileName === '.' || fileName === '..' || fileName.includes('/'))
    throw new InvalidInputError(`${shown(url)} names no file`);
  return { url, sha256, archive: ARCHIVE.test(fileName), fileName };
}

/** The URL as logs and errors show it: no credentials, no query (it may hold a signed token). */
export function shown(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** The model's name in the store: the file name without its extensions. */
export function modelName(ref: HttpsModelRef): string {
  return ref.fileName.replace(ARCHIVE, '').replace(/\.[^.]+$/, '') || 'model';
}
