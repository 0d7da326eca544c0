import { loadDotEnv } from '../config/dotenv.js';
import { loadProject } from '../config/project.js';
import { consoleLogger } from '../logging/console-logger.js';
import { resolveModel } from '../models/resolve-model.js';
import { findPlugins, loadPlugins } from '../plugins/loader.js';
import { ModelStore, type StoredModel } from '../store/model-store.js';

function size(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB'];
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${n.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/** `bento models pull <uri>`: resolves a model through the project's plugins into the local store. */
export async function pullCommand(uri: string, opts: { project: string }): Promise<void> {
  loadDotEnv();
  const project = loadProject(opts.project);
  const registry = await loadPlugins(findPlugins(project.plugins, project.serviceDir, project.root));
  const model = await resolveModel(registry, uri, project, process.env, consoleLogger('bento'));
  const tag = typeof model.metadata.tag === 'string' ? model.metadata.tag : undefined;
  process.stdout.write(`${tag ? `Pulled ${tag}` : `Resolved ${uri}`} (${model.format}) → ${model.path}\n`);
}

export async function listCommand(opts: { json?: boolean }): Promise<void> {
  const store = ModelStore.fromEnv(process.env);
  const models = await store.list();
  if (opts.json) {
    process.stdout.write(JSON.stringify(models, null, 2) + '\n');
    return;
  }
  if (models.length === 0) {
    process.stdout.write(`No models in ${store.root}/models (pull one: bento models pull models:/<name>/<version>)\n`);
    return;
  }
  const rows = [['TAG', 'SIZE', 'CREATED', 'FROM'], ...models.map((m: StoredModel) => [m.tag, size(m.size), m.createdAt.replace('T', ' ').slice(0, 19), m.uris[0] ?? m.resolvedUri])];
  process.stdout.write(table(rows));
}

export async function getCommand(tag: string, opts: { output: string }): Promise<void> {
  const model = await ModelStore.fromEnv(process.env).get(tag);
  process.stdout.write(opts.output === 'path' ? `${model.path}\n` : JSON.stringify(model, null, 2) + '\n');
}

export async function deleteCommand(tag: string): Promise<void> {
  const model = await ModelStore.fromEnv(process.env).delete(tag);
  process.stdout.write(`Deleted ${model.tag} (${size(model.size)})\n`);
}
