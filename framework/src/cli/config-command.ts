import { type Setting, SETTINGS, maskTree, maskValue, settingNamed } from '../config/settings.js';
import { checkFormat, emit, table } from './output.js';
import { type ServeCommandOptions, resolveServeTarget } from './serve-command.js';

export interface ConfigOptions extends ServeCommandOptions {
  all?: boolean;
  output: string;
}

interface ShownSetting {
  name: string;
  value: string;
  source: string;
  description: string;
}

/** BENTO_* variables that no setting reads: most likely typos. */
function unknownBentoVariables(names: Iterable<string>): string[] {
  return [...names].filter((n) => n.startsWith('BENTO_') && !settingNamed(n) && n !== 'BENTO_WORKER_ID').sort();
}

/** `bento config [target]`: the settings `bento serve` would start with, each with its source. */
export async function configCommand(target: string, opts: ConfigOptions): Promise<void> {
  const format = checkFormat(opts.output, ['table', 'json', 'yaml', 'env']);
  const { project, settings } = await resolveServeTarget(target, opts);
  const shown = (setting: Setting): ShownSetting | undefined => {
    const name = [setting.name, ...(setting.aliases ?? [])].find((n) => settings.env[n] !== undefined);
    if (!name)
      return opts.all
        ? { name: setting.name, value: setting.default, source: 'default', description: setting.description }
        : undefined;
    return {
      name,
      value: maskValue(name, settings.env[name]),
      source: settings.sources.get(name) ?? 'environment',
      description: setting.description,
    };
  };
  const list = SETTINGS.map(shown).filter((s): s is ShownSetting => s !== undefined);
  // bento.yaml's own env entries are settings of the service too, catalogued or not.
  for (const [name, source] of settings.sources) {
    if (
      !settingNamed(name) &&
      (source === 'bento.yaml' || source === 'config file' || source === '.env' || source === 'flag')
    ) {
      list.push({ name, value: maskValue(name, settings.env[name]), source, description: "(the service's own)" });
    }
  }
  const unknown = unknownBentoVariables(Object.keys(settings.env));
  const value = {
    service: project.bento
      ? { bento: project.bento.tag, path: project.bento.path }
      : { root: project.root, module: project.serviceModule },
    configFile: settings.configFile ?? null,
    dotenvFiles: settings.dotenvFiles,
    settings: list.map(({ name, value, source }) => ({ name, value, source })),
    // Variant URIs and any env-like key under the runners can hold credentials too.
    overrides: maskTree({
      traffic: settings.config.traffic ?? null,
      apis: settings.config.apis ?? null,
      runners: settings.config.runners ?? null,
    }) as Record<string, unknown>,
    unknown,
  };
  if (format === 'env') {
    process.stdout.write(
      list
        .filter((s) => s.source !== 'default')
        .map((s) => `${s.name}=${s.value}`)
        .join('\n') + '\n',
    );
    return;
  }
  emit(format, value, () => {
    const lines = [
      `Service:     ${project.bento ? `bento ${project.bento.tag}` : project.serviceModule}`,
      `Config file: ${settings.configFile ?? '(none; --config or BENTO_CONFIG)'}`,
      `.env files:  ${settings.dotenvFiles.join(', ') || '(none)'}`,
      '',
      table([['Setting', 'Value', 'Source'], ...list.map((s) => [s.name, s.value, s.source])]),
    ];
    if (!opts.all) lines.push('Settings left at their defaults are not shown: bento config --all lists every one.');
    const overrides = Object.entries(value.overrides).filter(([, v]) => v !== null);
    if (overrides.length)
      lines.push(
        '',
        "Overrides of the service's decorators (bento.yaml, then the config file):",
        ...overrides.map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`),
      );
    if (unknown.length) lines.push('', `Unknown variables (no setting reads them; a typo?): ${unknown.join(', ')}`);
    return lines.join('\n') + '\n';
  });
}
