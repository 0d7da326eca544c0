/**
 * The https:// model source end to end: a real HTTPS server (a certificate made with openssl, trusted by the CLI
 * through NODE_EXTRA_CA_CERTS) serves the bundled model as a file and as a .tar.gz; `bento models pull` and
 * `bento serve` run as subprocesses with the plugin listed in the project's bento.yaml. Faults: a 503 and a cut
 * connection (retried), a wrong checksum, a 404 (not retried), a tarball with a link and a `..` entry.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { type Server, createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { create } from 'tar';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const SERVICE = join(REPO, 'services', 'vision-classifier');
const BENTO = join(REPO, 'framework', 'bin', 'bento.js');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function bento(
  args: string[],
  env: Record<string, string>,
  until?: RegExp,
  onReady?: (stdout: string) => Promise<void>,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BENTO, ...args], {
      env: { ...process.env, BENTO_LOG_LEVEL: 'warn', ...env },
    });
    const out = { stdout: '', stderr: '' };
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.stdout.on('data', (d: Buffer) => {
      out.stdout += String(d);
      if (until?.test(out.stdout)) {
        until = undefined;
        onReady!(out.stdout).then(
          () => child.kill('SIGTERM'),
          (err: unknown) => (child.kill('SIGKILL'), reject(err instanceof Error ? err : new Error(String(err)))),
        );
      }
    });
    child.stderr.on('data', (d: Buffer) => (out.stderr += String(d)));
    child.on('exit', (code) => (clearTimeout(timer), resolve({ code, ...out })));
  });
}

describe('https:// model source', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'bento-https-'));
  const model = readFileSync(join(SERVICE, 'model', 'model.onnx'));
  const hits: Record<string, number> = {};
  let server: Server;
  let base = '';
  let env: Record<string, string>;
  const project = join(dir, 'project');
  let archive: Buffer;
  /** Tarballs that try to write outside the model directory, by name: what each holds besides model.onnx. */
  const evil: Record<string, Buffer> = {};
  /** Where the absolute-path entry would land. */
  const absoluteTarget = join(dir, 'written-by-an-absolute-path');

  before(async () => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    await create({ gzip: true, file: join(dir, 'model.tar.gz'), cwd: join(SERVICE, 'model') }, [
      'MLmodel',
      'model.onnx',
      'labels.txt',
    ]);
    archive = readFileSync(join(dir, 'model.tar.gz'));
    // Tarballs made by tar itself that try to leave their directory: a symlink to /etc, a hard link, a ../ path and
    // an absolute path (its file removed once packed, so that finding it again means the entry was written).
    const bad = join(dir, 'bad');
    mkdirSync(join(bad, 'm'), { recursive: true });
    writeFileSync(join(bad, 'm', 'model.onnx'), model);
    symlinkSync('/etc/passwd', join(bad, 'm', 'passwd'));
    linkSync(join(bad, 'm', 'model.onnx'), join(bad, 'm', 'hard.onnx'));
    writeFileSync(join(bad, 'escape'), 'x');
    writeFileSync(absoluteTarget, 'x');
    for (const [name, entry] of Object.entries({
      symlink: 'passwd',
      hardlink: 'hard.onnx',
      dotdot: '../escape',
      absolute: absoluteTarget,
    })) {
      await create({ gzip: true, file: join(dir, `${name}.tar.gz`), cwd: join(bad, 'm'), preservePaths: true }, [
        'model.onnx',
        entry,
      ]);
      evil[name] = readFileSync(join(dir, `${name}.tar.gz`));
    }
    rmSync(absoluteTarget);
    server = createServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
      (req, res) => {
        const path = req.url!.split('?')[0];
        const n = (hits[path] = (hits[path] ?? 0) + 1);
        const send = (body: Buffer) => res.writeHead(200, { 'content-length': body.length }).end(body);
        if (path === '/model.onnx') return send(model);
        if (path === '/model.tar.gz') return send(archive);
        const evilName = /^\/evil\/(\w+)\.tar\.gz$/.exec(path)?.[1];
        if (evilName && evil[evilName]) return send(evil[evilName]);
        if (path === '/flaky/model.onnx') {
          if (n === 1) return res.writeHead(503).end('busy');
          // Declares the whole file, sends half, then cuts the connection.
          if (n === 2)
            return res
              .writeHead(200, { 'content-length': model.length })
              .write(model.subarray(0, model.length >> 1), () => res.destroy());
          return send(model);
        }
        res.writeHead(404).end('not here');
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
    mkdirSync(project);
    writeFileSync(join(project, 'bento.yaml'), `service: ${SERVICE}\nplugins: ["@bento-ts/plugin-https"]\n`);
    env = { BENTO_HOME: join(dir, 'home'), NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') };
  });
  after(() => {
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const pull = (uri: string) => bento(['models', 'pull', uri, '--project', project], env);
  const stored = async () =>
    JSON.parse((await bento(['models', 'list', '--json'], env)).stdout) as Array<{ tag: string; source: string }>;

  it('downloads a model file once, checked against its SHA-256, and uses the stored copy after', async () => {
    const uri = `${base}/model.onnx#sha256=${sha(model)}`;
    const first = await pull(uri);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`^Pulled model:${sha(model).slice(0, 12)} \\(onnx\\)`));
    const again = await pull(uri);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(hits['/model.onnx'], 1, 'the second pull used the store');
    assert.deepEqual(
      (await stored()).map((m) => [m.tag, m.source]),
      [[`model:${sha(model).slice(0, 12)}`, 'https']],
    );
    // A signed URL's query is a credential: it reaches neither the store's manifest nor the output.
    const signed = await pull(
      `https://user:pw@${base.slice('https://'.length)}/model.onnx?X-Signature=s3cr3t#sha256=${sha(model)}`,
    );
    assert.equal(signed.code, 0, signed.stderr);
    const manifest = JSON.stringify(await stored());
    for (const secret of ['s3cr3t', 'user:pw'])
      assert.ok(
        !manifest.includes(secret) && !signed.stdout.includes(secret) && !signed.stderr.includes(secret),
        secret,
      );
    assert.equal(hits['/model.onnx'], 1, 'the same checksum: the stored copy');
  });

  it('unpacks a .tar.gz of a model directory', async () => {
    const run = await pull(`${base}/model.tar.gz#sha256=${sha(archive)}`);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /\(onnx\)/);
  });

  it('retries a 503 and a cut connection, and then stores the whole file', async () => {
    // A store of its own: the same bytes are in the shared one already.
    const run = await bento(['models', 'pull', `${base}/flaky/model.onnx#sha256=${sha(model)}`, '--project', project], {
      ...env,
      BENTO_HOME: join(dir, 'home-flaky'),
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(hits['/flaky/model.onnx'], 3);
    assert.match(run.stderr, /answered 503/);
  });

  it('refuses a wrong checksum, a missing one, a 404 and a tarball that leaves its directory, storing nothing', async () => {
    const before = (await stored()).length;
    // Exit codes: 1 the work failed, 2 the URI is unusable as written, 3 nothing is there.
    const cases: Array<[string, RegExp, number]> = [
      [
        `${base}/model.onnx#sha256=${'0'.repeat(64)}`,
        /MODEL_CHECKSUM_MISMATCH.*has SHA-256 [0-9a-f]{64}, not the 0{64} its URI names/,
        1,
      ],
      [`${base}/model.onnx`, /INVALID_INPUT.*names no checksum: add #sha256=/, 2],
      [`${base}/missing.onnx#sha256=${sha(model)}`, /MODEL_NOT_FOUND.*answered 404/, 3],
      [
        `${base}/evil/symlink.tar.gz#sha256=${sha(evil.symlink)}`,
        /MODEL_FORMAT_ERROR.*is refused: entry "passwd" is a link/,
        1,
      ],
      [
        `${base}/evil/hardlink.tar.gz#sha256=${sha(evil.hardlink)}`,
        /MODEL_FORMAT_ERROR.*is refused: entry "hard\.onnx" is a link/,
        1,
      ],
      [
        `${base}/evil/dotdot.tar.gz#sha256=${sha(evil.dotdot)}`,
        /MODEL_FORMAT_ERROR.*is refused: entry "\.\.\/escape" climbs out of the archive/,
        1,
      ],
      [
        `${base}/evil/absolute.tar.gz#sha256=${sha(evil.absolute)}`,
        /MODEL_FORMAT_ERROR.*is refused: entry "\/.*written-by-an-absolute-path" has an absolute path/,
        1,
      ],
    ];
    for (const [uri, said, code] of cases) {
      const run = await pull(uri);
      assert.equal(run.code, code, uri);
      assert.match(run.stderr, said);
    }
    assert.equal(hits['/missing.onnx'], 1, 'a 404 is not retried');
    assert.equal((await stored()).length, before);
    // Nothing was written: not where the entries pointed, not in the store's staging area.
    assert.equal(existsSync(join(env.BENTO_HOME, 'models', 'escape')), false);
    assert.equal(existsSync(absoluteTarget), false);
    assert.deepEqual(readdirSync(join(env.BENTO_HOME, 'models', '.staging')), []);

    // A tarball that unpacks to more than BENTO_IMPORT_MAX_BYTES (a gzip bomb would) is refused before it is unpacked.
    const bomb = await bento(['models', 'pull', `${base}/model.tar.gz#sha256=${sha(archive)}`, '--project', project], {
      ...env,
      BENTO_HOME: join(dir, 'home-bomb'),
      BENTO_IMPORT_MAX_BYTES: '1000',
    });
    assert.equal(bomb.code, 1);
    assert.match(
      bomb.stderr,
      /MODEL_FORMAT_ERROR.*is refused: it unpacks to more than 1000 bytes \(BENTO_IMPORT_MAX_BYTES\)/,
    );
    assert.deepEqual(readdirSync(join(dir, 'home-bomb', 'models', '.staging')), []);
  });

  it('serves the stored model directory (its MLmodel names classes and preprocessing) with the web server gone', async () => {
    await new Promise((r) => server.close(r));
    let predicted = '';
    const run = await bento(
      ['serve', project, '--port', '0', '--host', '127.0.0.1'],
      { ...env, MODEL_URI: `${base}/model.tar.gz#sha256=${sha(archive)}` },
      /Health: GET \S+\/health/,
      async (stdout) => {
        const url = /Health: GET (\S+)\/health/.exec(stdout)![1];
        const form = new FormData();
        form.append(
          'image',
          new Blob([readFileSync(join(SERVICE, 'samples', 'trouser.jpg'))], { type: 'image/jpeg' }),
          'trouser.jpg',
        );
        const res = await fetch(`${url}/predict_image`, { method: 'POST', body: form });
        predicted = ((await res.json()) as { predicted_class: string }).predicted_class;
      },
    );
    assert.equal(predicted, 'Trouser', run.stderr);
  });
});
