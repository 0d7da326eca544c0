import { stringify as stringifyYaml } from 'yaml';
import { DEFAULT_IMPORT_LIMITS, exportBento, importBento } from '../bento/archive.js';
import { BentoStore, type StoredBento } from '../bento/bento-store.js';
import { loadDotEnv } from '../config/dotenv.js';
import { envInt } from '../config/limits.js';
import { InvalidInputError } from '../errors.js';

type OutputFormat = 'table' | 'json' | 'yaml' | 'path' | 'tag';

function checkFormat(format: string, allowed: OutputFormat[]): OutputFormat {
  if (!allowed.includes(format as OutputFormat)) throw new InvalidInputError(`-o ${format} is not one of ${allowed.join(', ')}`);
  return format as OutputFormat;
}

/** Repeated `key=value` options as a mapping. */
export function keyValues(list: string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) {
    const i = kv.indexOf('=');
    if (i < 1) throw new InvalidInputError(`${flag} ${kv}: expected key=value`);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** Bytes as people read them (decimal units, as `bentoml list`). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let n = bytes;
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

function summary(b: StoredBento) {
  return {
    tag: b.manifest.tag,
    size: b.size,
    creation_time: b.manifest.creation_time,
    service: b.manifest.service.name,
    models: b.manifest.models.map((m) => m.tag),
    labels: b.manifest.labels,
    path: b.path,
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n') + '\n';
}

const store = () => BentoStore.fromEnv(process.env);

export async function buildCommand(opts: { file: string; version?: string; label?: string[]; output: string }): Promise<void> {
  loadDotEnv();
  const format = checkFormat(opts.output, ['table', 'tag', 'json', 'path']);
  const labels = keyValues(opts.label, '--label');
  const { buildBento } = await import('../build/builder.js');
  // Progress goes to stderr so that `-o tag` prints only the tag.
  const say = (msg: string) => process.stderr.write(`${msg}\n`);
  const logger = { debug: () => undefined, info: say, warn: (m: string) => say(`warning: ${m}`), error: (m: string) => say(`error: ${m}`) };
  const bento = await buildBento({ file: opts.file, version: opts.version, labels, logger });
  if (format === 'tag') process.stdout.write(`${bento.manifest.tag}\n`);
  else if (format === 'path') process.stdout.write(`${bento.path}\n`);
  else if (format === 'json') process.stdout.write(JSON.stringify(summary(bento), null, 2) + '\n');
  else {
    process.stdout.write(
      `Successfully built Bento(tag="${bento.manifest.tag}"), ${humanSize(bento.size)}.\n\n` +
        `Next steps:\n  * Serve it:          bento serve ${bento.manifest.tag}\n` +
        `  * Build an image:    bento containerize ${bento.manifest.tag}\n` +
        `  * Move it elsewhere: bento export ${bento.manifest.tag}   then   bento import <file>\n`,
    );
  }
}

export async function listCommand(name: string | undefined, opts: { output: string }): Promise<void> {
  const format = checkFormat(opts.output, ['table', 'json', 'yaml']);
  const bentos = await store().list(name);
  if (format === 'json') process.stdout.write(JSON.stringify(bentos.map(summary), null, 2) + '\n');
  else if (format === 'yaml') process.stdout.write(stringifyYaml(bentos.map(summary)));
  else {
    const rows = [['Tag', 'Size', 'Model Size', 'Creation Time']];
    for (const b of bentos) {
      const modelSize = b.manifest.models.reduce((n, m) => n + m.size, 0);
      rows.push([b.manifest.tag, humanSize(b.size), humanSize(modelSize), b.manifest.creation_time.replace('T', ' ').slice(0, 19)]);
    }
    process.stdout.write(bentos.length ? table(rows) : 'No bentos yet: build one with `bento build`.\n');
  }
}

export async function getCommand(tag: string, opts: { output: string }): Promise<void> {
  const format = checkFormat(opts.output, ['yaml', 'json', 'path']);
  const bento = await store().get(tag);
  if (format === 'path') process.stdout.write(`${bento.path}\n`);
  else if (format === 'json') process.stdout.write(JSON.stringify({ ...bento.manifest, size: bento.size, path: bento.path }, null, 2) + '\n');
  else process.stdout.write(stringifyYaml({ ...bento.manifest, size: bento.size, path: bento.path }, { lineWidth: 0 }));
}

export async function deleteCommand(tags: string[]): Promise<void> {
  for (const tag of tags) {
    const bento = await store().delete(tag);
    process.stdout.write(`Deleted bento ${bento.manifest.tag}\n`);
  }
}

export async function exportCommand(tag: string, out: string | undefined): Promise<void> {
  const bento = await store().get(tag);
  const file = await exportBento(bento, out);
  process.stdout.write(`Exported ${bento.manifest.tag} to ${file}\n`);
}

export async function importCommand(file: string): Promise<void> {
  const limits = { ...DEFAULT_IMPORT_LIMITS, maxBytes: envInt(process.env, 'BENTO_IMPORT_MAX_BYTES', DEFAULT_IMPORT_LIMITS.maxBytes) };
  const bento = await importBento(file, store(), limits);
  process.stdout.write(`Imported ${bento.manifest.tag} (${humanSize(bento.size)}) into ${bento.path}\n`);
}

export async function containerizeCommand(
  tag: string,
  opts: { tag?: string[]; backend?: string; buildArg?: string[]; opt?: string[]; dryRun?: boolean },
  extra: string[],
): Promise<void> {
  const { containerize } = await import('../containerize/containerize.js');
  const bento = await store().get(tag);
  const buildArgs = keyValues(opts.buildArg, '--build-arg');
  // --opt key=value becomes --key=value for the builder (BentoML's pass-through).
  const passed = [...(opts.opt ?? []).map((kv) => `--${kv}`), ...extra];
  const result = await containerize(bento, { tags: opts.tag, backend: opts.backend, buildArgs, extra: passed, dryRun: opts.dryRun });
  if (opts.dryRun) {
    process.stdout.write(`${result.command.join(' ')}\n`);
    return;
  }
  process.stdout.write(
    `Successfully built image ${result.tags.join(', ')} with ${result.backend}.\n` +
      `Run it: ${result.backend === 'buildah' ? 'podman' : result.backend} run --rm -p 3000:3000 ${result.tags[0]}\n`,
  );
}
