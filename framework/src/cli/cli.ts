import { readSettings } from '../config/settings.js';
import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { BentoError, UsageError } from '../errors.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { FRAMEWORK_VERSION } from '../package-info.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('a port is an integer from 0 to 65535');
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function workers(value: string): string {
  if (value !== 'cpu_count') positiveInt(value);
  return value;
}

const version = FRAMEWORK_VERSION;

const collect = (value: string, previous: string[] = []) => [...previous, value];

const program = new Command('bento')
  .description('bento-ts: serve, build and ship ML models from TypeScript')
  .version(version)
  // `bento build --version 1.0` is the bento's version, not bento-ts's.
  .enablePositionalOptions()
  .showHelpAfterError('(bento <command> --help shows its options and examples)')
  .addHelpText(
    'after',
    '\nExamples:\n  $ bento new my-classifier && cd my-classifier && npm install && npm test\n  $ bento serve --reload\n' +
      '  $ bento build && bento containerize my_classifier:latest\n  $ bento serve --help                 # every command has its options and examples',
  )
  // Usage errors exit 2 (see exit-codes.ts); commander would exit 1.
  .exitOverride();

/** The flags that set settings, shared by `bento serve` and `bento config` (which shows what they would set). */
function settingFlags(cmd: Command): Command {
  return (
    cmd
      .option('-p, --port <port>', 'port to listen on (env PORT, default 3000)', port)
      // -h is the host, as in `mlflow models serve -h`; help is --help.
      .helpOption('--help', 'display help for command')
      .option('-h, --host <host>', 'interface to bind (env HOST, default 0.0.0.0)')
      .option(
        '-w, --workers <n>',
        'HTTP worker processes sharing the port, or cpu_count (env BENTO_WORKERS, bento.yaml workers, @service({ workers }); default 1)',
        workers,
      )
      .option('--runner-workers <n>', 'worker threads per runner (env BENTO_RUNNER_WORKERS)', positiveInt)
      .option(
        '--graceful-timeout <seconds>',
        'on SIGTERM/SIGINT, time allowed to finish in-flight requests (env BENTO_GRACEFUL_TIMEOUT, default 30)',
        positiveInt,
      )
      .option(
        '-c, --config <file>',
        'config file over bento.yaml: its env, workers, traffic, apis and runners keys (env BENTO_CONFIG)',
      )
      .option('-e, --env <KEY=value>', 'set a variable, above the environment and .env (repeatable)', collect)
  );
}

settingFlags(program.command('serve'))
  .description(
    'Serve a service (a directory with bento.yaml, a service project, a service.ts / .js file, a built bento) or, with no service code, ' +
      'a model (runs:/, models:/, an MLflow model directory, a .onnx file), as `mlflow models serve` does',
  )
  .argument('[target]', 'what to serve: a service, a bento, or a model URI or path', '.')
  .option('-m, --model-uri <uri>', 'the model to serve with no service code (as mlflow models serve -m)')
  .option(
    '-t, --timeout <seconds>',
    'request timeout of a model served with no service code (env MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT, default 60)',
    positiveInt,
  )
  .addOption(
    // The managers mlflow models serve takes, so a command line it refuses is refused here too.
    new Option(
      '--env-manager <manager>',
      "accepted for mlflow models serve's command line; no Python serves here (conversion: BENTO_CONVERT_PYTHON)",
    ).choices(['local', 'virtualenv', 'uv', 'conda']),
  )
  .option('--no-conda', "accepted for mlflow models serve's command line; no effect")
  .option('--install-mlflow', "accepted for mlflow models serve's command line; no effect")
  .option('--enable-mlserver', "accepted for mlflow models serve's command line; the V2 protocol is always served")
  .option('--reload', "restart when the service's files change, compiling TypeScript first (development)")
  .addHelpText(
    'after',
    '\nSettings, lowest first: defaults < bento.yaml < config file < .env < environment < flags (bento config shows them).\n' +
      '\nExamples:\n  $ bento serve                        # bento.yaml in this directory\n  $ bento serve service.ts --reload     # a TypeScript file, compiled with tsc (no build step)\n  $ bento serve -c prod.yaml -e BENTO_LOG_LEVEL=debug\n  $ bento serve services/vision-classifier --port 3001\n  $ bento serve --workers 2                # two processes share port 3000\n  $ MODEL_URI=./my-model.onnx bento serve\n  $ bento serve mlflow_vision_classifier:latest     # a built bento, from the store\n' +
      '  $ bento serve runs:/<run_id>/model -p 5000          # a model, no service code: /invocations, /v2, /predict_image\n' +
      "  $ bento serve -m models:/wine@champion -p 5000 -h 127.0.0.1   # mlflow models serve's flags",
  )
  .action(async (target: string, opts: import('./serve-command.js').ServeCommandOptions) => {
    const { serveCommand } = await import('./serve-command.js');
    await serveCommand(target, opts);
  });

