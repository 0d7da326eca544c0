/**
 * Follows a document the way a reader would, block by block:
 * - a block tagged `file=<path>` (```ts file=src/service.ts) is written to that
 *   path, relative to the current directory: the reader creating the file;
 * - a shell block runs in bash with `set -euo pipefail`, in the directory and
 *   with the exported variables the previous block left;
 * - a ```bash background block (a server) starts in its own process group, is
 *   waited for until it prints its ready line (the server's banner, or the
 *   text of a `ready=<text>` tag) or until the URL of a `wait-for=<url>` tag
 *   answers, and is stopped when the document is done, or, tagged `scoped`,
 *   when the next heading is reached (a server an example starts, as a reader
 *   would stop it before the next section's example needs the port);
 * - a ```python block runs as a script (RunOptions.python, default python3),
 *   in the current directory;
 * - a block tagged `needs-<what>` (needs-docker, needs-cluster) needs what this
 *   machine does not have: it is syntax-checked with `bash -n`, not run, and
 *   reported as skipped;
 * - a ```ts typecheck block (an excerpt the reader reads, not a file they make)
 *   is type-checked with the repository's tsc and compiler options against
 *   the framework, and reported as checked;
 * - any other block (configuration samples, answers, trees) is checked as
 *   static-blocks.ts says, or refused when its kind is unknown.
 * A failing block fails with its document and line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CodeBlock, SHELL_LANGS } from './markdown-blocks.js';
import { checkStaticBlock } from './static-blocks.js';

export interface BlockResult {
  block: CodeBlock;
  stdout: string;
  stderr: string;
  outcome: 'ran' | 'written' | 'started' | 'skipped' | 'checked' | 'shown';
}

export interface RunOptions {
  cwd: string;
  env: Record<string, string | undefined>;
  /** What a background block prints once it is ready (default: the server's banner). */
  readyPattern?: RegExp;
  blockTimeoutMs?: number;
  /** Where a block's failure is reported from, e.g. the document's path. */
  source: string;
  /** The interpreter of ```python blocks (one with what they import). */
  python?: string;
}

export class DocBlockError extends Error {}

function exec(
  script: string,
  cwd: string,
  env: Record<string, string | undefined>,
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += String(d)));
    child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
    const timer = setTimeout(() => {
      stderr += `\n[timed out after ${timeoutMs} ms]`;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export async function runShellBlocks(blocks: CodeBlock[], options: RunOptions): Promise<BlockResult[]> {
  const state = mkdtempSync(join(tmpdir(), 'bento-doc-'));
  const cwdFile = join(state, 'cwd');
  const envFile = join(state, 'env');
  writeFileSync(cwdFile, options.cwd);
  writeFileSync(envFile, '');
  const results: BlockResult[] = [];
  const background: Array<{ child: ChildProcess; scopedTo?: number }> = [];
  const timeoutMs = options.blockTimeoutMs ?? 10 * 60_000;
  try {
    for (const block of blocks) {
      for (const b of background.filter((b) => b.scopedTo !== undefined && b.scopedTo !== block.section)) {
        await stopGroup(b.child);
        background.splice(background.indexOf(b), 1);
      }
      const cwd = readFileSync(cwdFile, 'utf8').trim();
      const where = `${options.source}:${block.line}`;
      const file = block.tags.find((t) => t.startsWith('file='))?.slice('file='.length);
      if (file) {
        mkdirSync(dirname(join(cwd, file)), { recursive: true });
        writeFileSync(join(cwd, file), block.code.endsWith('\n') ? block.code : `${block.code}\n`);
        results.push({ block, stdout: '', stderr: '', outcome: 'written' });
        continue;
      }
      if (block.tags.includes('typecheck')) {
        await typecheck(block, where);
        results.push({ block, stdout: '', stderr: '', outcome: 'checked' });
        continue;
      }
      if (block.lang === 'python') {
        const script = `source ${JSON.stringify(envFile)}\n${options.python ?? 'python3'} - <<'__PYTHON__'\n${block.code}\n__PYTHON__\n`;
        const { code, stdout, stderr } = await exec(script, cwd, options.env, timeoutMs);
        if (code !== 0)
          throw new DocBlockError(
            `${where}: the Python block exited with ${code}\n--- block ---\n${block.code}\n--- stdout ---\n${stdout.slice(-4000)}\n--- stderr ---\n${stderr.slice(-4000)}`,
          );
        results.push({ block, stdout, stderr, outcome: 'ran' });
        continue;
      }
      if (!SHELL_LANGS.has(block.lang)) {
        results.push({ block, stdout: '', stderr: '', outcome: checkStaticBlock(block, cwd, where) });
        continue;
      }
      if (block.tags.some((t) => t.startsWith('needs-'))) {
        const { code, stderr } = await exec(
          `bash -n <<'__BLOCK__'\n${block.code}\n__BLOCK__`,
          cwd,
          options.env,
          10_000,
        );
        if (code !== 0) throw new DocBlockError(`${where}: the block is not valid bash: ${stderr}`);
        results.push({ block, stdout: '', stderr: '', outcome: 'skipped' });
        continue;
      }
      if (block.tags.includes('background')) {
        background.push({
          child: await startBackground(block, cwd, envFile, options, where),
          scopedTo: block.tags.includes('scoped') ? block.section : undefined,
        });
        results.push({ block, stdout: '', stderr: '', outcome: 'started' });
        continue;
      }
      // The block runs as written; what it leaves (cwd, exports) carries over to the next one.
      const script = `set -euo pipefail\nsource ${JSON.stringify(envFile)}\n${block.code}\n__status=$?\npwd > ${JSON.stringify(cwdFile)}\nexport -p > ${JSON.stringify(envFile)}\nexit $__status\n`;
      const { code, stdout, stderr } = await exec(script, cwd, options.env, timeoutMs);
      if (code !== 0)
        throw new DocBlockError(
          `${where}: the block exited with ${code}\n--- block ---\n${block.code}\n--- stdout ---\n${stdout.slice(-4000)}\n--- stderr ---\n${stderr.slice(-4000)}`,
        );
      results.push({ block, stdout, stderr, outcome: 'ran' });
    }
  } finally {
    for (const { child } of background) await stopGroup(child);
  }
  return results;
}

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));

