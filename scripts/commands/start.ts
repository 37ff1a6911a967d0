/**
 * `kata start <slug>`: the kata's README in the terminal, the file to edit and how to grade it.
 */
import path from 'node:path';
import { Command } from 'commander';
import pc from '../lib/colour.ts';
import { renderMarkdownFile, slugArgument } from '../lib/cli.ts';
import { requireKata } from '../lib/katas.ts';
import { KATAS_DIR, kataFile, shown } from '../lib/paths.ts';
import { recordActivity } from '../lib/progress.ts';

export function startCommand(): Command {
  return new Command('start')
    .description("print a kata's README and the file to edit")
    .addArgument(slugArgument())
    .action(async (slug: string) => {
      const kata = requireKata(slug);
      console.log(await renderMarkdownFile(path.join(KATAS_DIR, slug, 'README.md')));
      console.log('');
      console.log(`${pc.bold(kata.title)} ${pc.dim(`(${kata.difficulty})`)}`);
      console.log(`  edit   ${pc.cyan(shown(kataFile(slug)))}`);
      console.log(
        `  grade  ${pc.cyan(`npm run watch -- ${slug}`)} on every save, or ${pc.cyan(`npm test -- ${slug}`)} once`,
      );
      console.log(`  stuck  ${pc.cyan(`npm run hint -- ${slug}`)}`);
      recordActivity(slug);
    });
}
