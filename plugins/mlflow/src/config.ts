import { readFileSync } from 'node:fs';
import { ConfigError, hideUrlCredentials } from '@bento-ts/framework/plugin';

type Env = Readonly<Record<string, string | undefined>>;

/** The seed's default: the tracking server of `make start`. */
export const DEFAULT_TRACKING_URI = 'http://localhost:5001';

export interface RetryPolicy {
  /** Attempts after the first one. */
  maxRetries: number;
  /** Waits are 0, factor, 2·factor, 4·factor… seconds, as MLflow's client spaces them (capped at 30 s). */
  backoffFactor: number;
  /** Per-request timeout, ms. */
  timeoutMs: number;
}

export interface S3Config {
  endpoint?: string;
  ignoreTls: boolean;
  region: string;
  /** `path` whenever an endpoint is set (MinIO and friends), unless MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE=virtual. */
  forcePathStyle: boolean;
  /** Anonymous requests (MLFLOW_EXPERIMENTAL_S3_SIGNATURE_VERSION=unsigned). */
  unsigned: boolean;
  /** From AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) of the environment given; else AWS's default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export interface MlflowConfig {
  trackingUri: string;
  registryUri: string;
  /** `Authorization` header value, or undefined. Never logged. */
  authorization?: string;
  insecureTls: boolean;
  /** PEM CA bundle for the server's certificate (MLFLOW_TRACKING_SERVER_CERT_PATH). */
  caCert?: string;
  retry: RetryPolicy;
  s3: S3Config;
  /** Strings to blank out of anything shown (credentials). */
  secrets: string[];
}

function number(env: Env, name: string, fallback: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > max)
    throw new ConfigError(`${name} must be a number from 0 to ${max}, got "${raw}"`);
  return n;
}

function httpUri(value: string, name: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ConfigError(`${name} must be an http(s) URL, got "${value}"`);
  if (url.username || url.password) {
    throw new ConfigError(
      `${name} must not carry credentials; set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD instead`,
    );
  }
  return value.replace(/\/+$/, '');
}

const truthy = (v: string | undefined) => /^(1|true|yes)$/i.test(v?.trim() ?? '');

/**
 * MLflow client settings from the same environment variables MLflow's Python
 * client reads. Basic auth wins over a token when both are set, as in MLflow.
 */
export function mlflowConfigFromEnv(env: Env): MlflowConfig {
  const trackingUri = httpUri(env.MLFLOW_TRACKING_URI?.trim() || DEFAULT_TRACKING_URI, 'MLFLOW_TRACKING_URI');
  const registryUri = env.MLFLOW_REGISTRY_URI?.trim()
    ? httpUri(env.MLFLOW_REGISTRY_URI.trim(), 'MLFLOW_REGISTRY_URI')
    : trackingUri;
  const user = env.MLFLOW_TRACKING_USERNAME;
  const password = env.MLFLOW_TRACKING_PASSWORD;
  const token = env.MLFLOW_TRACKING_TOKEN;
  const secrets = [password, token, env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN].filter(
    (s): s is string => !!s && s.length >= 3,
  );
  let authorization: string | undefined;
  if (user && password) {
    const encoded = Buffer.from(`${user}:${password}`).toString('base64');
    authorization = `Basic ${encoded}`;
    secrets.push(encoded);
  } else if (token) {
    authorization = `Bearer ${token}`;
  }
  const insecureTls = truthy(env.MLFLOW_TRACKING_INSECURE_TLS);
  const certPath = env.MLFLOW_TRACKING_SERVER_CERT_PATH?.trim();
  if (insecureTls && certPath) {
    throw new ConfigError('only one of MLFLOW_TRACKING_INSECURE_TLS and MLFLOW_TRACKING_SERVER_CERT_PATH may be set');
  }
  let caCert: string | undefined;
  if (certPath) {
    try {
      caCert = readFileSync(certPath, 'utf8');
    } catch (err) {
      throw new ConfigError(`MLFLOW_TRACKING_SERVER_CERT_PATH: cannot read ${certPath}: ${(err as Error).message}`);
    }
  }
  const endpoint = env.MLFLOW_S3_ENDPOINT_URL?.trim() || undefined;
  const style = env.MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE?.trim().toLowerCase();
  return {
    trackingUri,
    registryUri,
    authorization,
    insecureTls,
    caCert,
    retry: {
      maxRetries: number(env, 'MLFLOW_HTTP_REQUEST_MAX_RETRIES', 5, 10),
      backoffFactor: number(env, 'MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR', 1, 120),
      timeoutMs: number(env, 'MLFLOW_HTTP_REQUEST_TIMEOUT', 120, 3600) * 1000,
    },
    s3: {
      endpoint,
      ignoreTls: truthy(env.MLFLOW_S3_IGNORE_TLS),
      region: env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || 'us-east-1',
      forcePathStyle: style === 'path' || (!!endpoint && style !== 'virtual'),
      unsigned: env.MLFLOW_EXPERIMENTAL_S3_SIGNATURE_VERSION?.trim() === 'unsigned',
      credentials:
        env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
          ? {
              accessKeyId: env.AWS_ACCESS_KEY_ID,
              secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
              sessionToken: env.AWS_SESSION_TOKEN || undefined,
            }
          : undefined,
    },
    secrets,
  };
}

/** Blanks every credential out of a text that may be shown or logged. */
export function redact(text: string, config: Pick<MlflowConfig, 'secrets'>): string {
  let out = text;
  for (const secret of config.secrets) out = out.split(secret).join('***');
  // Credentials typed into a URL never reach the output either.
  return hideUrlCredentials(out, '***');
}
