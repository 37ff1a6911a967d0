/**
 * `npm run bench:grading [-- <slug>...]`: how long `npm test -- <slug>` takes against the
 * reference, next to a bare `npx vitest run` of one trivial test file, measured in the same run,
 * interleaved, median of 5. Works in a temporary copy, so the learner's own files are untouched.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pc from '../lib/colour.ts';
import { copyRepository, solutionFile } from '../lib/paths.ts';
import { availableKatas, requireKata } from '../lib/katas.ts';

const RUNS = 5;
const slugs = process.argv.slice(2);
const katas = slugs.length > 0 ? slugs.map(requireKata) : availableKatas().slice(0, 2);

const copy = copyRepository('kata-speed-');
try {
  for (const kata of katas)
    cpSync(solutionFile(kata.slug), path.join(copy, 'katas', kata.slug, 'index.ts'));
  mkdirSync(path.join(copy, 'graders', 'trivial'));
  writeFileSync(
    path.join(copy, 'graders', 'trivial', 'trivial.test.ts'),
    "import { expect, test } from 'vitest';\ntest('trivial', () => {\n  expect(1 + 1).toBe(2);\n});\n",
  );

  const time = (command: string, args: string[]): number => {
    const started = performance.now();
    try {
      execFileSync(command, args, { cwd: copy, stdio: 'ignore', env: { ...process.env, CI: '1' } });
    } catch {
      throw new Error(`${command} ${args.join(' ')} failed in ${copy}`);
    }
    return performance.now() - started;
  };
  const median = (values: number[]): number =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

  console.log(pc.bold(`${'command'.padEnd(36)}median of ${RUNS}   runs (s)`));
  for (const kata of katas) {
    const bare: number[] = [];
    const graded: number[] = [];
    time('npx', ['vitest', 'run', 'graders/trivial/']); // warm the disk cache for both
    for (let run = 0; run < RUNS; run += 1) {
      bare.push(time('npx', ['vitest', 'run', 'graders/trivial/']));
      graded.push(time('npm', ['test', '--', kata.slug]));
    }
    const row = (label: string, values: number[]): string =>
      `${label.padEnd(36)}${(median(values) / 1000).toFixed(2).padEnd(15)}${values.map((v) => (v / 1000).toFixed(2)).join(' ')}`;
    console.log(row('npx vitest run (one trivial test)', bare));
    console.log(row(`npm test -- ${kata.slug} (reference)`, graded));
    console.log(pc.dim(`ratio ${(median(graded) / median(bare)).toFixed(2)}x\n`));
  }
} finally {
  rmSync(copy, { recursive: true, force: true });
}
