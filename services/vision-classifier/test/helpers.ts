import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Limits, type RunningServer, loadProject, startServer } from '@bento-ts/framework';

export const SERVICE_DIR = fileURLToPath(new URL('../../', import.meta.url));
export const SAMPLES_DIR = fileURLToPath(new URL('../../samples/', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export const CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

export function sample(name: string): Buffer {
  return readFileSync(SAMPLES_DIR + name);
}

export interface ExpectedSample {
  file: string;
  label: number;
  predicted_index: number;
  probabilities: number[];
}

/** The PyTorch model's answers for the sample files, written by training/make_samples.py. */
export function expectedSamples(): ExpectedSample[] {
  return JSON.parse(readFileSync(SAMPLES_DIR + 'expected.json', 'utf8')) as ExpectedSample[];
}

/** The real service on an ephemeral port, as `bento serve` runs it. */
export async function startService(options: { env?: Record<string, string>; limits?: Partial<Limits> } = {}): Promise<RunningServer> {
  return startServer({
    project: loadProject(SERVICE_DIR),
    port: 0,
    host: '127.0.0.1',
    env: { ...process.env, ...options.env },
    limits: options.limits,
    logger: false,
  });
}

export function multipart(field: string, data: Buffer, filename: string, type: string): FormData {
  const form = new FormData();
  form.append(field, new Blob([data], { type }), filename);
  return form;
}

export interface ErrorResponse {
  error: { code: string; message: string };
}
