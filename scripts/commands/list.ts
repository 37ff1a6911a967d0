/**
 * `kata list` (alias `status`): every kata in recommended order with its difficulty, stages passed,
 * status, time spent and hints used, from the last grading runs; the next kata to do is marked.
 * `--markdown` prints the scoreboard as markdown instead (CI's job summary).
 */
import { stripVTControlCharacters } from 'node:util';
import { Command } from 'commander';
import pc from '../lib/colour.ts';
import { isStale } from '../lib/cli.ts';
import { availableKatas, type KataInfo } from '../lib/katas.ts';
import { formatDuration, readProgress, type KataProgress } from '../lib/progress.ts';
import {
  firstFailure,
  readResults,
  stagesPassed,
  type KataResult,
  type ResultsFile,
} from '../lib/results.ts';
import { statusText } from '../lib/scoreboard.ts';

export function listCommand(): Command {
  return new Command('list')
    .alias('status')
    .description(
      'every kata in recommended order: stages passed, status, time spent; the next is marked',
    )
    .option('--markdown', 'print the last results as a markdown scoreboard (for CI job summaries)')
    .action((options: { markdown?: boolean }) => {
      const katas = availableKatas();
      const results = readResults();
      if (options.markdown) {
        console.log(markdownScoreboard(katas, results));
        return;
      }
      console.log(statusTable(katas, results, readProgress().katas));
    });
}

/** The first kata in recommended order that is not solved. */
export function nextKata(katas: KataInfo[], results: ResultsFile): KataInfo | undefined {
  return katas.find((kata) => results.katas[kata.slug]?.status !== 'solved');
}

function statusTable(
  katas: KataInfo[],
  results: ResultsFile,
  progress: Record<string, KataProgress>,
): string {
  const next = nextKata(katas, results);
  const width = Math.max(4, ...katas.map((kata) => kata.slug.length));
  const header = `   ${'kata'.padEnd(width)}  ${'level'.padEnd(9)}${'stages'.padEnd(8)}${'status'.padEnd(15)}${'time'.padEnd(11)}hints`;
  const lines = ['', pc.bold(header)];
  for (const kata of katas) {
    const result = results.katas[kata.slug];
    const kataProgress = progress[kata.slug];
    const isNext = kata === next;
    const stages =
      result && result.stages.length > 0 ? `${stagesPassed(result)}/${result.stages.length}` : '-';
    const status = result ? statusText(result.status) : statusText('not-started');
    const plainStatus = stripVTControlCharacters(status);
    const edited =
      result && result.status !== 'solved' && isStale(result) ? pc.dim(' (edited since)') : '';
    const hints = Object.values(kataProgress?.hintsShown ?? {}).reduce((sum, n) => sum + n, 0);
    const marks = [
      hints > 0 ? String(hints) : '-',
      kataProgress?.spoiler ? pc.yellow('solution seen early') : '',
    ].filter(Boolean);
    lines.push(
      `${isNext ? pc.cyan('▶') : ' '}  ${(isNext ? pc.bold : String)(kata.slug.padEnd(width))}  ` +
        `${pc.dim(kata.difficulty.padEnd(9))}${stages.padEnd(8)}` +
        `${status}${' '.repeat(Math.max(1, 15 - plainStatus.length))}` +
        `${formatDuration(kataProgress?.timeSpentMs ?? 0).padEnd(11)}${marks.join('  ')}${edited}`,
    );
  }
  const solved = katas.filter((kata) => results.katas[kata.slug]?.status === 'solved').length;
  lines.push('', `${solved} of ${katas.length} katas solved.`);
  if (next) {
    const result = results.katas[next.slug];
    const started = result && result.status !== 'not-started';
    lines.push(
      `${pc.cyan('▶')} ${pc.bold('Next:')} ${next.slug} (${next.title}). ` +
        (started
          ? `Keep going: ${pc.cyan(`npm run watch -- ${next.slug}`)}, stuck? ${pc.cyan(`npm run hint -- ${next.slug}`)}`
          : `Read it: ${pc.cyan(`npm run kata -- start ${next.slug}`)}`),
    );
  } else if (katas.length > 0) {
    lines.push(
      `Every kata solved. Practise against the clock: ${pc.cyan('npm run kata -- interview <slug>')}`,
    );
  }
  return lines.join('\n');
}

/** The scoreboard as GitHub-flavoured markdown: a table, then each unsolved kata's first failure. */
export function markdownScoreboard(katas: KataInfo[], results: ResultsFile): string {
  const plain = (text: string): string => stripVTControlCharacters(text);
  const graded = katas
    .map((kata) => ({ kata, result: results.katas[kata.slug] }))
    .filter((entry): entry is { kata: KataInfo; result: KataResult } => entry.result !== undefined);
  const lines = ['## Kata scoreboard', ''];
  if (graded.length === 0) {
    lines.push('No grading results: `npm test` did not get as far as grading.');
    return lines.join('\n');
  }
  lines.push('| kata | level | stages | tests | status |', '| --- | --- | --- | --- | --- |');
  for (const { kata, result } of graded) {
    const icon = result.status === 'solved' ? '✅' : result.status === 'not-started' ? '⬜' : '❌';
    lines.push(
      `| \`${kata.slug}\` | ${kata.difficulty} | ${stagesPassed(result)}/${result.stages.length} | ${result.passed}/${result.total} | ${icon} ${plain(statusText(result.status))} |`,
    );
  }
  const solved = graded.filter(({ result }) => result.status === 'solved').length;
  const untouched = graded.filter(({ result }) => result.status === 'not-started').length;
  lines.push(
    '',
    `**${solved} of ${graded.length} katas solved.**` +
      (untouched > 0 ? ` ${untouched} not started yet: not counted as failures.` : ''),
  );
  for (const { kata, result } of graded) {
    if (result.status === 'solved' || result.status === 'not-started') continue;
    const first = firstFailure(result);
    lines.push('', `### ${kata.slug}: ${plain(statusText(result.status))}`, '', '```text');
    if (result.problem) lines.push(result.problem);
    if (first) {
      lines.push(`✘ stage ${first.stage.number}: ${first.stage.title} › ${first.test.name}`);
      if (first.test.failure) lines.push(`  ${first.test.failure.message}`);
      if (first.test.failure?.diff) lines.push(first.test.failure.diff);
    }
    lines.push('```');
  }
  return lines.join('\n');
}
