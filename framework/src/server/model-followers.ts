import { resolveModel } from '../models/resolve-model.js';
import type { ModelInfo } from '../runner/model-info.js';
import { ModelFollower, describeModel } from '../runner/model-follower.js';
import type { RunnerPool } from '../runner/runner-pool.js';
import { type RunnerContext, modelLabels } from './start-runners.js';

/**
 * Followers for the runners whose model URI moves (a registry alias or `latest`), when BENTO_MODEL_POLL_SECONDS
 * asks for hot updates; a pinned URI is left alone, and said so.
 */
export function followersFor(
  runners: RunnerPool[],
  ctx: Pick<RunnerContext, 'project' | 'registry' | 'env' | 'settings' | 'logger' | 'metrics'>,
): ModelFollower[] {
  const seconds = ctx.settings.modelPollSeconds;
  if (seconds === undefined) return [];
  const followers: ModelFollower[] = [];
  for (const pool of runners) {
    const { uri, resolvedUri } = pool.model;
    if (!resolvedUri || resolvedUri === uri) {
      ctx.logger.info(
        `runner "${pool.name}": ${uri} names one version; hot updates follow only a registry alias or latest`,
      );
      continue;
    }
    ctx.logger.info(`runner "${pool.name}": following ${uri} (now ${describeModel(pool.model)}), every ${seconds} s`);
    followers.push(
      new ModelFollower(pool, {
        intervalMs: seconds * 1000,
        resolve: () => resolveModel(ctx.registry, uri, ctx.project, ctx.env, ctx.logger),
        logger: ctx.logger,
        onUpdate: (outcome, model, loadSeconds) => {
          ctx.metrics?.modelUpdates.inc({ runner: pool.name, outcome });
          if (outcome === 'swapped') ctx.metrics?.modelLoaded(modelLabels(pool.name, model as ModelInfo), loadSeconds);
        },
      }),
    );
  }
  return followers;
}
