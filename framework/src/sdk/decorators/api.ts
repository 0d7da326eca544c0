import { ServiceDefinitionError } from '../../errors.js';
import type { InputDescriptor, OutputSpec } from '../../io/descriptor.js';
import type { TrafficOptions } from './service.js';
import { APIS_KEY, type Constructor, appendOwn } from '../metadata.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface ApiOptions {
  /** URL path; defaults to `/<methodName>`. */
  route?: string;
  /** Defaults to POST, or GET for an API without input. GET cannot take input. */
  method?: HttpMethod;
  /** How the request body becomes the method's first argument (`Image()`, `NdArray()`, `JSONBody()`, `File()`). */
  input?: InputDescriptor<unknown>;
  /** The response's JSON schema (documentation and OpenAPI). */
  output?: OutputSpec;
  summary?: string;
  description?: string;
  /**
   * Overrides the service's traffic limits for this API (its own concurrency counter), or `false`
   * for none at all: what health checks want, so they answer even when the service is saturated.
   */
  traffic?: TrafficOptions | false;
  /**
   * Whether the API is served, asked once the service is built: an API that only some models can answer (an image
   * endpoint for a model that takes images). Default: always.
   */
  enabled?: (service: object) => boolean;
}

export interface ApiDefinition {
  /** The method's name on the service class. */
  name: string;
  route: string;
  method: HttpMethod;
  input?: InputDescriptor<unknown>;
  output?: OutputSpec;
  summary?: string;
  description?: string;
  traffic?: TrafficOptions | false;
  enabled?: (service: object) => boolean;
}

/**
 * Exposes a service method as an HTTP endpoint. The method receives the decoded
 * input and a RequestContext, and returns a JSON-serialisable value.
 */
export function api(options: ApiOptions = {}): MethodDecorator {
  return (target, key, descriptor) => {
    const name = String(key);
    const where = `@api on ${target.constructor.name}.${name}`;
    if (typeof descriptor.value !== 'function') throw new ServiceDefinitionError(`${where}: only methods can be APIs`);
    if (name.startsWith('__')) throw new ServiceDefinitionError(`${where}: API method names cannot start with "__"`);
    const route = options.route ?? `/${name}`;
    if (!route.startsWith('/')) throw new ServiceDefinitionError(`${where}: route "${route}" must start with "/"`);
    const method = options.method ?? (options.input ? 'POST' : 'GET');
    if (method === 'GET' && options.input) throw new ServiceDefinitionError(`${where}: a GET API cannot take input`);
    if (options.traffic) {
      for (const key of ['timeoutMs', 'maxConcurrency'] as const) {
        const v = options.traffic[key];
        if (v !== undefined && !(Number.isFinite(v) && v > 0))
          throw new ServiceDefinitionError(`${where}: traffic.${key} must be a positive number`);
      }
    }
    const definition: ApiDefinition = {
      name,
      route,
      method,
      input: options.input,
      output: options.output,
      summary: options.summary,
      description: options.description,
      traffic: options.traffic,
      enabled: options.enabled,
    };
    appendOwn(APIS_KEY, target.constructor, definition);
  };
}

/** The class's `@api` methods, inherited ones included, in declaration order. */
export function getApis(cls: Constructor): ApiDefinition[] {
  return (Reflect.getMetadata(APIS_KEY, cls) as ApiDefinition[] | undefined) ?? [];
}
