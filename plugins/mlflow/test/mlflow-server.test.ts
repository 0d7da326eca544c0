/**
 * The MLflow model source against a real MLflow server (SQLite backend store,
 * local artifacts behind --serve-artifacts), started by infra/stack.sh. Models
 * are logged by MLflow's own Python client; bento-ts serves them with no Python.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BentoError, ModelStore, inspectModelPath } from '@bento-ts/framework/plugin';
import { answeredBy, directProbabilities, modelInfo, predict, serve, servesAnkleBoot } from './helpers/serve.js';
import { type Fixtures, REPO_ROOT, Stack, freePort } from './helpers/stack.js';

const NAME = 'vision-model';

function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(REPO_ROOT, 'framework', 'bin', 'bento.js'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const loadFailure = (code: string, pattern: RegExp) => (err: BentoError) => {
  assert.equal(err.code, code, err.message);
  assert.match(err.message, /^Failed to load model from MLflow: /);
  assert.match(err.message, pattern);
  return true;
};

describe('MLflow model source, against a real MLflow server', { timeout: 900_000 }, () => {
  const stack = new Stack({ mode: 'basic' });
  const home = mkdtempSync(join(tmpdir(), 'bento-home-'));
  let fx: Fixtures;
  const env = (extra: Record<string, string>) => ({ ...stack.env, BENTO_HOME: home, ...extra });

  before(async () => {
    await stack.start();
    fx = await stack.logModels(NAME);
  });
  after(() => stack.stop());

  const ways: Array<{
    how: string;
    select: () => Record<string, string>;
    version: () => string | null;
    run: () => string;
    epochs?: string;
  }> = [
    {
      how: 'MODEL_RUN_ID (an MLflow 3 logged model of the run)',
      select: () => ({ MODEL_RUN_ID: fx.versions[0].run_id }),
      version: () => null,
      run: () => fx.versions[0].run_id,
      epochs: '11',
    },
    {
      how: 'MODEL_RUN_ID (MLflow 2 layout: the model as run artifacts)',
      select: () => ({ MODEL_RUN_ID: fx.artifacts_run_id }),
      version: () => null,
      run: () => fx.artifacts_run_id,
    },
    {
      how: 'MODEL_NAME + MODEL_VERSION=1',
      select: () => ({ MODEL_NAME: NAME, MODEL_VERSION: '1' }),
      version: () => '1',
      run: () => fx.versions[0].run_id,
      epochs: '11',
    },
    {
      how: 'MODEL_NAME alone (latest)',
      select: () => ({ MODEL_NAME: NAME }),
      version: () => '2',
      run: () => fx.versions[1].run_id,
      epochs: '12',
    },
    {
      how: 'a stage (MODEL_VERSION=Production)',
      select: () => ({ MODEL_NAME: NAME, MODEL_VERSION: 'Production' }),
      version: () => '2',
      run: () => fx.versions[1].run_id,
      epochs: '12',
    },
    {
      how: 'an alias (MODEL_VERSION=@champion)',
      select: () => ({ MODEL_NAME: NAME, MODEL_VERSION: '@champion' }),
      version: () => '1',
      run: () => fx.versions[0].run_id,
      epochs: '11',
    },
    {
      how: 'an MLflow 3 model ID (MODEL_URI=models:/m-...)',
      select: () => ({ MODEL_URI: `models:/${fx.versions[1].model_id}` }),
      version: () => null,
      run: () => fx.versions[1].run_id,
      epochs: '12',
    },
  ];

  for (const way of ways) {
    it(`serves the model chosen by ${way.how}, predicting as the ONNX file does when run directly`, async () => {
      const server = await serve(env(way.select()));
      try {
        const info = await modelInfo(server);
        assert.equal(info.run_id, way.run());
        assert.equal(info.model_version, way.version());
        assert.equal(info.model_format, 'onnx');
        if (way.epochs) assert.equal(info.model_metadata.params.epochs, way.epochs, 'params come from the MLflow run');
        assert.equal(typeof info.model_metadata.metrics.test_accuracy, 'number');
        const served = await predict(server);
        const stored = (await new ModelStore(home).list()).find((m) => m.uris.includes(String(info.model_uri)));
        assert.ok(stored, `${String(info.model_uri)} is in the store`);
        const dir = await inspectModelPath(stored.path);
        const direct = await directProbabilities(join(stored.path, dir.file!), dir.metadata);
        const classes = Object.keys(served.probabilities);
        assert.equal(classes.length, 10);
        classes.forEach((c, i) =>
          assert.ok(
            Math.abs(served.probabilities[c] - direct[i]) < 1e-6,
            `${c}: served ${served.probabilities[c]} vs direct ${direct[i]}`,
          ),
        );
        assert.equal(served.predicted_class, 'Ankle boot');
      } finally {
        await server.close();
      }
    });
  }

  it('reads file:// artifact roots (an experiment on a shared filesystem) straight from disk', async () => {
    const root = mkdtempSync(join(tmpdir(), 'bento-artifacts-'));
    await stack.python(
      [
        'import mlflow, onnx, warnings, yaml',
        'warnings.filterwarnings("ignore")',
        `mlflow.set_tracking_uri("${stack.trackingUri}")`,
        `mlflow.set_experiment(experiment_id=mlflow.create_experiment("local-files", artifact_location="file://${root}"))`,
        `bundled = "${join(REPO_ROOT, 'services/vision-classifier/model')}"`,
        'with mlflow.start_run():',
        '    mlflow.onnx.log_model(onnx.load(bundled + "/model.onnx"), name="model", metadata=yaml.safe_load(open(bundled + "/MLmodel"))["metadata"], registered_model_name="vision-local")',
      ].join('\n'),
    );
    const info = await servesAnkleBoot(env({ MODEL_NAME: 'vision-local', MODEL_VERSION: '1' }));
    assert.ok(String(info.resolved_uri).startsWith(`file://${root}/`), String(info.resolved_uri));
  });

  it('downloads a model once, with its external weights, and verifies it in the store', async () => {
    const store = new ModelStore(home);
    const v1 = (await store.list()).find((m) => m.uris.includes(`models:/${NAME}/1`));
    assert.ok(v1);
    assert.ok(
      v1.files.some((f) => f.path.endsWith('.data')),
      `MLflow saved the weights as external data: ${v1.files.map((f) => f.path).join(', ')}`,
    );
    assert.deepEqual(
      [`runs:/${fx.versions[0].run_id}/model`, `models:/${NAME}/1`, `models:/${NAME}@champion`].filter((u) =>
        v1.uris.includes(u),
      ).length,
      3,
      `a run, its registered version and the alias on it share one copy: ${v1.uris.join(', ')}`,
    );
    assert.equal(v1.resolutions[`models:/${NAME}@champion`].registered_version, '1');
    assert.equal(await store.verify(v1, true), undefined);
  });

  it('follows models:/<name>/latest: a newly registered version is swapped in without a restart', async () => {
    const name = 'follow-latest';
    // Each version from another training run: other files (a version of the same files is the same model).
    const register = (run: string) =>
      stack.python(`import mlflow\nmlflow.register_model("runs:/${run}/model", "${name}")`);
    await register(fx.versions[0].run_id);
    const server = await serve(env({ MODEL_URI: `models:/${name}/latest`, BENTO_MODEL_POLL_SECONDS: '0.5' }));
    try {
      assert.equal(await answeredBy(server), `${name}/1`);
      await register(fx.versions[1].run_id);
      const deadline = performance.now() + 60_000;
      while ((await modelInfo(server)).model_version !== '2') {
        assert.ok(performance.now() < deadline, 'version 2 swapped in within a minute');
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(await answeredBy(server), `${name}/2`);
      const info = await modelInfo(server);
      assert.equal(info.model_uri, `models:/${name}/latest`);
      assert.equal(info.run_id, fx.versions[1].run_id);
    } finally {
      await server.close();
    }
  });

  it("names the cause of every failure, in one line that starts as the seed's", async () => {
    await assert.rejects(
      serve(env({ MODEL_RUN_ID: '0123456789abcdef0123456789abcdef' })),
      loadFailure('MODEL_NOT_FOUND', /Run with id=0123456789abcdef0123456789abcdef not found/),
    );
    await assert.rejects(serve(env({ MODEL_NAME: 'no-such-model' })), loadFailure('MODEL_NOT_FOUND', /no-such-model/));
    await assert.rejects(
      serve(env({ MODEL_NAME: NAME, MODEL_VERSION: '99' })),
      loadFailure('MODEL_NOT_FOUND', /version=99\) not found/),
    );
    await assert.rejects(
      serve(env({ MODEL_NAME: NAME, MODEL_VERSION: '@nope' })),
      loadFailure('MODEL_NOT_FOUND', /alias nope not found/),
    );
    await assert.rejects(
      serve(env({ MODEL_NAME: NAME, MODEL_VERSION: 'champion' })),
      loadFailure('MODEL_NOT_FOUND', /Invalid Model Version stage: champion.*models:\/vision-model@champion/),
    );
    await assert.rejects(
      serve(env({ MODEL_RUN_ID: fx.artifacts_run_id, MODEL_ARTIFACT_PATH: 'missing' })),
      loadFailure('MODEL_NOT_FOUND', /has no model at "missing"/),
    );
    // A PyTorch model is converted to ONNX, and that needs its input shape: this one gives it nowhere.
    await assert.rejects(
      serve(env({ MODEL_RUN_ID: fx.pytorch_run_id })),
      loadFailure('INPUT_SHAPE_UNKNOWN', /signature.*input example.*MODEL_INPUT_SHAPE/),
    );
    await assert.rejects(
      serve(env({ MODEL_RUN_ID: fx.bad_signature_run_id })),
      (err: BentoError) =>
        err.code === 'MODEL_FORMAT_ERROR' &&
        /input "input" has shape \[.*3, 32, 32\], the signature says \[-1, 1, 28, 28\]/.test(err.message),
    );
    const stored = (await new ModelStore(home).list()).map((m) => m.tag);
    assert.ok(!stored.some((t) => t.includes(fx.pytorch_run_id)), 'what cannot be served never enters the store');
  });

  it('bento models pull / list / get / delete work on the same store', async () => {
    const pull = await runCli(['models', 'pull', `models:/${NAME}/2`], env({}));
    assert.equal(pull.code, 0, pull.stderr);
    assert.match(pull.stdout, /^Pulled vision-model:2 \(onnx\) → .*models\/vision-model\/2$/m);
    const list = await runCli(['models', 'list'], env({}));
    assert.match(list.stdout, /^vision-model:2\s+\d/m);
    const path = await runCli(['models', 'get', `${NAME}:2`, '-o', 'path'], env({}));
    assert.equal(path.stdout.trim(), join(home, 'models', NAME, '2'));
    const del = await runCli(['models', 'delete', `${NAME}:2`], env({}));
    assert.equal(del.code, 0, del.stderr);
    const gone = await runCli(['models', 'get', `${NAME}:2`], env({}));
    assert.equal(gone.code, 3);
    assert.match(gone.stderr, /MODEL_NOT_FOUND.*no model vision-model:2/);
  });

  it('talks to MLflow over TLS: trusting MLFLOW_TRACKING_SERVER_CERT_PATH, or not verifying with MLFLOW_TRACKING_INSECURE_TLS', async () => {
    // A TLS-terminating proxy in front of the stack, with a self-signed certificate for 127.0.0.1.
    const dir = mkdtempSync(join(tmpdir(), 'bento-tls-'));
    const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const upstream = new URL(stack.trackingUri);
    const proxy = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
      const up = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          path: req.url,
          method: req.method,
          headers: { ...req.headers, host: upstream.host },
        },
        (r) => {
          res.writeHead(r.statusCode!, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const tls = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    // A fresh store each time, so that the model really comes through TLS.
    const through = (extra: Record<string, string>) =>
      env({
        MLFLOW_TRACKING_URI: tls,
        BENTO_HOME: mkdtempSync(join(tmpdir(), 'bento-home-')),
        MODEL_NAME: NAME,
        MODEL_VERSION: '1',
        ...extra,
      });
    try {
      await assert.rejects(
        serve(through({})),
        loadFailure(
          'MODEL_SOURCE_UNAVAILABLE',
          /certificate this machine does not trust .*MLFLOW_TRACKING_SERVER_CERT_PATH/,
        ),
      );
      const trusts: Array<Record<string, string>> = [
        { MLFLOW_TRACKING_SERVER_CERT_PATH: cert },
        { MLFLOW_TRACKING_INSECURE_TLS: 'true' },
      ];
      for (const trust of trusts) await servesAnkleBoot(through(trust));
    } finally {
      proxy.close();
    }
  });

  const bentoHome = mkdtempSync(join(tmpdir(), 'bento-build-home-'));
  const archive = join(bentoHome, 'classifier.bento');

  it('bento build packs the model MODEL_NAME picks (latest, pinned to its version) and exports it', async () => {
    const build = await runCli(['build', '--version', 'mlflow1', '-o', 'path'], {
      ...env({ MODEL_NAME: NAME }),
      BENTO_HOME: bentoHome,
    });
    assert.equal(build.code, 0, build.stderr);
    assert.match(build.stderr, /the bento serves models:\/vision-model\/2 \(chosen by the build's environment\)/);
    const manifest = readFileSync(join(build.stdout.trim(), 'bento.yaml'), 'utf8');
    assert.match(
      manifest,
      /models:\n {2}- uri: models:\/vision-model\/latest\n {4}tag: vision-model:2\n {4}pinned_uri: models:\/vision-model\/2\n/,
    );
    assert.match(manifest, /- name: BENTO_DEFAULT_MODEL\n {4}value: models:\/vision-model\/2\n {4}stage: runtime/);
    assert.match(
      readFileSync(join(build.stdout.trim(), 'env', 'docker', 'Dockerfile'), 'utf8'),
      /ENV BENTO_DEFAULT_MODEL="models:\/vision-model\/2"/,
    );
    const exported = await runCli(['export', 'mlflow_vision_classifier:mlflow1', archive], { BENTO_HOME: bentoHome });
    assert.equal(exported.code, 0, exported.stderr);
  });

  const aliasArchive = join(bentoHome, 'alias.bento');

  it('bento build packs the models bento.yaml lists, with their aliases', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bento-alias-'));
    writeFileSync(
      join(dir, 'bento.yaml'),
      `service: ${join(REPO_ROOT, 'services', 'vision-classifier')}\nexclude: [test/, training/, samples/, dist/test/]\nmodels:\n  - uri: models:/${NAME}@champion\n    alias: first\n`,
    );
    const build = await runCli(['build', '-f', join(dir, 'bento.yaml'), '--version', 'alias1', '-o', 'path'], {
      ...env({}),
      BENTO_HOME: bentoHome,
    });
    assert.equal(build.code, 0, build.stderr);
    const manifest = readFileSync(join(build.stdout.trim(), 'bento.yaml'), 'utf8');
    assert.match(
      manifest,
      /- uri: models:\/vision-model@champion\n {4}alias: first\n {4}tag: vision-model:1\n {4}pinned_uri: models:\/vision-model\/1\n/,
    );
    const exported = await runCli(['export', 'mlflow_vision_classifier:alias1', aliasArchive], {
      BENTO_HOME: bentoHome,
    });
    assert.equal(exported.code, 0, exported.stderr);
  });

  describe('with MLflow stopped', () => {
    before(() => stack.stopServers());

    /** `bento serve <tag>` from a fresh store holding only the imported archive, MLflow unreachable: model info and a prediction. */
    async function serveImported(
      file: string,
      tag: string,
      extra: Record<string, string> = {},
    ): Promise<{ info: Record<string, unknown>; predicted: string }> {
      const fresh = mkdtempSync(join(tmpdir(), 'bento-import-home-'));
      const imported = await runCli(['import', file], { BENTO_HOME: fresh });
      assert.equal(imported.code, 0, imported.stderr);
      const closed = `http://127.0.0.1:${await freePort()}`;
      const child = spawn(
        process.execPath,
        [join(REPO_ROOT, 'framework', 'bin', 'bento.js'), 'serve', tag, '--port', '0', '--host', '127.0.0.1'],
        {
          cwd: tmpdir(),
          env: {
            ...process.env,
            BENTO_HOME: fresh,
            MLFLOW_TRACKING_URI: closed,
            MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0',
            ...extra,
          },
        },
      );
      try {
        const url = await new Promise<string>((resolve, reject) => {
          let out = '';
          let err = '';
          child.stdout.on('data', (d) => {
            out += d;
            const m = /Health: GET (\S+)\/health/.exec(out);
            if (m) resolve(m[1]);
          });
          child.stderr.on('data', (d) => (err += d));
          child.on('exit', (code) => reject(new Error(`bento serve exited with ${code}: ${err}`)));
        });
        const info = (await (await fetch(`${url}/get_model_info`)).json()) as Record<string, unknown>;
        const form = new FormData();
        form.append(
          'image',
          new Blob([readFileSync(join(REPO_ROOT, 'services/vision-classifier/samples/ankle_boot.png'))], {
            type: 'image/png',
          }),
          'ankle_boot.png',
        );
        const res = await fetch(`${url}/predict_image`, { method: 'POST', body: form });
        return { info, predicted: ((await res.json()) as { predicted_class: string }).predicted_class };
      } finally {
        child.kill('SIGTERM');
      }
    }

    it('an imported bento serves its packed model with no MLflow at all', async () => {
      const { info, predicted } = await serveImported(archive, 'mlflow_vision_classifier:mlflow1');
      assert.equal(info.model_uri, `models:/${NAME}/2`);
      assert.equal(info.model_version, '2');
      assert.equal(predicted, 'Ankle boot');
    });

    it('a model packed from bento.yaml models: is chosen by its alias (MODEL_URI=<alias>)', async () => {
      const { info, predicted } = await serveImported(aliasArchive, 'mlflow_vision_classifier:alias1', {
        MODEL_URI: 'first',
      });
      assert.equal(info.model_uri, `models:/${NAME}/1`);
      assert.equal(info.model_version, '1');
      assert.equal(predicted, 'Ankle boot');
    });

    it('serves what the store holds: a version and a run at once, an alias from its last resolution', async () => {
      const selections: Array<Record<string, string>> = [
        { MODEL_NAME: NAME, MODEL_VERSION: '1' },
        { MODEL_RUN_ID: fx.versions[0].run_id },
        { MODEL_NAME: NAME, MODEL_VERSION: '@champion' },
      ];
      for (const select of selections) await servesAnkleBoot(env(select));
    });

    it('fails to start, after bounded retries, when a model it never fetched is asked for', async () => {
      await assert.rejects(
        serve(env({ MODEL_NAME: 'never-fetched', MODEL_VERSION: '1' })),
        loadFailure(
          'MODEL_SOURCE_UNAVAILABLE',
          /MLflow at http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\) after 2 attempts/,
        ),
      );
    });

    it("bento serve exits non-zero with the seed's message when MLflow cannot be reached", async () => {
      const port = await freePort();
      const r = await runCli(['serve', 'services/vision-classifier', '--port', '0'], {
        ...env({ MODEL_NAME: 'never-fetched' }),
        MLFLOW_TRACKING_URI: `http://127.0.0.1:${port}`,
      });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /Failed to load model from MLflow: MLflow at http:\/\/127\.0\.0\.1:\d+ is unreachable/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    });
  });
});
