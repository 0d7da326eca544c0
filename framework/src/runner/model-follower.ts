import type { Logger, ResolvedModel } from '../plugins/types.js';
import type { ModelInfo } from './model-info.js';
import type { RunnerPool } from './runner-pool.js';

export interface FollowOptions {
  /** Time between two looks at the source. */
  intervalMs: number;
  /** Resolves the runner's model URI again: what it points at now, on local disk. */
  resolve(): Promise<ResolvedModel>;
  logger: Logger;
  /** Told of every look that found a new version: swapped in (with its load time), or refused. */
  onUpdate?: (outcome: 'swapped' | 'refused', model: ModelInfo | ResolvedModel, seconds: number) => void;
}

/** Which model version a resolved model is: its resolved URI, else its URI with version and run. */
export function modelIdentity(model: ResolvedModel): string {
  return model.resolvedUri ?? [model.uri, model.version, model.runId].filter(Boolean).join('#');
}

/** A model version as logs name it: `name version N (resolved URI)`, or its identity. */
export function describeModel(model: ResolvedModel): string {
  return model.version ? `${model.name ?? model.uri} version ${model.version}` : modelIdentity(model);
}

/**
 * Follows a moving model URI (`models:/name@alias`, `models:/name/latest`): every interval it resolves the URI
 * again, and when it points at another version, the runner loads, warms up and swaps that version in
 * (`RunnerPool.reload`). A version that could not be swapped in is reported once and not tried again; a source
 * that cannot be reached is reported, and the served model stays.
 */
export class ModelFollower {
  private timer: NodeJS.Timeout | undefined;
  private looking: Promise<unknown> | undefined;
  private stopped = false;
  private readonly refused = new Set<string>();
  private lastProblem: string | undefined;

  constructor(
    private readonly pool: RunnerPool,
    private readonly options: FollowOptions,
  ) {}

  start(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.looking = this.look().finally(() => {
        this.looking = undefined;
        this.start();
      });
    }, this.options.intervalMs);
    // Following never keeps a process alive on its own.
    this.timer.unref();
  }

  /** One look at the source; resolves with what came of it. */
  async look(): Promise<'unchanged' | 'swapped' | 'refused' | 'unavailable'> {
    const { logger, onUpdate } = this.options;
    const runner = `runner "${this.pool.name}"`;
    let next: ResolvedModel;
    try {
      next = await this.options.resolve();
    } catch (err) {
      // Said once per problem, not at every look while it lasts.
      const problem = (err as Error).message;
      if (problem !== this.lastProblem)
        logger.warn(
          `${runner}: could not look for a new version of ${this.pool.model.uri}; ${describeModel(this.pool.model)} serves on: ${problem}`,
        );
      this.lastProblem = problem;
      return 'unavailable';
    }
    this.lastProblem = undefined;
    const id = modelIdentity(next);
    if (id === modelIdentity(this.pool.model) || this.stopped) return 'unchanged';
    if (this.refused.has(id)) return 'refused';
    const [served, coming] = [describeModel(this.pool.model), describeModel(next)];
    logger.info(`${runner}: ${next.uri} now points at ${coming}; loading it beside ${served}`);
    const started = performance.now();
    try {
      const info = await this.pool.reload(next);
      const seconds = (performance.now() - started) / 1000;
      logger.info(`${runner}: swapped ${served} for ${coming} (loaded and warmed up in ${seconds.toFixed(1)} s)`);
      onUpdate?.('swapped', info, seconds);
      return 'swapped';
    } catch (err) {
      if (this.stopped) return 'unchanged';
      this.refused.add(id);
      logger.error(`${runner}: ${coming} was not swapped in, ${served} serves on: ${(err as Error).message}`);
      onUpdate?.('refused', next, (performance.now() - started) / 1000);
      return 'refused';
    }
  }

  /** Stops following; resolves once a look under way has ended (a swap in progress is abandoned by the pool). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.looking?.catch(() => undefined);
  }
}
