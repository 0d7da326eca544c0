import { AsyncLocalStorage } from 'node:async_hooks';
import { basename } from 'node:path';
import type { ModelInfo } from '../models/model.js';

/**
 * Which model versions answered a request. While a runner follows a moving model URI, a hot update can swap the
 * model between two requests, or between the calls of one; each runner call notes the version that ran it, and the
 * server reports them in the `X-Model-Version` header. Only turned on while some runner follows (AsyncLocalStorage
 * costs every promise a little).
 */
interface RequestScope {
  models: Set<string>;
  /** The variant the request asked for by header, if any. */
  variant?: string;
}
const scope = new AsyncLocalStorage<RequestScope>();
const ANSWERED_BY = Symbol('bento.answeredBy');

/** How a model version is named in the header: `name/version`, or the model directory's name. */
export function modelLabel(model: ModelInfo): string {
  const name = model.name ?? basename(model.path);
  return model.version ? `${name}/${model.version}` : name;
}

/**
 * Runs `fn` (the rest of a request's handling) with `models` collecting the versions its runner calls note, and
 * the variant the request asked for.
 */
export function collectAnswers(models: Set<string>, fn: () => void, variant?: string): void {
  scope.run({ models, variant }, fn);
}

/** Notes that `model` answered a call of the request being handled, if one is collecting. */
export function noteAnswer(model: string): void {
  scope.getStore()?.models.add(model);
}

/** The variant the request being handled asked for (its header), if any. */
export function requestedVariant(): string | undefined {
  return scope.getStore()?.variant;
}

/** Runs `fn` outside any request: a shadow call's version is not the request's answer. */
export function outsideRequest<R>(fn: () => R): R {
  return scope.exit(fn);
}

/** Tags a batch's piece of output with the model that computed it, for its caller to note. */
export function tagAnswer<T extends object>(value: T, model: string | undefined): T {
  if (model !== undefined) Object.defineProperty(value, ANSWERED_BY, { value: model });
  return value;
}

export function taggedModel(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null ? (value as { [ANSWERED_BY]?: string })[ANSWERED_BY] : undefined;
}
