import { createServer } from 'node:net';
import { PortUnavailableError } from '../errors.js';

/** What a failed listen on `host:port` means to the person who chose them. */
export function listenError(err: NodeJS.ErrnoException, port: number, host: string): Error {
  const where = `${host}:${port}`;
  const advice = 'choose another with --port (or the PORT setting)';
  switch (err.code) {
    case 'EADDRINUSE':
      return new PortUnavailableError(
        `port ${port} is already in use (${where}): stop what listens there, or ${advice}`,
      );
    case 'EACCES':
      return new PortUnavailableError(`port ${port} needs privileges this process lacks (${where}): ${advice}`);
    case 'EADDRNOTAVAIL':
      return new PortUnavailableError(
        `${host} is not an address of this machine: choose another with --host (or the HOST setting)`,
      );
    default:
      return err;
  }
}

/**
 * Fails fast, before any model loads (which can take minutes), when `port` cannot be listened on. Port 0 (any free
 * port) always passes. The port is released again at once, so another process may still take it before the
 * server listens; the server's own listen reports that rare case the same way.
 */
export function checkPortFree(port: number, host: string): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, port, host)));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}
