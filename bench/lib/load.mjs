// Runs autocannon in its own process (so the load generator does not share the server's event loop) and
// prints its result as JSON, with the CPU seconds it used. Bodies are read as bytes: autocannon's CLI -i reads files as UTF-8 text,
// which corrupts binary uploads.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

const [url, connections, duration, contentType, bodyFile] = process.argv.slice(2);
const cpu = process.cpuUsage();
const result = await autocannon({
  url,
  method: 'POST',
  connections: Number(connections),
  duration: Number(duration),
  headers: { 'content-type': contentType },
  body: readFileSync(bodyFile),
});
// The load generator's own CPU time, so that a budget can leave its share of the cores out (budget.mjs).
const used = process.cpuUsage(cpu);
console.log(JSON.stringify({ ...result, cpu_seconds: (used.user + used.system) / 1e6 }));
