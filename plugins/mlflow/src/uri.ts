import { InvalidInputError } from '@bento-ts/framework/plugin';

/** A `models:/` URI taken apart as MLflow's client does (`_parse_model_uri`). */
export type ModelsUri =
  | { kind: 'version'; name: string; version: string; subpath: string }
  | { kind: 'latest'; name: string; subpath: string }
  | { kind: 'stage'; name: string; stage: string; subpath: string }
  | { kind: 'alias'; name: string; alias: string; subpath: string }
  | { kind: 'model-id'; modelId: string; subpath: string };

export interface RunsUri {
  runId: string;
  /** Artifact path inside the run, e.g. `model`. */
  path: string;
}

function bad(uri: string, why: string): never {
  throw new InvalidInputError(`invalid model URI "${uri}": ${why}`);
}

function body(uri: string, scheme: string): string {
  const rest = uri.slice(scheme.length + 1);
  // models:/x, models:///x and models://profile/x all occur; the profile (Databricks) is ignored.
  if (rest.startsWith('//')) return rest.slice(2).replace(/^[^/]*\//, '');
  if (rest.startsWith('/')) return rest.slice(1);
  return bad(uri, `expected ${scheme}:/...`);
}

/**
 * `models:/<name>/<version>`, `models:/<name>/latest`, `models:/<name>/<stage>`,
 * `models:/<name>@<alias>`, `models:/<model_id>` (MLflow 3), each optionally
 * followed by `/<sub/path>`.
 */
export function parseModelsUri(uri: string): ModelsUri {
  const path = body(uri, 'models').replace(/\/+$/, '');
  if (!path) bad(uri, 'no model name');
  const slash = path.indexOf('/');
  const head = slash < 0 ? path : path.slice(0, slash);
  const at = head.lastIndexOf('@');
  if (at >= 0) {
    const name = decodeURIComponent(head.slice(0, at));
    const alias = head.slice(at + 1);
    if (!name || !alias) bad(uri, 'expected models:/<name>@<alias>');
    if (!/^[\w-]+$/.test(alias)) bad(uri, `"${alias}" is not an alias name (letters, digits, _ and -)`);
    return { kind: 'alias', name, alias, subpath: slash < 0 ? '' : path.slice(slash + 1) };
  }
  if (slash < 0) return { kind: 'model-id', modelId: head, subpath: '' };
  const name = decodeURIComponent(head);
  const rest = path.slice(slash + 1);
  const next = rest.indexOf('/');
  const selector = next < 0 ? rest : rest.slice(0, next);
  const subpath = next < 0 ? '' : rest.slice(next + 1);
  if (/^\d+$/.test(selector)) return { kind: 'version', name, version: String(Number(selector)), subpath };
  if (selector.toLowerCase() === 'latest') return { kind: 'latest', name, subpath };
  return { kind: 'stage', name, stage: selector, subpath };
}

/** `runs:/<run_id>/<artifact path>`. */
export function parseRunsUri(uri: string): RunsUri {
  const path = body(uri, 'runs').replace(/\/+$/, '');
  const slash = path.indexOf('/');
  const runId = slash < 0 ? path : path.slice(0, slash);
  if (!/^[\w-]+$/.test(runId)) bad(uri, 'expected runs:/<run_id>/<artifact path>');
  return { runId, path: slash < 0 ? '' : path.slice(slash + 1) };
}

/** `dir/name` without doubled or trailing slashes; a leading `scheme://` keeps its two. */
export function joinPath(...parts: string[]): string {
  const joined = parts.filter((p) => p.length > 0).join('/');
  // The scheme's slashes (`s3://`, `file:///`) stay as they are; only the path's doubled ones collapse.
  const scheme = /^[a-z][a-z0-9+.-]*:\/*/i.exec(joined)?.[0] ?? '';
  return (
    scheme +
    joined
      .slice(scheme.length)
      .replace(/\/{2,}/g, '/')
      .replace(/\/+$/, '')
  );
}
