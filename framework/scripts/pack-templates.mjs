// npm pack of @bento-ts/framework: `prepack` copies the repository's templates/ into the package
// (bento new and bento build read them), `postpack` removes the copy again.
import { cpSync, rmSync } from 'node:fs';

const packaged = new URL('../templates/', import.meta.url);
if (process.argv[2] === 'clean') rmSync(packaged, { recursive: true, force: true });
else cpSync(new URL('../../templates/', import.meta.url), packaged, { recursive: true });
