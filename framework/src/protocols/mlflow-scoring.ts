/**
 * MLflow's scoring protocol (what `mlflow models serve` answers), over the
 * service's single model, so bento-ts stands in for it: `POST /invocations`
 * with `dataframe_split`, `dataframe_records`, `instances`, `inputs` or CSV,
 * read and checked against the model's signature by MLflow's rules
 * (mlflow-request.ts, mlflow-schema.ts), answered with `{"predictions": ...}`
 * shaped as the model's flavor answers (mlflow-predictions.ts); `GET /ping`,
 * `/health` and `/version`. Refusals carry MLflow's `error_code` and
 * `message` beside bento-ts's `error`.
 */
import type { FastifyInstance } from 'fastify';
import { MlflowInputError } from '../errors.js';
import { toErrorResponse } from '../server/error-handler.js';
import type { GuardRequest, InferenceTarget } from './inference-target.js';
import { mediaTypeOf, parseScoringRequest } from './mlflow-request.js';
import { predictions } from './mlflow-predictions.js';
import { scoringFeeds, scoringSchema } from './mlflow-schema.js';
import { rawBodies } from './raw-body.js';

export function installMlflowScoring(
  app: FastifyInstance,
  target: InferenceTarget,
  serverVersion: string,
  maxBodyBytes: number,
  guard: GuardRequest,
  taken: (route: string) => boolean,
): void {
  app.register(async (scoring) => {
    rawBodies(scoring, maxBodyBytes);
    scoring.setErrorHandler((err, _req, reply) => {
      const { status, body, retryAfter } = toErrorResponse(err);
      if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
      // MLflow's clients read error_code and message; bento-ts's read error.
      const mlflowCode =
        err instanceof MlflowInputError ? err.mlflowCode : status === 400 ? 'BAD_REQUEST' : body.error.code;
      return reply
        .code(status)
        .type('application/json')
        .send({ error_code: mlflowCode, message: body.error.message, ...body });
    });
    const probe = async (_req: unknown, reply: { type(t: string): { send(b: string): unknown } }) =>
      reply.type('application/json').send('\n');
    if (!taken('/ping')) scoring.get('/ping', probe);
    if (!taken('/health')) scoring.get('/health', probe);
    if (!taken('/version'))
      scoring.get('/version', async (_req, reply) => reply.type('application/json').send(serverVersion));
    if (!taken('/invocations')) {
      scoring.post('/invocations', (req) =>
        guard(req, async () => {
          const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
          const input = parseScoringRequest(body, mediaTypeOf(req.headers['content-type']));
          const model = target.model;
          const { feeds, table } = scoringFeeds(input, scoringSchema(model), Math.ceil(body.length / 2) + 1);
          return { predictions: predictions(await target.infer(feeds), model, table) };
        }),
      );
    }
  });
}
