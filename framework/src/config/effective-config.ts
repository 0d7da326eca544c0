/**
 * The one precedence of bento-ts settings, lowest first:
 *   defaults < bento.yaml (`env:` and its keys) < config file (--config / BENTO_CONFIG)
 *   < .env files < the environment < command-line flags.
 * `bento serve` applies it to process.env before anything reads a setting, so
 * every part of the server (and every worker process) sees the same values;
 * `bento config` prints the result with where each value came from.
 */
import { settingName } from './settings.js';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { type BentoYaml, envFor, parseBentoYaml } from './bento-yaml.js';
import { readDotEnvFiles } from './dotenv.js';

export type SettingSource = 'default' | 'bento.yaml' | 'config file' | '.env' | 'environment' | 'flag';

type Env = Readonly<Record<string, string | undefined>>;

export interface SettingLayers {
  bentoYaml: Record<string, string>;
  configFile: Record<string, string>;
  dotenv: Record<string, string>;
  environment: Env;
  flags: Record<string, string>;
}

export interface LayeredEnv {
  env: Record<string, string>;
  /** Where each variable's value came from. */
  sources: Map<string, SettingSource>;
}

const ORDER: Array<[keyof SettingLayers, SettingSource]> = [
  ['bentoYaml', 'bento.yaml'],
  ['configFile', 'config file'],
  ['dotenv', '.env'],
  ['environment', 'environment'],
  ['flags', 'flag'],
];

/** Every layer's variables, a higher layer's value replacing a lower one's. */
export function layerEnv(layers: SettingLayers): LayeredEnv {
  const env: Record<string, string> = {};
  const sources = new Map<string, SettingSource>();
  for (const [key, source] of ORDER) {
    for (const [name, value] of Object.entries(layers[key])) {
      if (value === undefined) continue;
      env[name] = value;
      sources.set(name, source);
    }
  }
  return { env, sources };
}

/** bento.yaml keys a config file may set: how to serve, not what to build. */
const SERVE_KEYS = ['env', 'workers', 'traffic', 'apis', 'runners', 'resources'] as const;

/** Reads a config file: YAML with bento.yaml's serve-time keys, checked against bento.yaml's schema. */
export function readConfigFile(file: string): BentoYaml {
  const path = resolve(file);
  if (!existsSync(path)) throw new ConfigError(`the config file ${path} does not exist (--config or BENTO_CONFIG)`);
  const config = parseBentoYaml(readFileSync(path, 'utf8'), path);
  const other = Object.keys(config).filter((k) => !(SERVE_KEYS as readonly string[]).includes(k));
  if (other.length) {
    throw new ConfigError(
      `${path}: a config file sets how to serve (${SERVE_KEYS.join(', ')}); ${other.join(', ')} belong in bento.yaml`,
    );
  }
  return config;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(base: unknown, over: unknown): unknown {
  if (!isObject(base) || !isObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

/** bento.yaml with a config file over it: mappings merged key by key, anything else replaced. `env` is layered separately. */
export function withConfigFile(config: BentoYaml, overlay: BentoYaml | undefined): BentoYaml {
  if (!overlay) return config;
  const { env: _env, ...rest } = overlay;
  return deepMerge(config, rest) as BentoYaml;
}

export interface ServeFlags {
  port?: number;
  host?: string;
  workers?: string;
  runnerWorkers?: number;
  gracefulTimeout?: number;
  config?: string;
  /** `--env KEY=value`, repeatable. */
  env?: Record<string, string>;
  /** The model to serve with no service code (`bento serve <model URI>`, `-m`). */
  modelUri?: string;
  /** `-t`: MLflow's scoring request timeout, in seconds. */
  timeout?: number;
}

/** Command-line flags as the variables they set. */
export function flagsEnv(flags: ServeFlags): Record<string, string> {
  const out: Record<string, string> = { ...flags.env };
  const set = (name: string, value: string | number | undefined) => {
    if (value !== undefined) out[name] = String(value);
  };
  set('PORT', flags.port);
  set('HOST', flags.host);
  set('BENTO_WORKERS', flags.workers);
  set('BENTO_RUNNER_WORKERS', flags.runnerWorkers);
  set('BENTO_GRACEFUL_TIMEOUT', flags.gracefulTimeout);
  set('BENTO_CONFIG', flags.config);
  set('MODEL_URI', flags.modelUri);
  set('MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT', flags.timeout);
  return out;
}

export interface ResolvedSettings extends LayeredEnv {
  config: BentoYaml;
  configFile?: string;
  dotenvFiles: string[];
}

/** Applies the precedence to a project's bento.yaml, the files and flags given, and an environment. */
export function resolveSettings(
  project: { root: string; config: BentoYaml },
  flags: ServeFlags,
  environment: Env,
  cwd = process.cwd(),
): ResolvedSettings {
  const dotenv = readDotEnvFiles([cwd, project.root]);
  // The config file itself may be named by any layer above bento.yaml.
  const configName =
    flags.config ??
    environment.BENTO_CONFIG ??
    dotenv.values.BENTO_CONFIG ??
    envFor(project.config, 'runtime').BENTO_CONFIG;
  const configFile = configName ? resolve(cwd, configName) : undefined;
  const overlay = configFile ? readConfigFile(configFile) : undefined;
  const layered = layerEnv({
    bentoYaml: envFor(project.config, 'runtime'),
    configFile: overlay ? envFor(overlay, 'runtime') : {},
    dotenv: dotenv.values,
    environment,
    flags: flagsEnv(flags),
  });
  const config = withConfigFile(project.config, overlay);
  // bento.yaml's (or the config file's) `workers:` key is a setting too, below BENTO_WORKERS.
  const workers = settingName('workers');
  if (layered.env[workers] === undefined && config.workers !== undefined) {
    layered.env[workers] = String(config.workers);
    layered.sources.set(workers, overlay?.workers !== undefined ? 'config file' : 'bento.yaml');
  }
  return { ...layered, config, configFile, dotenvFiles: dotenv.files };
}
