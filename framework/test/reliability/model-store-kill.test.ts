/**
 * The model store under SIGKILL: a process killed while it rewrites a model's manifest, or while it swaps a new copy
 * of a model in, leaves the store readable, with the model whole or absent, and what it left is swept.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ModelStore, type StoredModel } from '../../src/plugin.js';

const STORE_MODULE = fileURLToPath(new URL('../../src/models/store/model-store.js', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const ROUNDS = 12;

async function storeWithModel(): Promise<{ store: ModelStore; model: StoredModel }> {
  const store = new ModelStore(mkdtempSync(join(tmpdir(), 'bento-store-')));
  const staging = await store.staging();
  writeFileSync(join(staging, 'model.onnx'), 'weights');
  // A manifest of a few hundred kB (many URIs and what each said), so that writing it takes a while.
  const metadata = {
    params: Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`param_${i}`, 'x'.repeat(100)])),
  };
  const model = await store.commit(staging, {
    name: 'm',
    version: '1',
    uri: 'models:/m/1',
    resolvedUri: 'file:///m',
    source: 'test',
    metadata,
  });
  return { store, model };
}

/** A process that does `loop` (a statement on `store` and `model`) over and over until it is killed. */
function killedLoop(root: string, loop: string, afterMs: number): Promise<void> {
  const script = `
    import { ModelStore } from ${JSON.stringify(STORE_MODULE)};
    const store = new ModelStore(${JSON.stringify(root)});
    let model = await store.get('m:1');
    process.send('ready');
    for (let i = 0; ; i++) { ${loop} }
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', () => setTimeout(() => child.kill('SIGKILL'), afterMs));
    child.once('exit', (_code, signal) =>
      signal === 'SIGKILL' ? resolve() : reject(new Error(`the loop ended by itself (${_code})`)),
    );
  });
}

describe('model store', () => {
  const figures = { rounds: ROUNDS, manifest_kills: 0, commit_kills: 0, killed_between_renames: 0 };
  after(() => {
    mkdirSync(join(REPO_ROOT, 'test-output', 'reliability'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'test-output', 'reliability', 'model-store.json'), JSON.stringify(figures, null, 2));
  });

  it('keeps every manifest whole when a process is killed while rewriting it', async () => {
    const { store } = await storeWithModel();
    for (let round = 0; round < ROUNDS; round++) {
      await killedLoop(
        store.root,
        `model = await store.remember(model, 'models:/m@champion-' + i, { n: String(i) });`,
        20 + round * 17,
      );
      figures.manifest_kills++;
      const models = await store.list();
      assert.deepEqual(
        models.map((m) => m.tag),
        ['m:1'],
        `round ${round}`,
      );
      assert.equal(await store.verify(models[0], true), undefined);
    }
  });

  it('has the model whole or absent when a process is killed while committing a new copy of it, and sweeps what it left', async () => {
    const { store } = await storeWithModel();
    const loop = `
      const staging = await store.staging();
      (await import('node:fs')).writeFileSync(staging + '/model.onnx', 'weights ' + i);
      model = await store.commit(staging, { name: 'm', version: '1', uri: 'models:/m/1', resolvedUri: 'file:///m', source: 'test', metadata: {} });`;
    for (let round = 0; round < ROUNDS; round++) {
      await killedLoop(store.root, loop, 20 + round * 17);
      figures.commit_kills++;
      const model = await store.find('m:1');
      // Killed between moving the old copy aside and moving the new one in, the model is absent, never partial.
      if (model) assert.equal(await store.verify(model, true), undefined, `round ${round}`);
      if (!model) figures.killed_between_renames++;
      if (!model)
        await new ModelStore(store.root).commit(await store.staging(), {
          name: 'm',
          version: '1',
          uri: 'models:/m/1',
          resolvedUri: 'file:///m',
          source: 'test',
          metadata: {},
        });
    }
    // A new download sweeps what dead processes left: staging directories and replaced copies.
    await store.discard(await store.staging());
    assert.deepEqual(readdirSync(join(store.root, 'models', '.staging')), []);
    assert.deepEqual(readdirSync(join(store.root, 'models', 'm')), ['1']);
  });

  it('keeps what a live process or another host is working on', async () => {
    const { store } = await storeWithModel();
    const mine = `${process.pid}-${Date.now()}-aaaaaa@${hostname()}`;
    const elsewhere = `1-${Date.now()}-bbbbbb@another-host`;
    const dead = `999999999-${Date.now()}-cccccc@${hostname()}`;
    for (const owner of [mine, elsewhere, dead]) {
      mkdirSync(join(store.root, 'models', '.staging', owner), { recursive: true });
      mkdirSync(join(store.root, 'models', 'm', `1.old-${owner}`));
    }
    await store.discard(await store.staging());
    assert.deepEqual(readdirSync(join(store.root, 'models', '.staging')).sort(), [elsewhere, mine].sort());
    assert.deepEqual(
      readdirSync(join(store.root, 'models', 'm')).sort(),
      ['1', `1.old-${elsewhere}`, `1.old-${mine}`].sort(),
    );
  });
});
