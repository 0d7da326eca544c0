/**
 * {{name}}: a service with no model yet, made with `bento new --template blank`.
 * Every @api method is a route: POST /echo takes the JSON its schema allows and
 * the server refuses anything else with a 400 before the method runs.
 * Add a model with a @runnable class (see the image-classifier and tensor templates).
 */
import { JSONBody, api, service } from '@bento-ts/framework';

interface EchoRequest {
  text: string;
  times?: number;
}

const ECHO_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['text'],
  properties: {
    text: { type: 'string', maxLength: 1000 },
    times: { type: 'integer', minimum: 1, maximum: 10 },
  },
};

@service({ name: '{{name}}' })
export class {{className}}Service {
  @api({ input: JSONBody<EchoRequest>({ schema: ECHO_SCHEMA }), summary: 'Repeat a text' })
  async echo(request: EchoRequest) {
    return { echo: Array.from({ length: request.times ?? 1 }, () => request.text).join(' ') };
  }

  @api({ method: 'GET', summary: 'Service health', traffic: false })
  async health() {
    return { status: 'healthy', service: '{{name}}' };
  }
}
