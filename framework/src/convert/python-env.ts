/**
 * The Python a conversion runs: the operator's (BENTO_CONVERT_PYTHON), else a virtualenv made from the model's own
 * python_env.yaml and requirements.txt, as `mlflow models serve --env-manager virtualenv` makes one, plus what the
 * converter needs. Environments are kept in BENTO_HOME/python-envs by the hash of what went into them, so each is
 * made once. Python is needed for converting only; nothing served runs it.
 */
import { readSettings, settingName } from '../config/settings.js';
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { delimiter, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConvertEnvError } from '../errors.js';

/** The operator's Python for every conversion, instead of an environment made from the model's requirements. */
export const CONVERT_PYTHON_ENV = settingName('convertPython');
const READY = '.bento-ready';
/** MLflow itself: the heaviest requirement, and one no converter needs (they read the model's files directly). */
const SKIPPED = /^(mlflow|mlflow-skinny)(\[.*\])?\s*([=<>!~].*)?$/i;

export interface PythonEnvOptions {
  /** BENTO_HOME's root: environments go in its python-envs/. */
  home: string;
  env: Readonly<Record<string, string | undefined>>;
  step(text: string): void;
}

interface ModelRequirements {
  /** `3.11` of the python_env.yaml's `python: 3.11.2`, when it names one. */
  python?: string;
  requirements: string[];
}

async function readRequirements(modelDir: string): Promise<ModelRequirements | undefined> {
  const read = (name: string) => readFile(join(modelDir, name), 'utf8').catch(() => undefined);
  const pythonEnv = await read('python_env.yaml');
  const parsed = pythonEnv ? (parseYaml(pythonEnv) as { python?: unknown; dependencies?: unknown } | null) : undefined;
  const version = parsed?.python;
  // YAML reads an unquoted `python: 3.11` as a number.
  const python =
    typeof version === 'string' || typeof version === 'number' ? /^(\d+\.\d+)/.exec(String(version))?.[1] : undefined;
  const lines: string[] = [];
  const deps = Array.isArray(parsed?.dependencies)
    ? (parsed.dependencies as unknown[]).map(String)
    : ['-r requirements.txt'];
  for (const dep of deps) {
    const file = /^-r\s+(.+)$/.exec(dep.trim())?.[1];
    if (!file) {
      lines.push(dep.trim());
      continue;
    }
    const text = await read(file);
    if (text !== undefined) lines.push(...text.split(/\r?\n/));
  }
  const requirements = lines
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !SKIPPED.test(l));
  if (requirements.length === 0 && !pythonEnv) return undefined;
  return { python, requirements };
}

function run(
  command: string,
  args: string[],
  log: NodeJS.WritableStream,
  onLine?: (line: string) => void,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PYTHONUNBUFFERED: '1' },
    });
    let output = '';
    let pending = '';
    const take = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      log.write(text);
      output += text;
      if (output.length > 1 << 20) output = output.slice(-(1 << 19));
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) onLine?.(line);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

/** `python3.11` (or `python3` of that version) on PATH, for a model logged with Python 3.11. */
function findInterpreter(version: string | undefined): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  const names = version ? [`python${version}`, 'python3'] : ['python3'];
  for (const name of names) {
    for (const dir of dirs) {
      const candidate = join(dir, name);
      if (!existsSync(candidate)) continue;
      if (!version) return candidate;
      const probe = spawnSync(candidate, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], {
        encoding: 'utf8',
      });
      if (probe.status === 0 && probe.stdout.trim() === version) return candidate;
    }
  }
  return undefined;
}

