// Where the microseconds of one /predict_image go before inference: probing, decoding and resizing an upload to the
// bundled model's 32×32×3 (Pillow's bilinear resize, bit for bit), by format and size, on the event-loop path
// (BENTO_JS_DECODE_MAX_PIXELS above the image: PNG decoded by pngjs, JPEG by sharp, resized on the HTTP thread) and
// on the off-loop path (0: decoded by sharp in its thread pool, resized on a resize-pool worker). Sequential, one
// image at a time: this is latency per image, not throughput. Prints a Markdown table; writes results/decode.json.
import { fileURLToPath } from 'node:url';
import { writeResult } from './lib/common.mjs';
import sharp from 'sharp';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECONDS = Number(process.env.BENCH_DECODE_SECONDS ?? 1);
const target = { width: 32, height: 32, channels: 3 };

async function image(format, size) {
  const noise = Buffer.alloc(size * size * 3);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
  const s = sharp(noise, { raw: { width: size, height: size, channels: 3 } });
  return format === 'png' ? s.png().toBuffer() : s.jpeg({ quality: 90 }).toBuffer();
}

async function perImage(fn) {
  for (let i = 0; i < 20; i++) await fn();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) {
    await fn();
    n++;
  }
  return Math.round(((performance.now() - t0) / n) * 1000);
}

async function measure(jsMaxPixels, format, size, data) {
  process.env.BENTO_JS_DECODE_MAX_PIXELS = String(jsMaxPixels);
  // The threshold is read at import: load a fresh copy of the module for each setting.
  const { ImageInput } = await import(`${ROOT}framework/dist/src/vision/image-input.js?max=${jsMaxPixels}`);
  return perImage(async () => (await ImageInput.probe(data, 25_000_000)).toPixels(target));
}

const rows = [];
for (const format of ['png', 'jpeg']) {
  for (const size of [28, 64, 96, 224, 512]) {
    const data = await image(format, size);
    const js = await measure(1e9, format, size, data);
    const native = await measure(0, format, size, data);
    rows.push({ format, size: `${size}×${size}`, bytes: data.length, js_us: js, sharp_us: native });
  }
}
writeResult('decode.json', rows);
console.log('| format | size | bytes | on the event loop µs | off it µs |\n|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.format} | ${r.size} | ${r.bytes} | ${r.js_us} | ${r.sharp_us} |`);
