/**
 * `npm run mutation [-- <slug>...]`: mutation testing of the graders. For each kata, StrykerJS
 * mutates the reference (`solutions/<slug>/index.ts`) and grades every mutant with that kata's
 * grader only (stryker/vitest.config.js); a mutant the grader passes is a mistake it would not
 * catch. Writes `reports/mutation/<slug>/mutation.html` and `.json` (git-ignored), then prints a
 * table: killed, survived, timed out, no coverage, ignored and score per kata. Survivors shown
 * equivalent are listed, with why, in `graders/<slug>/EQUIVALENT.md`; where a mutation only
 * changes wording we chose (log lines, error bodies the contract leaves open), the reference may
 * also disable it with a `// Stryker disable next-line <mutator>: <reason>` comment, which Stryker
 * reports as ignored and leaves out of the score (graceful-shutdown does). The table also shows the score with them counted
 * as survivors, so nothing is hidden.
 *
 * Not part of `npm run verify`: it takes minutes per kata (see the README).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Stryker } from '@stryker-mutator/core';
import type { PartialStrykerOptions } from '@stryker-mutator/api/core';
import { Command } from 'commander';
import pc from './lib/colour.ts';
import { availableKatas, requireKata, UsageError } from './lib/katas.ts';
import { REPO_ROOT } from '../graders/support/target.ts';

/**
 * The score every kata must reach: killed + timed out, over all mutants with a result, with
 * mutations a reference marks as ignored counted as survivors (nothing is hidden by ignoring it).
 */
const THRESHOLD = 95;

interface Row {
  slug: string;
  mutants: number;
  killed: number;
  survived: number;
  timedOut: number;
  noCoverage: number;
  /** Shown equivalent and disabled in the reference with a `// Stryker disable` comment. */
  ignored: number;
  errors: number;
  score: number;
  /** The score with ignored mutants counted as survivors. */
  scoreCountingIgnored: number;
  seconds: number;
}

/** Stryker types log levels as a const enum, which isolated modules cannot import: same strings. */
const logLevel = (level: 'warn' | 'off') =>
  level as unknown as NonNullable<PartialStrykerOptions['logLevel']>;

const reportDir = (slug: string): string => path.join(REPO_ROOT, 'reports', 'mutation', slug);

function strykerOptions(slug: string): PartialStrykerOptions {
  const dir = path.relative(REPO_ROOT, reportDir(slug));
  return {
    packageManager: 'npm',
    testRunner: 'vitest',
    plugins: ['@stryker-mutator/vitest-runner'],
    vitest: { configFile: 'stryker/vitest.config.js', related: false },
    mutate: [`solutions/${slug}/index.ts`],
    // The sandbox needs the graders, their support, the reference and the configs; not the rest.
    ignorePatterns: ['/reports/', '/.kata/', '/coverage/', '/scripts/', '/.stryker-tmp/'],
    coverageAnalysis: 'perTest',
    concurrency: 2,
    // Generous: graders run on a fake clock, but graceful-shutdown uses real sockets and processes.
    timeoutMS: 10_000,
    timeoutFactor: 2,
    reporters: ['html', 'json', 'progress'],
    htmlReporter: { fileName: path.join(dir, 'mutation.html') },
    jsonReporter: { fileName: path.join(dir, 'mutation.json') },
    // One folder per kata: runs of different katas at once must not clean up each other's sandbox.
    tempDirName: `.stryker-tmp/${slug}`,
    cleanTempDir: 'always',
    incremental: false,
    logLevel: logLevel('warn'),
    fileLogLevel: logLevel('off'),
    thresholds: { high: THRESHOLD, low: THRESHOLD - 10, break: null },
  };
}

interface JsonReport {
  files: Record<string, { mutants: Array<{ status: string }> }>;
}

