/**
 * `npm run bench:grading [-- <slug>...] [--runs N]`: how long `npm test -- <slug>` takes with the
 * reference in place, for every kata (or the ones named) in one run, next to a bare `npx vitest
 * run` of one trivial test file and to the same Vitest run alone (no npm, no npx), interleaved, median
 * of N (default 3). The goal (issue 12): each kata within 1.5 times the bare run, and
 * graceful-shutdown, whose contract needs real processes and timers, within 3 times. The columns
 * say where the time goes: Vitest's own start (bare), the grader's tests (vitest alone - bare), and
 * ours (npm test - vitest alone: npm, our start-up, TypeScript loading, recording the results).
 * Works in a temporary copy, so the learner's own files are untouched.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import pc from '../lib/colour.ts';
import { availableKatas, requireKata } from '../lib/katas.ts';
import { copyRepository, solutionFile } from '../lib/paths.ts';

const GOAL: Record<string, number> = { 'graceful-shutdown': 3 };
const DEFAULT_GOAL = 1.5;

const program = new Command('npm run bench:grading --')
  .argument('[slugs...]', 'katas to measure (default: all)')
  .option(
    '--runs <n>',
    'samples per command (median reported)',
    (value: string) => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number >= 1');
      return n;
    },
    3,
  )
  .action((slugs: string[], options: { runs: number }) => {
    const katas = slugs.length > 0 ? [...new Set(slugs)].map(requireKata) : availableKatas();
    bench(
      katas.map((kata) => kata.slug),
      options.runs,
    );
  });

function bench(slugs: string[], runs: number): void {
  const copy = copyRepository('kata-speed-');
  const started = performance.now();
  try {
    for (const slug of slugs)
      cpSync(solutionFile(slug), path.join(copy, 'katas', slug, 'index.ts'));
    mkdirSync(path.join(copy, 'graders', 'trivial'));
    writeFileSync(
      path.join(copy, 'graders', 'trivial', 'trivial.test.ts'),
      "import { expect, test } from 'vitest';\ntest('trivial', () => {\n  expect(1 + 1).toBe(2);\n});\n",
    );
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.FORCE_COLOR;
    const failures: string[] = [];
    /** Wall time of one command; a failing grading still counts (and is reported), as it took that long. */
    const time = (command: string, args: string[], extra: NodeJS.ProcessEnv = {}): number => {
      const begun = performance.now();
      try {
        execFileSync(command, args, { cwd: copy, stdio: 'ignore', env: { ...env, ...extra } });
      } catch {
        failures.push(`${command} ${args.join(' ')}`);
      }
      return performance.now() - begun;
    };
    const bareRun = (): number => time('npx', ['vitest', 'run', 'graders/trivial/']);

    bareRun(); // warm the disk cache
    const bare: number[] = [];
    const alone: Record<string, number[]> = {};
    const graded: Record<string, number[]> = {};
    for (let run = 0; run < runs; run += 1) {
      for (const slug of slugs) {
        bare.push(bareRun());
        // The same Vitest run npm test starts (config, workers), with Vitest's own reporter.
        const workers = slug === 'graceful-shutdown' ? 2 : 1;
        (alone[slug] ??= []).push(
          time(
            process.execPath,
            [
              'node_modules/vitest/vitest.mjs',
              'run',
              `graders/${slug}/`,
              '--config=scripts/lib/grading.config.ts',
              `--maxWorkers=${workers}`,
              '--no-isolate',
            ],
            { KATA_TARGET: 'katas' },
          ),
        );
        (graded[slug] ??= []).push(time('npm', ['test', '--', slug]));
      }
    }

    const s = (ms: number): string => (ms / 1000).toFixed(2);
    const bareMedian = median(bare);
    console.log(
      pc.bold(
        `${'kata'.padEnd(19)}${'npm test'.padStart(9)}${'vitest alone'.padStart(14)}${'ours'.padStart(7)}${'÷ bare'.padStart(8)}${'goal'.padStart(7)}  samples of npm test (s)`,
      ),
    );
    let met = 0;
    for (const slug of slugs) {
      const gradedMedian = median(graded[slug]!);
      const aloneMedian = median(alone[slug]!);
      const ratio = gradedMedian / bareMedian;
      const goal = GOAL[slug] ?? DEFAULT_GOAL;
      if (ratio <= goal) met += 1;
      const mark = ratio <= goal ? pc.green('✔') : pc.red('✘');
      console.log(
        `${slug.padEnd(19)}${s(gradedMedian).padStart(9)}${s(aloneMedian).padStart(14)}${s(gradedMedian - aloneMedian).padStart(7)}` +
          `${`${ratio.toFixed(2)}×`.padStart(8)}${`${goal}×`.padStart(7)} ${mark} ${graded[slug]!.map(s).join(' ')}`,
      );
    }
    console.log(
      pc.dim(
        `bare: npx vitest run of one trivial test, median ${s(bareMedian)} s of ${bare.length} (${bare.map(s).join(' ')})\n` +
          `vitest alone: node node_modules/vitest/vitest.mjs run graders/<slug>/ as npm test starts it (config, workers, no npx); ours: npm test minus that\n` +
          `${met} of ${slugs.length} within the goal; median of ${runs} per command, interleaved; ` +
          `${Math.round((performance.now() - started) / 1000)} s in all, node ${process.version}, ` +
          `${os.availableParallelism()} cores, load average ${os.loadavg()[0]!.toFixed(1)} at the end`,
      ),
    );
    for (const failure of failures)
      console.log(pc.yellow(`a run failed (timed anyway): ${failure}`));
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

program.parse();
