import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { envFor, modelRefs, parseBentoYaml } from '../src/config/bento-yaml.js';
import { ConfigError } from '../src/errors.js';

function problems(text: string): string {
  try {
    parseBentoYaml(text, 'bento.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('expected bento.yaml to be refused');
}

describe('bento.yaml', () => {
  it('accepts every documented key', () => {
    const config = parseBentoYaml(
      [
        'service: ./services/x',
        'name: my_service',
        'description: "file: ./README.md"',
        'labels: { owner: team, tier: 1 }',
        'include: ["dist/", "model/"]',
        'exclude: ["dist/test/"]',
        'models:',
        '  - models:/vision-model/1',
        '  - { uri: "models:/vision-model@champion", alias: champion }',
        'plugins: ["./my-plugin.js"]',
        'env:',
        '  - { name: MODEL_URI, value: "models:/vision-model/1", stage: runtime }',
        '  - { name: NPM_CONFIG_REGISTRY, value: "https://registry.example", stage: build }',
        'docker: { baseImage: "node:20-slim", nodeVersion: "20", systemPackages: [libgomp1], setupScript: ./setup.sh }',
        'workers: 2',
        'resources: { cpu: "500m", memory: 1Gi }',
        'traffic: { timeoutMs: 30000, maxConcurrency: 64 }',
        'apis: { predict_image: { traffic: { timeoutMs: 5000 } }, health: { traffic: false } }',
        'runners: { vision_model_runner: { workers: 2, threadsPerWorker: 1, batching: { classify: { maxBatchSize: 32, maxLatencyMs: 100 } } } }',
      ].join('\n'),
    );
    assert.deepEqual(modelRefs(config), [
      { uri: 'models:/vision-model/1' },
      { uri: 'models:/vision-model@champion', alias: 'champion' },
    ]);
    assert.deepEqual(envFor(config, 'runtime'), { MODEL_URI: 'models:/vision-model/1' });
    assert.deepEqual(envFor(config, 'build'), { NPM_CONFIG_REGISTRY: 'https://registry.example' });
    assert.equal(config.workers, 2);
    assert.equal(parseBentoYaml('workers: cpu_count').workers, 'cpu_count');
    assert.throws(() => parseBentoYaml('workers: 0'), /bento\.yaml:1: "workers"/);
    assert.deepEqual(config.resources, { cpu: '500m', memory: '1Gi' });
    assert.deepEqual(parseBentoYaml('resources: { cpu: 2 }').resources, { cpu: 2 });
    assert.match(problems('resources:\n  memory: 1GB\n'), /bento\.yaml:2: "resources\.memory" must match pattern/);
    assert.match(problems('resources:\n  gpu: 1\n'), /bento\.yaml:2: unknown key "resources\.gpu"/);
  });

  it('takes env as a mapping too (stage all)', () => {
    const config = parseBentoYaml('env:\n  LOG_LEVEL: debug\n  WORKERS: 2\n');
    assert.deepEqual(envFor(config, 'build'), { LOG_LEVEL: 'debug', WORKERS: '2' });
    assert.deepEqual(envFor(config, 'runtime'), { LOG_LEVEL: 'debug', WORKERS: '2' });
  });

  it('names an unknown key and its line', () => {
    assert.match(problems('service: .\nname: ok\n\ndockr:\n  baseImage: x\n'), /bento\.yaml:4: unknown key "dockr"/);
    assert.match(
      problems('docker:\n  baseImage: x\n  python_version: "3.11"\n'),
      /bento\.yaml:3: unknown key "docker\.python_version"/,
    );
  });

  it('names a wrong type and its line', () => {
    assert.match(problems('service: .\nlabels: [a, b]\n'), /bento\.yaml:2: "labels" must be object/);
    assert.match(problems('plugins:\n  - ok\n  - 42\n'), /bento\.yaml:3: "plugins\.1" must be string/);
    assert.match(
      problems('runners:\n  r:\n    batching:\n      m:\n        maxBatchSize: 0\n'),
      /bento\.yaml:5: "runners\.r\.batching\.m\.maxBatchSize" must be >= 1/,
    );
    assert.match(
      problems('env:\n  - { name: X, stage: sometimes }\n'),
      /bento\.yaml:2: "env\.0\.stage" must be one of all, build, runtime/,
    );
  });

  it('refuses a name that is not a valid tag, and reports every problem at once', () => {
    const message = problems('name: My Service\nlabels: 3\n');
    assert.match(message, /bento\.yaml:1: "name" must match pattern/);
    assert.match(message, /bento\.yaml:2: "labels" must be object/);
  });

  it('reports YAML syntax errors and non-mappings clearly', () => {
    assert.match(problems('service: [unclosed\n'), /bento\.yaml is not valid YAML/);
    assert.match(problems('- a\n- b\n'), /must be a YAML mapping/);
  });
});
