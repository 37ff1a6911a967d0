/**
 * `npm test [-- <slug>...] [--timeout-ms N]`: grades the learner's katas and prints the
 * scoreboard. Exits 0 only when every graded kata passes every test.
 */
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import pc, { pcErr } from './lib/colour.ts';
import { availableKatas, requireKata, UsageError } from './lib/katas.ts';
import { gradeKata, timeoutFromEnv } from './lib/run-grader.ts';
import { recordGrading } from './lib/progress.ts';
import type { KataResult } from './lib/results.ts';
import { progressLine, renderScoreboard } from './lib/scoreboard.ts';
import pMap from 'p-map';

const program = new Command('npm test --')
  .description(
    'Grade your katas: every kata in katas/, or the ones named (e.g. npm test -- token-bucket)',
  )
  .argument('[slugs...]', 'katas to grade (default: all)')
  .option(
    '--timeout-ms <ms>',
    'stop grading a kata when no test has finished for this long (env KATA_TIMEOUT_MS)',
    parseTimeout,
    timeoutFromEnv(),
  )
  .option(
    '--junit <dir>',
    "also write each kata's results as JUnit XML, <dir>/<slug>.xml (Vitest's junit reporter)",
  )
  .showHelpAfterError()
  .action(async (slugs: string[], options: { timeoutMs: number; junit?: string }) => {
    const katas = slugs.length > 0 ? slugs.map(requireKata) : availableKatas();
    const concurrency = Math.max(1, Math.min(os.availableParallelism(), katas.length));
    if (katas.length > 1) console.log(pc.dim(`Grading ${katas.length} katas…`));
    const results: KataResult[] = await pMap(
      katas,
      async (kata) => {
        const result = await gradeKata({
          slug: kata.slug,
          timeoutMs: options.timeoutMs,
          ...(options.junit ? { junitFile: path.resolve(options.junit, `${kata.slug}.xml`) } : {}),
        });
        if (katas.length > 1) console.log(progressLine(result));
        return result;
      },
      { concurrency },
    );
    recordGrading(results); // what `npm run kata -- status`, hints and solutions read
    console.log(renderScoreboard(results));
    process.exitCode = results.every((result) => result.status === 'solved') ? 0 : 1;
  });

function parseTimeout(value: string): number {
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms <= 0)
    throw new InvalidArgumentError('give a whole number of milliseconds, e.g. 30000.');
  return ms;
}

program.parseAsync().catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(pcErr.red(`npm test: ${error.message}`));
    process.exit(2);
  }
  throw error;
});