settingFlags(program.command('config'))
  .description(
    'Print the effective configuration of what bento serve would serve, with where each value came from; secrets masked',
  )
  .argument('[target]', 'what bento serve would serve', '.')
  .option('--all', 'every setting, including those left at their default')
  .option('-o, --output <format>', 'table, json, yaml or env (KEY=value lines, secrets masked)', 'table')
  .addHelpText(
    'after',
    '\nExamples:\n  $ bento config\n  $ bento config services/vision-classifier --all\n  $ bento config -c prod.yaml -o json | jq .settings',
  )
  .action(async (target: string, opts: import('./config-command.js').ConfigOptions) =>
    (await import('./config-command.js')).configCommand(target, opts),
  );

program
  .command('schema')
  .description('Print the JSON Schema of bento.yaml (and of config files), for editors')
  .addHelpText('after', '\nExample:\n  $ bento schema > bento.schema.json')
  .action(async () => {
    const { BENTO_YAML_SCHEMA } = await import('../config/bento-yaml-schema.js');
    process.stdout.write(JSON.stringify(BENTO_YAML_SCHEMA, null, 2) + '\n');
  });

program
  .command('new')
  .description(
    'Create a service project from a template: service.ts, bento.yaml, package.json, tsconfig, a test and a README',
  )
  .argument('[dir]', 'directory to create (must not exist, or be empty)')
  .option('--name <name>', 'service name (default: the directory name)')
  .option('-t, --template <template>', 'image-classifier, tensor or blank (bento new --list)', 'image-classifier')
  .option(
    '--plugin <name>',
    'also depend on a plugin bento-ts ships: mlflow, tfjs, https, local, onnx, converters (repeatable)',
    collect,
  )
  .option('--list', 'list the templates and exit')
  .option('-o, --output <format>', 'text or json', 'text')
  .addHelpText(
    'after',
    '\nExamples:\n  $ bento new my-classifier && cd my-classifier && npm install && npm test\n' +
      '  $ bento new registry-classifier --plugin mlflow      # serves MODEL_NAME / MODEL_RUN_ID models from MLflow\n' +
      '  $ bento new scorer --template tensor\n  $ bento new services/my-api --template blank     # inside the bento-ts repository: an npm workspace\n' +
      '  $ bento new --list -o json',
  )
  .action(
    async (
      dir: string | undefined,
      opts: { name?: string; template: string; plugin?: string[]; list?: boolean; output: string },
    ) => {
      const { checkFormat, emit, table } = await import('./output.js');
      const format = checkFormat(opts.output, ['text', 'json']);
      const { listTemplates, renderTemplate } = await import('./new-command.js');
      if (opts.list) {
        const templates = listTemplates();
        emit(format, templates, () =>
          table([['TEMPLATE', 'DESCRIPTION'], ...templates.map((t) => [t.name, t.description])]),
        );
        return;
      }
      if (!dir)
        throw new UsageError('bento new needs a directory: bento new <dir> [--template image-classifier|tensor|blank]');
      const written = await renderTemplate(dir, { ...opts, plugins: opts.plugin, frameworkVersion: version });
      const next = [`cd ${dir}`, 'npm install', 'npm test', 'npx bento serve .'];
      emit(
        format,
        { directory: resolve(dir), template: opts.template, files: written, next },
        () =>
          `Created ${written.length} files in ${dir} from the ${opts.template} template. Next:\n${next.map((c) => `  ${c}\n`).join('')}`,
      );
    },
  );

