import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { BatchingConfig, BentoYaml, DockerConfig, EnvVar, TrafficConfig } from '../config/bento-yaml.js';
import { BentoIntegrityError } from '../errors.js';
import type { JsonSchema } from '../io/descriptor.js';

export const MANIFEST_FILE = 'bento.yaml';
export const MANIFEST_SPEC = 1;

export interface ManifestApi {
  name: string;
  route: string;
  method: string;
  summary?: string;
  input?: { kind: string; media_types: string[]; schema: Record<string, JsonSchema> };
  output?: JsonSchema;
  traffic?: TrafficConfig | false;
}

export interface ManifestRunner {
  name: string;
  workers?: number | 'cpu_count';
  threads_per_worker?: number;
  backend?: string;
  device?: string;
  methods: Array<
    { name: string; batchable: boolean } & Required<
      Pick<BatchingConfig, 'maxBatchSize' | 'maxLatencyMs' | 'maxQueueSize'>
    >
  >;
}

export interface ManifestModel {
  uri: string;
  alias?: string;
  /** `name:version` in the bento's model store (`models/<name>/<version>/`). */
  tag: string;
  /** The URI that names exactly this model (a moving URI's registry version); serving it needs no MLflow. */
  pinned_uri: string;
  resolved_uri: string;
  source: string;
  size: number;
  /** SHA-256 over the model's file list (each file's path and SHA-256), so one value names the content. */
  sha256: string;
}

/** A model the service's code names by a path inside the project, packed with its files (`src/`). */
export interface ManifestSourceModel {
  uri: string;
  /** Its directory or file in the bento, `src/…`. */
  path: string;
  size: number;
}

/** A built bento's `bento.yaml`: what it is, what it serves, and how it was built. */
export interface BentoManifest {
  spec: number;
  tag: string;
  name: string;
  version: string;
  bento_ts_version: string;
  creation_time: string;
  description: string;
  labels: Record<string, string>;
  service: { name: string; class: string; entry: string };
  apis: ManifestApi[];
  runners: ManifestRunner[];
  models: ManifestModel[];
  /** Absent in bentos built before bento-ts recorded them. */
  source_models?: ManifestSourceModel[];
  plugins: string[];
  env: EnvVar[];
  docker: Required<Pick<DockerConfig, 'baseImage' | 'nodeVersion' | 'systemPackages'>> & { setupScript?: string };
  /** Serve-time overrides from the build's bento.yaml (workers, traffic, apis, runners), applied when the bento is served, and the resources one instance needs (for `bento deploy`). */
  config: Pick<BentoYaml, 'workers' | 'resources' | 'traffic' | 'apis' | 'runners'>;
}

export function manifestToYaml(manifest: BentoManifest): string {
  return stringifyYaml(manifest, { lineWidth: 0 });
}

export async function readManifest(dir: string): Promise<BentoManifest> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch {
    throw new BentoIntegrityError(`${dir} has no ${MANIFEST_FILE}: not a bento`);
  }
  return parseManifest(text, dir);
}

export function parseManifest(text: string, where: string): BentoManifest {
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    throw new BentoIntegrityError(
      `${where}/${MANIFEST_FILE} is not valid YAML: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  const m = value as Partial<BentoManifest> | null;
  if (
    !m ||
    typeof m !== 'object' ||
    m.spec !== MANIFEST_SPEC ||
    typeof m.name !== 'string' ||
    typeof m.version !== 'string'
  ) {
    throw new BentoIntegrityError(
      `${where}/${MANIFEST_FILE} is not a bento manifest (spec ${MANIFEST_SPEC} with name and version expected)`,
    );
  }
  if (typeof m.service?.entry !== 'string')
    throw new BentoIntegrityError(`${where}/${MANIFEST_FILE} names no service entry`);
  return m as BentoManifest;
}
