import type { Socket } from 'node:net';

/** How long a refused upload may keep sending after its answer before the connection is cut. */
const LINGER_MS = 5000;

/**
 * When the server answers before it has read the whole request body (a 413
 * for a declared length over the limit), Node closes the connection right
 * after the answer. The client is still sending; the kernel then resets the
 * connection, and the reset can discard the answer before the client reads
 * it. As nginx's lingering close does, this socket keeps reading (the HTTP
 * parser discards the rest of the body) for a bounded time after the answer,
 * and closes once the client stops sending.
 */
export function lingerBeforeClose(socket: Socket | null | undefined): void {
  if (!socket || socket.destroyed || (socket as { bentoLingering?: boolean }).bentoLingering) return;
  (socket as { bentoLingering?: boolean }).bentoLingering = true;
  const s = socket as Socket & { destroySoon?: () => void };
  s.destroySoon = () => {
    const cut = () => {
      clearTimeout(timer);
      s.destroy();
    };
    const timer = setTimeout(cut, LINGER_MS);
    timer.unref();
    s.once('end', cut);
    // Our side is done: the answer is flushed, then FIN; the client's side stays open to finish its upload.
    s.end();
  };
}
