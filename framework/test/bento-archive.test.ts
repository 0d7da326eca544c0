import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, beforeEach, describe, it } from 'node:test';
import { Header } from 'tar';
import { exportBento, importBento } from '../src/bento/archive.js';
import { BentoStore } from '../src/bento/bento-store.js';
import { writeChecksums } from '../src/bento/checksums.js';
import { BentoIntegrityError } from '../src/errors.js';

const base = mkdtempSync(join(tmpdir(), 'bento-archive-'));
after(() => rmSync(base, { recursive: true, force: true }));

const MANIFEST =
  'spec: 1\ntag: tiny:v1\nname: tiny\nversion: v1\ncreation_time: 2026-11-24T00:00:00.000Z\nservice: { name: tiny, class: Tiny, entry: src/service.js }\n';

/** A small, valid bento directory (manifest, one source file, checksums). */
async function tinyBento(dir: string): Promise<string> {
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'bento.yaml'), MANIFEST);
  writeFileSync(join(dir, 'src', 'service.js'), 'export {};\n');
  await writeChecksums(dir);
  return dir;
}

interface Entry {
  path: string;
  type?: string;
  data?: string | Buffer;
  linkpath?: string;
  size?: number;
}

/** Writes a tar.gz by hand, header by header, so any entry (however hostile) can be made. */
function craft(file: string, entries: Entry[]): string {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    const header = new Header({
      path: e.path,
      type: (e.type ?? 'File') as 'File',
      size: e.size ?? data.length,
      mode: 0o644,
      mtime: new Date(0),
      linkpath: e.linkpath,
      uid: 0,
      gid: 0,
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (data.length) blocks.push(Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]));
  }
  blocks.push(Buffer.alloc(1024));
  writeFileSync(file, gzipSync(Buffer.concat(blocks)));
  return file;
}

/** The files of the tiny bento as archive entries. */
function tinyEntries(): Entry[] {
  return [
    { path: 'bento.yaml', data: MANIFEST },
    { path: 'src/service.js', data: 'export {};\n' },
  ];
}

let store: BentoStore;
beforeEach(() => {
  store = new BentoStore(mkdtempSync(join(base, 'home-')));
});

async function refused(
  file: string,
  pattern: RegExp,
  limits?: { maxBytes: number; maxEntries: number },
): Promise<void> {
  await assert.rejects(importBento(file, store, limits), (err: Error) => {
    assert.ok(err instanceof BentoIntegrityError, `${err.name}: ${err.message}`);
    assert.match(err.message, pattern);
    return true;
  });
  // Nothing entered the store, and no staging directory was left behind.
  assert.deepEqual(await store.list(), []);
  const staging = join(store.dir, '.staging');
  assert.deepEqual(existsSync(staging) ? readdirSync(staging) : [], []);
}

async function sums(): Promise<string> {
  const dir = await tinyBento(mkdtempSync(join(base, 'b-')));
  return readFileSync(join(dir, 'SHA256SUMS'), 'utf8');
}