/** The requirements pip said it could not install, from its output. */
export function unavailablePins(pipOutput: string): string[] {
  const pins = new Set<string>();
  for (const m of pipOutput.matchAll(
    /(?:No matching distribution found for|Could not find a version that satisfies the requirement) ([^\s(]+)/g,
  ))
    pins.add(m[1]);
  for (const m of pipOutput.matchAll(/The conflict is caused by:\n((?:\s+.+\n)+)/g)) {
    for (const line of m[1].split('\n')) if (line.trim()) pins.add(line.trim());
  }
  return [...pins];
}

/**
 * The interpreter for converting the model in `modelDir` with `packages` (the converter's own needs, e.g. skl2onnx):
 * BENTO_CONVERT_PYTHON, else an environment made once from the model's requirements.
 */
export async function conversionPython(
  modelDir: string,
  packages: string[],
  options: PythonEnvOptions,
): Promise<string> {
  const chosen = readSettings(options.env).convertPython;
  if (chosen) {
    if (!existsSync(chosen)) throw new ConvertEnvError(`${CONVERT_PYTHON_ENV}=${chosen} does not exist`);
    return chosen;
  }
  const wanted = await readRequirements(modelDir);
  if (!wanted) {
    throw new ConvertEnvError(
      `the model at ${modelDir} has neither python_env.yaml nor requirements.txt to make a Python environment from; set ${CONVERT_PYTHON_ENV} to a Python that has its libraries`,
    );
  }
  const all = [...wanted.requirements, ...packages];
  const key = createHash('sha256')
    .update(JSON.stringify({ python: wanted.python ?? '', requirements: [...all].sort() }))
    .digest('hex')
    .slice(0, 16);
  const root = join(options.home, 'python-envs');
  const dir = join(root, key);
  const python = join(dir, 'bin', 'python');
  if (existsSync(join(dir, READY))) return python;
  const base = findInterpreter(wanted.python);
  if (!base) {
    throw new ConvertEnvError(
      `the model was logged with Python ${wanted.python}, and no python${wanted.python} is on PATH to make its environment with; install it, or set ${CONVERT_PYTHON_ENV} to a Python that has the model's libraries and ${packages.join(', ')}`,
    );
  }
  // Made aside and renamed into place: an environment is there whole or not at all. The venv's own python finds its
  // packages by its location relative to pyvenv.cfg, so it works from its final place; pip is run as `python -m pip`.
  const staging = `${dir}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  const logFile = `${dir}.log`;
  const log = createWriteStream(logFile);
  try {
    options.step(
      `making a Python ${wanted.python ?? ''} environment for the conversion (${join(root, key)})`.replace('  ', ' '),
    );
    const venv = await run(base, ['-m', 'venv', staging], log);
    if (venv.code !== 0)
      throw new ConvertEnvError(`${base} -m venv failed: ${venv.output.trim().split('\n').pop()} (log: ${logFile})`);
    const requirementsFile = join(staging, 'bento-requirements.txt');
    await writeFile(requirementsFile, `${all.join('\n')}\n`);
    options.step(`installing ${all.length} requirements with pip: ${all.join(' ')}`);
    let installed = 0;
    const pip = await run(
      join(staging, 'bin', 'python'),
      ['-m', 'pip', 'install', '--no-input', '-r', requirementsFile],
      log,
      (line) => {
        const collecting = /^Collecting (\S+)/.exec(line);
        if (collecting) options.step(`pip: collecting ${collecting[1]} (${++installed})`);
        else if (line.startsWith('Installing collected packages'))
          options.step('pip: installing the collected packages');
      },
    );
    if (pip.code !== 0) {
      const pins = unavailablePins(pip.output);
      throw new ConvertEnvError(
        (pins.length > 0
          ? `the model's requirements ${pins.join(', ')} cannot be installed from the package index`
          : `pip could not install the model's requirements: ${pip.output.trim().split('\n').pop()}`) +
          `; set ${CONVERT_PYTHON_ENV} to a Python that has the model's libraries and ${packages.join(', ')} (pip's log: ${logFile})`,
      );
    }
    await writeFile(join(staging, READY), `${all.join('\n')}\n`);
    await rename(staging, dir).catch(async (err: NodeJS.ErrnoException) => {
      // Another process made the same environment meanwhile: use its.
      if (!existsSync(join(dir, READY))) throw err;
      await rm(staging, { recursive: true, force: true });
    });
    return python;
  } catch (err) {
    await rm(staging, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  } finally {
    log.end();
  }
}
