import { BackendNotFoundError, ModelSourceNotFoundError, PluginError } from '../errors.js';
import type { Backend, BentoPlugin, ModelConverter, ModelSource, PluginRegistry, RequestHook } from './types.js';

/** Which package to suggest when no loaded plugin handles a well-known URI scheme or format. */
const SCHEME_HINTS: Record<string, string> = {
  runs: '@bento-ts/plugin-mlflow',
  models: '@bento-ts/plugin-mlflow',
  'mlflow-artifacts': '@bento-ts/plugin-mlflow',
  s3: '@bento-ts/plugin-mlflow',
  file: '@bento-ts/plugin-local',
  '': '@bento-ts/plugin-local',
};
const FORMAT_HINTS: Record<string, string> = {
  onnx: '@bento-ts/plugin-onnx',
  tfjs: '@bento-ts/plugin-tfjs',
};

/** The scheme of a model URI: `runs:/x` → `runs`; a plain or Windows-style path → ''. */
export function schemeOf(uri: string): string {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(uri);
  if (!m || m[1].length === 1) return '';
  return m[1].toLowerCase();
}

export class Registry implements PluginRegistry {
  readonly plugins: string[] = [];
  private readonly sources = new Map<string, ModelSource>();
  private readonly backends = new Map<string, Backend>();
  private readonly converters = new Map<string, ModelConverter>();
  readonly requestHooks: RequestHook[] = [];
  private current = '';

  async use(plugin: BentoPlugin, origin: string): Promise<void> {
    if (
      typeof plugin !== 'object' ||
      plugin === null ||
      typeof plugin.name !== 'string' ||
      typeof plugin.setup !== 'function'
    ) {
      throw new PluginError(
        `${origin} does not export a plugin: expected a default export made with definePlugin({ name, setup })`,
      );
    }
    if (this.plugins.includes(plugin.name)) {
      throw new PluginError(`plugin "${plugin.name}" is loaded twice (again from ${origin})`);
    }
    this.current = plugin.name;
    try {
      await plugin.setup(this);
    } catch (err) {
      if (err instanceof PluginError) throw err;
      throw new PluginError(`plugin "${plugin.name}" (${origin}) failed in setup: ${(err as Error).message}`, {
        cause: err,
      });
    } finally {
      this.current = '';
    }
    this.plugins.push(plugin.name);
  }

  addModelSource(source: ModelSource): void {
    if (!source?.name || !Array.isArray(source.schemes) || typeof source.resolve !== 'function') {
      throw new PluginError(
        `plugin "${this.current}" registered an invalid model source: it needs name, schemes[] and resolve()`,
      );
    }
    for (const scheme of source.schemes) {
      const key = scheme.toLowerCase();
      const taken = this.sources.get(key);
      if (taken)
        throw new PluginError(
          `URI scheme "${scheme}:" is claimed by model sources "${taken.name}" and "${source.name}"`,
        );
      this.sources.set(key, source);
    }
  }

  addBackend(backend: Backend): void {
    if (!backend?.name || !Array.isArray(backend.formats) || typeof backend.load !== 'function') {
      throw new PluginError(
        `plugin "${this.current}" registered an invalid backend: it needs name, formats[] and load()`,
      );
    }
    for (const format of backend.formats) {
      // The first backend registered for a format wins; later ones are alternatives selectable by name.
      if (!this.backends.has(format)) this.backends.set(format, backend);
    }
    this.backends.set(`name:${backend.name}`, backend);
  }

  addConverter(converter: ModelConverter): void {
    if (
      !converter?.name ||
      !Array.isArray(converter.flavors) ||
      typeof converter.produces !== 'string' ||
      typeof converter.convert !== 'function'
    ) {
      throw new PluginError(
        `plugin "${this.current}" registered an invalid converter: it needs name, flavors[], produces and convert()`,
      );
    }
    for (const flavor of converter.flavors) {
      const taken = this.converters.get(flavor);
      if (taken)
        throw new PluginError(
          `MLflow flavor "${flavor}" is claimed by converters "${taken.name}" and "${converter.name}"`,
        );
      this.converters.set(flavor, converter);
    }
  }

  addRequestHook(hook: RequestHook): void {
    if (!hook?.name || typeof hook.onRequest !== 'function') {
      throw new PluginError(
        `plugin "${this.current}" registered an invalid request hook: it needs name and onRequest()`,
      );
    }
    this.requestHooks.push(hook);
  }

  sourceFor(uri: string): ModelSource {
    const scheme = schemeOf(uri);
    const source = this.sources.get(scheme);
    if (source) return source;
    const hint = SCHEME_HINTS[scheme];
    const what = scheme ? `"${scheme}:" URIs` : 'local paths';
    throw new ModelSourceNotFoundError(
      `no model source handles ${what} (model "${uri}").` +
        (hint ? ` Install and enable ${hint}.` : ` Add a plugin that registers a model source for "${scheme}".`) +
        ` Loaded plugins: ${this.plugins.join(', ') || 'none'}.`,
    );
  }

  backendFor(format: string, name?: string): Backend {
    const backend = name ? this.backends.get(`name:${name}`) : this.backends.get(format);
    if (backend && backend.formats.includes(format)) return backend;
    if (name && backend)
      throw new BackendNotFoundError(
        `backend "${name}" does not load "${format}" models (it loads ${backend.formats.join(', ')})`,
      );
    const hint = FORMAT_HINTS[format];
    throw new BackendNotFoundError(
      `no backend loads "${format}" models${name ? ` under the name "${name}"` : ''}.` +
        (hint ? ` Install and enable ${hint}.` : '') +
        ` Loaded plugins: ${this.plugins.join(', ') || 'none'}.`,
    );
  }

  /** Whether some backend loads `format`. */
  loads(format: string): boolean {
    return this.backends.get(format)?.formats.includes(format) === true;
  }

  /** The converter for an MLflow flavor, or undefined. */
  converterFor(flavor: string): ModelConverter | undefined {
    return this.converters.get(flavor);
  }

  listConverters(): ModelConverter[] {
    return [...new Set(this.converters.values())];
  }

  listSources(): ModelSource[] {
    return [...new Set(this.sources.values())];
  }

  listBackends(): Backend[] {
    return [...new Set(this.backends.values())];
  }
}
