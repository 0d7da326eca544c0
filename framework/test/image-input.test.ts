import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { encode as encodeBmp } from 'bmp-ts';
import sharp from 'sharp';
import {
  ImageInput,
  ImageTooLargeError,
  InvalidImageError,
  UnsupportedImageFormatError,
  resizePixels,
} from '../src/index.js';

const LIMIT = 25_000_000;
const RED = { r: 200, g: 20, b: 10 };

async function solid(format: 'png' | 'jpeg' | 'webp' | 'gif' | 'tiff' | 'avif', channels: 3 | 4 = 3): Promise<Buffer> {
  const background = channels === 4 ? { ...RED, alpha: 0.5 } : RED;
  const image = sharp({ create: { width: 40, height: 30, channels, background } });
  return image[format]().toBuffer();
}

function bmp24(width: number, height: number, rgb: [number, number, number]): Buffer {
  // bmp-ts takes ABGR-ordered pixels.
  const data = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++) data.set([0xff, rgb[2], rgb[1], rgb[0]], i * 4);
  return Buffer.from(encodeBmp({ data, width, height, bitPP: 24 }).data);
}

/** An 8-bit palette BMP, written by hand: every pixel is palette entry 1. */
function bmpPalette(width: number, height: number, rgb: [number, number, number]): Buffer {
  const rowBytes = Math.ceil(width / 4) * 4;
  const paletteBytes = 256 * 4;
  const offset = 14 + 40 + paletteBytes;
  const buf = Buffer.alloc(offset + rowBytes * height);
  buf.write('BM', 0, 'ascii');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(offset, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(width, 18);
  buf.writeInt32LE(height, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(8, 28);
  buf.writeUInt32LE(256, 46);
  buf.set([rgb[2], rgb[1], rgb[0], 0], 54 + 4);
  for (let y = 0; y < height; y++) buf.fill(1, offset + y * rowBytes, offset + y * rowBytes + width);
  return buf;
}

const TARGET = { width: 8, height: 8, channels: 3 as const };

function assertColour(px: Buffer, rgb: [number, number, number], tolerance = 6) {
  for (let c = 0; c < 3; c++) assert.ok(Math.abs(px[c] - rgb[c]) <= tolerance, `channel ${c}: ${px[c]} vs ${rgb[c]}`);
}

describe('ImageInput', () => {
  for (const format of ['png', 'jpeg', 'webp', 'gif', 'tiff', 'avif'] as const) {
    it(`decodes ${format} to RGB at the model's size`, async () => {
      const image = await ImageInput.probe(await solid(format), LIMIT);
      assert.equal(image.format, format);
      assert.deepEqual([image.width, image.height], [40, 30]);
      const px = await image.toPixels(TARGET);
      assert.equal(px.data.length, 8 * 8 * 3);
      assertColour(px.data, [200, 20, 10], format === 'jpeg' || format === 'avif' || format === 'gif' ? 16 : 2);
    });
  }

  it('decodes 24-bit and palette BMP, which sharp itself cannot', async () => {
    for (const data of [bmp24(10, 6, [30, 140, 220]), bmpPalette(10, 6, [30, 140, 220])]) {
      const image = await ImageInput.probe(data, LIMIT);
      assert.equal(image.format, 'bmp');
      assert.deepEqual([image.width, image.height], [10, 6]);
      assertColour((await image.toPixels(TARGET)).data, [30, 140, 220], 1);
    }
  });

  it('converts grey, alpha and 16-bit images instead of refusing them', async () => {
    const grey = await sharp({ create: { width: 5, height: 5, channels: 3, background: { r: 90, g: 90, b: 90 } } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    const px = await (await ImageInput.probe(grey, LIMIT)).toPixels(TARGET);
    assertColour(px.data, [90, 90, 90], 1);
    const rgba = await (await ImageInput.probe(await solid('png', 4), LIMIT)).toPixels(TARGET);
    assert.equal(rgba.channels, 3);
    const deep = await sharp({ create: { width: 5, height: 5, channels: 3, background: RED } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    assertColour((await (await ImageInput.probe(deep, LIMIT)).toPixels(TARGET)).data, [200, 20, 10], 2);
  });

  it('turns colour into one grey channel for single-channel models', async () => {
    const px = await (await ImageInput.probe(await solid('png'), LIMIT)).toPixels({ width: 4, height: 4, channels: 1 });
    assert.equal(px.channels, 1);
    assert.equal(px.data.length, 16);
  });

  it('takes the first frame of an animated GIF', async () => {
    const frames = await sharp({ create: { width: 6, height: 12, channels: 3, background: RED } })
      .gif()
      .toBuffer();
    const anim = await sharp(frames, { raw: undefined }).gif({ loop: 0 }).toBuffer();
    const image = await ImageInput.probe(anim, LIMIT);
    assert.equal(image.format, 'gif');
    assert.equal((await image.toPixels(TARGET)).data.length, 192);
  });

  it('renders SVG, and never fetches or reads what an SVG links to', async () => {
    const plain = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10"><rect width="20" height="10" fill="rgb(200,20,10)"/></svg>',
    );
    const image = await ImageInput.probe(plain, LIMIT);
    assert.equal(image.format, 'svg');
    assertColour((await image.toPixels(TARGET)).data, [200, 20, 10], 2);
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 255, g: 255, b: 255 } } })
      .png()
      .toBuffer();
    const dir = mkdtempSync(join(tmpdir(), 'bento-svg-'));
    writeFileSync(join(dir, 'white.png'), png);
    for (const href of [`file://${join(dir, 'white.png')}`, join(dir, 'white.png'), 'http://127.0.0.1:9/x.png']) {
      const svg = Buffer.from(
        `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="8" height="8"><image xlink:href="${href}" width="8" height="8"/></svg>`,
      );
      const px = await (await ImageInput.probe(svg, LIMIT)).toPixels(TARGET);
      assert.ok(
        px.data.every((v) => v === 0),
        `${href} was loaded`,
      );
    }
    const xxe = Buffer.from(
      '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><text>&x;</text></svg>',
    );
    await assert.rejects(async () => (await ImageInput.probe(xxe, LIMIT)).toPixels(TARGET), InvalidImageError);
  });

  it('refuses an empty file, text, HTML and a truncated JPEG with 4xx errors', async () => {
    await assert.rejects(
      ImageInput.probe(Buffer.alloc(0), LIMIT),
      (e: Error) => e instanceof InvalidImageError && /empty/.test(e.message),
    );
    await assert.rejects(
      ImageInput.probe(Buffer.from('just some text, not an image'), LIMIT),
      UnsupportedImageFormatError,
    );
    await assert.rejects(
      ImageInput.probe(Buffer.from('<html><body>hi</body></html>'), LIMIT),
      UnsupportedImageFormatError,
    );
    const jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: RED } })
      .jpeg()
      .toBuffer();
    const truncated = jpeg.subarray(0, Math.floor(jpeg.length / 2));
    await assert.rejects(async () => (await ImageInput.probe(truncated, LIMIT)).toPixels(TARGET), InvalidImageError);
  });

  it('refuses a truncated BMP', async () => {
    const bmp = bmp24(10, 6, [1, 2, 3]);
    await assert.rejects(
      async () => (await ImageInput.probe(bmp.subarray(0, 20), LIMIT)).toPixels(TARGET),
      InvalidImageError,
    );
    await assert.rejects(
      async () => (await ImageInput.probe(bmp.subarray(0, 80), LIMIT)).toPixels(TARGET),
      InvalidImageError,
    );
  });

  it('refuses decompression bombs from the header, before decoding', async () => {
    // 6000 x 5000 = 30 Mpx of one colour compresses to a few KB.
    const bomb = await sharp({ create: { width: 6000, height: 5000, channels: 3, background: { r: 0, g: 0, b: 0 } } })
      .png({ compressionLevel: 9 })
      .toBuffer();
    assert.ok(bomb.length < 200_000);
    await assert.rejects(
      ImageInput.probe(bomb, LIMIT),
      (e: Error) => e instanceof ImageTooLargeError && /6000x5000/.test(e.message),
    );
    // A BMP header declaring 100000 x 100000 pixels, with no pixel data at all.
    const header = bmp24(2, 2, [0, 0, 0]);
    header.writeInt32LE(100_000, 18);
    header.writeInt32LE(100_000, 22);
    await assert.rejects(ImageInput.probe(header, LIMIT), ImageTooLargeError);
  });
});

describe('resizePixels', () => {
  it('returns pixels untouched when they already fit, and converts otherwise', async () => {
    const pixels = { data: Buffer.alloc(8 * 8 * 3, 7), width: 8, height: 8, channels: 3 };
    assert.equal(await resizePixels(pixels, TARGET), pixels);
    const rgba = { data: Buffer.alloc(4 * 4 * 4, 100), width: 4, height: 4, channels: 4 };
    const out = await resizePixels(rgba, TARGET);
    assert.deepEqual([out.width, out.height, out.channels], [8, 8, 3]);
    const grey = { data: Buffer.alloc(8 * 8, 50), width: 8, height: 8, channels: 1 };
    const rgb = await resizePixels(grey, TARGET);
    assert.equal(rgb.channels, 3);
    assertColour(rgb.data, [50, 50, 50], 1);
  });
});
