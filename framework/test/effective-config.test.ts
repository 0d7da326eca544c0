import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { layerEnv, resolveSettings } from '../src/config/effective-config.js';
import { isSecretName, maskTree, maskValue } from '../src/config/settings.js';

const dir = mkdtempSync(join(tmpdir(), 'bento-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the precedence of settings', () => {
  it('layers bento.yaml < config file < .env < environment < flags, and says where each value came from', () => {
    const project = join(dir, 'project');
    const cwd = join(dir, 'cwd');
    for (const d of [project, cwd]) mkdirSync(d, { recursive: true });
    writeFileSync(join(project, '.env'), 'A=project-dotenv\nB=project-dotenv\nG=project-dotenv\n');
    writeFileSync(join(cwd, '.env'), 'B=cwd-dotenv\nC=cwd-dotenv\n');
    writeFileSync(
      join(cwd, 'prod.yaml'),
      'env:\n  D: config\n  E: config\nworkers: 3\ntraffic: { maxConcurrency: 9 }\n',
    );
    const config = { env: { A: 'yaml', D: 'yaml', F: 'yaml' }, traffic: { timeoutMs: 100, maxConcurrency: 1 } };
    const got = resolveSettings(
      { root: project, config },
      { config: 'prod.yaml', port: 8080, env: { G: 'flag' } },
      { A: 'environment', E: 'environment' },
      cwd,
    );
    const at = (name: string) => [got.env[name], got.sources.get(name)];
    assert.deepEqual(at('F'), ['yaml', 'bento.yaml']);
    assert.deepEqual(at('D'), ['config', 'config file']);
    assert.deepEqual(at('E'), ['environment', 'environment']);
    assert.deepEqual(at('B'), ['cwd-dotenv', '.env'], "the working directory's .env wins over the project's");
    assert.deepEqual(at('A'), ['environment', 'environment'], 'the environment wins over .env and bento.yaml');
    assert.deepEqual(at('G'), ['flag', 'flag']);
    assert.deepEqual(at('PORT'), ['8080', 'flag']);
    assert.deepEqual(at('BENTO_WORKERS'), ['3', 'config file']);
    assert.deepEqual(
      got.config.traffic,
      { timeoutMs: 100, maxConcurrency: 9 },
      'the config file is merged over bento.yaml key by key',
    );
    assert.deepEqual(got.dotenvFiles, [join(cwd, '.env'), join(project, '.env')]);
  });

  it('refuses a config file with build keys, naming them', () => {
    writeFileSync(join(dir, 'bad.yaml'), 'models: [x]\nenv: { A: 1 }\n');
    assert.throws(
      () => resolveSettings({ root: dir, config: {} }, { config: join(dir, 'bad.yaml') }, {}, dir),
      /models belong in bento\.yaml/,
    );
    assert.throws(
      () => resolveSettings({ root: dir, config: {} }, { config: join(dir, 'none.yaml') }, {}, dir),
      /does not exist/,
    );
  });

  it('a later layer replaces an earlier one, unset values do not', () => {
    const { env } = layerEnv({
      bentoYaml: { X: '1' },
      configFile: {},
      dotenv: {},
      environment: { X: undefined },
      flags: {},
    });
    assert.equal(env.X, '1');
  });

  it('masks secrets by name and credentials in URLs', () => {
    for (const name of [
      'MLFLOW_TRACKING_PASSWORD',
      'MLFLOW_TRACKING_TOKEN',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_ACCESS_KEY_ID',
      'MY_API_KEY',
      'DB_SECRET_NAME',
    ])
      assert.ok(isSecretName(name), name);
    assert.ok(!isSecretName('MLFLOW_TRACKING_URI'));
    assert.equal(maskValue('MLFLOW_TRACKING_PASSWORD', 'hunter2'), '****');
    assert.equal(maskValue('MLFLOW_TRACKING_URI', 'https://bob:hunter2@mlflow:5000/x'), 'https://****@mlflow:5000/x');
    // A signed URL's query is its credential; the fragment (a checksum) is not.
    assert.equal(
      maskValue('MODEL_URI', 'https://s3.example/b/m.onnx?X-Amz-Signature=abc&X-Amz-Date=1#sha256=ff'),
      'https://s3.example/b/m.onnx?****#sha256=ff',
    );
    assert.equal(maskValue('MODEL_URI', 'models:/vision-model@champion'), 'models:/vision-model@champion');
    assert.deepEqual(
      maskTree({
        runners: { r: { variants: { a: { uri: 'https://u:p@h/x?t=1', weight: 1 } } } },
        env: { API_TOKEN: 't' },
      }),
      {
        runners: { r: { variants: { a: { uri: 'https://****@h/x?****', weight: 1 } } } },
        env: { API_TOKEN: '****' },
      },
    );
  });
});
