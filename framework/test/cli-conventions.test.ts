/**
 * What every `bento` command promises: --help with examples, the same exit
 * codes for the same kinds of failure, -o json that parses, no colour off a
 * terminal, and errors that say what to do next. The real CLI, as a subprocess.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { renderTemplate } from '../src/cli/new-command.js';
import { CliProcess, bento, freePort } from './helpers/cli.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const scratch = join(REPO, '.bento', 'test-scratch');
mkdirSync(scratch, { recursive: true });
const base = mkdtempSync(join(scratch, 'cli-'));
after(() => rmSync(base, { recursive: true, force: true }));
const env = { BENTO_HOME: join(base, 'home'), NO_COLOR: undefined, FORCE_COLOR: undefined };

const COMMANDS = [
  'serve',
  'config',
  'schema',
  'new',
  'build',
  'list',
  'get',
  'delete',
  'export',
  'import',
  'containerize',
  'deploy',
  'deploy k8s',
  'deploy kserve',
  'models',
  'models pull',
  'models list',
  'models get',
  'models delete',
];

describe('the bento CLI', () => {
  it('has --help with examples for every command, and lists every command', async () => {
    const top = await bento(['--help'], { env });
    assert.equal(top.code, 0);
    assert.match(top.stdout, /\nExamples?:\n {2}\$ .*\bbento /, 'bento --help shows an example');
    for (const name of new Set(COMMANDS.map((c) => c.split(' ')[0])))
      assert.match(top.stdout, new RegExp(`^  ${name}\\b`, 'm'), name);
    // And the other way: a command added to the CLI is in the list above, so its help is checked too.
    const listed = [...top.stdout.split('Commands:')[1].matchAll(/^ {2}([a-z]+)\b/gm)]
      .map((m) => m[1])
      .filter((n) => n !== 'help');
    assert.deepEqual(
      listed.filter((n) => !COMMANDS.includes(n)),
      [],
    );
    for (const command of COMMANDS) {
      const help = await bento([...command.split(' '), '--help'], { env });
      assert.equal(help.code, 0, command);
      assert.match(help.stdout, /\nExamples?:\n {2}\$ .*\bbento /, `${command} --help shows an example`);
    }
  });

  it('exits 2 for a wrong command line, 3 for what does not exist, 1 for work that failed; and says what next', async () => {
    const unknownOption = await bento(['list', '--bogus'], { env });
    assert.equal(unknownOption.code, 2);
    assert.match(unknownOption.stderr, /unknown option '--bogus'[\s\S]*--help/);
    const badFormat = await bento(['list', '-o', 'xml'], { env });
    assert.equal(badFormat.code, 2);
    assert.match(
      badFormat.stderr,
      /^Error \[USAGE_ERROR\]: -o xml is not one of table, json, yaml\nSee: bento --help/m,
    );
    // mlflow models serve's --env-manager takes local, virtualenv, uv or conda; what it refuses is refused here too.
    const badManager = await bento(['serve', 'model.onnx', '--env-manager', 'bogus'], { env });
    assert.equal(badManager.code, 2, badManager.stderr);
    assert.match(badManager.stderr, /'bogus' is invalid\. Allowed choices are local, virtualenv, uv, conda/);
    // A configuration error points to where the configuration is described, not to the command line's help.
    const badConfig = join(base, 'bad-config');
    mkdirSync(badConfig, { recursive: true });
    writeFileSync(join(badConfig, 'bento.yaml'), 'service: ./service.ts\ntraffic: { timeoutMs: -1 }\n');
    const misconfigured = await bento(['config', badConfig], { env });
    assert.equal(misconfigured.code, 2, misconfigured.stderr);
    assert.match(
      misconfigured.stderr,
      /^Error \[CONFIG_ERROR\]: [^]*\nSee: docs\/configuration\.md, bento schema .*, bento config /m,
    );
    const missing = await bento(['get', 'nothing:1'], { env });
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /BENTO_NOT_FOUND.*\(see: bento list\)/);
    const badImport = join(base, 'not-a.bento');
    writeFileSync(badImport, 'not a tarball');
    const failed = await bento(['import', badImport], { env });
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /^Error \[BENTO_INTEGRITY_ERROR\]/m);
    assert.doesNotMatch(failed.stderr, /\n\s+at /, 'no stack trace');
  });

  it('prints parseable JSON with -o json, and nothing else on stdout', async () => {
    const dir = join(base, 'jsonout');
    await renderTemplate(dir, { frameworkVersion: '0.1.0', template: 'blank' });
    for (const args of [
      ['list', '-o', 'json'],
      ['models', 'list', '-o', 'json'],
      ['config', dir, '-o', 'json'],
      ['schema'],
    ]) {
      const run = await bento(args, { env });
      assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`);
      assert.doesNotThrow(() => JSON.parse(run.stdout), args.join(' '));
    }
    // The store's commands, on a bento built from that project and on a model from a local directory.
    const json = async (args: string[], cwd?: string) => {
      const run = await bento(args, { env, cwd });
      assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`);
      return JSON.parse(run.stdout) as Record<string, unknown>;
    };
    const { tag } = (await json(['build', '-f', join(dir, 'bento.yaml'), '-o', 'json'])) as { tag: string };
    const exported = (await json(['export', tag, base, '-o', 'json'])) as { tag: string; file: string };
    assert.equal(exported.tag, tag);
    assert.deepEqual(await json(['delete', tag, '-o', 'json']), { deleted: [tag] });
    assert.equal(((await json(['import', exported.file, '-o', 'json'])) as { tag: string }).tag, tag);
    // A relative path is taken from the working directory, as MODEL_URI's is (before, from the service project).
    const pulled = (await json(['models', 'pull', 'services/vision-classifier/model', '-o', 'json'], REPO)) as {
      format: string;
      path: string;
    };
    assert.deepEqual([pulled.format, pulled.path], ['onnx', join(REPO, 'services', 'vision-classifier', 'model')]);
    const templates = await bento(['new', '--list', '-o', 'json'], { env });
    assert.deepEqual(
      (JSON.parse(templates.stdout) as Array<{ name: string }>).map((t) => t.name),
      ['blank', 'image-classifier', 'tensor'],
    );
    const made = await bento(['new', join(base, 'made-json'), '--template', 'blank', '-o', 'json'], { env });
    assert.equal(made.code, 0, made.stderr);
    const created = JSON.parse(made.stdout) as { directory: string; template: string; files: string[]; next: string[] };
    assert.equal(created.directory, join(base, 'made-json'));
    assert.equal(created.template, 'blank');
    assert.ok(created.files.includes(join(base, 'made-json', 'src', 'service.ts')), created.files.join(', '));
    assert.deepEqual(created.next.slice(1), ['npm install', 'npm test', 'npx bento serve .']);
  });

  it("masks credentials in bento config: secrets by name, user, password and query of URLs, in settings and in bento.yaml's overrides", async () => {
    const dir = join(base, 'masked');
    await renderTemplate(dir, { frameworkVersion: '0.1.0', template: 'blank' });
    const signed = 'https://bob:hunter2@models.example/m.onnx?X-Amz-Signature=sig-0123456789#sha256=' + 'a'.repeat(64);
    writeFileSync(
      join(dir, 'bento.yaml'),
      `service: .\nrunners:\n  any_runner:\n    variants:\n      challenger: { uri: "${signed}", weight: 10 }\n`,
    );
    const secretEnv = {
      ...env,
      MODEL_URI: signed,
      MLFLOW_TRACKING_PASSWORD: 'pw-5678',
      MLFLOW_TRACKING_URI: 'http://alice:pw-1234@mlflow:5000',
    };
    for (const format of ['table', 'json', 'yaml', 'env']) {
      const run = await bento(['config', dir, '--all', '-o', format], { env: secretEnv });
      assert.equal(run.code, 0, `${format}: ${run.stderr}`);
      for (const secret of ['hunter2', 'sig-0123456789', 'pw-1234', 'pw-5678', 'bob:', 'alice:'])
        assert.ok(!run.stdout.includes(secret), `-o ${format} shows ${secret}:\n${run.stdout}`);
      assert.match(
        run.stdout,
        /https:\/\/\*\*\*\*@models\.example\/m\.onnx\?\*\*\*\*#sha256=a{64}/,
        `-o ${format} keeps the rest of the URL`,
      );
    }
  });

  it('writes no ANSI colour when stdout is not a terminal, even in the pretty log format', async () => {
    const dir = join(base, 'colourless');
    await renderTemplate(dir, { frameworkVersion: '0.1.0', template: 'blank' });
    const port = await freePort();
    const server = new CliProcess(['serve', dir, '--port', String(port), '--host', '127.0.0.1'], {
      env: { ...env, BENTO_LOG_FORMAT: 'pretty' },
    });
    await server.waitFor(/bento-ts server started!/);
    await fetch(`http://127.0.0.1:${port}/health`);
    await server.waitFor(/GET \/health|"\/health"|health/);
    assert.equal(await server.stop(), 0);
    const config = await bento(['config', dir, '--all'], { env });
    // eslint-disable-next-line no-control-regex -- the control character is the point: ANSI colour codes start with ESC
    for (const text of [server.output, config.stdout, config.stderr]) assert.doesNotMatch(text, /\u001b\[/);
    assert.match(server.output, /INFO/, 'the pretty format, not JSON');
  });
});
