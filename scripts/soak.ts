/**
 * `npm run soak [-- <slug>...] [--runs N] [--busy N]`: grades the references N times (20 by
 * default) while other processes keep the cores busy, and reports every test that failed even once,
 * with its failure. A grader that flips on correct code is a bug in the grader; this finds it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { Command, InvalidArgumentError } from 'commander';
import pc from './lib/colour.ts';
import { availableKatas, requireKata, UsageError } from './lib/katas.ts';
import { gradeKata } from './lib/run-grader.ts';

const positiveInteger = (value: string): number => {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0)
    throw new InvalidArgumentError('give a whole number.');
  return number;
};

interface Flake {
  count: number;
  firstFailure: string;
}

const program = new Command('npm run soak --')
  .description('Grade the references repeatedly under CPU load and report any test that ever fails')
  .argument('[slugs...]', 'katas to soak (default: all)')
  .option('--runs <n>', 'how many times to grade each kata', positiveInteger, 20)
  .option(
    '--busy <n>',
    'busy-looping processes to run meanwhile (default: one per core)',
    positiveInteger,
    os.availableParallelism(),
  )
  .action(async (slugs: string[], options: { runs: number; busy: number }) => {
    const katas = slugs.length > 0 ? slugs.map(requireKata) : availableKatas();
    const busy = startBusyLoops(options.busy);
    const flakes = new Map<string, Flake>();
    const durations = new Map<string, number[]>();
    const started = performance.now();
    let failedRuns = 0;
    try {
      for (let run = 1; run <= options.runs; run += 1) {
        for (const kata of katas) {
          const result = await gradeKata({
            slug: kata.slug,
            target: 'solutions',
            timeoutMs: 120_000,
          });
          durations.set(kata.slug, [...(durations.get(kata.slug) ?? []), result.durationMs]);
          const failures: Array<[string, string]> = [];
          if (result.status !== 'solved') {
            for (const stage of result.stages) {
              for (const test of stage.tests) {
                if (test.status !== 'passed') {
                  failures.push([
                    `${kata.slug} › stage ${stage.number}: ${stage.title} › ${test.name}`,
                    `${test.status}: ${test.failure?.message ?? ''}`,
                  ]);
                }
              }
            }
            if (failures.length === 0)
              failures.push([
                `${kata.slug} (whole run)`,
                `${result.status}: ${result.problem ?? ''}`,
              ]);
          }
          for (const [name, message] of failures) {
            const flake = flakes.get(name);
            if (flake) flake.count += 1;
            else flakes.set(name, { count: 1, firstFailure: message });
          }
          if (failures.length > 0) failedRuns += 1;
          const mark =
            failures.length === 0 ? pc.green('✔') : pc.red(`✘ ${failures.length} failed`);
          console.log(
            `run ${run}/${options.runs} ${kata.slug} ${mark} ${pc.dim(`${(result.durationMs / 1000).toFixed(1)} s`)}`,
          );
        }
      }
    } finally {
      for (const child of busy) child.kill('SIGKILL');
    }

    const minutes = ((performance.now() - started) / 60_000).toFixed(1);
    console.log(pc.bold(`\n${'kata'.padEnd(20)}runs  median s`));
    for (const kata of katas) {
      const times = [...(durations.get(kata.slug) ?? [])].sort((a, b) => a - b);
      const median = times[Math.floor(times.length / 2)] ?? 0;
      console.log(
        `${kata.slug.padEnd(20)}${String(times.length).padEnd(6)}${(median / 1000).toFixed(2)}`,
      );
    }
    if (flakes.size === 0) {
      console.log(
        pc.green(
          `\nNo test failed in ${options.runs} runs with ${options.busy} busy process${options.busy === 1 ? '' : 'es'} (${minutes} min).`,
        ),
      );
    } else {
      console.log(
        pc.red(
          `\n${flakes.size} test(s) failed at least once in ${options.runs} runs (${minutes} min):`,
        ),
      );
      for (const [name, { count, firstFailure }] of flakes) {
        console.log(
          `${pc.red('✘')} ${name}: failed ${count}/${options.runs}\n    ${firstFailure.split('\n').slice(0, 6).join('\n    ')}`,
        );
      }
      process.exitCode = 1;
    }
    // One line per graded kata run, in the plain form CI tools read.
    console.log(`soak: ${options.runs * katas.length - failedRuns} passed, ${failedRuns} failed`);
  });

/** Processes that only burn CPU, so the graders run on a machine as busy as a shared CI runner. */
function startBusyLoops(count: number): ChildProcess[] {
  const children = Array.from({ length: count }, () =>
    spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
  );
  process.once('exit', () => children.forEach((child) => child.kill('SIGKILL')));
  return children;
}

program.parseAsync().catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(pc.red(`npm run soak: ${error.message}`));
    process.exit(2);
  }
  throw error;
});
