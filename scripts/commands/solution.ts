/**
 * `kata solution <slug> [--force] [--yes]`: the reference, its NOTES and a diff from the learner's
 * code to it, once the learner's code passes the kata (graded now, not trusted from old results).
 * `--force` shows it earlier, after a spoiler warning: this is the hidden solution.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import pc from '../lib/colour.ts';
import { confirmed, gradeNow, renderMarkdownFile, slugArgument, stagesLine } from '../lib/cli.ts';
import { requireKata } from '../lib/katas.ts';
import { listAlternatives } from '../lib/alternatives.ts';
import { SOLUTIONS_DIR, kataFile, shown, solutionFile } from '../lib/paths.ts';
import { page } from '../lib/pager.ts';
import { touch, updateProgress } from '../lib/progress.ts';

export function solutionCommand(): Command {
  return new Command('solution')
    .description(
      'show the reference, its notes and a diff against your code, once your code passes',
    )
    .addArgument(slugArgument())
    .option('--force', 'show it before your code passes (spoiler warning first)')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (slug: string, options: { force?: boolean; yes?: boolean }) => {
      requireKata(slug);
      const result = await gradeNow(slug);
      const solved = result.status === 'solved';
      if (!solved && !options.force) {
        console.log(
          `${pc.yellow('Locked.')} The reference unlocks when your code passes every stage; ` +
            `yours: ${result.status.replace('-', ' ')}, ${stagesLine(result)}.\n` +
            `Keep going with ${pc.cyan(`npm run watch -- ${slug}`)}, ask ${pc.cyan(`npm run hint -- ${slug}`)}, ` +
            `or see it anyway with ${pc.cyan(`npm run solution -- ${slug} --force`)}.`,
        );
        process.exitCode = 1;
        return;
      }
      if (!solved) {
        console.log(
          pc.yellow(pc.bold('Spoiler warning: ')) +
            pc.yellow(
              `your code does not pass yet (${stagesLine(result)}). Reading the reference now ` +
                'turns the kata from recall into recognition; the list will note it.',
            ),
        );
        if (!(await confirmed('Show the reference anyway?', options.yes))) {
          console.log(pc.dim('Not shown. Try a hint: ') + pc.cyan(`npm run hint -- ${slug}`));
          return;
        }
      }
      updateProgress((kata) => {
        const progress = kata(slug);
        progress.solutionSeenAt ??= new Date().toISOString();
        if (!solved && !progress.solvedAt) progress.spoiler = true;
        touch(progress);
      });
      await printSolution(slug, solved);
    });
}

async function printSolution(slug: string, solved: boolean): Promise<void> {
  const { createTwoFilesPatch } = await import('diff');
  const ours = readFileSync(solutionFile(slug), 'utf8');
  const theirs = existsSync(kataFile(slug)) ? readFileSync(kataFile(slug), 'utf8') : '';
  const rule = (title: string): string =>
    pc.bold(`\n── ${title} ${'─'.repeat(Math.max(3, 70 - title.length))}`);
  const out: string[] = [];
  if (solved) out.push(pc.green(`${slug} is solved. Here is how we wrote it.`));
  out.push(rule(`the reference: ${shown(solutionFile(slug))}`));
  out.push(ours.trimEnd());
  out.push(rule(`notes: ${shown(path.join(SOLUTIONS_DIR, slug, 'NOTES.md'))}`));
  out.push(await renderMarkdownFile(path.join(SOLUTIONS_DIR, slug, 'NOTES.md')));
  out.push(rule('diff: your code → the reference'));
  const patch = createTwoFilesPatch(
    `${shown(kataFile(slug))} (yours)`,
    `${shown(solutionFile(slug))} (reference)`,
    theirs,
    ours,
    undefined,
    undefined,
    { context: 3 },
  );
  out.push(
    patch
      .split('\n')
      .filter((line) => !/^={3,}$/.test(line)) // the rule createTwoFilesPatch starts with
      .map((line) =>
        line.startsWith('+') && !line.startsWith('+++')
          ? pc.green(line)
          : line.startsWith('-') && !line.startsWith('---')
            ? pc.red(line)
            : line.startsWith('@@')
              ? pc.cyan(line)
              : line,
      )
      .join('\n')
      .trimEnd(),
  );
  const alternatives = listAlternatives(slug);
  if (alternatives.length > 0) {
    out.push(
      `\nAlso passing the same grader, written another way (NOTES says why): ` +
        alternatives.map((alternative) => shown(alternative.file)).join(', '),
    );
  }
  await page(out.join('\n'));
}