program
  .command('build')
  .description(
    'Build a bento (a versioned, self-contained service package) into the store from bento.yaml, or of a model with no service code (-m)',
  )
  .option('-f, --file <file>', 'the build config', 'bento.yaml')
  .option(
    '-m, --model-uri <uri>',
    'a bento of this model alone (runs:/, models:/…), served as bento serve <model URI> serves it, the model converted and packed',
  )
  .option('--name <name>', "the bento's name, with -m (default: the registered model's name, else the artifact's)")
  .option('--version <version>', 'bento version (default: a new time-ordered one)')
  .option('--label <key=value>', 'add a label (repeatable)', collect)
  .option('-o, --output <format>', 'table, tag, json or path', 'table')
  .addHelpText(
    'after',
    '\nExamples:\n  $ bento build\n  $ bento build -f services/my-service/bento.yaml --version 1.0.0 --label stage=prod\n  $ TAG=$(bento build -o tag)\n  $ bento build -m models:/wine@champion --version 1.0.0    # wine:1.0.0, no service code',
  )
  .action(async (opts: import('./bento-commands.js').BuildCommandOptions) =>
    (await import('./bento-commands.js')).buildCommand(opts),
  );

program
  .command('list')
  .description('List the bentos in the store (BENTO_HOME, default ~/bento)')
  .argument('[name]', 'only bentos of this name')
  .option('-o, --output <format>', 'table, json or yaml', 'table')
  .addHelpText('after', '\nExamples:\n  $ bento list\n  $ bento list mlflow_vision_classifier -o json')
  .action(async (name: string | undefined, opts: { output: string }) =>
    (await import('./bento-commands.js')).listCommand(name, opts),
  );

program
  .command('get')
  .description("Show a bento's manifest (name:version; name or name:latest for the newest)")
  .argument('<tag>')
  .option('-o, --output <format>', 'yaml, json or path', 'yaml')
  .addHelpText('after', '\nExample:\n  $ cd $(bento get mlflow_vision_classifier:latest -o path)')
  .action(async (tag: string, opts: { output: string }) => (await import('./bento-commands.js')).getCommand(tag, opts));

program
  .command('delete')
  .description('Delete bentos from the store')
  .argument('<tags...>')
  .option('-o, --output <format>', 'text or json', 'text')
  .addHelpText('after', '\nExample:\n  $ bento delete mlflow_vision_classifier:0.1.0')
  .action(async (tags: string[], opts: { output: string }) =>
    (await import('./bento-commands.js')).deleteCommand(tags, opts),
  );

program
  .command('export')
  .description('Write a bento to a .bento archive (tar.gz) with its models')
  .argument('<tag>')
  .argument('[path]', 'file, or directory for <name>-<version>.bento', '.')
  .option('-o, --output <format>', 'text or json', 'text')
  .addHelpText(
    'after',
    '\nExample:\n  $ bento export mlflow_vision_classifier:latest /tmp   # then, elsewhere: bento import /tmp/<name>-<version>.bento',
  )
  .action(async (tag: string, path: string, opts: { output: string }) =>
    (await import('./bento-commands.js')).exportCommand(tag, path, opts),
  );

program
  .command('import')
  .description('Add a .bento archive to the store (checked entry by entry and against its SHA256SUMS)')
  .argument('<path>')
  .option('-o, --output <format>', 'text or json', 'text')
  .addHelpText('after', '\nExample:\n  $ bento import ./mlflow_vision_classifier-0.1.0.bento && bento list')
  .action(async (path: string, opts: { output: string }) =>
    (await import('./bento-commands.js')).importCommand(path, opts),
  );

program
  .command('containerize')
  .description('Build a container image of a bento with docker, podman or buildah')
  .argument('<tag>')
  .option('-t, --tag <image>', 'image tag (repeatable; default: the bento tag)', collect)
  .option(
    '--backend <backend>',
    'docker, podman or buildah (env BENTO_CONTAINERIZE_BACKEND; default: the first usable)',
  )
  .option('--build-arg <KEY=value>', 'build argument, e.g. BASE_IMAGE=my-registry/node:24-slim (repeatable)', collect)
  .option('--opt <key=value>', 'option passed to the builder as --key=value (repeatable)', collect)
  .option('--dry-run', 'print the build command instead of running it')
  .option('-o, --output <format>', "text or json (the builder's own output goes to stderr)", 'text')
  .argument('[builderArgs...]', 'after --: arguments passed to the builder as they are')
  .addHelpText(
    'after',
    '\nExamples:\n  $ bento containerize mlflow_vision_classifier:latest\n  $ bento containerize mlflow_vision_classifier:latest --backend buildah -t classifier:v1 -- --storage-driver vfs\n' +
      '  $ docker run -p 3000:3000 -e MLFLOW_TRACKING_URI=http://host.docker.internal:5001 -e MODEL_RUN_ID=<run> <image>',
  )
  .action(async (tag: string, builderArgs: string[], opts: import('./bento-commands.js').ContainerizeCommandOptions) =>
    (await import('./bento-commands.js')).containerizeCommand(tag, opts, builderArgs),
  );

