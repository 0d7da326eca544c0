import { ConfigError, InvalidInputError } from '../errors.js';

/** One model version a runner serves beside others: its share of traffic, or a shadow that only gets copies. */
export interface VariantConfig {
  /** The model URI of this variant (`models:/vision-model@challenger`, `runs:/…`, a path). */
  uri: string;
  /** Relative share of requests (`champion: 90`, `challenger: 10`). Default 1; 0 only by header. */
  weight?: number;
  /** A copy of every request goes to it; its answers and errors are discarded. */
  shadow?: boolean;
}

/** Variants of one runner, by name. */
export interface VariantsConfig {
  variants: Record<string, VariantConfig>;
}

/** The request header that picks a variant by name (BENTO_MODEL_VARIANT_HEADER). */
export const DEFAULT_VARIANT_HEADER = 'x-model-variant';
const VARIANT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Checks one runner's variants: names, weights, at least one variant that answers. */
export function checkVariants(runner: string, config: VariantsConfig, where: string): void {
  const entries = Object.entries(config.variants ?? {});
  if (entries.length === 0) throw new ConfigError(`${where}: runner "${runner}" lists no variants`);
  for (const [name, v] of entries) {
    if (!VARIANT_NAME.test(name))
      throw new ConfigError(`${where}: variant name "${name}" must be letters, digits, ".", "_" or "-"`);
    if (typeof v?.uri !== 'string' || !v.uri) throw new ConfigError(`${where}: variant "${name}" has no model uri`);
    if (v.weight !== undefined && !(Number.isFinite(v.weight) && v.weight >= 0))
      throw new ConfigError(`${where}: variant "${name}" has weight ${v.weight}; a weight is a number >= 0`);
    if (v.shadow && v.weight)
      throw new ConfigError(
        `${where}: variant "${name}" is a shadow: it takes copies of the traffic, not a weight of it`,
      );
  }
  if (!entries.some(([, v]) => !v.shadow))
    throw new ConfigError(`${where}: runner "${runner}" has only shadow variants; one must answer`);
}

/**
 * `BENTO_MODEL_VARIANTS`: the variants as JSON (`{"champion": {"uri": "…", "weight": 90}, …}`), for the service's
 * only runner; deployments set it without rebuilding the bento.
 */
export function variantsFromEnv(text: string | undefined, runners: string[]): Record<string, VariantsConfig> {
  if (!text) return {};
  if (runners.length !== 1)
    throw new ConfigError(
      `BENTO_MODEL_VARIANTS applies to a service with one runner; this one has ${runners.join(', ')}: use bento.yaml runners.<runner>.variants`,
    );
  let variants: unknown;
  try {
    variants = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`BENTO_MODEL_VARIANTS is not JSON: ${(err as Error).message}`);
  }
  if (!variants || typeof variants !== 'object' || Array.isArray(variants))
    throw new ConfigError('BENTO_MODEL_VARIANTS must be a JSON object of variant name to { uri, weight, shadow }');
  const config: VariantsConfig = { variants: variants as Record<string, VariantConfig> };
  checkVariants(runners[0], config, 'BENTO_MODEL_VARIANTS');
  return { [runners[0]]: config };
}

/**
 * Picks the variant of each request: the one its header names, else one drawn by weight. Shadows are kept apart:
 * they are never picked, and get a copy of every request.
 */
export class VariantRouter<T> {
  private readonly answering: Array<{ name: string; weight: number; target: T }>;
  private readonly total: number;
  readonly shadows: Array<{ name: string; target: T }>;
  private readonly byName: Map<string, T>;

  constructor(
    readonly runner: string,
    variants: Array<{ name: string; config: VariantConfig; target: T }>,
    private readonly random: () => number = Math.random,
  ) {
    this.answering = variants
      .filter((v) => !v.config.shadow)
      .map((v) => ({ name: v.name, weight: v.config.weight ?? 1, target: v.target }));
    this.shadows = variants.filter((v) => v.config.shadow).map((v) => ({ name: v.name, target: v.target }));
    this.total = this.answering.reduce((n, v) => n + v.weight, 0);
    this.byName = new Map(this.answering.map((v) => [v.name, v.target]));
  }

  /** The first variant that answers: the one whose model the service and /get_model_info describe. */
  get main(): T {
    return this.answering[0].target;
  }

  get names(): string[] {
    return this.answering.map((v) => v.name);
  }

  /** The variant for a request that asked for `requested` (its header), or for none. */
  pick(requested?: string): { name: string; target: T } {
    if (requested !== undefined) {
      const target = this.byName.get(requested);
      if (target === undefined)
        throw new InvalidInputError(
          `runner "${this.runner}" has no variant "${requested}"; it has ${this.names.join(', ')}`,
        );
      return { name: requested, target };
    }
    // Every weight 0: the variants answer only by header, and the first one takes the rest.
    if (this.total === 0) return this.answering[0];
    let x = this.random() * this.total;
    for (const v of this.answering) {
      if (x < v.weight) return v;
      x -= v.weight;
    }
    return this.answering[this.answering.length - 1];
  }
}
