/**
 * The fenced code blocks of a Markdown document, as the docs tests run them.
 * The info string's first word is the language (what GitHub highlights); the
 * words after it are tags for the runner, e.g. ```bash background for a
 * command that keeps running (a server) while the blocks after it run.
 */
export interface CodeBlock {
  lang: string;
  tags: string[];
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** How many headings come before the block: blocks under the same heading share it. */
  section: number;
}

export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  let section = 0;
  for (let i = 0; i < lines.length; i++) {
    if (/^#{1,6}\s/.test(lines[i])) section++;
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)\s*(.*)$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang, rest] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !lines[j].trimStart().startsWith(fence); j++)
      body.push(lines[j].slice(Math.min(indent.length, lines[j].length - lines[j].trimStart().length)));
    blocks.push({
      lang: lang.toLowerCase(),
      tags: rest.split(/\s+/).filter(Boolean),
      code: body.join('\n'),
      line: i + 1,
      section,
    });
    i = j;
  }
  return blocks;
}

export const SHELL_LANGS = new Set(['bash', 'sh', 'shell', 'console']);
