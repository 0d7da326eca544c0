/**
 * Preprocessing against Pillow itself, with each Python that has Pillow here (Debian's, and the converter venv's
 * newer one when `make stack-install` has made it). Every output pixel must be equal:
 * - pillowResize on raw pixels: `fixtures/pillow_cases.py resize` has Pillow resize 1,000 generated images (1x1 to
 *   1000x700; L, LA, RGB, RGBA; noise and gradients; up, down and from a box; every filter);
 * - the whole path of an uploaded image (decode, convert to grey or RGB, resize): `fixtures/pillow_cases.py pipeline`
 *   writes 1,000 JPEG, PNG, WebP, BMP and GIF files of grey, RGB, RGBA and palette images, and what
 *   `Image.open(f).convert(mode).resize(size, filter)` makes of each; ImageInput must make the same.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type PillowFilter, pillowResize } from '../src/vision/pillow-resize.js';
import { ImageInput, type ResizeKernel } from '../src/vision/image-input.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = join(REPO, 'framework', 'test', 'fixtures', 'pillow_cases.py');
const COUNT = Number(process.env.PILLOW_CASES ?? 1000);

interface Case {
  mode: string;
  channels: 1 | 2 | 3 | 4;
  width: number;
  height: number;
  outWidth: number;
  outHeight: number;
  filter: PillowFilter;
  box: [number, number, number, number] | null;
  src: number;
  out: number;
}

/** Pythons with Pillow and numpy: Debian's (the machine's Pillow), and the TensorFlow venv's (PyPI's Pillow). */
function pythons(): string[] {
  const candidates = ['/usr/bin/python3', join(REPO, '.venv-tf', 'bin', 'python')];
  return candidates.filter((python) => {
    if (!existsSync(python)) return false;
    try {
      execFileSync(python, ['-c', 'import PIL, numpy'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
}

interface PipelineCase {
  file: string;
  format: string;
  mode: string;
  width: number;
  height: number;
  outWidth: number;
  outHeight: number;
  channels: 1 | 3;
  kernel: ResizeKernel;
  out: number;
}

/**
 * Runs `pillow_cases.py <kind>` with `python` into a temporary directory and hands `check` its cases, Pillow's
 * version, the bytes they point into and the directory; the directory is removed after.
 */
async function withPillowCases<C>(
  python: string,
  kind: 'resize' | 'pipeline',
  check: (cases: C[], pillow: string, data: Buffer, dir: string) => Promise<void> | void,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `bento-pillow-${kind}-`));
  try {
    execFileSync(python, [SCRIPT, kind, dir, String(COUNT)], { stdio: ['ignore', 'ignore', 'inherit'] });
    const { pillow, cases } = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as {
      pillow: string;
      cases: C[];
    };
    assert.equal(cases.length, COUNT);
    await check(cases, pillow, readFileSync(join(dir, 'cases.bin')), dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Values of `got` that differ from `want`, and by how much at most. */
function compare(got: Uint8Array, want: Uint8Array): { differing: number; worst: number } {
  let differing = Math.abs(got.length - want.length);
  let worst = 0;
  for (let k = 0; k < Math.min(got.length, want.length); k++) {
    const d = Math.abs(got[k] - want[k]);
    if (d > 0) differing++;
    worst = Math.max(worst, d);
  }
  return { differing, worst };
}

describe('pillowResize, by hand', () => {
  it('enlarges with half-pixel centres: [0, 100] → [0, 25, 75, 100]', () => {
    const out = pillowResize(Uint8Array.from([0, 100]), 2, 1, 4, 1, { channels: 1, filter: 'bilinear' });
    assert.deepEqual([...out], [0, 25, 75, 100]);
  });

  it('shrinks with a widened (antialiasing) triangle filter', () => {
    // Output 0 is centred on input 1 with support 2: weights 0.75, 0.75, 0.25 over inputs 0..2.
    const out = pillowResize(Uint8Array.from([0, 100, 200, 255]), 4, 1, 2, 1, { channels: 1, filter: 'bilinear' });
    assert.deepEqual([...out], [71, 209]);
  });

  it('works per channel and in both directions, and returns the input when the size is unchanged', () => {
    const rgb = Uint8Array.from([10, 20, 30, 50, 60, 70]);
    const tall = pillowResize(rgb, 1, 2, 1, 4, { channels: 3, filter: 'bilinear' });
    assert.deepEqual([...tall], [10, 20, 30, 20, 30, 40, 40, 50, 60, 50, 60, 70]);
    assert.equal(pillowResize(rgb, 2, 1, 2, 1, { channels: 3, filter: 'bilinear' }), rgb);
    const flat = pillowResize(new Uint8Array(28 * 28).fill(77), 28, 28, 32, 32, { channels: 1, filter: 'lanczos' });
    assert.ok(flat.every((v) => v === 77));
  });
});

describe('pillowResize is Pillow bit for bit', () => {
  const found = pythons();

  it('finds Debian’s Pillow to compare with', () => {
    assert.ok(found.includes('/usr/bin/python3'), 'python3-pil and python3-numpy are installed (Debian)');
  });

  for (const python of found) {
    it(`gives Pillow's pixels on ${COUNT} generated images (${python})`, () =>
      withPillowCases<Case>(python, 'resize', (cases, pillow, data) => {
        const seen = { filters: new Set<string>(), modes: new Set<string>(), largest: 0, boxes: 0, up: 0, down: 0 };
        const failures: string[] = [];
        for (const [i, c] of cases.entries()) {
          const src = data.subarray(c.src, c.src + c.width * c.height * c.channels);
          const want = data.subarray(c.out, c.out + c.outWidth * c.outHeight * c.channels);
          const got = pillowResize(src, c.width, c.height, c.outWidth, c.outHeight, {
            channels: c.channels,
            filter: c.filter,
            box: c.box ?? undefined,
            pillow,
          });
          const { differing, worst } = compare(got, want);
          if (differing > 0)
            failures.push(
              `case ${i}: ${c.mode} ${c.width}x${c.height} → ${c.outWidth}x${c.outHeight} ${c.filter}${c.box ? ` box ${c.box.join(',')}` : ''}: ${differing} of ${want.length} values differ (by up to ${worst})`,
            );
          seen.filters.add(c.filter);
          seen.modes.add(c.mode);
          seen.largest = Math.max(seen.largest, c.width * c.height);
          if (c.box) seen.boxes++;
          if (c.outWidth * c.outHeight > c.width * c.height) seen.up++;
          else seen.down++;
        }
        assert.deepEqual(
          failures.slice(0, 10),
          [],
          `Pillow ${pillow}: ${failures.length} of ${cases.length} cases differ`,
        );
        // The cases cover what the test says they do.
        assert.equal(seen.filters.size, 6);
        assert.equal(seen.modes.size, 4);
        if (COUNT >= 1000) {
          assert.equal(seen.largest, 1000 * 700);
          assert.ok(seen.boxes > 50 && seen.up > 200 && seen.down > 200, JSON.stringify(seen));
        }
      }));
  }
});

describe('an uploaded image becomes the pixels a Pillow pipeline makes of it', () => {
  for (const python of pythons()) {
    it(`decodes, converts and resizes ${COUNT} JPEG, PNG, WebP, BMP and GIF files as Pillow does (${python})`, () =>
      withPillowCases<PipelineCase>(python, 'pipeline', async (cases, pillow, expected, dir) => {
        const failures: string[] = [];
        const seen = new Set<string>();
        for (const c of cases) {
          const image = await ImageInput.probe(readFileSync(join(dir, c.file)), 1e8);
          const got = await image.toPixels({
            width: c.outWidth,
            height: c.outHeight,
            channels: c.channels,
            kernel: c.kernel,
            pillow,
          });
          const want = expected.subarray(c.out, c.out + c.outWidth * c.outHeight * c.channels);
          const { differing, worst } = compare(got.data, want);
          if (differing > 0)
            failures.push(
              `${c.file} (${c.mode} ${c.width}x${c.height} → ${c.outWidth}x${c.outHeight}x${c.channels} ${c.kernel}): ${differing} of ${want.length} values differ (by up to ${worst})`,
            );
          seen.add(`${c.format} ${c.mode}`);
        }
        assert.deepEqual(
          failures.slice(0, 10),
          [],
          `Pillow ${pillow}: ${failures.length} of ${cases.length} images differ`,
        );
        const tried = [...seen].join(', ');
        for (const format of ['jpeg', 'png', 'webp', 'bmp'])
          assert.ok(
            [...seen].some((s) => s.startsWith(format)),
            `${format} files were tried: ${tried}`,
          );
        for (const mode of ['L', 'RGB', 'RGBA', 'P'])
          assert.ok(
            [...seen].some((s) => s.endsWith(` ${mode}`)),
            `${mode} images were tried: ${tried}`,
          );
      }));
  }
});
