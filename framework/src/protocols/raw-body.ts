import type { FastifyInstance } from 'fastify';

/**
 * Makes every request body in this (encapsulated) context arrive as bytes,
 * whatever its content type: the protocols parse JSON headers, binary tensors
 * and CSV themselves.
 */
export function rawBodies(instance: FastifyInstance, maxBodyBytes: number): void {
  instance.removeAllContentTypeParsers();
  instance.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (_req, body, done) =>
    done(null, body),
  );
}
