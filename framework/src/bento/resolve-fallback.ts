import { existsSync } from 'node:fs';
import { register } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const registered = new Set<string>();

/**
 * Lets a bento without node_modules import its dependencies from the running
 * framework's installation (see resolve-hooks.ts). Called on the HTTP thread and
 * in every runner worker, since each thread resolves its own imports.
 */
export function useFrameworkModulesFor(bentoDir: string): void {
  if (existsSync(join(bentoDir, 'node_modules')) || registered.has(bentoDir)) return;
  registered.add(bentoDir);
  register(new URL('./resolve-hooks.js', import.meta.url), {
    data: { scope: pathToFileURL(bentoDir).href + '/', parentURL: new URL('../index.js', import.meta.url).href },
  });
}
