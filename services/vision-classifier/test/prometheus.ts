import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './helpers.js';

interface Family {
  name: string;
  type: string;
  samples: Array<{ name: string; labels: Record<string, string>; value: number }>;
}

/** Parses a Prometheus text exposition with prometheus_client's parser (the reference implementation). */
export function parseExposition(text: string): Map<string, Family> {
  const script = [
    'import json, sys',
    'from prometheus_client.parser import text_string_to_metric_families',
    'out = [{"name": f.name, "type": f.type, "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]} for f in text_string_to_metric_families(sys.stdin.read())]',
    'print(json.dumps(out))',
  ].join('\n');
  const json = execFileSync(join(REPO_ROOT, '.venv', 'bin', 'python'), ['-c', script], {
    input: text,
    encoding: 'utf8',
  });
  return new Map((JSON.parse(json) as Family[]).map((f) => [f.name, f]));
}

/** A sample's value: `name` is the sample name (`x_total`, `x_bucket`...), `labels` those it must carry. */
export function value(
  families: Map<string, Family>,
  sample: string,
  labels: Record<string, string>,
): number | undefined {
  // A sample `x_total` belongs to family `x` (a counter) or is a family of its own (a gauge named so).
  for (const family of [families.get(sample.replace(/_(total|count|sum|bucket)$/, '')), families.get(sample)]) {
    const found = family?.samples.find(
      (s) => s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
    if (found) return found.value;
  }
  return undefined;
}
