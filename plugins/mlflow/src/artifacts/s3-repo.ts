import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { ModelNotFoundError, ModelSourceAuthError, ModelSourceUnavailableError } from '@bento-ts/framework/plugin';
import type { S3Config } from '../config.js';
import { joinPath } from '../uri.js';
import type { ArtifactEntry, ArtifactRepository } from './repository.js';

/** An error the S3 service answered (an S3ServiceException: it carries the response's metadata and fault side). */
function isServiceError(err: unknown): err is { name: string; message: string } {
  return typeof err === 'object' && err !== null && '$metadata' in err && '$fault' in err;
}

function s3Error(err: unknown, what: string): Error {
  if (isServiceError(err)) {
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

type S3Sdk = typeof import('@aws-sdk/client-s3');

/**
 * Artifacts in S3 or an S3-compatible store, read with AWS's client as MLflow's
 * boto3 setup does: MLFLOW_S3_ENDPOINT_URL (path-style), AWS_* credentials from
 * the default chain, MLFLOW_S3_IGNORE_TLS. The AWS SDK (about 35 MB and 90 ms to import) is imported on first use:
 * a server whose models come from elsewhere never loads it.
 */
export class S3ArtifactRepository implements ArtifactRepository {
  private readonly bucket: string;
  private readonly prefix: string;
  private client?: Promise<{ sdk: S3Sdk; s3: S3Client }>;

  constructor(
    readonly uri: string,
    private readonly config: S3Config,
  ) {
    const parsed = new URL(uri);
    this.bucket = parsed.hostname;
    this.prefix = decodeURIComponent(parsed.pathname).replace(/^\/+|\/+$/g, '');
  }

  private connect(): Promise<{ sdk: S3Sdk; s3: S3Client }> {
    this.client ??= (async () => {
      const config = this.config;
      const sdk = await import('@aws-sdk/client-s3');
      const { NodeHttpHandler } = await import('@smithy/node-http-handler');
      const s3 = new sdk.S3Client({
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
      return { sdk, s3 };
    })();
    return this.client;
  }

  private key(path: string): string {
    return joinPath(this.prefix, path);
  }

  async list(path: string): Promise<ArtifactEntry[]> {
    const dir = this.key(path);
    const prefix = dir ? `${dir}/` : '';
    const out: ArtifactEntry[] = [];
    const { sdk, s3 } = await this.connect();
    let token: string | undefined;
    do {
      let page;
      try {
        page = await s3.send(
          new sdk.ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            Delimiter: '/',
            ContinuationToken: token,
          }),
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
    const { sdk, s3 } = await this.connect();
    try {
      const res = await s3.send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.key(path) }));
      return res.Body as Readable;
    } catch (err) {
      throw s3Error(err, `cannot read s3://${this.bucket}/${this.key(path)}`);
    }
  }
}
