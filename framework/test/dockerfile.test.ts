import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { BentoManifest } from '../src/bento/manifest.js';
import { TEMPLATES_DIR } from '../src/package-info.js';
import { writeDockerFiles } from '../src/builder/dockerfile.js';

const base = mkdtempSync(join(tmpdir(), 'bento-dockerfile-'));
after(() => rmSync(base, { recursive: true, force: true }));

function manifest(extra: Partial<BentoManifest>): BentoManifest {
  return {
    tag: 'svc:v1',
    bento_ts_version: '0.1.0',
    models: [],
    env: [],
    docker: { baseImage: 'node:20-bookworm-slim', nodeVersion: '20', systemPackages: [] },
    ...extra,
  } as BentoManifest;
}

async function render(m: BentoManifest, setup?: string): Promise<string> {
  const dir = mkdtempSync(join(base, 'b-'));
  await writeDockerFiles(dir, m, join(TEMPLATES_DIR, 'docker'), setup);
  return dir;
}

describe('the generated Dockerfile', () => {
  it('is minimal by default: no apt, no models layer, no setup script', async () => {
    const dir = await render(manifest({}));
    const text = readFileSync(join(dir, 'env', 'docker', 'Dockerfile'), 'utf8');
    assert.match(text, /^ARG BASE_IMAGE=node:20-bookworm-slim$/m);
    assert.match(text, /^RUN npm ci --omit=dev && sh env\/docker\/prune-node-modules\.sh node_modules$/m);
    assert.doesNotMatch(text, /apt-get|COPY --chown=bento:bento models|setup_script/);
    assert.ok(statSync(join(dir, 'env', 'docker', 'healthcheck.mjs')).isFile());
  });

  it('installs system packages, copies models, runs the setup script and sets env by stage, quoted', async () => {
    const setup = join(base, 'setup.sh');
    writeFileSync(setup, '#!/bin/sh\necho hi\n');
    const dir = await render(
      manifest({
        models: [{ uri: 'models:/m/1' } as BentoManifest['models'][number]],
        docker: {
          baseImage: 'registry.local/node:20',
          nodeVersion: '20',
          systemPackages: ['libgomp1', 'curl'],
          setupScript: 'setup.sh',
        },
        env: [
          { name: 'NPM_CONFIG_REGISTRY', value: 'https://npm.local', stage: 'build' },
          { name: 'GREETING', value: 'say "hi" for $5\\n', stage: 'runtime' },
          { name: 'BOTH', value: '1', stage: 'all' },
        ],
      }),
      setup,
    );
    const text = readFileSync(join(dir, 'env', 'docker', 'Dockerfile'), 'utf8');
    assert.match(text, /^ARG BASE_IMAGE=registry\.local\/node:20$/m);
    assert.match(text, /apt-get install -y --no-install-recommends libgomp1 curl /);
    assert.match(text, /^COPY --chown=bento:bento models \.\/models$/m);
    assert.match(text, /^RUN sh env\/docker\/setup_script$/m);
    const [deps, runtime] = text.split('# Stage 2') as [string, string];
    assert.match(deps, /^ENV NPM_CONFIG_REGISTRY="https:\/\/npm\.local"$/m);
    assert.match(deps, /^ENV BOTH="1"$/m);
    assert.doesNotMatch(deps, /GREETING/);
    assert.match(runtime, /^ENV GREETING="say \\"hi\\" for \\\$5\\\\n"$/m);
    assert.doesNotMatch(runtime, /NPM_CONFIG_REGISTRY/);
    assert.equal(readFileSync(join(dir, 'env', 'docker', 'setup_script'), 'utf8'), '#!/bin/sh\necho hi\n');
  });
});
