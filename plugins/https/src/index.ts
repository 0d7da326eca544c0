/**
 * @bento-ts/plugin-https: serves models from any web server or artifact repository. `MODEL_URI=https://host/path/
 * model.onnx#sha256=<hex>` downloads the file (or a `.tar.gz` of a model directory) once into the model store,
 * checked against the SHA-256 in its URI; later starts use the stored copy without the server.
 *
 * It is also the worked example of a model-source plugin: see docs/plugins.md.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ModelFormatError,
  type ModelSource,
  type ModelSourceContext,
  type ResolvedModel,
  type StoredModel,
  definePlugin,
  envInt,
  inspectModelPath,
  tagPart,
  unpackArchive,
  unpackLimits,
} from '@bento-ts/framework/plugin';
import { download } from './download.js';
import { type HttpsModelRef, modelName, parseHttpsUri, shown } from './https-uri.js';

const MiB = 1 << 20;

/** A tarball's entries land only inside the model directory: plain files and directories, no links, no escapes, bounded. */
async function unpack(archive: string, dir: string, ref: HttpsModelRef, env: ModelSourceContext['env']): Promise<void> {
  await unpackArchive(archive, dir, unpackLimits(env), {
    refused: (reason) => new ModelFormatError(`${shown(ref.url)} is refused: ${reason}`),
    unreadable: (message) =>
      new ModelFormatError(`${shown(ref.url)} is not a readable .tar.gz (truncated or corrupt): ${message}`),
  });
}

/**
 * The URI as it is kept (store manifest, model info, metrics): without user, password or query, since a signed
 * URL's query is a credential; the checksum names the content, so nothing is lost.
 */
export function keptUri(ref: HttpsModelRef): string {
  return `${shown(ref.url)}#sha256=${ref.sha256}`;
}

async function fetchIntoStore(ref: HttpsModelRef, uri: string, ctx: ModelSourceContext): Promise<StoredModel> {
  const tag = `${tagPart(modelName(ref))}:${ref.sha256.slice(0, 12)}`;
  const known = await ctx.store.find(tag);
  // The checksum names the content: a stored copy that still verifies is the same model.
  if (known && !(await ctx.store.verify(known))) return ctx.store.remember(known, uri);
  const staging = await ctx.store.staging();
  try {
    ctx.logger.info(`downloading ${shown(ref.url)}`);
    const file = join(staging, ref.archive ? '.download.tar.gz' : ref.fileName);
    await download(ref, file, {
      maxBytes: envInt(ctx.env, 'BENTO_HTTPS_MAX_BYTES', 2048 * MiB),
      timeoutMs: envInt(ctx.env, 'BENTO_HTTPS_TIMEOUT_SECONDS', 600) * 1000,
      retries: envInt(ctx.env, 'BENTO_HTTPS_RETRIES', 3),
      backoffMs: 500,
      logger: ctx.logger,
    });
    if (ref.archive) {
      await unpack(file, staging, ref, ctx.env);
      await rm(file);
    }
    // Refuse what cannot be served before it enters the store.
    await inspectModelPath(staging);
    return await ctx.store.commit(staging, {
      uri,
      name: modelName(ref),
      version: ref.sha256.slice(0, 12),
      resolvedUri: shown(ref.url),
      source: 'https',
      metadata: { sha256: ref.sha256 },
    });
  } catch (err) {
    await ctx.store.discard(staging);
    throw err;
  }
}

export const httpsModelSource: ModelSource = {
  name: 'https',
  schemes: ['https'],
  async resolve(uri, ctx): Promise<ResolvedModel> {
    const ref = parseHttpsUri(uri);
    const stored = await fetchIntoStore(ref, keptUri(ref), ctx);
    const info = await inspectModelPath(stored.path);
    return {
      uri: keptUri(ref),
      resolvedUri: stored.resolvedUri,
      source: 'https',
      path: info.path,
      format: info.format,
      file: info.file,
      name: stored.name,
      version: stored.version,
      metadata: { ...info.metadata, sha256: ref.sha256, tag: stored.tag },
    };
  },
};

export default definePlugin({
  name: 'https',
  setup(registry) {
    registry.addModelSource(httpsModelSource);
  },
});
