/**
 * @bento-ts/plugin-mlflow: models from MLflow, with no Python at serving time.
 * `runs:/<run_id>/<path>`, `models:/<name>/<version|latest|stage>`,
 * `models:/<name>@<alias>`, `models:/<model_id>` (MLflow 3), and the storage
 * URIs MLflow hands out (`mlflow-artifacts:/`, `s3://`) are downloaded once into
 * the local model store and served from there. Configured by MLflow's own
 * environment variables (MLFLOW_TRACKING_URI, credentials, TLS, S3).
 */
import { definePlugin } from '@bento-ts/framework/plugin';
import { mlflowModelSource } from './model-source.js';

export { mlflowModelSource, fetchModel } from './model-source.js';
export { mlflowConfigFromEnv, redact, DEFAULT_TRACKING_URI, type MlflowConfig } from './config.js';
export { parseModelsUri, parseRunsUri, type ModelsUri, type RunsUri } from './uri.js';
export { MlflowRestClient } from './rest-client.js';
export { MlflowResolver, type Resolution } from './resolver.js';

export default definePlugin({
  name: 'mlflow',
  setup(registry) {
    registry.addModelSource(mlflowModelSource);
  },
});
