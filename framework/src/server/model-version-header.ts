import type { FastifyInstance, FastifyRequest } from 'fastify';
import { collectAnswers } from '../request/answered-by.js';

const ANSWERS = Symbol('bento.answers');
type Collecting = FastifyRequest & { [ANSWERS]?: Set<string> };

/**
 * `X-Model-Version` on every answer that ran a model: the versions (`name/version`) of the models that computed
 * it, comma-separated when several did. Installed while some runner follows a moving model URI or serves several
 * variants, so that a client can tell which side of a hot update, or which variant, answered it; with variants,
 * `variantHeader` names the request header that picks one.
 */
export function installModelVersionHeader(app: FastifyInstance, variantHeader?: string): void {
  app.addHook('preHandler', (req, _reply, done) => {
    const models = new Set<string>();
    (req as Collecting)[ANSWERS] = models;
    const asked = variantHeader ? req.headers[variantHeader] : undefined;
    collectAnswers(models, done, Array.isArray(asked) ? asked[0] : asked);
  });
  app.addHook('onSend', (req, reply, payload, done) => {
    const models = (req as Collecting)[ANSWERS];
    if (models?.size) reply.header('x-model-version', [...models].join(', '));
    done(null, payload);
  });
}
