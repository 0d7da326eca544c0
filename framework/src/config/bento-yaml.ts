import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Ajv as AjvClass, ErrorObject } from 'ajv';
import { LineCounter, isMap, isPair, isScalar, parseDocument, type Node } from 'yaml';
import { ConfigError } from '../errors.js';
import { BENTO_YAML_SCHEMA } from './bento-yaml-schema.js';
import type { VariantConfig } from '../runner/variants.js';

type Scalar = string | number | boolean;

export interface TrafficConfig {
  timeoutMs?: number;
  maxConcurrency?: number;
}

/** What one instance of the service needs, as Kubernetes quantities. */
export interface ResourcesConfig {
  cpu?: number | string;
  memory?: string;
}

export interface BatchingConfig {
  maxBatchSize?: number;
  maxLatencyMs?: number;
  maxQueueSize?: number;
}

export interface ModelRef {
  uri: string;
  alias?: string;
}

export type EnvStage = 'all' | 'build' | 'runtime';

export interface EnvVar {
  name: string;
  value: string;
  stage: EnvStage;
}

export interface DockerConfig {
  baseImage?: string;
  nodeVersion?: string;
  systemPackages?: string[];
  setupScript?: string;
}

/** bento.yaml as written (see BENTO_YAML_SCHEMA); `normalize` gives the shapes the code uses. */
export interface BentoYaml {
  service?: string;
  name?: string;
  description?: string;
  labels?: Record<string, Scalar>;
  include?: string[];
  exclude?: string[];
  models?: Array<string | ModelRef>;
  plugins?: string[];
  env?: Record<string, Scalar> | Array<{ name: string; value?: Scalar; stage?: EnvStage }>;
  docker?: DockerConfig;
  workers?: number | 'cpu_count';
  resources?: ResourcesConfig;
  traffic?: TrafficConfig;
  apis?: Record<string, { traffic?: TrafficConfig | false }>;
  runners?: Record<
    string,
    {
      workers?: number | 'cpu_count';
      threadsPerWorker?: number;
      batching?: Record<string, BatchingConfig>;
      variants?: Record<string, VariantConfig>;
    }
  >;
}

let validator: ReturnType<AjvClass['compile']> | undefined;

function validate(value: unknown): ErrorObject[] {
  // One bento.yaml per start: Ajv's code optimiser costs 50 ms of every start (70 ms compiling with it, 20 without)
  // and would save microseconds of validating.
  if (!validator) {
    // Required here, not imported at the top: every runner worker thread imports this module (through the service
    // module and the framework's entry) and never validates a bento.yaml.
    const { Ajv } = createRequire(import.meta.url)('ajv') as { Ajv: typeof AjvClass };
    validator = new Ajv({ allErrors: true, strict: false, code: { optimize: false } }).compile(BENTO_YAML_SCHEMA);
  }
  return validator(value) ? [] : (validator.errors ?? []);
}

/** Path segments of an Ajv instancePath (`/runners/x/workers` → ['runners', 'x', 'workers']). */
function segments(instancePath: string): Array<string | number> {
  if (!instancePath) return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** The YAML node (or, for an unknown key, the key itself) an error is about, for its line number. */
function nodeFor(doc: ReturnType<typeof parseDocument>, path: Array<string | number>, key?: string): Node | undefined {
  const node = doc.getIn(path, true) as Node | undefined;
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === key);
    if (pair && isScalar(pair.key)) return pair.key;
  }
  return node ?? (path.length ? nodeFor(doc, path.slice(0, -1)) : undefined);
}

function describe(err: ErrorObject, path: Array<string | number>): { key: string; text: string } {
  const where = path.join('.');
  switch (err.keyword) {
    case 'additionalProperties': {
      const extra = String((err.params as { additionalProperty: string }).additionalProperty);
      return { key: extra, text: `unknown key "${where ? `${where}.` : ''}${extra}"` };
    }
    case 'propertyNames':
      return {
        key: String((err.params as { propertyName: string }).propertyName),
        text: `"${where}" has an invalid key name`,
      };
    case 'enum':
      return {
        key: '',
        text: `"${where}" must be one of ${(err.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`,
      };
    default:
      return { key: '', text: `"${where || '(top level)'}" ${err.message ?? 'is invalid'}` };
  }
}

/**
 * Parses and validates bento.yaml. Every problem is reported at once, each with
 * its line: `bento.yaml:7: unknown key "dockr"`.
 */
export function parseBentoYaml(text: string, file = 'bento.yaml'): BentoYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(`${file} is not valid YAML: ${doc.errors.map((e) => e.message.split('\n')[0]).join('; ')}`);
  }
  const value: unknown = doc.toJS() ?? {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw new ConfigError(`${file} must be a YAML mapping of keys to values`);
  const errors = validate(value);
  if (errors.length === 0) return value as BentoYaml;
  // oneOf reports every branch's failure; the branch errors say more than "must match exactly one".
  const specific = errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'if');
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const err of specific.length ? specific : errors) {
    const path = segments(err.instancePath);
    const { key, text: message } = describe(err, path);
    const node = nodeFor(doc, path, key || undefined);
    const line = node?.range ? lineCounter.linePos(node.range[0]).line : undefined;
    const entry = `${file}${line ? `:${line}` : ''}: ${message}`;
    if (!seen.has(entry)) lines.push(entry);
    seen.add(entry);
  }
  throw new ConfigError(`${file} is not a valid bento.yaml:\n  ${lines.join('\n  ')}`);
}

export function readBentoYaml(file: string): BentoYaml {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`);
  }
  return parseBentoYaml(text, file);
}

/** Models listed in bento.yaml, as `{ uri, alias? }`. */
export function modelRefs(config: BentoYaml): ModelRef[] {
  return (config.models ?? []).map((m) => (typeof m === 'string' ? { uri: m } : m));
}

/** Environment variables of bento.yaml, as a list with stages (a mapping means stage `all`). */
export function envVars(config: BentoYaml): EnvVar[] {
  const env = config.env ?? [];
  const list = Array.isArray(env)
    ? env
    : Object.entries(env).map(([name, value]) => ({ name, value, stage: 'all' as const }));
  return list.map((e) => ({
    name: e.name,
    value: e.value === undefined ? '' : String(e.value),
    stage: e.stage ?? 'all',
  }));
}

/** The variables of one stage (`all` belongs to both). */
export function envFor(config: BentoYaml, stage: 'build' | 'runtime'): Record<string, string> {
  return Object.fromEntries(
    envVars(config)
      .filter((e) => e.stage === 'all' || e.stage === stage)
      .map((e) => [e.name, e.value]),
  );
}