/**
 * Type-checks a TypeScript excerpt as a module of a project inside the repository (so `@bento-ts/framework` and
 * the plugins resolve to the workspace packages), with the compiler options every package builds with.
 */
async function typecheck(block: CodeBlock, where: string): Promise<void> {
  mkdirSync(join(REPO, '.bento'), { recursive: true });
  const dir = mkdtempSync(join(REPO, '.bento', 'doc-typecheck-'));
  try {
    writeFileSync(join(dir, 'excerpt.ts'), block.code);
    const compilerOptions = {
      noEmit: true,
      composite: false,
      declaration: false,
      declarationMap: false,
      sourceMap: false,
      incremental: false,
    };
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ extends: join(REPO, 'tsconfig.base.json'), compilerOptions, files: ['excerpt.ts'] }),
    );
    const { code, stdout, stderr } = await exec(
      `${JSON.stringify(join(REPO, 'node_modules', '.bin', 'tsc'))} -p tsconfig.json`,
      dir,
      process.env,
      120_000,
    );
    if (code !== 0)
      throw new DocBlockError(
        `${where}: the TypeScript block does not type-check\n--- block ---\n${block.code}\n--- tsc ---\n${stdout}${stderr}`,
      );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function startBackground(
  block: CodeBlock,
  cwd: string,
  envFile: string,
  options: RunOptions,
  where: string,
): Promise<ChildProcess> {
  const tag = (name: string) => block.tags.find((t) => t.startsWith(`${name}=`))?.slice(name.length + 1);
  const readyText = tag('ready');
  const waitFor = tag('wait-for');
  const ready = readyText
    ? new RegExp(readyText.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    : (options.readyPattern ?? /bento-ts server started!/);
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `source ${JSON.stringify(envFile)}\n${block.code}`], {
      cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    const timer = setTimeout(() => fail(`did not print ${ready} within 120 s`), 120_000);
    const fail = (why: string) => {
      clearTimeout(timer);
      void stopGroup(child).then(() =>
        reject(
          new DocBlockError(
            `${where}: the background block ${why}\n--- block ---\n${block.code}\n--- output ---\n${output.slice(-4000)}`,
          ),
        ),
      );
    };
    const onData = (d: Buffer) => {
      output += String(d);
      if (ready.test(output)) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.stderr.off('data', onData);
        // Keep draining, so a chatty server never blocks on a full pipe.
        child.stdout.resume();
        child.stderr.resume();
        resolve(child);
      }
    };
    child.on('exit', (code) => fail(`exited with ${code} before it was ready`));
    if (!waitFor) {
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      return;
    }
    child.stdout.on('data', (d: Buffer) => (output += String(d)));
    child.stderr.on('data', (d: Buffer) => (output += String(d)));
    const poll = async () => {
      for (;;) {
        const answered = await fetch(waitFor, { signal: AbortSignal.timeout(2000) }).then(
          () => true,
          () => false,
        );
        if (answered) {
          clearTimeout(timer);
          return resolve(child);
        }
        if (child.exitCode !== null) return;
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    void poll();
  });
}

/** SIGTERM to the block's whole process group (npx, sh and the server), SIGKILL after 30 s. */
async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, s);
    } catch {
      // the group is gone
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 30_000);
  await gone;
  clearTimeout(timer);
}
