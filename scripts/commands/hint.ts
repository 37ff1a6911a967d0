/**
 * `kata hint <slug>`: the next hint of the stage the learner is stuck on (the first stage not fully
 * passed in the latest results), one at a time, remembering which were shown.
 */
import { existsSync } from 'node:fs';
import { Command } from 'commander';
import pc from '../lib/colour.ts';
import { currentResult, renderMarkdown, slugArgument } from '../lib/cli.ts';
import { hintsFile, readHints } from '../lib/hints.ts';
import { requireKata } from '../lib/katas.ts';
import { shown } from '../lib/paths.ts';
import { touch, updateProgress } from '../lib/progress.ts';
import { firstFailure, type KataResult, type StageOutcome } from '../lib/results.ts';

export function hintCommand(): Command {
  return new Command('hint')
    .description('reveal the next hint for the stage you are stuck on')
    .addArgument(slugArgument())
    .action(async (slug: string) => {
      requireKata(slug);
      const result = await currentResult(slug);
      const outcome = await nextHint(slug, result);
      console.log(outcome.text);
      if (outcome.problem) process.exitCode = 1;
    });
}

/** The first stage not fully passed: where the learner is stuck. */
export function stuckStage(result: KataResult): StageOutcome | undefined {
  return result.stages.find((stage) => stage.total === 0 || stage.passed < stage.total);
}

export interface HintOutcome {
  text: string;
  /** A hint was revealed now (not already all shown, not solved). */
  revealed: boolean;
  /** Hints were shown (new or already seen): the learner asked and got help. */
  helped?: boolean;
  /** Nothing to reveal because something is missing (no HINTS.md, no such stage). */
  problem?: boolean;
}

/** Reveals the next hint for the kata's stuck stage, records it, and says what it was. */
export async function nextHint(slug: string, result: KataResult): Promise<HintOutcome> {
  if (result.status === 'solved') {
    return {
      revealed: false,
      text: `${pc.green(`${slug} is solved`)}: no hint needed. Compare with the reference: ${pc.cyan(`npm run solution -- ${slug}`)}`,
    };
  }
  if (!existsSync(hintsFile(slug))) {
    return {
      revealed: false,
      problem: true,
      text: pc.yellow(`No hints yet: ${shown(hintsFile(slug))} is not written.`),
    };
  }
  const hintStages = readHints(slug);
  const stage = stuckStage(result);
  // A file that does not load, or never got as far as listing its tests, is stuck at the start.
  const number = stage?.number ?? hintStages[0]?.number ?? 1;
  const hints = hintStages.find((candidate) => candidate.number === number);
  if (!hints || hints.hints.length === 0) {
    return {
      revealed: false,
      problem: true,
      text: pc.yellow(`${shown(hintsFile(slug))} has no hints for stage ${number}.`),
    };
  }

  const lines: string[] = [];
  const failure = firstFailure(result);
  lines.push(
    `${pc.bold(`Stage ${number}: ${hints.title}`)}` +
      (stage ? pc.dim(` (${stage.passed}/${stage.total} tests pass)`) : ''),
  );
  if (result.status === 'load-error' || result.status === 'timed-out') {
    lines.push(
      pc.red(
        `  your code ${result.status === 'load-error' ? 'does not load' : 'timed out'}: ${result.problem?.split('\n')[0] ?? ''}`,
      ),
    );
  } else if (failure && failure.stage.number === number) {
    lines.push(pc.dim(`  first failing test: ${failure.test.name}`));
  }

  let count = 0;
  let revealed = false;
  updateProgress((kata) => {
    const progress = kata(slug);
    const before = progress.hintsShown[String(number)] ?? 0;
    count = Math.min(hints.hints.length, before + 1);
    revealed = count > before;
    progress.hintsShown[String(number)] = count;
    touch(progress);
  });
  lines.push('');
  for (const [index, hint] of hints.hints.slice(0, count).entries()) {
    const label = `Hint ${index + 1} of ${hints.hints.length}:`;
    const body = await renderMarkdown(hint);
    lines.push(
      revealed && index === count - 1
        ? `${pc.bold(pc.cyan(label))} ${body}`
        : pc.dim(`${label} ${body}`),
    );
  }
  if (!revealed) {
    lines.push(
      '',
      pc.yellow(`All ${hints.hints.length} hints for stage ${number} are shown.`) +
        ` Read the stage again in katas/${slug}/README.md; when you have solved it, ` +
        `solutions/${slug}/NOTES.md explains the approach (${pc.cyan(`npm run solution -- ${slug}`)}).`,
    );
  } else if (count < hints.hints.length) {
    lines.push(pc.dim(`\n${hints.hints.length - count} more for this stage: run hint again.`));
  }
  return { text: lines.join('\n'), revealed, helped: true };
}
