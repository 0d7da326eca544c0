import type { FastifyInstance } from 'fastify';
import type { InferenceTarget } from '../protocols/inference-target.js';
import { installMlflowScoring } from '../protocols/mlflow-scoring.js';
import { installOpenInference } from '../protocols/open-inference.js';
import type { ApiDefinition } from '../sdk/decorators/api.js';
import { FRAMEWORK_VERSION } from '../package-info.js';


/**
 * The standard inference protocols beside the service's own API: the Open
 * Inference Protocol for every eligible runner, and MLflow's scoring protocol
 * when the service has exactly one. A service API on the same routes wins.
 */
export function installProtocols(app: FastifyInstance, targets: InferenceTarget[], apis: ApiDefinition[], maxBodyBytes: number): void {
  const taken = (prefix: string) => apis.some((a) => a.route === prefix || a.route.startsWith(`${prefix}/`));
  if (!taken('/v2')) installOpenInference(app, targets, FRAMEWORK_VERSION, maxBodyBytes);
  if (targets.length === 1 && !['/invocations', '/ping', '/version'].some(taken)) installMlflowScoring(app, targets[0]!, FRAMEWORK_VERSION, maxBodyBytes);
}
