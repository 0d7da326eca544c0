import { ModelNotFoundError } from '@bento-ts/framework/plugin';
import type { MlflowRestClient } from '../rest-client.js';
import { joinPath } from '../uri.js';
import type { ArtifactEntry, ArtifactRepository } from './repository.js';

const API = '/api/2.0/mlflow-artifacts/artifacts';

/**
 * Artifacts behind MLflow's artifact proxy (`mlflow server --serve-artifacts`):
 * `mlflow-artifacts:/<path>` and `http(s)://host/api/2.0/mlflow-artifacts/artifacts/<path>`
 * roots, mapped onto the tracking server as MLflow's own client does. The
 * server holds the storage credentials; we need only MLflow's.
 */
export class ProxyArtifactRepository implements ArtifactRepository {
  /** Path of the root under the proxy, without leading slash. */
  private readonly rootPath: string;
  /** `scheme://host[:port][/prefix]` the API is under. */
  private readonly base: string;

  constructor(
    readonly uri: string,
    private readonly client: MlflowRestClient,
  ) {
    const tracking = new URL(client.config.trackingUri);
    const parsed = new URL(uri);
    let path = decodeURIComponent(parsed.pathname);
    if (parsed.protocol === 'mlflow-artifacts:') {
      // mlflow-artifacts://host:port/path names the server; mlflow-artifacts:/path means the tracking server.
      const origin = parsed.host ? `${tracking.protocol}//${parsed.host}` : tracking.origin;
      this.base = `${origin}${tracking.pathname.replace(/\/+$/, '')}`;
    } else {
      const at = path.indexOf(API);
      if (at < 0)
        throw new ModelNotFoundError(`${client.show(uri)} is not an MLflow artifact proxy URL (no ${API} in it)`);
      this.base = `${parsed.origin}${path.slice(0, at)}`;
      path = path.slice(at + API.length);
    }
    this.rootPath = path.replace(/^\/+|\/+$/g, '');
  }

  async list(path: string): Promise<ArtifactEntry[]> {
    const dir = joinPath(this.rootPath, path);
    const res = await this.client.json<{
      files?: Array<{ path: string; is_dir?: boolean; file_size?: number | string }>;
    }>(`${this.base}${API}`, { query: { path: dir } });
    return (res.files ?? []).map((f) => ({
      path: joinPath(path, f.path.split('/').pop()!),
      isDir: f.is_dir === true,
      size: f.file_size === undefined ? undefined : Number(f.file_size),
    }));
  }

  async open(path: string) {
    const encoded = joinPath(this.rootPath, path).split('/').map(encodeURIComponent).join('/');
    return this.client.download(`${this.base}${API}/${encoded}`);
  }
}