describe('bento export and import', () => {
  it('round-trips a bento, and exports the same bento to the same bytes', async () => {
    const source = new BentoStore(mkdtempSync(join(base, 'home-')));
    const staging = await source.staging();
    await tinyBento(staging);
    const bento = await source.commit(staging, { name: 'tiny', version: 'v1', tag: 'tiny:v1' } as never);
    const a = await exportBento(bento, join(base, 'a.bento'));
    const b = await exportBento(bento, join(base, 'b.bento'));
    assert.deepEqual(readFileSync(a), readFileSync(b));
    const imported = await importBento(a, store);
    assert.equal(imported.manifest.tag, 'tiny:v1');
    assert.equal(readFileSync(join(imported.path, 'src', 'service.js'), 'utf8'), 'export {};\n');
    await assert.rejects(importBento(a, store), /already exists/);
  });

  it('refuses absolute paths and writes nothing outside the store', async () => {
    const target = join(base, 'escaped-absolute');
    await refused(craft(join(base, 'abs.bento'), [{ path: target, data: 'pwned' }]), /absolute path/);
    assert.ok(!existsSync(target));
  });

  it('refuses ".." in paths', async () => {
    await refused(
      craft(join(base, 'dotdot.bento'), [{ path: '../../../escaped-dotdot', data: 'pwned' }]),
      /climbs out of the archive/,
    );
    await refused(craft(join(base, 'dotdot2.bento'), [{ path: 'src/../../escaped', data: 'x' }]), /climbs out/);
    assert.ok(!existsSync(join(store.root, '..', 'escaped-dotdot')));
  });

  it('refuses symbolic and hard links, wherever they point', async () => {
    await refused(
      craft(join(base, 'sym.bento'), [{ path: 'src/evil', type: 'SymbolicLink', linkpath: '/etc/passwd' }]),
      /"src\/evil" is a link/,
    );
    await refused(
      craft(join(base, 'sym2.bento'), [
        { path: 'models', type: 'SymbolicLink', linkpath: '../../..' },
        { path: 'models/x', data: 'x' },
      ]),
      /is a link/,
    );
    await refused(
      craft(join(base, 'hard.bento'), [{ path: 'src/h', type: 'Link', linkpath: '/etc/shadow' }]),
      /is a link/,
    );
  });

  it('refuses devices and FIFOs', async () => {
    await refused(craft(join(base, 'dev.bento'), [{ path: 'dev/sda', type: 'BlockDevice' }]), /device or FIFO/);
    await refused(craft(join(base, 'chr.bento'), [{ path: 'null', type: 'CharacterDevice' }]), /device or FIFO/);
    await refused(craft(join(base, 'fifo.bento'), [{ path: 'pipe', type: 'FIFO' }]), /device or FIFO/);
  });

  it('refuses archives that unpack to more than the limit, or hold too many entries', async () => {
    const file = craft(join(base, 'big.bento'), [
      { path: 'bento.yaml', data: MANIFEST },
      { path: 'big', data: Buffer.alloc(64 * 1024) },
    ]);
    await refused(file, /unpacks to more than 10000 bytes/, { maxBytes: 10_000, maxEntries: 100 });
    const many = craft(
      join(base, 'many.bento'),
      Array.from({ length: 20 }, (_, i) => ({ path: `f${i}`, data: 'x' })),
    );
    await refused(many, /more than 10 entries/, { maxBytes: 1e9, maxEntries: 10 });
  });

  it('refuses truncated and corrupt archives', async () => {
    const good = craft(join(base, 'good.bento'), [...tinyEntries(), { path: 'SHA256SUMS', data: await sums() }]);
    const bytes = readFileSync(good);
    writeFileSync(join(base, 'trunc.bento'), bytes.subarray(0, Math.floor(bytes.length / 2)));
    await refused(join(base, 'trunc.bento'), /truncated or corrupt/);
    writeFileSync(join(base, 'garbage.bento'), Buffer.from('this is not an archive at all'.repeat(40)));
    await refused(join(base, 'garbage.bento'), /truncated or corrupt|not a \.bento archive/);
    // A header claiming more data than the archive holds.
    await refused(
      craft(join(base, 'short.bento'), [{ path: 'bento.yaml', data: 'x', size: 100_000 }]),
      /truncated or corrupt/,
    );
  });

  it('refuses a file that does not match SHA256SUMS, an unlisted file and a missing one', async () => {
    const list = await sums();
    await refused(
      craft(join(base, 'tampered.bento'), [
        { path: 'bento.yaml', data: MANIFEST },
        { path: 'src/service.js', data: 'process.exit(1);\n' },
        { path: 'SHA256SUMS', data: list },
      ]),
      /src\/service\.js does not match its SHA-256/,
    );
    await refused(
      craft(join(base, 'extra.bento'), [
        ...tinyEntries(),
        { path: 'SHA256SUMS', data: list },
        { path: 'src/extra.js', data: 'x' },
      ]),
      /src\/extra\.js is not listed/,
    );
    await refused(
      craft(join(base, 'missing.bento'), [
        { path: 'bento.yaml', data: MANIFEST },
        { path: 'SHA256SUMS', data: list },
      ]),
      /src\/service\.js is listed .* but missing/,
    );
    await refused(craft(join(base, 'nosums.bento'), tinyEntries()), /SHA256SUMS is missing/);
  });

  it('accepts the same entries when they are honest', async () => {
    const file = craft(join(base, 'honest.bento'), [...tinyEntries(), { path: 'SHA256SUMS', data: await sums() }]);
    const bento = await importBento(file, store);
    assert.equal(bento.manifest.tag, 'tiny:v1');
  });
});
