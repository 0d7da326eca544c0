// The raw ceiling: onnxruntime-node in-process, no HTTP, no decoding, one intra-op thread (as one
// runner worker), at several batch sizes. Prints JSON: items/s per batch size.
import ort from 'onnxruntime-node';

const [file, shapeArg, sizesArg, secondsArg, threadsArg] = process.argv.slice(2);
const item = shapeArg.split('x').map(Number);
const seconds = Number(secondsArg);
const session = await ort.InferenceSession.create(file, {
  intraOpNumThreads: Number(threadsArg),
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
});
const input = session.inputNames[0];
const out = {};
for (const n of sizesArg.split(',').map(Number)) {
  const size = n * item.reduce((a, b) => a * b, 1);
  const x = new ort.Tensor('float32', new Float32Array(size).fill(0.1), [n, ...item]);
  const warm = performance.now();
  while (performance.now() - warm < 300) await session.run({ [input]: x });
  const t0 = performance.now();
  let runs = 0;
  while (performance.now() - t0 < seconds * 1000) {
    await session.run({ [input]: x });
    runs++;
  }
  const elapsed = (performance.now() - t0) / 1000;
  out[n] = { items_per_sec: (runs * n) / elapsed, ms_per_batch: (elapsed * 1000) / runs };
}
console.log(JSON.stringify(out));
