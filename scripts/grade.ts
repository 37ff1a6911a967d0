/**
 * `npm test [-- <slug>...] [--timeout-ms N] [--junit <dir>] [--ignore-not-started]`: grades the
 * learner's katas and prints the scoreboard. Exits 0 only when every graded kata passes every test
 * (with --ignore-not-started, an untouched kata is no failure either). A usage mistake is one line
 * and exit code 2, as in `npm run kata`.
 */
import os from 'node:os';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import pMap from 'p-map';
import pc, { pcErr } from './lib/colour.ts';
import { availableKatas, requireKata, UsageError } from './lib/katas.ts';
import { recordGrading } from './lib/progress.ts';
import type { KataResult } from './lib/results.ts';
import { gradeKata, parseTimeoutMs, timeoutFromEnv, timeoutMistake } from './lib/run-grader.ts';
import { progressLine, renderScoreboard } from './lib/scoreboard.ts';
import { stopAllGraders } from './lib/start-vitest.mjs';

interface GradeOptions {
  timeoutMs?: number;
  junit?: string;
  ignoreNotStarted?: boolean;
}

const program = new Command('npm test --')
  .description(
    'Grade your katas: every kata in katas/, or the ones named (e.g. npm test -- token-bucket)',
  )
  .argument('[slugs...]', 'katas to grade (default: all)')
  .option(
    '--timeout-ms <ms>',
    'stop grading a kata when no test has finished for this long (env KATA_TIMEOUT_MS, default 30000)',
    (value: string) => {
      const ms = parseTimeoutMs(value);
      if (ms === undefined) throw new InvalidArgumentError(timeoutMistake('--timeout-ms', value));
      return ms;
    },
  )
  .option(
    '--junit <dir>',
    "also write each kata's results as JUnit XML, <dir>/<slug>.xml (Vitest's junit reporter)",
  )
  .option(
    '--ignore-not-started',
    'exit 0 when every kata is solved or not started yet (a fork’s CI: only started katas count)',
  )
  .configureOutput({ outputError: () => {} })
  .exitOverride()
  .action(async (slugs: string[], options: GradeOptions) => {
    const timeoutMs = options.timeoutMs ?? timeoutFromEnv();
    // Each kata once, in the order named: `npm test -- a a` grades a once.
    const named = [...new Set(slugs)];
    const katas = named.length > 0 ? named.map(requireKata) : availableKatas();
    const concurrency = Math.max(1, Math.min(os.availableParallelism(), katas.length));
    if (katas.length > 1) console.log(pc.dim(`Grading ${katas.length} katas…`));
    const results: KataResult[] = await pMap(
      katas,
      async (kata) => {
        const result = await gradeKata({
          slug: kata.slug,
          timeoutMs,
          ...(options.junit ? { junitFile: path.resolve(options.junit, `${kata.slug}.xml`) } : {}),
        });
        if (katas.length > 1) console.log(progressLine(result));
        return result;
      },
      { concurrency },
    );
    // What `npm run kata -- status`, hints and solutions read; time counts for the katas named.
    recordGrading(results, { named: new Set(named) });
    console.log(renderScoreboard(results));
    const passing = (result: KataResult): boolean =>
      result.status === 'solved' ||
      (options.ignoreNotStarted === true && result.status === 'not-started');
    process.exitCode = results.every(passing) ? 0 : 1;
  });

program.parseAsync().catch((error: unknown) => {
  if (error instanceof CommanderError) {
    if (error.exitCode === 0 || error.code.startsWith('commander.help')) {
      process.exitCode = error.exitCode;
      return;
    }
    // One line, as `npm run kata` says it: `option '--timeout-ms <ms>' argument 'abc' is invalid.
    // invalid --timeout-ms "abc": …` becomes `invalid --timeout-ms "abc": …`.
    const message = error.message
      .replace(/^error:\s*/, '')
      .replace(/^option '[^']+' argument '.*' is invalid\.\s*/s, '')
      .replace(/\s*\n\s*/g, ' ')
      .replace(/\.$/, '');
    const hint =
      error.code === 'commander.unknownOption'
        ? `; options: ${program.options.map((option) => option.long).join(', ')}, --help`
        : '';
    usageError(`${message}${hint}`);
  } else if (error instanceof UsageError) {
    usageError(error.message);
  } else {
    // Anything else is our fault, not the learner's: one line, and the details on request.
    stopAllGraders();
    const message = error instanceof Error ? error.message : String(error);
    console.error(
      pcErr.red(`npm test: ${message.split('\n')[0]}`) +
        (process.env.DEBUG ? '' : pcErr.dim(' (run with DEBUG=1 for details)')),
    );
    if (process.env.DEBUG) console.error(error);
    process.exitCode = 1;
  }
});

function usageError(message: string): void {
  stopAllGraders(); // scripts/test.mjs may have started one before the mistake was found
  console.error(pcErr.red(`npm test: ${message}`));
  process.exitCode = 2;
}
