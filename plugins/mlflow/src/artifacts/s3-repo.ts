import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ModelNotFoundError, ModelSourceAuthError, ModelSourceUnavailableError } from '@bento-ts/framework/plugin';
import type { S3Config } from '../config.js';
import { joinPath } from '../uri.js';
import type { ArtifactEntry, ArtifactRepository } from './repository.js';

function s3Error(err: unknown, what: string): Error {
  if (err instanceof S3ServiceException) {
    const name = err.name;
    if (name === 'NoSuchBucket' || name === 'NoSuchKey' || name === 'NotFound')
      return new ModelNotFoundError(`${what}: ${name}`);
    if (
      name === 'AccessDenied' ||
      name === 'InvalidAccessKeyId' ||
      name === 'SignatureDoesNotMatch' ||
      name === 'Forbidden'
    ) {
      return new ModelSourceAuthError(`${what}: ${name}; check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`);
    }
    if (
      name === 'InvalidTokenId' ||
      name === 'InvalidToken' ||
      name === 'ExpiredToken' ||
      name === 'TokenRefreshRequired'
    ) {
      return new ModelSourceAuthError(
        `${what}: ${name}; check AWS_SESSION_TOKEN (set only with temporary credentials, and unset it for long-lived keys)`,
      );
    }
    return new ModelSourceUnavailableError(`${what}: ${name} ${err.message}`);
  }
  const e = err as { name?: string; code?: string; message?: string };
  if (e?.name === 'CredentialsProviderError') {
    return new ModelSourceAuthError(
      `${what}: no S3 credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and MLFLOW_S3_ENDPOINT_URL for MinIO)`,
    );
  }
  return new ModelSourceUnavailableError(`${what}: ${e?.code ?? e?.name ?? 'error'} ${e?.message ?? ''}`.trim());
}

/**
 * Artifacts in S3 or an S3-compatible store, read with AWS's client as MLflow's
 * boto3 setup does: MLFLOW_S3_ENDPOINT_URL (path-style), AWS_* credentials from
 * the default chain, MLFLOW_S3_IGNORE_TLS.
 */
export class S3ArtifactRepository implements ArtifactRepository {
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly s3: S3Client;

  constructor(
    readonly uri: string,
    config: S3Config,
  ) {
    const parsed = new URL(uri);
    this.bucket = parsed.hostname;
    this.prefix = decodeURIComponent(parsed.pathname).replace(/^\/+|\/+$/g, '');
    this.s3 = new S3Client({
      region: config.region,
      endpoint: config.endpoint,
      forcePathStyle: config.forcePathStyle,
      maxAttempts: 4,
      ...(config.credentials ? { credentials: config.credentials } : {}),
      ...(config.unsigned ? { signer: { sign: async (request) => request } } : {}),
      ...(config.ignoreTls
        ? { requestHandler: new NodeHttpHandler({ httpsAgent: new HttpsAgent({ rejectUnauthorized: false }) }) }
        : {}),
    });
  }

  private key(path: string): string {
    return joinPath(this.prefix, path);
  }

  async list(path: string): Promise<ArtifactEntry[]> {
    const dir = this.key(path);
    const prefix = dir ? `${dir}/` : '';
    const out: ArtifactEntry[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.s3.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token }),
        );
      } catch (err) {
        throw s3Error(err, `cannot list s3://${this.bucket}/${prefix}`);
      }
      for (const p of page.CommonPrefixes ?? []) {
        if (p.Prefix) out.push({ path: joinPath(path, p.Prefix.slice(prefix.length).replace(/\/$/, '')), isDir: true });
      }
      for (const o of page.Contents ?? []) {
        if (!o.Key || o.Key === prefix) continue;
        const etag = o.ETag?.replace(/"/g, '');
        out.push({
          path: joinPath(path, o.Key.slice(prefix.length)),
          isDir: false,
          size: o.Size,
          md5: etag && /^[0-9a-f]{32}$/.test(etag) ? etag : undefined,
        });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async open(path: string): Promise<Readable> {
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(path) }));
      return res.Body as Readable;
    } catch (err) {
      throw s3Error(err, `cannot read s3://${this.bucket}/${this.key(path)}`);
    }
  }
}