/** Counts from the kata's JSON report (the source of truth the HTML report shows too). */
function summarise(slug: string, seconds: number): Row {
  const report = JSON.parse(
    readFileSync(path.join(reportDir(slug), 'mutation.json'), 'utf8'),
  ) as JsonReport;
  const statuses = Object.values(report.files).flatMap((file) => file.mutants.map((m) => m.status));
  const count = (status: string): number => statuses.filter((s) => s === status).length;
  const killed = count('Killed');
  const timedOut = count('Timeout');
  const survived = count('Survived');
  const noCoverage = count('NoCoverage');
  const ignored = count('Ignored');
  const errors = count('RuntimeError') + count('CompileError');
  const detected = killed + timedOut;
  const valid = detected + survived + noCoverage;
  return {
    slug,
    mutants: statuses.length,
    killed,
    survived,
    timedOut,
    noCoverage,
    ignored,
    errors,
    score: valid === 0 ? 100 : (100 * detected) / valid,
    scoreCountingIgnored: valid + ignored === 0 ? 100 : (100 * detected) / (valid + ignored),
    seconds,
  };
}

function printTable(rows: Row[]): void {
  const header = [
    'kata',
    'mutants',
    'killed',
    'survived',
    'timed out',
    'no coverage',
    'ignored',
    'errors',
  ];
  const cells = rows.map((r) => [
    r.slug,
    String(r.mutants),
    String(r.killed),
    String(r.survived),
    String(r.timedOut),
    String(r.noCoverage),
    String(r.ignored),
    String(r.errors),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: string[]): string =>
    values.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  const counted = 'ignored counted';
  console.log(`\n${pc.bold(`${line(header)}  ${'score'.padStart(7)}  ${counted}  time`)}`);
  for (const [i, row] of rows.entries()) {
    const score = `${row.score.toFixed(2)}%`.padStart(7);
    const raw = `${row.scoreCountingIgnored.toFixed(2)}%`.padStart(counted.length);
    const judged = row.scoreCountingIgnored >= THRESHOLD ? pc.green(raw) : pc.red(raw);
    console.log(`${line(cells[i]!)}  ${pc.dim(score)}  ${judged}  ${Math.round(row.seconds)} s`);
  }
}

const program = new Command('npm run mutation --')
  .description('Mutation-test the graders: mutate each reference and grade every mutant')
  .argument('[slugs...]', 'katas to mutation-test (default: all)')
  .action(async (slugs: string[]) => {
    const katas = slugs.length > 0 ? slugs.map(requireKata) : availableKatas();
    const rows: Row[] = [];
    const failed: string[] = [];
    const started = performance.now();
    for (const kata of katas) {
      console.log(pc.bold(`\nmutation testing ${kata.slug}`));
      mkdirSync(reportDir(kata.slug), { recursive: true });
      const kataStarted = performance.now();
      process.env.STRYKER_KATA = kata.slug;
      process.env.KATA_TARGET = 'solutions';
      try {
        await new Stryker(strykerOptions(kata.slug)).runMutationTest();
        rows.push(summarise(kata.slug, (performance.now() - kataStarted) / 1000));
      } catch (error) {
        // Most often the reference failing its grader in Stryker's initial test run: say so, go on.
        console.error(pc.red(`${kata.slug}: Stryker did not finish: ${String(error)}`));
        failed.push(kata.slug);
      }
    }
    printTable(rows);
    const total = (performance.now() - started) / 1000;
    console.log(
      pc.dim(`\nreports: reports/mutation/<slug>/mutation.html; ${Math.round(total)} s in all`),
    );
    if (failed.length > 0) {
      console.log(pc.red(`not mutation-tested (see the errors above): ${failed.join(', ')}`));
      process.exitCode = 1;
    }
    const below = rows.filter((row) => row.scoreCountingIgnored < THRESHOLD);
    if (below.length > 0) {
      console.log(
        pc.red(
          `below ${THRESHOLD}% (ignored mutations counted): ${below.map((r) => r.slug).join(', ')}; kill the survivors with ` +
            `contract tests or list them in graders/<slug>/EQUIVALENT.md`,
        ),
      );
      process.exitCode = 1;
    }
  });

program.parseAsync().catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(error.message);
    process.exitCode = 2;
    return;
  }
  throw error;
});
