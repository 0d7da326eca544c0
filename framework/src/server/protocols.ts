import type { FastifyInstance } from 'fastify';
import type { GuardRequest, InferenceTarget } from '../protocols/inference-target.js';
import { installMlflowScoring } from '../protocols/mlflow-scoring.js';
import { installOpenInference } from '../protocols/open-inference.js';
import type { ApiDefinition } from '../sdk/decorators/api.js';
import { FRAMEWORK_VERSION } from '../package-info.js';

/** A route a protocol serves, for the start-up banner. */
export interface ProtocolRoute {
  title: string;
  method: string;
  route: string;
}

/** Which protocols a service gets: V2 unless it has /v2 routes of its own; MLflow's with exactly one model, and no /invocations of its own. */
function plan(targets: InferenceTarget[], apis: ApiDefinition[]) {
  const taken = (prefix: string) => apis.some((a) => a.route === prefix || a.route.startsWith(`${prefix}/`));
  return { taken, v2: !taken('/v2'), mlflow: targets.length === 1 && !taken('/invocations') };
}

/** The protocols' prediction routes, as the banner lists them. */
export function protocolRoutes(targets: InferenceTarget[], apis: ApiDefinition[]): ProtocolRoute[] {
  const { v2, mlflow } = plan(targets, apis);
  return [
    ...(mlflow ? [{ title: 'Invocations (MLflow scoring)', method: 'POST', route: '/invocations' }] : []),
    ...(v2
      ? targets.map((t) => ({
          title: `Infer ${t.name} (Open Inference / KServe V2)`,
          method: 'POST',
          route: `/v2/models/${t.name}/infer`,
        }))
      : []),
  ];
}

/**
 * The standard inference protocols beside the service's own API: the Open
 * Inference Protocol for every eligible runner, and MLflow's scoring protocol
 * when the service has exactly one. A service API on the same routes wins
 * (the seed's service keeps its own /health).
 */
export function installProtocols(
  app: FastifyInstance,
  targets: InferenceTarget[],
  apis: ApiDefinition[],
  maxBodyBytes: number,
  guard: GuardRequest,
): void {
  const { taken, v2, mlflow } = plan(targets, apis);
  if (v2) installOpenInference(app, targets, FRAMEWORK_VERSION, maxBodyBytes, guard);
  if (mlflow) installMlflowScoring(app, targets[0], FRAMEWORK_VERSION, maxBodyBytes, guard, taken);
}
