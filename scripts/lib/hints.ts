/**
 * Reads `katas/<slug>/HINTS.md`: `## Stage N: <title>` headings, each followed by a numbered list
 * of hints that reveal a little more each time.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { KATAS_DIR } from './paths.ts';

export interface StageHints {
  number: number;
  title: string;
  hints: string[];
}

export const hintsFile = (slug: string): string => path.join(KATAS_DIR, slug, 'HINTS.md');

export function parseHints(markdown: string): StageHints[] {
  const stages: StageHints[] = [];
  let current: StageHints | undefined;
  for (const line of markdown.split(/\r?\n/)) {
    const heading = /^##\s+Stage\s+(\d+):\s*(.+?)\s*$/i.exec(line);
    if (heading) {
      current = { number: Number(heading[1]), title: heading[2]!, hints: [] };
      stages.push(current);
      continue;
    }
    if (!current) continue;
    const item = /^\s*\d+\.\s+(.*)$/.exec(line);
    if (item) current.hints.push(item[1]!);
    else if (line.trim() !== '' && current.hints.length > 0 && /^\s+\S/.test(line)) {
      // A hint that wraps onto indented continuation lines.
      current.hints[current.hints.length - 1] += ` ${line.trim()}`;
    }
  }
  return stages;
}

export const readHints = (slug: string): StageHints[] =>
  parseHints(readFileSync(hintsFile(slug), 'utf8'));
