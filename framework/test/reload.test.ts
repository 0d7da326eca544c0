/**
 * `bento serve --reload` and `bento serve service.ts`: the real CLI as a
 * subprocess, on a project whose files the test edits.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { renderTemplate } from '../src/cli/new-command.js';
import { CliProcess, freePort } from './helpers/cli.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
// Inside the repository, so that @bento-ts/framework resolves to this checkout's, as the CLI's own.
const scratch = join(REPO, '.bento', 'test-scratch');
mkdirSync(scratch, { recursive: true });
const base = mkdtempSync(join(scratch, 'reload-'));
after(() => rmSync(base, { recursive: true, force: true }));

const echo = async (url: string) => {
  const res = await fetch(`${url}/echo`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: 'a', times: 2 }),
  });
  return ((await res.json()) as { echo: string }).echo;
};

describe('bento serve --reload', () => {
  it('restarts on a change, keeps the last good server when a change does not compile, and stops with its child', async () => {
    const dir = join(base, 'echoer');
    await renderTemplate(dir, { frameworkVersion: '0.1.0', template: 'blank' });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = new CliProcess(['serve', dir, '--reload', '--port', String(port), '--host', '127.0.0.1'], {
      env: { BENTO_LOG_FORMAT: 'json' },
    });
    try {
      await server.waitFor(/bento-ts server started!/);
      assert.equal(await echo(url), 'a a');

      const file = join(dir, 'src', 'service.ts');
      const source = readFileSync(file, 'utf8');
      let mark = server.output.length;
      writeFileSync(file, source.replace(".join(' ')", ".join('-')"));
      await server.waitFor(/src\/service\.ts changed: restarting[\s\S]*bento-ts server started!/, mark);
      assert.equal(await echo(url), 'a-a');

      mark = server.output.length;
      writeFileSync(file, `${source}\nthis does not compile\n`);
      await server.waitFor(/the server goes on with the last version that compiled/, mark);
      assert.equal(await echo(url), 'a-a', 'the last good server still answers');

      mark = server.output.length;
      writeFileSync(file, source.replace(".join(' ')", ".join('+')"));
      await server.waitFor(/bento-ts server started!/, mark);
      assert.equal(await echo(url), 'a+a');

      // Output and dependencies are not watched: compiling writes dist/ and that restarts nothing.
      mark = server.output.length;
      writeFileSync(join(dir, 'dist', 'unrelated.js'), '');
      await new Promise((r) => setTimeout(r, 1500));
      assert.doesNotMatch(server.output.slice(mark), /restarting/);
    } finally {
      assert.equal(await server.stop(), 0);
    }
    await assert.rejects(fetch(`${url}/health`), 'the child stopped with the supervisor');
  });
});

/** A directory holding only `service.ts` (`source`), outside the repository (whose tsconfig.json would be found), with this checkout's packages beside it. */
function loneService(source: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'bento-lone-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'service.ts'), source);
  return dir;
}

describe('bento serve service.ts', () => {
  it('compiles a lone TypeScript file with no tsconfig, decorator metadata intact (constructor injection works)', async () => {
    const dir = loneService(
      `import { JSONBody, api, injectable, service } from '@bento-ts/framework';

@injectable()
export class Greeter {
  greet(name: string): string {
    return 'hello ' + name;
  }
}

@service({ name: 'lone' })
export class LoneService {
  constructor(private readonly greeter: Greeter) {}

  @api({ input: JSONBody<{ name: string }>() })
  async hello(body: { name: string }) {
    return { message: this.greeter.greet(body.name) };
  }
}
`,
    );
    const port = await freePort();
    const server = new CliProcess(['serve', join(dir, 'service.ts'), '--port', String(port), '--host', '127.0.0.1'], {
      cwd: dir,
    });
    try {
      await server.waitFor(/bento-ts server started!/);
      const res = await fetch(`http://127.0.0.1:${port}/hello`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"name":"ts"}',
      });
      assert.deepEqual(await res.json(), { message: 'hello ts' });
      assert.match(
        readFileSync(join(dir, '.bento', 'build', 'service.js'), 'utf8'),
        /__metadata\("design:paramtypes", \[Greeter\]\)/,
      );
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  it('runs the worker processes @service({ workers }) declares', async () => {
    const dir = loneService(
      `import { api, service } from '@bento-ts/framework';

@service({ name: 'declared', workers: 2 })
export class DeclaredService {
  @api()
  async pid() {
    return { pid: process.pid };
  }
}
`,
    );
    const port = await freePort();
    const server = new CliProcess(['serve', join(dir, 'service.ts'), '--port', String(port), '--host', '127.0.0.1'], {
      cwd: dir,
      env: { BENTO_LOG_LEVEL: 'info' },
    });
    try {
      await server.waitFor(/2 worker processes serving: pids (\d+), (\d+)/);
      const workers = /2 worker processes serving: pids (\d+), (\d+)/.exec(server.output)!.slice(1).map(Number);
      // A connection of its own per call, so that the cluster's round-robin hands them to both processes.
      const answered = new Set<number>();
      const pidOnNewConnection = () =>
        new Promise<number>((resolve, reject) => {
          request({ host: '127.0.0.1', port, path: '/pid', agent: false }, (res) => {
            let text = '';
            res.on('data', (d: Buffer) => (text += String(d)));
            res.on('end', () => resolve((JSON.parse(text) as { pid: number }).pid));
          })
            .on('error', reject)
            .end();
        });
      for (let i = 0; i < 8; i++) answered.add(await pidOnNewConnection());
      assert.deepEqual([...answered].sort(), workers.sort());
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});
