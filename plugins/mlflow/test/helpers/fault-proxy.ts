/**
 * An HTTP proxy in front of a real MLflow (or a real S3-compatible store) that injects faults: it cuts an artifact
 * download off halfway, sends its headers and then stalls, flips a byte of it (same length, other content), or
 * holds every download a while (a slow store); and it can rewrite the answers of other requests (a listing that
 * names hostile paths). Everything else passes through unchanged.
 */
import { type IncomingHttpHeaders, type Server, createServer, request } from 'node:http';

export type Fault = 'truncate' | 'stall' | 'corrupt';

export interface FaultProxyOptions {
  /**
   * Forward the client's Host header as it is, rather than the upstream's: an S3 request is signed over its Host,
   * and the store checks the signature against the Host it receives.
   */
  keepHost?: boolean;
}

export class FaultProxy {
  private server?: Server;
  /** Faults still to inject, in order; when empty, downloads pass through. */
  faults: Fault[] = [];
  /** Downloads seen, and how each was treated. */
  readonly downloads: Array<{ path: string; fault?: Fault }> = [];
  /** Rewrites the body of every answer to a GET whose path and query match `match`. */
  alter?: { match: RegExp; body: (text: string) => string };
  /** Holds every download (as `target` matches) this long before passing it on: a slow store. */
  slowMs = 0;
  /** Downloads whose answer has not been sent whole yet. */
  inFlight = 0;
  url = '';

  constructor(
    private readonly upstream: string,
    /** Which downloads to interfere with: the path of a GET of one artifact file. */
    private readonly target: RegExp = /\/api\/2\.0\/mlflow-artifacts\/artifacts\/.*model\.onnx$/,
    private readonly options: FaultProxyOptions = {},
  ) {}

  async start(): Promise<this> {
    const up = new URL(this.upstream);
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const download = req.method === 'GET' && this.target.test(path);
      const fault = download ? this.faults.shift() : undefined;
      if (download) {
        this.downloads.push({ path, fault });
        this.inFlight++;
        res.once('close', () => this.inFlight--);
      }
      const alter = req.method === 'GET' && this.alter?.match.test(req.url ?? '') ? this.alter.body : undefined;
      const headers = this.options.keepHost ? req.headers : { ...req.headers, host: up.host };
      const delay = download ? this.slowMs : 0;
      const forward = () =>
        request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers }, (upRes) => {
          if (alter)
            return void rewritten(upRes.headers, upRes, alter).then(([h, body]) =>
              res.writeHead(upRes.statusCode ?? 502, h).end(body),
            );
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          if (!fault) {
            upRes.pipe(res);
            return;
          }
          // The client has the status and the length before anything goes wrong: the fault hits the body itself.
          res.flushHeaders();
          const declared = Number(upRes.headers['content-length'] ?? 0);
          const half = Math.floor(declared / 2);
          let sent = 0;
          upRes.on('data', (chunk: Buffer) => {
            if (fault === 'stall') return;
            if (fault === 'corrupt') {
              if (sent <= half && half < sent + chunk.length) chunk[half - sent] ^= 0xff;
              sent += chunk.length;
              res.write(chunk);
              return;
            }
            const room = Math.max(0, half - sent);
            if (room > 0) res.write(chunk.subarray(0, room));
            sent += Math.min(room, chunk.length);
            if (sent >= half) res.destroy();
          });
          // A stalled answer holds its connection open until the client gives up.
          upRes.on('end', () => (fault === 'corrupt' ? res.end() : fault === 'truncate' && res.destroy()));
        });
      const send = () => {
        const upstream = forward();
        upstream.on('error', () => res.destroy());
        req.pipe(upstream);
      };
      if (delay > 0) setTimeout(send, delay);
      else send();
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

/** The whole body of `stream` passed through `change`, with headers that fit it. */
async function rewritten(
  headers: IncomingHttpHeaders,
  stream: AsyncIterable<Buffer>,
  change: (text: string) => string,
): Promise<[IncomingHttpHeaders, Buffer]> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  const body = Buffer.from(change(Buffer.concat(chunks).toString('utf8')));
  const { 'transfer-encoding': _chunked, ...rest } = headers;
  return [{ ...rest, 'content-length': String(body.length) }, body];
}
