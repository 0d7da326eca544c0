import type { FastifyInstance, FastifyRequest } from 'fastify';
import { collectAnswers } from '../runner/answered-by.js';

const ANSWERS = Symbol('bento.answers');
type Collecting = FastifyRequest & { [ANSWERS]?: Set<string> };

/**
 * `X-Model-Version` on every answer that ran a model: the versions (`name/version`) of the models that computed
 * it, comma-separated when several did. Installed while some runner follows a moving model URI, so that a client
 * can tell which side of a hot update answered it.
 */
export function installModelVersionHeader(app: FastifyInstance): void {
  app.addHook('preHandler', (req, _reply, done) => {
    const models = new Set<string>();
    (req as Collecting)[ANSWERS] = models;
    collectAnswers(models, done);
  });
  app.addHook('onSend', (req, reply, payload, done) => {
    const models = (req as Collecting)[ANSWERS];
    if (models?.size) reply.header('x-model-version', [...models].join(', '));
    done(null, payload);
  });
}
