/**
 * Manifests checked by real tools: kustomize builds the base, kubeconform validates every object against the
 * Kubernetes API's JSON schemas (strict: unknown fields are errors) and the CRDs' schemas, all installed offline
 * by infra/k8s-tools.sh (make stack-install).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './helpers.js';

const BIN = join(REPO_ROOT, '.stack-bin');
const SCHEMAS = join(BIN, 'k8s-schemas');

export interface Validation {
  code: number | null;
  resources: Array<{ filename: string; kind: string; name: string; status: string; msg: string }>;
  summary: { valid: number; invalid: number; errors: number; skipped: number };
}

/** kubeconform on a YAML stream: every resource's status, and the totals. */
export function kubeconform(yaml: string): Validation {
  const run = spawnSync(
    join(BIN, 'kubeconform'),
    [
      '-strict',
      '-output',
      'json',
      '-summary',
      '-verbose',
      '-schema-location',
      join(SCHEMAS, 'kubernetes', '{{ .ResourceKind }}{{ .KindSuffix }}.json'),
      '-schema-location',
      join(SCHEMAS, 'crds', '{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json'),
      '-',
    ],
    { input: yaml, encoding: 'utf8' },
  );
  if (run.error) throw run.error;
  const out = JSON.parse(run.stdout) as { resources?: Validation['resources']; summary: Validation['summary'] };
  return { code: run.status, resources: out.resources ?? [], summary: out.summary };
}

/** `kustomize build <dir>`: the objects of a kustomize base, as one YAML stream. */
export function kustomizeBuild(dir: string): string {
  return execFileSync(join(BIN, 'kustomize'), ['build', dir], { encoding: 'utf8' });
}
