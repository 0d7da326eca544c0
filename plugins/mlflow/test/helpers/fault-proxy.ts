/**
 * An HTTP proxy in front of a real MLflow that injects transfer faults into
 * artifact downloads: it cuts a download off halfway, or sends its headers and
 * then stalls. Everything else passes through unchanged.
 */
import { type Server, createServer, request } from 'node:http';

export type Fault = 'truncate' | 'stall';

export class FaultProxy {
  private server?: Server;
  /** Faults still to inject, in order; when empty, downloads pass through. */
  faults: Fault[] = [];
  /** Downloads seen, and how each was treated. */
  readonly downloads: Array<{ path: string; fault?: Fault }> = [];
  url = '';

  constructor(
    private readonly upstream: string,
    /** Which downloads to interfere with: the path of a GET of one artifact file. */
    private readonly target: RegExp = /\/api\/2\.0\/mlflow-artifacts\/artifacts\/.*model\.onnx$/,
  ) {}

  async start(): Promise<this> {
    const up = new URL(this.upstream);
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      const fault = req.method === 'GET' && this.target.test(path) ? this.faults.shift() : undefined;
      if (req.method === 'GET' && this.target.test(path)) this.downloads.push({ path, fault });
      const forward = request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: { ...req.headers, host: up.host } }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        // The client has the status and the length before anything goes wrong: the fault hits the body itself.
        if (fault) res.flushHeaders();
        if (!fault) {
          upRes.pipe(res);
          return;
        }
        const declared = Number(upRes.headers['content-length'] ?? 0);
        let sent = 0;
        upRes.on('data', (chunk: Buffer) => {
          if (fault === 'stall') return;
          const room = Math.max(0, Math.floor(declared / 2) - sent);
          if (room > 0) res.write(chunk.subarray(0, room));
          sent += Math.min(room, chunk.length);
          if (sent >= Math.floor(declared / 2)) res.destroy();
        });
        // A stalled answer holds its connection open until the client gives up.
        upRes.on('end', () => fault === 'truncate' && res.destroy());
      });
      forward.on('error', () => res.destroy());
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}
