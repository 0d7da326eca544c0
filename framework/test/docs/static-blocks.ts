/**
 * The blocks of a document that are not run: configuration samples, answers the reader will see, directory trees.
 * They rot as surely as commands do, so each kind is checked against what it shows:
 * - ```yaml bento.yaml: a bento.yaml (or a part of one) that the framework's own parser and schema accept;
 * - ```yaml excerpt=<file>: every key and value it shows is in that file of the current directory;
 * - any other ```yaml and every ```json: parses;
 * - ```text tree: every path it lists exists, relative to the current directory (indented entries under the
 *   unindented one before them);
 * - other ```text and bare blocks (terminal output, layouts inside a built bento): shown, counted, not checked.
 * A block of any other language is an error: the runner would otherwise skip it without a word.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseBentoYaml } from '../../src/config/bento-yaml.js';
import type { CodeBlock } from './markdown-blocks.js';

export type StaticOutcome = 'checked' | 'shown';

export class StaticBlockError extends Error {}

/** Whether everything `part` holds is in `whole` (mappings key by key, lists item by item, scalars equal). */
function contains(whole: unknown, part: unknown): boolean {
  if (Array.isArray(part)) return Array.isArray(whole) && part.every((p, i) => contains(whole[i], p));
  if (part && typeof part === 'object') {
    return (
      !!whole &&
      typeof whole === 'object' &&
      Object.entries(part).every(([k, v]) => contains((whole as Record<string, unknown>)[k], v))
    );
  }
  return whole === part;
}

function checkTree(code: string, cwd: string, where: string): void {
  let parent = '';
  const missing: string[] = [];
  for (const line of code.split('\n')) {
    const entry = /^( *)(\S+(?:, \S+)*)/.exec(line);
    // Lines indented past the entries are the previous entry's description continued.
    if (!entry || entry[1].length >= 10) continue;
    const top = entry[1].length === 0;
    for (const name of entry[2].split(', ')) {
      const path = top ? name : join(parent, name);
      if (!existsSync(join(cwd, path))) missing.push(path);
      if (top) parent = name;
    }
  }
  if (missing.length > 0)
    throw new StaticBlockError(`${where}: the tree lists paths that do not exist: ${missing.join(', ')}`);
}

export function checkStaticBlock(block: CodeBlock, cwd: string, where: string): StaticOutcome {
  const fail = (why: string) => new StaticBlockError(`${where}: ${why}\n--- block ---\n${block.code}`);
  switch (block.lang) {
    case 'yaml': {
      if (block.tags.includes('bento.yaml')) {
        try {
          parseBentoYaml(block.code, 'block');
        } catch (err) {
          throw fail((err as Error).message);
        }
        return 'checked';
      }
      let value: unknown;
      try {
        value = parse(block.code);
      } catch (err) {
        throw fail(`not valid YAML: ${(err as Error).message}`);
      }
      const excerpt = block.tags.find((t) => t.startsWith('excerpt='))?.slice('excerpt='.length);
      if (excerpt && !contains(parse(readFileSync(join(cwd, excerpt), 'utf8')), value))
        throw fail(`the excerpt is not what ${excerpt} holds`);
      return 'checked';
    }
    case 'json':
      try {
        JSON.parse(block.code);
      } catch (err) {
        throw fail(`not valid JSON: ${(err as Error).message}`);
      }
      return 'checked';
    case 'text':
    case '':
      if (!block.tags.includes('tree')) return 'shown';
      checkTree(block.code, cwd, where);
      return 'checked';
    default:
      throw fail(
        `a \`\`\`${block.lang} block the docs runner does not know: tag it (file=..., typecheck) or teach the runner its kind`,
      );
  }
}
