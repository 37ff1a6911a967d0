/**
 * `kata start <slug>`: the kata's README in the terminal (through the pager at a terminal), the file
 * to edit and how to grade it.
 */
import path from 'node:path';
import { Command } from 'commander';
import pc from '../lib/colour.ts';
import { renderMarkdownFile, slugArgument } from '../lib/cli.ts';
import { requireKata } from '../lib/katas.ts';
import { KATAS_DIR, kataFile, shown } from '../lib/paths.ts';
import { page } from '../lib/pager.ts';
import { recordActivity } from '../lib/progress.ts';

export function startCommand(): Command {
  return new Command('start')
    .description("print a kata's README and the file to edit")
    .addArgument(slugArgument())
    .action(async (slug: string) => {
      const kata = requireKata(slug);
      recordActivity(slug);
      const readme = await renderMarkdownFile(path.join(KATAS_DIR, slug, 'README.md'));
      const next = [
        '',
        `${pc.bold(kata.title)} ${pc.dim(`(${kata.difficulty})`)}`,
        `  edit   ${pc.cyan(shown(kataFile(slug)))}`,
        `  grade  ${pc.cyan(`npm run watch -- ${slug}`)} on every save, or ${pc.cyan(`npm test -- ${slug}`)} once`,
        `  stuck  ${pc.cyan(`npm run hint -- ${slug}`)}`,
      ].join('\n');
      // The README through the pager; what to do next stays on the screen after it.
      await page(readme);
      console.log(next);
    });
}
