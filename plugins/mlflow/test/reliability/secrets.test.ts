/**
 * Secrets stay secret: a whole run with known random credentials (MLflow basic auth
 * and a token, S3 keys, used by MLflow and by bento-ts's own S3 client for a model
 * read straight from the bucket) against a real MLflow + PostgreSQL + MinIO stack, then
 * every byte it produced is searched for them: server logs at debug level with
 * every request logged, HTTP answers (model info, metrics, OpenAPI, protocol
 * metadata, errors), error messages of failed starts, the model store, the
 * built bento, its exported archive, its container image (config, history and every layer), and the CLI's listings.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { REPO_ROOT, SERVICE_DIR, Stack } from '../helpers/stack.js';

const run = promisify(execFile);
const BENTO = join(REPO_ROOT, 'framework', 'bin', 'bento.js');
const NAME = 'secret-model';
const DIRECT = 'secret-s3-model';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? filesUnder(path) : e.isFile() ? [path] : [];
  });
}

const STORAGE = ['--storage-driver', 'vfs'];

/**
 * Builds the bento's image with `bento containerize` (buildah, as the containerize test does), exports it as an OCI
 * archive and returns its config, its history and its layers, decompressed.
 */
async function imageBlobs(
  tag: string,
  bento: (args: string[]) => Promise<{ code?: number; stderr?: string }>,
): Promise<{ text: Map<string, string>; binary: Map<string, Buffer> }> {
  const image = `localhost/bento-ts-test/secrets:${tag.split(':')[1].toLowerCase()}`;
  const buildah = (...args: string[]) =>
    run('buildah', [...STORAGE, ...args], {
      maxBuffer: 64 << 20,
      env: { ...process.env, BUILDAH_ISOLATION: 'chroot' },
    });
  // The stand-in of node:<major>-bookworm-slim for the Node.js running this test (the script prints its name).
  const { stdout: baseImage } = await run('bash', [join(REPO_ROOT, 'infra', 'base-image.sh')], {
    timeout: 1_500_000,
    env: { ...process.env, NODE_BIN: process.execPath },
  });
  const dir = mkdtempSync(join(tmpdir(), 'bento-secrets-image-'));
  try {
    const built = await bento([
      'containerize',
      tag,
      '--backend',
      'buildah',
      '-t',
      image,
      '--build-arg',
      `BASE_IMAGE=${String(baseImage).trim()}`,
      '--',
      ...STORAGE,
    ]);
    if (built.code)
      throw new Error(`bento containerize failed (${String(built.code)}): ${String(built.stderr).slice(-3000)}`);
    const text = new Map<string, string>();
    text.set('image: buildah inspect', (await buildah('inspect', '--type', 'image', image)).stdout);
    // Uncompressed layers, one blob a file: what `docker save` or a registry would carry, unpacked.
    await buildah('push', '--disable-compression', image, `oci:${join(dir, 'oci')}`);
    const binary = new Map<string, Buffer>();
    for (const file of filesUnder(join(dir, 'oci', 'blobs'))) {
      const blob = readFileSync(file);
      const unpacked = blob[0] === 0x1f && blob[1] === 0x8b ? gunzipSync(blob) : blob;
      binary.set(`image blob ${file.slice(-12)}`, unpacked);
    }
    return { text, binary };
  } finally {
    await buildah('rmi', image).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('secrets never leave the process', { timeout: 2_400_000 }, () => {
  const user = 'admin';
  const password = `pw-${randomBytes(9).toString('hex')}`;
  const token = `tok-${randomBytes(12).toString('hex')}`;
  const sessionToken = `sess-${randomBytes(12).toString('hex')}`;
  // MinIO takes access keys of 3 characters or more and secrets of 8 or more.
  const s3 = {
    accessKeyId: `AK${randomBytes(9).toString('hex').toUpperCase()}`,
    secretAccessKey: `sk-${randomBytes(15).toString('hex')}`,
  };
  const stack = new Stack({ mode: 'full', auth: { user, password }, s3 });
  const home = mkdtempSync(join(tmpdir(), 'bento-secrets-'));
  /** Everything the run produced, by where it came from. */
  const produced = new Map<string, string>();
  let secrets: string[] = [];

  const bento = async (args: string[], extra: Record<string, string> = {}, timeout = 120_000) => {
    const env = {
      ...process.env,
      ...stack.env,
      BENTO_HOME: home,
      MLFLOW_TRACKING_TOKEN: token,
      AWS_SESSION_TOKEN: sessionToken,
      BENTO_LOG_LEVEL: 'debug',
      ...extra,
    };
    const r = await run(process.execPath, [BENTO, ...args], {
      cwd: REPO_ROOT,
      env,
      timeout,
      maxBuffer: 64 << 20,
    }).catch((err: { stdout?: string; stderr?: string; code?: number }) => err);
    const label = `bento ${args.join(' ')} #${produced.size}`;
    produced.set(`${label}: stdout`, String(r.stdout ?? ''));
    produced.set(`${label}: stderr`, String(r.stderr ?? ''));
    return r;
  };

  before(async () => {
    await stack.start();
    await stack.logModels(NAME);
    // Read straight from the bucket: bento-ts's own S3 client signs with the AWS keys.
    await stack.logDirectS3Model(DIRECT, { epochs: '1' });
    secrets = [
      password,
      token,
      sessionToken,
      s3.accessKeyId,
      s3.secretAccessKey,
      Buffer.from(`${user}:${password}`).toString('base64'),
    ];
  });
  after(() => stack.stop());

  /** Serves `model`, calls every route that describes the server and some bad requests, with every log line on. */
  const serveAndCall = async (model: string, extra: Record<string, string> = {}) => {
    const { spawn } = await import('node:child_process');
    const env = {
      ...process.env,
      ...stack.env,
      BENTO_HOME: home,
      MLFLOW_TRACKING_TOKEN: token,
      AWS_SESSION_TOKEN: sessionToken,
      MODEL_NAME: model,
      BENTO_LOG_LEVEL: 'debug',
      BENTO_ACCESS_LOG: 'all',
      BENTO_LOG_FORMAT: 'json',
      ...extra,
    };
    const child = spawn(process.execPath, [BENTO, 'serve', SERVICE_DIR, '--port', '0', '--host', '127.0.0.1'], {
      cwd: REPO_ROOT,
      env,
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const base = await new Promise<string>((resolve, reject) => {
      const poll = setInterval(() => {
        const m = /Health: GET (\S+)\/health/.exec(out);
        if (m) {
          resolve(m[1]);
          clearInterval(poll);
        }
      }, 50);
      child.once('exit', (code) => (clearInterval(poll), reject(new Error(`serve exited ${code}: ${err}`))));
    });
    const form = new FormData();
    form.append(
      'image',
      new Blob([readFileSync(join(SERVICE_DIR, 'samples', 'ankle_boot.png'))], { type: 'image/png' }),
      'a.png',
    );
    const calls: Array<[string, RequestInit?]> = [
      ['/predict_image', { method: 'POST', body: form }],
      ['/predict_image', { method: 'POST', body: 'nope', headers: { 'content-type': 'image/png' } }],
      ['/predict_batch', { method: 'POST', body: '{"input": [[1]]}', headers: { 'content-type': 'application/json' } }],
      ['/get_model_info'],
      ['/health'],
      ['/metrics'],
      ['/docs.json'],
      ['/v2/models/vision_model_runner'],
      ['/invocations', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }],
      ['/no/such/route'],
    ];
    for (const [path, init] of calls) {
      const res = await fetch(`${base}${path}`, init);
      produced.set(
        `${model}: ${init?.method ?? 'GET'} ${path} (${res.status})`,
        `${JSON.stringify([...res.headers])}\n${await res.text()}`,
      );
    }
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    produced.set(`bento serve ${model}: stdout`, out);
    produced.set(`bento serve ${model}: stderr`, err);
    return produced.get(`${model}: GET /get_model_info (200)`) ?? '';
  };

  it('serves, answers, fails and builds without writing a credential anywhere', async () => {
    assert.match(await serveAndCall(NAME), /"model_uri":"models:\/secret-model\/latest"/);
    // MinIO refuses a session token it did not issue: this one signs with the keys alone.
    assert.match(await serveAndCall(DIRECT, { AWS_SESSION_TOKEN: '' }), /"resolved_uri":"s3:\/\/mlflow\//);

    // Failed starts: wrong password, the password inside the tracking URI, an unknown model.
    const port = new URL(stack.trackingUri).port;
    // (A start that succeeds after all is stopped by the timeout; its output is searched the same.)
    await bento(
      ['serve', SERVICE_DIR, '--port', '0'],
      { MODEL_NAME: NAME, MLFLOW_TRACKING_PASSWORD: `${password}-wrong` },
      30_000,
    );
    await bento(
      ['serve', SERVICE_DIR, '--port', '0'],
      { MODEL_NAME: NAME, MLFLOW_TRACKING_URI: `http://${user}:${password}@127.0.0.1:${port}` },
      30_000,
    );
    await bento(['serve', SERVICE_DIR, '--port', '0'], { MODEL_NAME: 'no-such-model' }, 30_000);
    // The token alone (MLflow's basic auth refuses it), and S3 refusing a wrong secret and a session token.
    await bento(
      ['serve', SERVICE_DIR, '--port', '0'],
      { MODEL_NAME: NAME, MLFLOW_TRACKING_USERNAME: '', MLFLOW_TRACKING_PASSWORD: '' },
      30_000,
    );
    const nothingStored = () => mkdtempSync(join(tmpdir(), 'bento-secrets-'));
    await bento(
      ['serve', SERVICE_DIR, '--port', '0'],
      {
        MODEL_NAME: DIRECT,
        BENTO_HOME: nothingStored(),
        AWS_SESSION_TOKEN: '',
        AWS_SECRET_ACCESS_KEY: `${s3.secretAccessKey}-wrong`,
      },
      30_000,
    );
    await bento(['serve', SERVICE_DIR, '--port', '0'], { MODEL_NAME: DIRECT, BENTO_HOME: nothingStored() }, 30_000);
    await bento(['models', 'pull', `models:/${NAME}/1`, '--project', SERVICE_DIR]);
    await bento(['models', 'list', '--json']);

    // A bento with the model packed, and its archive.
    const built = await bento(['build', '-o', 'json'], { MODEL_NAME: NAME });
    const tag = (JSON.parse(String(built.stdout)) as { tag: string }).tag;
    await bento(['get', tag, '-o', 'json']);
    const archives = mkdtempSync(join(tmpdir(), 'bento-secrets-export-'));
    await bento(['export', tag, archives]);
    for (const file of filesUnder(home))
      if (statSync(file).size < 64 << 20) produced.set(`store: ${file}`, readFileSync(file).toString('latin1'));
    for (const file of filesUnder(archives))
      produced.set(`archive: ${file}`, gunzipSync(readFileSync(file)).toString('latin1'));

    // Its image, built with the credentials in the builder's environment: the image's config and history, and every
    // layer, decompressed (searched as bytes: a layer can be larger than a string may be).
    const layers = await imageBlobs(tag, (args) => bento(args, { BUILDAH_ISOLATION: 'chroot' }, 1_500_000));
    for (const [where, text] of layers.text) produced.set(where, text);

    const leaks: string[] = [];
    for (const [where, text] of produced)
      for (const secret of secrets) if (text.includes(secret)) leaks.push(`${where} holds ${secret.slice(0, 6)}…`);
    for (const [where, blob] of layers.binary)
      for (const secret of secrets) if (blob.includes(secret)) leaks.push(`${where} holds ${secret.slice(0, 6)}…`);
    const bytes =
      [...produced.values()].reduce((n, t) => n + t.length, 0) +
      [...layers.binary.values()].reduce((n, b) => n + b.length, 0);
    mkdirSync(join(REPO_ROOT, 'test-output', 'reliability'), { recursive: true });
    writeFileSync(
      join(REPO_ROOT, 'test-output', 'reliability', 'secrets.json'),
      JSON.stringify(
        {
          outputs: produced.size + layers.binary.size,
          image_blobs: layers.binary.size,
          bytes,
          secrets: secrets.length,
          leaks: leaks.length,
        },
        null,
        2,
      ),
    );
    writeFileSync(
      join(REPO_ROOT, 'test-output', 'reliability', 'secrets-cli.txt'),
      [...produced]
        .filter(([k]) => k.startsWith('bento '))
        .map(([k, v]) => `== ${k}\n${v}`)
        .join('\n'),
    );
    assert.ok(produced.size > 40, `${produced.size} outputs searched`);
    // The base layer, the bento's layer, the config and the manifest; the bento's files are in there, unpacked.
    assert.ok(layers.binary.size >= 4, `${layers.binary.size} image blobs searched`);
    assert.ok(
      [...layers.binary.values()].some((b) => b.includes('home/bento/bento/bento.yaml')),
      'the layers were read unpacked',
    );
    assert.deepEqual(leaks, []);
    // The failed starts said what failed, so the search above looked at real error messages.
    const failedStarts = [...produced.entries()]
      .filter(([k]) => k.startsWith('bento serve '))
      .map(([, v]) => v)
      .join('\n');
    assert.match(failedStarts, /Failed to load model from MLflow/);
    assert.match(failedStarts, /401 Unauthorized/, 'the token alone was sent and refused');
    assert.match(failedStarts, /SignatureDoesNotMatch/, 'the wrong S3 secret was sent and refused');
    assert.match(failedStarts, /MODEL_SOURCE_UNAUTHORIZED.*InvalidTokenId/, 'the session token was sent and refused');
  });
});
