/** The parts of MLflow's REST answers that bento-ts reads (snake_case, as the server sends them). */

export interface KeyValue {
  key: string;
  value: string;
}

export interface Run {
  info: {
    run_id: string;
    experiment_id: string;
    artifact_uri: string;
    status?: string;
    lifecycle_stage?: string;
    run_name?: string;
  };
  data?: { params?: KeyValue[]; metrics?: Array<{ key: string; value: number }>; tags?: KeyValue[] };
  outputs?: { model_outputs?: Array<{ model_id: string; step?: number }> };
}

export interface ModelVersion {
  name: string;
  version: string;
  source?: string;
  run_id?: string;
  model_id?: string;
  status?: 'PENDING_REGISTRATION' | 'FAILED_REGISTRATION' | 'READY';
  status_message?: string;
  current_stage?: string;
  aliases?: string[];
}

export interface LoggedModel {
  info: {
    model_id: string;
    experiment_id: string;
    name: string;
    artifact_uri: string;
    source_run_id?: string;
    status?: string;
  };
  data?: { params?: KeyValue[]; metrics?: Array<{ key: string; value: number }> };
}

export interface ArtifactListing {
  root_uri?: string;
  files?: Array<{ path: string; is_dir?: boolean; file_size?: number | string }>;
}
