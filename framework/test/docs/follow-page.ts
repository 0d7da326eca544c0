/**
 * Following a page of the repository's documentation as a reader would (see docs.test.ts): the scratch HOME and
 * environment it runs in, the ports it needs free, and what each page says its commands print.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type BlockResult, runShellBlocks } from './doc-runner.js';
import { codeBlocks } from './markdown-blocks.js';
import { removePageImages, taggedImages } from './page-images.js';

export const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
export const DOCS = join(REPO, 'docs');
const scratch = mkdtempSync(join(tmpdir(), 'bento-docs-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Where each page runs from: a new directory of its own, or the repository (pages about its Makefile and services). */
const IN_REPO = new Set([
  'README.md',
  'api.md',
  'example-service.md',
  'contributing.md',
  'getting-started.md',
  'mlflow.md',
  'observability.md',
  'reliability.md',
  'performance.md',
]);
/** The ports the pages use, as a reader's machine would have them free. */
const PORTS = [3000, 5001, 4318, 16686, 8443, 8080];

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer().once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

const { NODE_TEST_CONTEXT: _inner, ...outer } = process.env;

/** Files example-service.md's commands write into the checkout, removed after it. */
const EXAMPLE_LEFTOVERS = ['deploy/mlflow-vision-classifier', 'deploy/mlflow-vision-classifier-kserve'];

