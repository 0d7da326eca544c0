/**
 * `bento containerize` for real: no Docker engine here, so buildah (daemonless,
 * vfs storage, chroot isolation) builds the bento's generated Dockerfile from a
 * Node base image made from Debian packages by infra/base-image.sh (no registry
 * is reachable). The image is inspected, then run: its entrypoint serves the
 * bento, and the host calls /health and /predict_image. Then it runs as Docker
 * runs it: the docker CLI, through the Docker API of infra/docker-engine.sh
 * (podman, sharing buildah's storage), starts it in a container with its own
 * network behind a published port, and `docker stop` drains it.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  BUILDAH_STORAGE,
  REPO_ROOT,
  baseImage,
  containerize,
  freePort,
  halfSentUploads,
  multipart,
  runBento,
  sample,
  waitForMetrics,
} from './helpers.js';

/** The stand-in of node:<major>-bookworm-slim for the Node.js running this test (infra/base-image.sh names it). */
let BASE_IMAGE = '';
const IMAGE = 'localhost/bento-ts-test/classifier:ci';
const STORAGE = BUILDAH_STORAGE;
const buildah = (...args: string[]) =>
  execFileSync('buildah', [...STORAGE, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

describe('bento containerize with buildah', { timeout: 1_800_000 }, () => {
  const home = mkdtempSync(join(tmpdir(), 'bento-image-'));
  const env = { BENTO_HOME: home, BUILDAH_ISOLATION: 'chroot' };
  let container = '';
  let server: ChildProcess | undefined;

  before(() => {
    // Cached in buildah's storage after the first run (debootstrap takes a few minutes).
    BASE_IMAGE = baseImage();
  });

  after(() => {
    if (server?.pid) process.kill(-server.pid, 'SIGKILL');
    if (container) buildah('rm', container);
    try {
      buildah('rmi', IMAGE);
    } catch {
      // not built
    }
    rmSync(home, { recursive: true, force: true });
  });

  it('refuses an unknown backend, names why docker cannot build, takes the base image from BENTO_BASE_IMAGE', async () => {
    const unknown = await runBento(['containerize', 'x:1', '--backend', 'kaniko'], env);
    assert.equal(unknown.code, 3, 'there is no bento x:1 (exit code 3)');
    const built = await runBento(['build', '--version', 'img', '-o', 'tag'], env);
    assert.equal(built.code, 0, built.stderr);
    const bad = await runBento(['containerize', 'mlflow_vision_classifier:img', '--backend', 'kaniko'], env);
    assert.match(bad.stderr, /CONTAINERIZE_ERROR.*unknown backend "kaniko"; use one of docker, podman, buildah/);
    // An engine nothing serves (one make docker-engine started would answer).
    const docker = await runBento(['containerize', 'mlflow_vision_classifier:img', '--backend', 'docker'], {
      ...env,
      DOCKER_HOST: `unix://${home}/no-engine.sock`,
    });
    assert.equal(docker.code, 1);
    assert.match(
      docker.stderr,
      /backend docker cannot build here: (docker cannot reach an engine|the docker CLI is not installed)/,
    );
    const mirrored = await runBento(
      ['containerize', 'mlflow_vision_classifier:img', '--backend', 'buildah', '--dry-run'],
      { ...env, BENTO_BASE_IMAGE: 'mirror.example/node:24-bookworm-slim' },
    );
    assert.match(mirrored.stdout, / --build-arg BASE_IMAGE=mirror\.example\/node:24-bookworm-slim /);
    const explicit = await runBento(
      [
        'containerize',
        'mlflow_vision_classifier:img',
        '--backend',
        'buildah',
        '--dry-run',
        '--build-arg',
        'BASE_IMAGE=own/node:24',
      ],
      { ...env, BENTO_BASE_IMAGE: 'mirror.example/node:24-bookworm-slim' },
    );
    assert.match(explicit.stdout, / --build-arg BASE_IMAGE=own\/node:24 /, 'a --build-arg wins over BENTO_BASE_IMAGE');
    const dry = await runBento(
      ['containerize', 'mlflow_vision_classifier:img', '--backend', 'buildah', '--dry-run', '--', '--layers'],
      env,
    );
    assert.match(
      dry.stdout,
      /^buildah build --format docker -f \S+\/env\/docker\/Dockerfile -t mlflow_vision_classifier:img --layers \S+\/mlflow_vision_classifier\/img\n$/,
    );
  });

  it('builds an image of the bento: production dependencies, non-root, port 3000, a health check, bento serve as entrypoint', async () => {
    const run = await containerize('mlflow_vision_classifier:img', IMAGE, BASE_IMAGE, env);
    assert.equal(run.code, 0, run.stderr.slice(-3000));
    assert.match(run.stdout, new RegExp(`Successfully built image ${IMAGE} with buildah`));
    const config = JSON.parse(buildah('inspect', '--type', 'image', IMAGE)).Docker.config;
    assert.equal(config.User, 'bento');
    assert.deepEqual(Object.keys(config.ExposedPorts), ['3000/tcp']);
    assert.deepEqual(config.Healthcheck.Test, ['CMD', 'node', 'env/docker/healthcheck.mjs']);
    assert.deepEqual(config.Entrypoint, [
      'node',
      'node_modules/@bento-ts/framework/bin/bento.js',
      'serve',
      '/home/bento/bento',
    ]);
    assert.ok(config.Env.includes('PORT=3000'));
    container = buildah('from', '--quiet', IMAGE);
    const inside = (cmd: string) => buildah('run', '--isolation', 'chroot', container, '--', 'sh', '-c', cmd);
    assert.equal(inside('id -u'), '1034');
    // Models fetched at run time land in the bento's store, which the non-root user owns.
    assert.equal(inside('test -w models && test -w . && echo writable'), 'writable');
    // No dev dependency, and ONNX Runtime's binaries for other platforms pruned.
    assert.equal(inside('test -e node_modules/typescript && echo yes || echo no'), 'no');
    assert.equal(inside('ls node_modules/onnxruntime-node/bin/napi-v6'), 'linux');
    assert.equal(
      inside('ls node_modules/onnxruntime-node/bin/napi-v6/linux'),
      process.arch === 'arm64' ? 'arm64' : 'x64',
    );
    const size = buildah('images', '--format', '{{.Size}}', IMAGE);
    process.stdout.write(`# image ${IMAGE}: ${size}\n`);
  });

  it('runs the image: its entrypoint serves the bento on PORT, the health check passes, predictions come back', async () => {
    assert.ok(container, 'the image was built');
    const port = await freePort();
    const entrypoint = JSON.parse(buildah('inspect', '--type', 'image', IMAGE)).Docker.config.Entrypoint as string[];
    // chroot isolation shares the host's network: the server inside is reachable on 127.0.0.1.
    // Its own process group: the server inside outlives a signal sent to buildah alone.
    server = spawn(
      'buildah',
      [
        ...STORAGE,
        'run',
        '--isolation',
        'chroot',
        '--env',
        `PORT=${port}`,
        '--env',
        'HOST=127.0.0.1',
        container,
        '--',
        ...entrypoint,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    let log = '';
    server.stdout!.on('data', (d) => (log += d));
    server.stderr!.on('data', (d) => (log += d));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner in 120 s:\n${log}`)), 120_000);
      const check = () => (/Health: GET/.test(log) ? (clearTimeout(timer), resolve()) : setTimeout(check, 200));
      server!.once('exit', (code) => reject(new Error(`the container exited with ${code}:\n${log}`)));
      check();
    });
    assert.match(log, /serving bento mlflow_vision_classifier:img from \/home\/bento\/bento/);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    assert.deepEqual(await health.json(), { status: 'healthy', service: 'mlflow_vision_classifier' });
    const res = await fetch(`http://127.0.0.1:${port}/predict_image`, {
      method: 'POST',
      body: multipart('image', sample('trouser.jpg'), 'trouser.jpg', 'image/jpeg'),
    });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { predicted_class: string }).predicted_class, 'Trouser');
    const check = buildah(
      'run',
      '--isolation',
      'chroot',
      '--env',
      `PORT=${port}`,
      container,
      '--',
      'node',
      'env/docker/healthcheck.mjs',
    );
    assert.equal(check, '');
    // Stopping buildah's process group stops the server inside too: nothing is left running.
    const pgid = server.pid!;
    const exited = new Promise((resolve) => server!.once('exit', resolve));
    process.kill(-pgid, 'SIGTERM');
    await exited;
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.throws(() => process.kill(-pgid, 0), { code: 'ESRCH' }, 'no process of the container is left');
    server = undefined;
  });

  it('runs under the docker CLI: a container of its own behind a published port, non-root, docker stop drains it', async () => {
    assert.ok(container, 'the image was built');
    const engineDir = mkdtempSync(join(tmpdir(), 'bento-engine-'));
    const engineEnv = { ...process.env, DOCKER_ENGINE_DIR: engineDir };
    const script = join(REPO_ROOT, 'infra', 'docker-engine.sh');
    const exported = execFileSync('bash', [script, 'start'], {
      env: engineEnv,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const dockerHost = /^export DOCKER_HOST=(\S+)$/m.exec(exported)?.[1];
    assert.ok(dockerHost, exported);
    const docker = (...args: string[]) =>
      execFileSync('docker', args, {
        env: { ...process.env, DOCKER_HOST: dockerHost },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }).trim();
    const name = `bento-test-${process.pid}`;
    const logs = () => {
      const r = spawnSync('docker', ['logs', name], {
        env: { ...process.env, DOCKER_HOST: dockerHost },
        encoding: 'utf8',
      });
      return `${r.stdout}${r.stderr}`;
    };
    try {
      const port = await freePort();
      docker('run', '-d', '--name', name, '-p', `127.0.0.1:${port}:3000`, '-e', 'BENTO_LOG_LEVEL=info', IMAGE);
      const base = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 120_000;
      while (
        !(await fetch(`${base}/readyz`).then(
          (r) => r.ok,
          () => false,
        ))
      ) {
        assert.ok(Date.now() < deadline, `not ready in 120 s:\n${logs()}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      // Published, not shared: the server listens on the container's own interface, on 3000 inside.
      assert.equal(docker('port', name, '3000/tcp'), `127.0.0.1:${port}`);
      assert.notEqual(docker('inspect', '--format', '{{.NetworkSettings.IPAddress}}', name), '');
      assert.equal(docker('exec', name, 'id', '-un'), 'bento');
      assert.equal(docker('exec', name, 'node', 'env/docker/healthcheck.mjs'), '');
      const res = await fetch(`${base}/predict_image`, {
        method: 'POST',
        body: multipart('image', sample('trouser.jpg'), 'trouser.jpg', 'image/jpeg'),
      });
      assert.equal(((await res.json()) as { predicted_class: string }).predicted_class, 'Trouser');

      // docker stop is SIGTERM, then SIGKILL after -t seconds: the uploads it finds half sent still complete.
      const pending = await halfSentUploads(port, 4);
      await waitForMetrics(base, /bento_http_requests_in_flight\{route="\/predict_image"\} 4\b/);
      const stopped = promisify(execFile)('docker', ['stop', '-t', '60', name], {
        env: { ...process.env, DOCKER_HOST: dockerHost },
      });
      const draining = Date.now() + 30_000;
      while (!/SIGTERM received/.test(logs())) {
        assert.ok(Date.now() < draining, 'the server never logged SIGTERM');
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const p of pending) p.finish();
      for (const r of await Promise.all(pending.map((p) => p.done))) assert.equal(r.status, 200, r.body);
      await stopped;
      assert.equal(
        docker('inspect', '--format', '{{.State.ExitCode}}', name),
        '0',
        'exited by itself, not killed after the timeout',
      );
    } finally {
      try {
        docker('rm', '-f', name);
      } catch {
        // never created
      }
      execFileSync('bash', [script, 'stop'], { env: engineEnv, stdio: 'ignore' });
      rmSync(engineDir, { recursive: true, force: true });
    }
  });
});
