import type { MlflowRestClient } from '../rest-client.js';
import { joinPath } from '../uri.js';
import type { ArtifactEntry, ArtifactRepository } from './repository.js';

/**
 * A run's artifacts read through the tracking server itself (`artifacts/list`
 * and `/get-artifact`), for roots this machine cannot reach: a path on the
 * server's disk when it runs without `--serve-artifacts`.
 */
export class RunServerArtifactRepository implements ArtifactRepository {
  constructor(
    readonly uri: string,
    private readonly client: MlflowRestClient,
    private readonly runId: string,
    /** Path of this repository's root inside the run's artifacts. */
    private readonly base: string,
  ) {}

  async list(path: string): Promise<ArtifactEntry[]> {
    const res = await this.client.call<{
      files?: Array<{ path: string; is_dir?: boolean; file_size?: number | string }>;
    }>('tracking', '/api/2.0/mlflow/artifacts/list', {
      query: { run_id: this.runId, path: joinPath(this.base, path) },
    });
    const cut = this.base ? this.base.length + 1 : 0;
    return (res.files ?? []).map((f) => ({
      path: f.path.slice(cut),
      isDir: f.is_dir === true,
      size: f.file_size === undefined ? undefined : Number(f.file_size),
    }));
  }

  async open(path: string) {
    const url = new URL(`${this.client.config.trackingUri}/get-artifact`);
    url.searchParams.set('run_id', this.runId);
    url.searchParams.set('path', joinPath(this.base, path));
    return this.client.download(url.href);
  }
}