/** Follows a document of the repository (`docs/<page>` or `README.md`). */
export async function follow(doc: string): Promise<BlockResult[]> {
  const page = doc.replace(/^docs\//, '');
  for (const port of PORTS) assert.ok(await portFree(port), `port ${port} is taken: the docs' commands use it`);
  const home = mkdtempSync(join(scratch, page.replace(/\W/g, '-')));
  const env = {
    ...outer,
    HOME: home,
    BENTO_HOME: join(home, 'bento'),
    BENTO_TS: REPO,
    PATH: `${join(REPO, 'node_modules', '.bin')}:${process.env.PATH}`,
    STACK_DIR: join(home, 'stack'),
    DOCKER_ENGINE_DIR: join(home, 'docker-engine'),
    ONNXRUNTIME_NODE_INSTALL: 'skip',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    NO_COLOR: '1',
    BENTO_LOG_FORMAT: 'json',
  };
  const text = readFileSync(join(REPO, doc), 'utf8');
  // The README's Python examples need requests, numpy and pillow: the repository's venv has them.
  const python = join(REPO, '.venv', 'bin', 'python');
  try {
    return await runShellBlocks(codeBlocks(text), { cwd: IN_REPO.has(page) ? REPO : home, env, source: doc, python });
  } finally {
    // A page that started the MLflow stack or a Docker engine stops it even when a block failed (the engine
    // stops the containers it runs, which would hold their ports).
    if (['mlflow.md', 'deployment.md', 'README.md', 'api.md', 'example-service.md'].includes(page))
      execFileSync('make', ['-s', 'stop', 'serve-stop'], { cwd: REPO, env, stdio: 'ignore' });
    execFileSync('bash', [join(REPO, 'infra', 'docker-engine.sh'), 'stop'], { env, stdio: 'ignore' });
    if (page === 'example-service.md')
      for (const dir of EXAMPLE_LEFTOVERS) rmSync(join(REPO, dir), { recursive: true, force: true });
  }
}

export const out = (results: BlockResult[]) => results.map((r) => r.stdout).join('\n');

export function report(doc: string, results: BlockResult[]): void {
  const counts = results.reduce<Record<string, number>>((n, r) => ({ ...n, [r.outcome]: (n[r.outcome] ?? 0) + 1 }), {});
  process.stdout.write(`# ${doc}: ${JSON.stringify(counts)}\n`);
}

/** What pages say their commands print, checked. */
export const CHECKS: Record<string, (results: BlockResult[]) => void> = {
  'getting-started.md': (r) => {
    assert.match(out(r), /"predicted_class":"Ankle boot"/);
    assert.match(out(r), /^my-classifier:\S+ /m);
    assert.match(out(r), /deployment\.yaml/);
  },
  'writing-services.md': (r) => {
    assert.match(out(r), /\{"scores":\[5\.5,7\.5,13\]\}/);
    assert.match(out(r), /\{"labels":\["medium"\]\}/);
    assert.match(out(r), /"inputs":\["features"\]/);
  },
  'configuration.md': (r) => {
    const shown = out(r);
    assert.doesNotMatch(shown, /s3cret/, 'the secret is masked');
    for (const row of [
      /^PORT\s+8080\s+flag$/m,
      /^BENTO_WORKERS\s+2\s+config file$/m,
      /^BENTO_LOG_LEVEL\s+info\s+flag$/m,
      /^MLFLOW_TRACKING_PASSWORD\s+\*\*\*\*\s+\.env$/m,
    ])
      assert.match(shown, row);
    assert.match(shown, /\{"echo":"configured"\}/);
  },
  'plugins.md': (r) => {
    // The JSON weights, then the same weights as an MLflow model of a flavor the converter took.
    assert.equal(out(r).match(/\{"y":\[4\.5,4\.5,1\.5,0\.5\]\}/g)?.length, 2);
    assert.match(out(r), /^csv-model:[0-9a-f]{12} /m, 'the converted model is in the store');
    assert.match(out(r), /\]\}200$/m, 'the probe answers without a key');
    assert.match(
      out(r),
      /\{"error":\{"code":"UNAUTHORIZED","message":"send a valid key in the x-api-key header"\}\}\n401/,
    );
    assert.match(out(r), /^Pulled classifier:[0-9a-f]+/m);
    assert.match(out(r), /^plugins:\n {2}- "?@bento-ts\/plugin-https"?$/m, 'bento new --plugin https listed it');
  },
  'building-and-containerizing.md': (r) => {
    assert.match(out(r), /^packed:1\.0\.0$/m);
    assert.match(out(r), /"predicted_class":"Ankle boot"/);
    assert.match(out(r), /^buildah build .* -t packed:1\.0\.0 /m);
    assert.match(out(r), /^bento map\[3000\/tcp:\{\}\]$/m);
    // From the container docker ran: a prediction, then who it runs as.
    assert.match(out(r), /^\{"predicted_class":"Ankle boot".*\n^bento$/m);
  },
  'deployment.md': (r) => {
    assert.match(out(r), /Summary: \d+ resources found .* Valid: \d+, Invalid: 0, Errors: 0/);
    assert.match(out(r), /^bento_worker_processes 2$/m);
    // The image served its packed model, then the registry's champion.
    assert.match(out(r), /^\{"status":"healthy","service":"deployed"\}$/m);
    assert.match(out(r), /^bento_model_info\{[^}]*name="vision-model"[^}]*\} 1$/m);
    assert.ok(r.filter((b) => b.outcome === 'skipped').length >= 3);
  },
  'mlflow.md': (r) => {
    assert.match(out(r), /"predicted_class": "Trouser"|"predicted_class":"Trouser"/);
    assert.match(out(r), /vision-model:\d+/);
    // The registry by hand: the version the Python block promoted is the one served by its alias.
    assert.match(out(r), /promoted version (\d+)[\s\S]*"model_version":"\1"/);
    // A model logged with mlflow.sklearn, served by bento serve -m, as mlflow models serve answers it.
    assert.match(out(r), /^\{"predictions":\[0\]\}$/m);
    assert.match(out(r), /^wine:1\.0\.0 /m, 'bento build -m packed it');
  },
  'api.md': (r) => {
    const text = out(r);
    assert.match(text, /"predicted_class": "Trouser"/);
    assert.match(text, /^Predicted: Trouser \(\d+\.\d+%\)$/m, 'the Python example');
    assert.match(text, /^0: Trouser \([\d.]+%\)\n1: \S.*\n2: \S/m, 'the Python batch example');
  },
  'example-service.md': (r) => {
    const text = out(r);
    assert.match(text, /^Pulled vision-model:1 /m);
    assert.match(text, /^mlflow_vision_classifier:1\.0\.0$/m);
    assert.match(text, /^Complete requests:\s+1000$/m, 'ab');
    assert.match(text, /^Failed requests:\s+0$/m, 'ab');
    // Skipped, and why: placeholders to fill in, a cluster, the long run of make bench, Locust's web UI.
    const skipped = r
      .filter((b) => b.outcome === 'skipped')
      .map((b) => b.block.tags.find((t) => t.startsWith('needs-')));
    assert.deepEqual([...new Set(skipped)].sort(), ['needs-cluster', 'needs-time', 'needs-ui', 'needs-values']);
  },
  'contributing.md': (r) =>
    assert.ok(
      r.some((b) => b.outcome === 'skipped' && b.block.code.includes('make test')),
      'make test is shown, not run',
    ),
  'observability.md': (r) => assert.match(out(r), /"operationName":"POST \/predict_image"/),
  'reliability.md': (r) => assert.match(out(r), /requests tried/i),
  'performance.md': (r) => {
    assert.match(out(r), /latest\.md/);
    // autocannon's summary: every request answered 2xx.
    const load = r.find((b) => b.block.code.includes('autocannon'))!;
    const summary = `${load.stdout}${load.stderr}`;
    assert.match(summary, /\d+k? requests in [\d.]+s/);
    assert.doesNotMatch(summary, /non 2xx responses|errors \(/, summary);
  },
};

/**
 * Pages followed by a test file of their own (docs-alone.test.ts), in the lane that has the machine to itself:
 * their commands load the server and hold it to latency objectives.
 */
export const ALONE_PAGES = ['performance.md', 'reliability.md'];

/** Follows `docs/<page>` and checks what it printed. */
export async function followPage(page: string): Promise<void> {
  const images = taggedImages();
  try {
    const results = await follow(`docs/${page}`);
    report(`docs/${page}`, results);
    CHECKS[page](results);
  } finally {
    removePageImages(readFileSync(join(DOCS, page), 'utf8'), images);
  }
}
