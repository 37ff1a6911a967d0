/**
 * The loop around grading, as a learner goes through it: `npm test` records progress, `hint`
 * reveals one hint at a time for the stage they are stuck on, `solution` stays locked until the
 * code passes (or `--force` after a warning), and then shows the reference, notes and a diff.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHints } from '../lib/hints.ts';
import type { ProgressFile } from '../lib/progress.ts';
import { createSandbox, prepareKata, type Sandbox } from './sandbox.ts';

let sandbox: Sandbox;
let slug: string;
let stage1: string[];

beforeAll(() => {
  sandbox = createSandbox();
  slug = prepareKata(sandbox);
  stage1 = parseHints(sandbox.read(`katas/${slug}/HINTS.md`))[0]!.hints;
}, 30_000);
// Removing a copy of the repository can take seconds on a busy machine.
afterAll(() => sandbox?.remove(), 30_000);

const progress = (): ProgressFile =>
  JSON.parse(sandbox.read('.kata/progress.json')) as ProgressFile;

/** Markdown in a hint (`code`, **bold**) as it reads in the terminal without colour. */
const plain = (hint: string): string => hint.replace(/[`*_]/g, '').slice(0, 40);

describe('grading, hints and the hidden solution', { timeout: 60_000 }, () => {
  it('npm test records its run in the progress that list shows', async () => {
    const run = await sandbox.node('scripts/grade.ts', [slug]);
    expect(run.code).toBe(1);
    expect(progress().katas[slug]).toMatchObject({ runs: 1 });
    const list = await sandbox.kata(['list']);
    expect(list.stdout).toMatch(new RegExp(`▶\\s+${slug}\\s+warm-up\\s+0/\\d+\\s+not started`));
  });

  it('hint reveals the first hint of stage 1, then the next, from the recorded result', async () => {
    const first = await sandbox.kata(['hint', slug]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout, 'the result is up to date: no grading').not.toContain('grading');
    expect(first.stdout).toMatch(/^Stage 1: /);
    expect(first.stdout).toContain(`Hint 1 of 3: ${plain(stage1[0]!)}`);
    expect(first.stdout).not.toContain('Hint 2 of 3');

    const second = await sandbox.kata(['hint', slug]);
    expect(second.stdout).toContain(`Hint 1 of 3: ${plain(stage1[0]!)}`);
    expect(second.stdout).toContain(`Hint 2 of 3: ${plain(stage1[1]!)}`);
    expect(progress().katas[slug]!.hintsShown).toEqual({ 1: 2 });
  });

  it('hint grades first when the kata changed since its last result, and says when all are shown', async () => {
    // Saved again after its last grading (same text, newer time).
    sandbox.write(`katas/${slug}/index.ts`, sandbox.read(`katas/${slug}/index.ts`));
    const third = await sandbox.kata(['hint', slug]);
    expect(third.stdout).toContain(`grading katas/${slug}/index.ts`);
    expect(third.stdout).toContain(`Hint 3 of 3: ${plain(stage1[2]!)}`);
    const fourth = await sandbox.kata(['hint', slug]);
    expect(fourth.stdout).toContain('All 3 hints for stage 1 are shown.');
    expect(fourth.stdout).toContain(`katas/${slug}/README.md`);
    expect(progress().katas[slug]!.hintsShown).toEqual({ 1: 3 });
  });

  it('solution stays locked while the code does not pass', async () => {
    const run = await sandbox.kata(['solution', slug]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('Locked.');
    expect(run.stdout).toContain(`npm run solution -- ${slug} --force`);
    expect(run.stdout).not.toContain(`solutions/${slug}/index.ts`);
  });

  it('solution --force --yes shows it after a spoiler warning, and remembers the spoiler', async () => {
    const run = await sandbox.kata(['solution', slug, '--force', '--yes']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Spoiler warning:');
    expect(run.stdout).toContain(sandbox.read(`solutions/${slug}/index.ts`).trimEnd());
    expect(progress().katas[slug]).toMatchObject({ spoiler: true });
    const list = await sandbox.kata(['list']);
    expect(list.stdout).toContain('solution seen early');
  });

  it("once the code passes, solution shows the reference, its notes and a diff from the learner's code", async () => {
    const reference = sandbox.read(`solutions/${slug}/index.ts`);
    sandbox.write(`katas/${slug}/index.ts`, `${reference}\n// solved it\n`);
    const run = await sandbox.kata(['solution', slug]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`${slug} is solved.`);
    expect(run.stdout).not.toContain('Spoiler');
    expect(run.stdout).toContain(`notes: solutions/${slug}/NOTES.md`);
    expect(run.stdout).toContain(`--- katas/${slug}/index.ts (yours)`);
    expect(run.stdout).toContain(`+++ solutions/${slug}/index.ts (reference)`);
    expect(run.stdout).toMatch(/^-\/\/ solved it$/m);
    expect(progress().katas[slug]!.solvedAt).toBeDefined();

    const list = await sandbox.kata(['list']);
    expect(list.stdout).toMatch(new RegExp(`^\\s+${slug}\\s+warm-up\\s+(\\d+)/\\1\\s+solved`, 'm'));
    expect(list.stdout).toMatch(/^▶ /m);
    expect(list.stdout).not.toMatch(new RegExp(`▶\\s+${slug}`));
  });

  it('hint on a solved kata says no hint is needed', async () => {
    const run = await sandbox.kata(['hint', slug]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`${slug} is solved: no hint needed.`);
  });
});