const deploy = program
  .command('deploy')
  .description("Write deployment manifests for a built bento's image (Kubernetes, KServe)")
  .addHelpText(
    'after',
    '\nExamples:\n  $ bento deploy k8s mlflow_vision_classifier:latest --image registry.example.com/classifier:1.0 && kubectl apply -k deploy/mlflow-vision-classifier\n' +
      '  $ bento deploy kserve mlflow_vision_classifier:latest --image registry.example.com/classifier:1.0 -o -',
  );

/** The options both deploy targets take. */
function deployOptions(cmd: Command, outputDefault: string): Command {
  return cmd
    .argument('<tag>', 'the bento (name:version, or name for its newest)')
    .option('-o, --output <dir>', `directory to write (default ${outputDefault}); - prints one YAML stream to stdout`)
    .option(
      '--image <image>',
      'the image as the cluster pulls it (default: the bento tag, as bento containerize tags it)',
    )
    .option('--name <name>', 'object name (default: the bento name with - for _ and .)')
    .option('-n, --namespace <namespace>', "namespace of every object (default: none, kubectl's current one)")
    .option('--min-replicas <n>', 'fewest pods (default 2)', positiveInt)
    .option('--max-replicas <n>', 'most pods (default 10)', positiveInt)
    .option(
      '--target-in-flight <n>',
      'average requests in flight per pod to scale at (default: 80% of traffic.maxConcurrency, else one full batch of the biggest batchable method)',
      positiveInt,
    )
    .option('--cpu <cores>', 'CPU request per pod (default: bento.yaml resources.cpu, or 1)')
    .option('--memory <quantity>', 'memory request and limit per pod (default: bento.yaml resources.memory, or 1Gi)')
    .option(
      '--graceful-timeout <seconds>',
      'time a pod has to finish in-flight requests on stop (default 30)',
      positiveInt,
    )
    .option(
      '--env <KEY=value>',
      "plain setting for the pods' ConfigMap, e.g. MLFLOW_TRACKING_URI=http://mlflow:5000 (repeatable; credentials are refused)",
      collect,
    )
    .option('--secret <name>', 'Secret the pods take credentials from, if it exists (default <name>-secrets)');
}

deployOptions(deploy.command('k8s'), 'deploy/<name>')
  .description(
    'Deployment, Service, HPA (CPU and in-flight requests), PodDisruptionBudget, ConfigMap and a kustomize base',
  )
  .option(
    '--target-cpu <percent>',
    'average CPU use, as a percentage of the request, to scale at (default 70)',
    positiveInt,
  )
  .option(
    '--service-monitor',
    'also write a prometheus-operator ServiceMonitor (the pods carry prometheus.io scrape annotations either way)',
  )
  .addHelpText(
    'after',
    '\nExamples:\n  $ bento deploy k8s mlflow_vision_classifier:latest --image registry.example.com/classifier:1.0 --env MLFLOW_TRACKING_URI=http://mlflow:5000\n' +
      '  $ kubectl apply -k deploy/mlflow-vision-classifier\n  $ bento deploy k8s mlflow_vision_classifier -o - | kubectl apply -f -',
  )
  .action(async (tag: string, opts: import('./deploy-command.js').DeployCommandOptions) =>
    (await import('./deploy-command.js')).deployCommand('k8s', tag, opts),
  );

