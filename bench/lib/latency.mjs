// One client, one request at a time, timed with sub-millisecond precision (autocannon reports whole
// milliseconds). Prints JSON: p50/p90 in ms over the requests after a warm-up.
import { readFileSync } from 'node:fs';
import { request } from 'node:http';

const [url, contentType, bodyFile, countArg] = process.argv.slice(2);
const body = readFileSync(bodyFile);
const count = Number(countArg ?? 500);
const agent = new (await import('node:http')).Agent({ keepAlive: true, maxSockets: 1 });

function once() {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': contentType, 'content-length': body.length } },
      (res) => {
        res.on('data', () => undefined);
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(Number(process.hrtime.bigint() - t0) / 1e6)
            : reject(new Error(`status ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

for (let i = 0; i < 100; i++) await once();
const times = [];
for (let i = 0; i < count; i++) times.push(await once());
times.sort((a, b) => a - b);
const at = (q) => Math.round(times[Math.floor(q * (times.length - 1))] * 1000) / 1000;
console.log(JSON.stringify({ p50_ms: at(0.5), p90_ms: at(0.9), requests: count }));
agent.destroy();
