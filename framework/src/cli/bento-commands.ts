import { exportBento, importBento } from '../bento/archive.js';
import { unpackLimits } from '../models/store/unpack-archive.js';
import { BentoStore, type StoredBento } from '../bento/bento-store.js';
import { loadDotEnv } from '../config/dotenv.js';
import { keyValues } from './key-values.js';
import { UsageError } from '../errors.js';
import { fromWorkingDirectory } from '../models/model-selector.js';
import { checkFormat, emit, humanSize, table } from './output.js';

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

const store = () => BentoStore.fromEnv(process.env);

export interface BuildCommandOptions {
  file: string;
  modelUri?: string;
  name?: string;
  version?: string;
  label?: string[];
  output: string;
}

export async function buildCommand(opts: BuildCommandOptions): Promise<void> {
  loadDotEnv();
  const format = checkFormat(opts.output, ['table', 'tag', 'json', 'path']);
  const labels = keyValues(opts.label, '--label');
  const { buildBento } = await import('../builder/builder.js');
  // Progress goes to stderr so that `-o tag` prints only the tag.
  const say = (msg: string) => process.stderr.write(`${msg}\n`);
  const logger = {
    debug: () => undefined,
    info: say,
    warn: (m: string) => say(`warning: ${m}`),
    error: (m: string) => say(`error: ${m}`),
  };
  if (opts.name && !opts.modelUri)
    throw new UsageError(
      "--name names the bento of a model built with -m; a project's bento takes its name from bento.yaml",
    );
  const bento = opts.modelUri
    ? await (
        await import('../builder/model-bento.js')
      ).buildModelBento({
        uri: fromWorkingDirectory(opts.modelUri),
        name: opts.name,
        version: opts.version,
        labels,
        logger,
      })
    : await buildBento({ file: opts.file, version: opts.version, labels, logger });
  emit(format, summary(bento), () => {
    if (format === 'tag') return `${bento.manifest.tag}\n`;
    if (format === 'path') return `${bento.path}\n`;
    return (
      `Successfully built Bento(tag="${bento.manifest.tag}"), ${humanSize(bento.size)}.\n\n` +
      `Next steps:\n  * Serve it:          bento serve ${bento.manifest.tag}\n` +
      `  * Build an image:    bento containerize ${bento.manifest.tag}\n` +
      `  * Move it elsewhere: bento export ${bento.manifest.tag}   then   bento import <file>\n`
    );
  });
}

export async function listCommand(name: string | undefined, opts: { output: string }): Promise<void> {
  const format = checkFormat(opts.output, ['table', 'json', 'yaml']);
  const bentos = await store().list(name);
  emit(format, bentos.map(summary), () => {
    const rows = [['Tag', 'Size', 'Model Size', 'Creation Time']];
    for (const b of bentos) {
      // Models from the store, and those the service's files carry (a project's ./model).
      const modelSize = [...b.manifest.models, ...(b.manifest.source_models ?? [])].reduce((n, m) => n + m.size, 0);
      rows.push([
        b.manifest.tag,
        humanSize(b.size),
        humanSize(modelSize),
        b.manifest.creation_time.replace('T', ' ').slice(0, 19),
      ]);
    }
    return bentos.length ? table(rows) : 'No bentos yet: build one with `bento build`.\n';
  });
}

export async function getCommand(tag: string, opts: { output: string }): Promise<void> {
  const format = checkFormat(opts.output, ['yaml', 'json', 'path']);
  const bento = await store().get(tag);
  emit(
    format === 'path' ? 'text' : format,
    { ...bento.manifest, size: bento.size, path: bento.path },
    () => `${bento.path}\n`,
  );
}

export async function deleteCommand(tags: string[], opts: { output: string }): Promise<void> {
  const format = checkFormat(opts.output, ['text', 'json']);
  const deleted: string[] = [];
  for (const tag of tags) deleted.push((await store().delete(tag)).manifest.tag);
  emit(format, { deleted }, () => deleted.map((t) => `Deleted bento ${t}\n`).join(''));
}

export async function exportCommand(tag: string, out: string | undefined, opts: { output: string }): Promise<void> {
  const format = checkFormat(opts.output, ['text', 'json']);
  const bento = await store().get(tag);
  const file = await exportBento(bento, out);
  emit(format, { tag: bento.manifest.tag, file }, () => `Exported ${bento.manifest.tag} to ${file}\n`);
}

export async function importCommand(file: string, opts: { output: string }): Promise<void> {
  const format = checkFormat(opts.output, ['text', 'json']);
  const limits = unpackLimits(process.env);
  const bento = await importBento(file, store(), limits);
  emit(format, summary(bento), () => `Imported ${bento.manifest.tag} (${humanSize(bento.size)}) into ${bento.path}\n`);
}

export interface ContainerizeCommandOptions {
  tag?: string[];
  backend?: string;
  buildArg?: string[];
  opt?: string[];
  dryRun?: boolean;
  output: string;
}

export async function containerizeCommand(
  tag: string,
  opts: ContainerizeCommandOptions,
  extra: string[],
): Promise<void> {
  const format = checkFormat(opts.output, ['text', 'json']);
  const { containerize } = await import('../containerize/containerize.js');
  const bento = await store().get(tag);
  const buildArgs = keyValues(opts.buildArg, '--build-arg');
  // --opt key=value becomes --key=value for the builder (BentoML's pass-through).
  const passed = [...(opts.opt ?? []).map((kv) => `--${kv}`), ...extra];
  const result = await containerize(bento, {
    tags: opts.tag,
    backend: opts.backend,
    buildArgs,
    extra: passed,
    dryRun: opts.dryRun,
  });
  const value = { tags: result.tags, backend: result.backend, command: result.command, built: !opts.dryRun };
  emit(format, value, () =>
    opts.dryRun
      ? `${result.command.join(' ')}\n`
      : `Successfully built image ${result.tags.join(', ')} with ${result.backend}.\n` +
        `Run it: ${result.backend === 'buildah' ? 'podman' : result.backend} run --rm -p 3000:3000 ${result.tags[0]}\n`,
  );
}