deployOptions(deploy.command('kserve'), 'deploy/<name>-kserve')
  .description('A KServe InferenceService with the bento image as its custom predictor (Open Inference / V2 protocol)')
  .option(
    '--mode <mode>',
    'Serverless (Knative, scales on concurrency) or RawDeployment (Deployment + HPA on CPU)',
    'Serverless',
  )
  .option(
    '--target-cpu <percent>',
    'RawDeployment: average CPU use, as a percentage of the request, to scale at (default 70)',
    positiveInt,
  )
  .addHelpText(
    'after',
    '\nExample:\n  $ bento deploy kserve mlflow_vision_classifier:latest --image registry.example.com/classifier:1.0 && kubectl apply -k deploy/mlflow-vision-classifier-kserve',
  )
  .action(async (tag: string, opts: import('./deploy-command.js').DeployCommandOptions) =>
    (await import('./deploy-command.js')).deployCommand('kserve', tag, opts),
  );

const models = program
  .command('models')
  .description('Manage the local model store (BENTO_HOME, default ~/bento)')
  .addHelpText(
    'after',
    '\nExamples:\n  $ bento models pull models:/vision-model@champion\n  $ bento models list\n  $ bento models delete vision-model:1',
  );

models
  .command('pull')
  .description('Download a model into the store (MLflow URIs need @bento-ts/plugin-mlflow)')
  .argument(
    '<uri>',
    'model URI: models:/<name>/<version>, models:/<name>@<alias>, runs:/<run_id>/model, models:/<model_id>...',
  )
  .option('--project <dir>', 'project whose plugins resolve the URI', '.')
  .option('-o, --output <format>', 'text or json', 'text')
  .addHelpText(
    'after',
    '\nExamples:\n  $ bento models pull models:/vision-model/1\n  $ MLFLOW_TRACKING_URI=http://mlflow:5001 bento models pull models:/vision-model@champion',
  )
  .action(async (uri: string, opts: { project: string; output: string }) =>
    (await import('./models-command.js')).pullCommand(uri, opts),
  );

models
  .command('list')
  .description('List stored models')
  .option('-o, --output <format>', 'table, json or yaml', 'table')
  .option('--json', 'the same as -o json')
  .addHelpText('after', '\nExample:\n  $ bento models list -o json')
  .action(async (opts: { json?: boolean; output: string }) => (await import('./models-command.js')).listCommand(opts));

models
  .command('get')
  .description('Show a stored model (name:version, or name for its newest)')
  .argument('<tag>')
  .option('-o, --output <format>', 'json, yaml, or path (its directory)', 'json')
  .addHelpText('after', '\nExample:\n  $ ls $(bento models get vision-model -o path)')
  .action(async (tag: string, opts: { output: string }) => (await import('./models-command.js')).getCommand(tag, opts));

models
  .command('delete')
  .description('Delete a stored model')
  .argument('<tag>')
  .option('-o, --output <format>', 'text or json', 'text')
  .addHelpText('after', '\nExample:\n  $ bento models delete vision-model:1')
  .action(async (tag: string, opts: { output: string }) =>
    (await import('./models-command.js')).deleteCommand(tag, opts),
  );

/** Where to read more, for an error of the command line or of the configuration. */
function hintFor(err: BentoError): string {
  // Its message says what to do.
  if (err.code === 'PORT_UNAVAILABLE') return '';
  if (err.code === 'CONFIG_ERROR') {
    return 'See: docs/configuration.md, bento schema (what bento.yaml may hold), bento config (the settings in effect, and where each comes from).';
  }
  if (err.code === 'SERVICE_DEFINITION_ERROR')
    return 'See: docs/writing-services.md (the decorators and what they accept).';
  return 'See: bento --help, or bento <command> --help for its options and examples.';
}

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    // Commander has printed its message already; --help and --version are not failures.
    process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
  }
  const code = exitCodeFor(err);
  if (err instanceof BentoError) {
    const hint = code === EXIT.usage ? hintFor(err) : '';
    process.stderr.write(`Error [${err.code}]: ${err.message}\n${hint ? `${hint}\n` : ''}`);
  } else if (readSettings().debug) {
    process.stderr.write(`Error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  } else {
    // Not an error bento-ts raises on purpose: a bug, or something the system refused.
    process.stderr.write(
      `Error: ${err instanceof Error ? err.message : String(err)}\n(rerun with BENTO_DEBUG=1 for the stack trace, and report it if it is a bento-ts bug)\n`,
    );
  }
  process.exit(code);
});
