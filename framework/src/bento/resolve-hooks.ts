/**
 * Module resolution hooks (node:module `register`) for serving a bento that has
 * no node_modules of its own: a bare import from inside the bento that Node
 * cannot find is resolved again from the running framework, so the service gets
 * the very same framework and plugin modules as the server (one module instance,
 * one set of decorator metadata). Imports from outside the bento are untouched.
 */
interface HookData {
  /** file: URL of the bento directory, ending in "/". */
  scope: string;
  /** file: URL to resolve from instead (a module of the running framework). */
  parentURL: string;
}

let data: HookData | undefined;

export function initialize(d: HookData): void {
  data = d;
}

type Next = (specifier: string, context: { parentURL?: string }) => Promise<unknown>;

const isBare = (s: string) => !s.startsWith('.') && !s.startsWith('/') && !/^[a-z][a-z0-9+.-]*:/i.test(s);

export async function resolve(specifier: string, context: { parentURL?: string }, next: Next): Promise<unknown> {
  try {
    return await next(specifier, context);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (!data || code !== 'ERR_MODULE_NOT_FOUND' || !isBare(specifier) || !context.parentURL?.startsWith(data.scope))
      throw err;
    return next(specifier, { ...context, parentURL: data.parentURL });
  }
}
