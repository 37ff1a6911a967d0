/**
 * What the learner sees after grading: one row per kata (stages, tests, status), then for each
 * unsolved kata the first failing test and its message, so one screen says where they are and what
 * to fix next.
 */
import pc from './colour.ts';
import { firstFailure, stagesPassed, type KataResult, type KataStatus } from './results.ts';

const STATUS_TEXT: Record<KataStatus, string> = {
  'not-started': 'not started',
  'in-progress': 'in progress',
  solved: 'solved',
  'timed-out': 'timed out',
  'load-error': 'does not load',
};

const paint: Record<KataStatus, (text: string) => string> = {
  'not-started': pc.dim,
  'in-progress': pc.yellow,
  solved: pc.green,
  'timed-out': pc.red,
  'load-error': pc.red,
};

export const statusText = (status: KataStatus): string => paint[status](STATUS_TEXT[status]);

/** One line as each kata finishes grading, so a long run shows progress. */
export function progressLine(result: KataResult): string {
  const mark =
    result.status === 'solved'
      ? pc.green('✔')
      : result.status === 'not-started'
        ? pc.dim('·')
        : pc.red('✘');
  return `${mark} ${result.slug} ${pc.dim(`${result.passed}/${result.total} tests, ${(result.durationMs / 1000).toFixed(1)} s`)}`;
}

export function renderScoreboard(
  results: KataResult[],
  options: { detailed?: boolean } = {},
): string {
  const lines: string[] = [];
  const width = Math.max(4, ...results.map((result) => result.slug.length));
  lines.push('');
  lines.push(pc.bold(`${'kata'.padEnd(width)}  ${'stages'.padEnd(7)}${'tests'.padEnd(8)}status`));
  for (const result of results) {
    const stages =
      result.stages.length > 0 ? `${stagesPassed(result)}/${result.stages.length}` : '-';
    const tests = result.total > 0 ? `${result.passed}/${result.total}` : '-';
    lines.push(
      `${result.slug.padEnd(width)}  ${stages.padEnd(7)}${tests.padEnd(8)}${statusText(result.status)}`,
    );
  }

  const unsolved = results.filter(
    (result) => result.status !== 'solved' && result.status !== 'not-started',
  );
  for (const result of unsolved) {
    lines.push('', ...renderNextFix(result, options.detailed ?? results.length === 1));
  }

  const notStarted = results.filter((result) => result.status === 'not-started');
  if (notStarted.length > 0 && unsolved.length === 0) {
    const next = notStarted[0]!;
    lines.push(
      '',
      `${pc.bold('Next:')} read katas/${next.slug}/README.md, write katas/${next.slug}/index.ts, then run ${pc.cyan(`npm test -- ${next.slug}`)}`,
    );
    if (results.length === 1) lines.push('', ...renderNextFix(next, options.detailed ?? true));
  }

  const solved = results.filter((result) => result.status === 'solved').length;
  lines.push(
    '',
    `${solved} of ${results.length} ${results.length === 1 ? 'kata' : 'katas'} solved.`,
  );
  return lines.join('\n');
}

/** The first failing test of one kata with its message; in detail, the other failing tests too. */
function renderNextFix(result: KataResult, detailed: boolean): string[] {
  const lines = [pc.bold(`${result.slug}: ${statusText(result.status)}`)];
  if (result.problem) lines.push(indent(result.problem, 2));
  const first = firstFailure(result);
  if (first) {
    lines.push(
      `  ${pc.red('✘')} stage ${first.stage.number}: ${first.stage.title} › ${first.test.name}`,
    );
    const failure = first.test.failure;
    if (failure) {
      lines.push(
        indent(
          `${failure.name === 'AssertionError' ? '' : `${failure.name}: `}${failure.message}`,
          4,
        ),
      );
      if (failure.diff && !failure.notImplemented) lines.push(indent(colourDiff(failure.diff), 4));
      if (failure.location && !failure.location.startsWith('graders/'))
        lines.push(pc.dim(`    at ${failure.location}`));
    }
  }
  if (result.status === 'not-started') {
    // Every test fails the same way: the first says it all, and a count says the rest.
    const rest = result.total - (first ? 1 : 0);
    if (rest > 0) {
      lines.push(
        pc.dim(
          `  … and ${rest} more ${rest === 1 ? 'test fails' : 'tests fail'} the same way, in ${result.stages.length} ${result.stages.length === 1 ? 'stage' : 'stages'}: nothing is written yet`,
        ),
      );
    }
  } else if (detailed && result.status !== 'load-error') {
    for (const stage of result.stages) {
      const mark = stage.passed === stage.total ? pc.green('✔') : pc.red('✘');
      lines.push(
        `  ${mark} stage ${stage.number}: ${stage.title} ${pc.dim(`(${stage.passed}/${stage.total})`)}`,
      );
      const failing = stage.tests.filter(
        (test) => test.status === 'failed' && test !== first?.test,
      );
      for (const test of failing.slice(0, 8)) lines.push(pc.dim(`      ✘ ${test.name}`));
      if (failing.length > 8) lines.push(pc.dim(`      … and ${failing.length - 8} more`));
    }
    if (result.consoleOutput.length > 0) {
      lines.push(pc.bold('  Your console output:'));
      for (const text of result.consoleOutput.slice(0, 20)) lines.push(indent(text, 4));
      if (result.consoleOutput.length > 20)
        lines.push(pc.dim(`    … ${result.consoleOutput.length - 20} more`));
    }
  }
  return lines;
}

const indent = (text: string, spaces: number): string =>
  text
    .split('\n')
    .map((line) => ' '.repeat(spaces) + line)
    .join('\n');

/** Vitest's diffs mark expected lines with "-" and received lines with "+". */
const colourDiff = (diff: string): string =>
  diff
    .split('\n')
    .map((line) =>
      line.startsWith('-') ? pc.green(line) : line.startsWith('+') ? pc.red(line) : line,
    )
    .join('\n');
