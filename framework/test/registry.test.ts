import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BackendNotFoundError, ModelSourceNotFoundError } from '../src/errors.js';
import { PluginError, definePlugin, type ModelSource } from '../src/plugin.js';
import { findPlugins, loadPlugins } from '../src/plugins/loader.js';
import { Registry, schemeOf } from '../src/plugins/registry.js';

const source = (name: string, schemes: string[]): ModelSource => ({
  name,
  schemes,
  resolve: async (uri) => ({ uri, source: name, path: '/tmp', format: 'onnx', metadata: {} }),
});

describe('schemeOf', () => {
  it('reads URI schemes and treats paths and drive letters as plain paths', () => {
    assert.equal(schemeOf('runs:/abc/model'), 'runs');
    assert.equal(schemeOf('models:/m@champion'), 'models');
    assert.equal(schemeOf('S3://bucket/key'), 's3');
    assert.equal(schemeOf('mlflow-artifacts:/1/2'), 'mlflow-artifacts');
    assert.equal(schemeOf('./model'), '');
    assert.equal(schemeOf('/abs/model.onnx'), '');
    assert.equal(schemeOf('C:\\models\\m.onnx'), '');
  });
});

describe('Registry', () => {
  it('routes a URI to the source of its scheme', async () => {
    const registry = new Registry();
    await registry.use(definePlugin({ name: 'a', setup: (r) => r.addModelSource(source('a', ['', 'file'])) }), 'test');
    await registry.use(definePlugin({ name: 'b', setup: (r) => r.addModelSource(source('b', ['runs'])) }), 'test');
    assert.equal(registry.sourceFor('runs:/x/model').name, 'b');
    assert.equal(registry.sourceFor('./model').name, 'a');
    assert.equal(registry.sourceFor('file:///m').name, 'a');
    assert.deepEqual(registry.plugins, ['a', 'b']);
  });

  it('names the plugin to install for an unhandled MLflow URI', () => {
    const registry = new Registry();
    assert.throws(
      () => registry.sourceFor('runs:/abc/model'),
      (err: Error) => {
        assert.ok(err instanceof ModelSourceNotFoundError);
        assert.match(err.message, /@bento-ts\/plugin-mlflow/);
        assert.match(err.message, /runs:/);
        return true;
      },
    );
    assert.throws(() => registry.sourceFor('models:/m/1'), /plugin-mlflow/);
  });

  it('names the backend plugin for a format nobody loads', () => {
    assert.throws(
      () => new Registry().backendFor('onnx'),
      (err: Error) => err instanceof BackendNotFoundError && /plugin-onnx/.test(err.message),
    );
    assert.throws(() => new Registry().backendFor('pickle'), /no backend loads "pickle"/);
  });

  it('selects a backend by name among several for one format', async () => {
    const registry = new Registry();
    const load = async () => ({}) as never;
    await registry.use(
      definePlugin({
        name: 'p',
        setup: (r) => {
          r.addBackend({ name: 'one', formats: ['onnx'], load });
          r.addBackend({ name: 'two', formats: ['onnx'], load });
        },
      }),
      'test',
    );
    assert.equal(registry.backendFor('onnx').name, 'one');
    assert.equal(registry.backendFor('onnx', 'two').name, 'two');
    assert.throws(() => registry.backendFor('tfjs', 'two'), /does not load "tfjs"/);
  });

  it('refuses two sources for one scheme, invalid pieces and non-plugins', async () => {
    const registry = new Registry();
    await registry.use(definePlugin({ name: 'a', setup: (r) => r.addModelSource(source('a', ['x'])) }), 'test');
    await assert.rejects(
      registry.use(definePlugin({ name: 'b', setup: (r) => r.addModelSource(source('b', ['x'])) }), 'test'),
      /claimed by model sources "a" and "b"/,
    );
    await assert.rejects(
      registry.use(definePlugin({ name: 'c', setup: (r) => r.addBackend({ name: 'c' } as never) }), 'test'),
      /invalid backend/,
    );
    await assert.rejects(
      registry.use({ nope: true } as never, 'some-module'),
      (err: Error) => err instanceof PluginError && /some-module does not export a plugin/.test(err.message),
    );
    await assert.rejects(registry.use(definePlugin({ name: 'a', setup() {} }), 'again'), /loaded twice/);
  });

  it('wraps a failing setup with the plugin name', async () => {
    await assert.rejects(
      new Registry().use(
        definePlugin({
          name: 'boom',
          setup() {
            throw new Error('kaput');
          },
        }),
        'mod',
      ),
      /plugin "boom" \(mod\) failed in setup: kaput/,
    );
  });
});

describe('plugin loader', () => {
  it('loads a plugin listed by relative path and fails clearly for a missing one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bento-plugins-'));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    writeFileSync(
      join(dir, 'my-plugin.js'),
      "export default { name: 'mine', setup(r) { r.addModelSource({ name: 'mine', schemes: ['mine'], resolve: async () => { throw new Error('x'); } }); } };\n",
    );
    const refs = findPlugins(['./my-plugin.js'], dir);
    assert.deepEqual(
      refs.map((r) => r.specifier),
      ['./my-plugin.js'],
    );
    const registry = await loadPlugins(refs);
    assert.equal(registry.sourceFor('mine:thing').name, 'mine');
    assert.throws(() => findPlugins(['./missing.js'], dir), /cannot be found.*Check the path/);
    assert.throws(() => findPlugins(['@acme/not-installed'], dir), /npm install @acme\/not-installed/);
  });

  it('reports a plugin module that throws on import', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bento-plugins-'));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    writeFileSync(join(dir, 'broken.js'), "throw new Error('import-time failure');\n");
    await assert.rejects(
      loadPlugins(findPlugins(['./broken.js'], dir)),
      /plugin "\.\/broken\.js" failed to load: import-time failure/,
    );
  });
});
