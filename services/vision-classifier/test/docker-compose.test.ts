/**
 * docker-compose.yml cannot run here (no Docker engine), so it is checked for
 * what can be checked: the Compose specification's own JSON schema (from
 * compose-go, the loader behind `docker compose`), and agreement with the seed
 * and the Makefile flow (service names, ports, environment variables).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { REPO_ROOT } from './helpers.js';

interface Service {
  environment?: Record<string, string>;
  ports?: string[];
  command?: string;
}

const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};

describe('docker-compose.yml', () => {
  it('is valid against the Compose specification schema', () => {
    const schema = JSON.parse(readFileSync(join(REPO_ROOT, 'infra', 'compose-spec.json'), 'utf8')) as object;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const validate = ajv.compile(schema);
    assert.ok(validate(compose), JSON.stringify(validate.errors, null, 2));
  });

  it("runs the seed's services: bentoml on 3000, MLflow on 5001, MinIO on 9000, PostgreSQL", () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['bentoml', 'minio', 'minio-init', 'mlflow', 'postgres']);
    assert.ok(compose.services.bentoml.ports!.includes('3000:3000'));
    assert.ok(compose.services.mlflow.ports!.includes('5001:5001'));
    assert.ok(compose.services.minio.ports!.includes('9000:9000'));
  });

  it("gives the service the seed's environment variables, pointing at the compose services", () => {
    const env = compose.services.bentoml.environment!;
    for (const name of [
      'MLFLOW_TRACKING_URI',
      'MODEL_RUN_ID',
      'MODEL_NAME',
      'MODEL_VERSION',
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'MLFLOW_S3_ENDPOINT_URL',
    ]) {
      assert.ok(name in env, `${name} is set for bentoml`);
    }
    assert.equal(env.MLFLOW_TRACKING_URI, 'http://mlflow:5001');
    assert.equal(env.MLFLOW_S3_ENDPOINT_URL, 'http://minio:9000');
    assert.match(env.AWS_SECRET_ACCESS_KEY, /minio123/);
  });

  it('lets the bentoml container reach MLflow by its service name (MLflow 3.5+ checks the Host header)', () => {
    assert.match(compose.services.mlflow.command!, /--allowed-hosts \S*mlflow:5001/);
    assert.match(compose.services.mlflow.command!, /--serve-artifacts/);
    assert.match(compose.services.mlflow.command!, /postgresql\+psycopg2:\/\/mlflow:mlflow@postgres:5432\/mlflow/);
  });
});
