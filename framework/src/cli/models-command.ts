import { loadDotEnv } from '../config/dotenv.js';
import { isProjectDir, loadProject, modelProject } from '../config/project.js';
import { FRAMEWORK_DIR } from '../package-info.js';
import { consoleLogger } from '../logging/console-logger.js';
import { fromWorkingDirectory } from '../models/model-selector.js';
import { resolveModel } from '../models/resolve-model.js';
import { findPlugins, loadPlugins } from '../plugins/loader.js';
import { ModelStore, type StoredModel } from '../models/store/model-store.js';
import { checkFormat, emit, humanSize, table } from './output.js';

/** `bento models pull <uri>`: resolves a model through the project's plugins into the local store. */
export async function pullCommand(uri: string, opts: { project: string; output: string }): Promise<void> {
  const format = checkFormat(opts.output, ['text', 'json']);
  loadDotEnv();
  // Outside a project, the plugins installed beside bento-ts resolve the URI.
  const bare = opts.project === '.' && !isProjectDir(process.cwd());
  const project = bare ? modelProject(uri) : loadProject(opts.project);
  const registry = await loadPlugins(
    findPlugins(project.plugins, project.serviceDir, project.root, bare ? FRAMEWORK_DIR : undefined),
  );
  const model = await resolveModel(registry, fromWorkingDirectory(uri), project, process.env, consoleLogger('bento'));
  const tag = typeof model.metadata.tag === 'string' ? model.metadata.tag : undefined;
  emit(
    format,
    { uri, resolvedUri: model.resolvedUri ?? uri, tag: tag ?? null, format: model.format, path: model.path },
    () => `${tag ? `Pulled ${tag}` : `Resolved ${uri}`} (${model.format}) → ${model.path}\n`,
  );
}

export async function listCommand(opts: { json?: boolean; output: string }): Promise<void> {
  const format = opts.json ? 'json' : checkFormat(opts.output, ['table', 'json', 'yaml']);
  const store = ModelStore.fromEnv(process.env);
  const models = await store.list();
  emit(format, models, () => {
    if (models.length === 0)
      return `No models in ${store.root}/models (pull one: bento models pull models:/<name>/<version>)\n`;
    const rows = [
      ['Tag', 'Size', 'Creation Time', 'From'],
      ...models.map((m: StoredModel) => [
        m.tag,
        humanSize(m.size),
        m.createdAt.replace('T', ' ').slice(0, 19),
        m.uris[0] ?? m.resolvedUri,
      ]),
    ];
    return table(rows);
  });
}

export async function getCommand(tag: string, opts: { output: string }): Promise<void> {
  const format = checkFormat(opts.output, ['json', 'yaml', 'path']);
  const model = await ModelStore.fromEnv(process.env).get(tag);
  emit(format === 'path' ? 'text' : format, model, () => `${model.path}\n`);
}

export async function deleteCommand(tag: string, opts: { output: string }): Promise<void> {
  const format = checkFormat(opts.output, ['text', 'json']);
  const model = await ModelStore.fromEnv(process.env).delete(tag);
  emit(format, { deleted: [model.tag] }, () => `Deleted ${model.tag} (${humanSize(model.size)})\n`);
}
