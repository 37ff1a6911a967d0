/**
 * What `npm test` reports and records (issue 12, items 2, 3, 4, 6 and 8, and the not-started
 * board): each kata once; totals from the whole list of tests even when grading is cut short, with
 * the same hanging test named every time; a syntax error said once; a deleted kata file reported,
 * not a vanished kata, with reset and restore working; and time counted only for katas worked on.
 * The sandbox keeps two katas (every other is removed), so that a plain `npm test` grades quickly.
 */
import { readFileSync, rmSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableKatas } from '../lib/katas.ts';
import { REPO_ROOT } from '../lib/paths.ts';
import { createSandbox, type Run, type Sandbox } from './sandbox.ts';

const slug = 'lru-ttl-cache';
const other = 'pub-sub';
const file = `katas/${slug}/index.ts`;
let sandbox: Sandbox;
let stub: string;
/** The kata's stages and tests, as the complete run of the stub counted them. */
let stages = 0;
let tests = 0;

interface Results {
  katas: Record<string, { status: string; total: number; stages: unknown[]; problem?: string }>;
}
const results = (): Results => JSON.parse(sandbox.read('.kata/results.json')) as Results;
const row = (run: Run, status: string): RegExp =>
  new RegExp(`^${slug}\\s+0/${stages}\\s+0/${tests}\\s+${status}$`, 'm');

beforeAll(() => {
  sandbox = createSandbox();
  const kept = new Set([slug, other]);
  for (const kata of availableKatas().map((info) => info.slug)) {
    if (kept.has(kata)) continue;
    for (const dir of ['katas', 'graders', 'solutions']) {
      rmSync(path.join(sandbox.root, dir, kata), { recursive: true, force: true });
    }
  }
  stub = sandbox.read(file);
}, 30_000);
// Removing a copy of the repository can take seconds on a busy machine.
afterAll(() => sandbox?.remove(), 30_000);

