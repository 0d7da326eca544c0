import { pathToFileURL } from 'node:url';
import { ServiceDefinitionError } from '../errors.js';
import { getApis } from '../sdk/decorators/api.js';
import { getServiceDefinition } from '../sdk/decorators/service.js';
import type { Constructor } from '../sdk/metadata.js';

export interface LoadedServiceModule {
  moduleUrl: string;
  exportName: string;
  cls: Constructor;
}

/** Imports a compiled service module and finds its `@service` class. */
export async function importService(file: string): Promise<LoadedServiceModule> {
  const moduleUrl = pathToFileURL(file).href;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(moduleUrl)) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof ServiceDefinitionError) throw err;
    throw new ServiceDefinitionError(`importing the service module ${file} failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const found = Object.entries(mod).filter(
    ([, v]) => typeof v === 'function' && getServiceDefinition(v as Constructor),
  );
  if (found.length === 0)
    throw new ServiceDefinitionError(
      `${file} exports no @service class; export the class decorated with @service(...)`,
    );
  if (found.length > 1) {
    const names = found.map(([k]) => k).join(', ');
    throw new ServiceDefinitionError(`${file} exports several @service classes (${names}); a module serves one`);
  }
  const [exportName, cls] = found[0] as [string, Constructor];
  if (getApis(cls).length === 0) throw new ServiceDefinitionError(`service ${exportName} has no @api methods`);
  return { moduleUrl, exportName, cls };
}
