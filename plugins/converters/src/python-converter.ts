/**
 * A converter written in Python (python/bento_convert): the framework gives it a Python, this side writes the
 * request, runs `python -m bento_convert`, relays its progress and reads back the converted model's description and
 * the original's answers on the parity samples.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BentoError,
  ConversionFailedError,
  type ConversionInput,
  type ConversionResult,
  type ConverterContext,
  type DType,
  type ModelConverter,
  type Tensor,
  allocate,
  tensor,
} from '@bento-ts/framework/plugin';

/** python/, where the bento_convert package is (two levels up from dist/src). */
export const PYTHON_DIR = fileURLToPath(new URL('../../python', import.meta.url));

/** A tensor as result.json describes it: raw little-endian bytes in a file, or strings inline. */
interface TensorEntry {
  name: string;
  dtype: string;
  shape: number[];
  file?: string;
  values?: string[];
}

interface PythonResult {
  error?: { code: string; message: string };
  format: string;
  file: string;
  opset?: number;
  libraries: Record<string, string>;
  reference: { inputs: TensorEntry[]; outputs: TensorEntry[] };
  serving?: Record<string, unknown>;
}

async function readTensor(dir: string, entry: TensorEntry): Promise<Tensor> {
  if (entry.dtype === 'string') return tensor('string', entry.shape, entry.values ?? []);
  const bytes = await readFile(join(dir, entry.file!));
  const out = allocate(entry.dtype as DType, entry.shape) as Tensor<Exclude<DType, 'string'>>;
  if (bytes.length !== out.data.byteLength)
    throw new ConversionFailedError(
      `reference tensor "${entry.name}" has ${bytes.length} bytes, [${entry.shape.join(', ')}] ${entry.dtype} needs ${out.data.byteLength}`,
    );
  new Uint8Array(out.data.buffer).set(bytes);
  return out;
}

async function readTensors(dir: string, entries: TensorEntry[]): Promise<Record<string, Tensor>> {
  const out: Record<string, Tensor> = {};
  for (const entry of entries) out[entry.name] = await readTensor(dir, entry);
  return out;
}

/** Runs the module, relaying `progress:` lines; resolves with its exit code and the tail of what it wrote. */
function runPython(python: string, request: string, ctx: ConverterContext): Promise<{ code: number; tail: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-m', 'bento_convert', request], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        PYTHONPATH: [PYTHON_DIR, process.env.PYTHONPATH].filter(Boolean).join(':'),
        PYTHONUNBUFFERED: '1',
        PYTHONDONTWRITEBYTECODE: '1',
      },
    });
    let tail = '';
    let pending = '';
    const take = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      tail = (tail + text).slice(-8000);
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const step = /^progress: (.*)$/.exec(line);
        if (step) ctx.progress(step[1]);
        else if (line.trim()) ctx.logger.debug(`converter: ${line}`);
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, tail }));
  });
}

export interface PythonConverterOptions {
  name: string;
  flavors: string[];
  /** What the converter needs beside the model's own requirements, as pip requirement strings. */
  packages: string[];
  infersInputs?: boolean;
}

export function pythonConverter(options: PythonConverterOptions): ModelConverter {
  return {
    name: options.name,
    flavors: options.flavors,
    produces: 'onnx',
    infersInputs: options.infersInputs,
    async convert(model: ConversionInput, ctx: ConverterContext): Promise<ConversionResult> {
      const python = await ctx.python(options.packages);
      const work = await mkdtemp(join(tmpdir(), 'bento-convert-'));
      try {
        const request = join(work, 'request.json');
        await writeFile(
          request,
          JSON.stringify({
            flavor: model.flavor,
            model_dir: model.path,
            out_dir: ctx.outDir,
            work_dir: work,
            mlmodel: model.mlmodel,
            inputs:
              model.inputs?.map((t) => ({ ...t, shape: t.shape.map((d) => (typeof d === 'number' ? d : -1)) })) ?? null,
            outputs:
              model.outputs?.map((t) => ({ ...t, shape: t.shape.map((d) => (typeof d === 'number' ? d : -1)) })) ??
              null,
            columns: model.columns ?? null,
            example: model.example ?? null,
            opset: model.opset,
            samples: model.samples,
          }),
        );
        ctx.progress(`running ${python} -m bento_convert`);
        const { code, tail } = await runPython(python, request, ctx);
        const result = JSON.parse(
          await readFile(join(work, 'result.json'), 'utf8').catch(() => 'null'),
        ) as PythonResult | null;
        if (result?.error) throw new BentoError(result.error.code, result.error.message.replace(/\s*\n\s*/g, ' '));
        if (code !== 0 || !result) {
          const last = tail.trim().split('\n').pop() ?? '';
          throw new ConversionFailedError(
            `the ${options.name} converter (${python}) exited with code ${code}: ${last}`,
          );
        }
        const reference = {
          inputs: await readTensors(join(work, 'reference'), result.reference.inputs),
          outputs: await readTensors(join(work, 'reference'), result.reference.outputs),
        };
        return {
          format: result.format,
          file: result.file,
          libraries: result.libraries,
          opset: result.opset,
          reference,
          serving: result.serving,
        };
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    },
  };
}