describe('npm test', { timeout: 60_000 }, () => {
  it("is run by the fork's workflow with --ignore-not-started, the scoreboard in the job summary [F2]", () => {
    const workflow = readFileSync(path.join(REPO_ROOT, '.github/workflows/grade.yml'), 'utf8');
    expect(workflow).toMatch(/run: npm test -- .*--ignore-not-started/);
    expect(workflow).toContain('status --markdown >> "$GITHUB_STEP_SUMMARY"');
  });

  it('grades a kata named twice once, and shows a not-started kata in a few lines [items 8, F3]', async () => {
    const run = await sandbox.test([slug, slug]);
    expect(run.code, run.stderr).toBe(1);
    const result = results().katas[slug]!;
    stages = result.stages.length;
    tests = result.total;
    expect(tests).toBeGreaterThan(10);
    expect(run.stdout.match(new RegExp(`^${slug}\\s`, 'gm')), 'one row').toHaveLength(1);
    expect(run.stdout).not.toContain('Grading 2 katas');
    expect(run.stdout.match(/✘/g), 'the first failing test, in full, and no other').toHaveLength(1);
    expect(run.stdout).toContain(`… and ${tests - 1} more tests fail the same way`);
    expect(run.stdout.trim().split('\n').length).toBeLessThan(15);
  });

  it('counts time only for the katas whose file was saved since, on a plain npm test [item 2]', async () => {
    const tenMinutesAgo = new Date(Date.now() - 10 * 60_000).toISOString();
    const kata = { timeSpentMs: 0, runs: 1, hintsShown: {}, lastActivityAt: tenMinutesAgo };
    sandbox.write(
      '.kata/progress.json',
      JSON.stringify({ version: 1, katas: { [slug]: kata, [other]: kata } }),
    );
    sandbox.write(file, `${stub}\n// started thinking\n`); // saved now
    const anHourAgo = new Date(Date.now() - 60 * 60_000);
    utimesSync(path.join(sandbox.root, `katas/${other}/index.ts`), anHourAgo, anHourAgo);

    // As the fork's workflow runs it: katas not started yet are no failure [F2].
    const run = await sandbox.test(['--ignore-not-started']);
    expect(run.code, run.stderr).toBe(0);
    const progress = JSON.parse(sandbox.read('.kata/progress.json')) as {
      katas: Record<string, { timeSpentMs: number; runs: number }>;
    };
    expect(progress.katas[slug]!.timeSpentMs).toBeGreaterThanOrEqual(9 * 60_000);
    expect(progress.katas[other]!.timeSpentMs, 'never opened: no time').toBe(0);
    expect(progress.katas[other]!.runs).toBe(2);
    const list = await sandbox.kata(['list']);
    expect(list.stdout).toMatch(new RegExp(`${slug}.*\\s10 min\\s`));
    expect(list.stdout).toMatch(new RegExp(`${other}\\s+medium\\s+0/\\d+\\s+not started\\s+-\\s`));
  });

  it('totals a timed-out kata from its whole list of tests, and names the same hanging test every time [item 3]', async () => {
    sandbox.write(
      file,
      stub.replace(
        /(constructor\(options: LruTtlCacheOptions<K, V>\) \{)/,
        '$1\n    while (options !== undefined) {\n      // never returns\n    }',
      ),
    );
    rmSync(path.join(sandbox.root, '.kata/tests'), { recursive: true, force: true });
    const env = { KATA_TIMEOUT_MS: '6000' };
    const runs = await Promise.all([sandbox.test([slug], { env }), sandbox.test([slug], { env })]);
    const hung = runs.map((run) => /grading stopped: [^\n]* in "([^"]+)"/.exec(run.stdout)?.[1]);
    for (const run of runs) expect(run.stdout).toMatch(row(run, 'timed out'));
    // Whichever test runs first hangs (files run largest first); what matters is that it is the same one.
    expect(hung[0], runs[0].stdout).toMatch(/^stage \d: /);
    expect(hung[1]).toBe(hung[0]);
    expect(results().katas[slug]).toMatchObject({ status: 'timed-out', total: tests });
  });

  it('prints a syntax error once, and stores it once [item 6]', async () => {
    sandbox.write(file, `${stub}\nconst = ;\n`);
    const run = await sandbox.test([slug, '--ignore-not-started']);
    expect(run.code, "a started kata that does not pass fails the fork's workflow").toBe(1);
    expect(run.stdout.match(/Unexpected token/g)).toHaveLength(1);
    expect(results().katas[slug]!.problem!.match(/Unexpected token/g)).toHaveLength(1);
    expect(run.stdout).toMatch(row(run, 'does not load'));
  });

  it('reports a deleted kata file as not loading, and reset and restore bring it back [item 4]', async () => {
    sandbox.write(file, '// my attempt\n');
    expect((await sandbox.kata(['reset', slug, '--yes'])).code).toBe(0);
    rmSync(path.join(sandbox.root, file));

    const [graded, list, backups] = await Promise.all([
      sandbox.test([slug]),
      sandbox.kata(['list']),
      sandbox.kata(['reset', '--list']),
    ]);
    expect(graded.stderr).toBe('');
    expect(graded.stdout).toMatch(row(graded, 'does not load'));
    expect(graded.stdout).toContain(
      `${file} is missing; \`npm run kata -- reset ${slug}\` brings the stub back`,
    );
    expect(list.stdout).toMatch(new RegExp(`${slug}\\s+warm-up\\s+0/${stages}\\s+does not load`));
    const backup = new RegExp(`${slug}\\s+(\\S+\\.ts)`).exec(backups.stdout)?.[1];
    expect(backup, backups.stdout).toBeDefined();

    const restored = await sandbox.kata(['reset', slug, '--restore', backup!, '--yes']);
    expect(restored.code, restored.stderr).toBe(0);
    expect(sandbox.read(file)).toBe('// my attempt\n');
    rmSync(path.join(sandbox.root, file));
    const reset = await sandbox.kata(['reset', slug, '--yes']);
    expect(reset.code, reset.stderr).toBe(0);
    expect(sandbox.read(file)).toBe(stub);
  });
});
