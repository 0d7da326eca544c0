import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { BentoError } from '../errors.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port is an integer from 0 to 65535');
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

const version = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const program = new Command('bento')
  .description('bento-ts: serve, build and ship ML models from TypeScript')
  .version(version)
  .showHelpAfterError();

program
  .command('serve')
  .description('Serve a service: a directory with bento.yaml, a service project, or a service.ts / .js file')
  .argument('[target]', 'what to serve', '.')
  .option('-p, --port <port>', 'port to listen on (env PORT, default 3000)', port)
  .option('--host <host>', 'interface to bind (env HOST, default 0.0.0.0)')
  .option('--runner-workers <n>', 'worker threads per runner (env BENTO_RUNNER_WORKERS)', positiveInt)
  .addHelpText('after', '\nExamples:\n  $ bento serve                        # bento.yaml in this directory\n  $ bento serve services/vision-classifier --port 3001\n  $ MODEL_URI=./my-model.onnx bento serve')
  .action(async (target: string, opts: { port?: number; host?: string; runnerWorkers?: number }) => {
    const { serveCommand } = await import('./serve-command.js');
    await serveCommand(target, opts);
  });

program
  .command('new')
  .description('Create a service project from a template')
  .argument('<dir>', 'directory to create')
  .option('--name <name>', 'service name (default: the directory name)')
  .option('--template <template>', 'template in templates/', 'service')
  .addHelpText('after', '\nExample:\n  $ bento new services/my-classifier && npm install && npx tsc -p services/my-classifier')
  .action(async (dir: string, opts: { name?: string; template: string }) => {
    const { renderTemplate } = await import('./new-command.js');
    const written = renderTemplate(dir, { ...opts, frameworkVersion: version });
    process.stdout.write(
      `Created ${written.length} files in ${dir}. Next: put a model in ${dir}/model, run npm install (at the workspace root, if any), ` +
        `npx tsc -p ${dir}, then npx bento serve ${dir}\n`,
    );
  });

const models = program.command('models').description('Manage the local model store (BENTO_HOME, default ~/bento)');

models
  .command('pull')
  .description('Download a model into the store (MLflow URIs need @bento-ts/plugin-mlflow)')
  .argument('<uri>', 'model URI: models:/<name>/<version>, models:/<name>@<alias>, runs:/<run_id>/model, models:/<model_id>...')
  .option('--project <dir>', 'project whose plugins resolve the URI', '.')
  .addHelpText('after', '\nExamples:\n  $ bento models pull models:/vision-model/1\n  $ MLFLOW_TRACKING_URI=http://mlflow:5001 bento models pull models:/vision-model@champion')
  .action(async (uri: string, opts: { project: string }) => (await import('./models-command.js')).pullCommand(uri, opts));

models
  .command('list')
  .description('List stored models')
  .option('--json', 'print the manifests as JSON')
  .action(async (opts: { json?: boolean }) => (await import('./models-command.js')).listCommand(opts));

models
  .command('get')
  .description('Show a stored model (name:version, or name for its newest)')
  .argument('<tag>')
  .option('-o, --output <format>', 'json, or path (its directory)', 'json')
  .action(async (tag: string, opts: { output: string }) => (await import('./models-command.js')).getCommand(tag, opts));

models
  .command('delete')
  .description('Delete a stored model')
  .argument('<tag>')
  .action(async (tag: string) => (await import('./models-command.js')).deleteCommand(tag));

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof BentoError) {
    process.stderr.write(`Error [${err.code}]: ${err.message}\n`);
  } else {
    process.stderr.write(`Error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exit(1);
});
