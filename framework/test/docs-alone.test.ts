/**
 * The documentation pages whose commands load the server (docs/performance.md runs the benchmarks,
 * docs/reliability.md the hostile-input suite), followed as docs.test.ts follows the others, in the test lane that
 * has the machine to itself (scripts/run-tests.mjs).
 */
import { describe, it } from 'node:test';
import { ALONE_PAGES, followPage } from './docs/follow-page.js';

describe('docs/, the pages that measure', { timeout: 3_600_000 }, () => {
  for (const page of ALONE_PAGES) it(`${page}: its commands run as written`, () => followPage(page));
});
