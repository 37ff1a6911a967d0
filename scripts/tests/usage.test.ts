/**
 * The learner's CLI on a fresh clone: the list, reading a kata, and every usage mistake answered
 * with one line that names the valid choices and exit code 2. No grading here.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableKatas } from '../lib/katas.ts';
import { createSandbox, prepareKata, type Run, type Sandbox } from './sandbox.ts';

let sandbox: Sandbox;
let slug: string;
const slugs = availableKatas().map((kata) => kata.slug);

beforeAll(() => {
  sandbox = createSandbox();
  slug = prepareKata(sandbox);
}, 30_000);
// Removing a copy of the repository can take seconds on a busy machine.
afterAll(() => sandbox?.remove(), 30_000);

/** One line on stderr, nothing on stdout, exit code 2. */
function expectUsageError(run: Run): string {
  expect(run.code, `exit code for a usage mistake\n${run.stdout}${run.stderr}`).toBe(2);
  expect(run.stdout).toBe('');
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines, `one line, no stack trace:\n${run.stderr}`).toHaveLength(1);
  return lines[0]!;
}

describe('kata list on a fresh clone', { timeout: 30_000 }, () => {
  it('lists every kata in recommended order, not started, with the first one marked next', async () => {
    const run = await sandbox.kata(['list']);
    expect(run.code).toBe(0);
    expect(run.stderr, 'no note on a fresh clone').toBe('');
    const positions = slugs.map((name) => run.stdout.indexOf(name));
    expect(positions.every((position) => position >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(run.stdout).toMatch(new RegExp(`▶\\s+${slug}\\s+warm-up`));
    expect(run.stdout).toContain(`0 of ${slugs.length} katas solved.`);
    expect(run.stdout).toContain(`npm run kata -- start ${slug}`);
  });

  it('is also `status`, and what `npm run kata` with no command shows', async () => {
    const [status, bare] = await Promise.all([sandbox.kata(['status']), sandbox.kata([])]);
    expect(status.code).toBe(0);
    expect(bare.code).toBe(0);
    expect(status.stdout).toContain(`0 of ${slugs.length} katas solved.`);
    expect(bare.stdout).toBe(status.stdout);
  });

  it('rebuilds corrupt progress from the last results with a one-line note, never a crash', async () => {
    sandbox.write('.kata/results.json', JSON.stringify(solvedResult(slug)));
    sandbox.write('.kata/progress.json', '{"version": 1, "katas": {"oops"');
    const run = await sandbox.kata(['list']);
    expect(run.code).toBe(0);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr.trim()).toMatch(
      /^note: \.kata\/progress\.json could not be used \(not JSON .*\); kept as \.kata\/backups\/state\/\S+-progress\.json; progress rebuilt from the last grading results$/,
    );
    expect(run.stdout).toMatch(new RegExp(`${slug}\\s+warm-up\\s+1/1\\s+solved`));
    expect(run.stdout).toMatch(new RegExp(`▶\\s+${slugs[1]}`));
    // The next command that records progress writes a good file again.
    await sandbox.kata(['start', slug]);
    expect(JSON.parse(sandbox.read('.kata/progress.json'))).toMatchObject({
      version: 1,
      katas: { [slug]: { runs: 1 } },
    });
    const again = await sandbox.kata(['list']);
    expect(again.stderr).toBe('');
  });

  it('backs up valid JSON of the wrong shape and starts afresh, never a crash [issue 12 item 7]', async () => {
    // Each shape once crashed a command: "Cannot read properties of undefined", "paint[status] is not a function".
    const results = { version: 1, katas: { [slug]: { slug, status: 'solved' } } };
    const interviews = { version: 1, rounds: [{ slug, status: 'bogus', date: 'yesterday' }] };
    sandbox.write('.kata/results.json', JSON.stringify(results));
    sandbox.write('.kata/progress.json', JSON.stringify({ version: 1, katas: { [slug]: {} } }));
    sandbox.write('.kata/interviews.json', JSON.stringify(interviews));
    const [list, history] = await Promise.all([
      sandbox.kata(['list']),
      sandbox.kata(['interview', '--history']),
    ]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain(`0 of ${slugs.length} katas solved.`);
    expect(list.stderr).toMatch(
      /^note: \.kata\/results\.json could not be used \(katas\.lru-ttl-cache\.stages: .*\); kept as \.kata\/backups\/state\/\S+-results\.json; grading results start afresh/m,
    );
    expect(list.stderr).toMatch(
      /^note: \.kata\/progress\.json could not be used \(katas\.lru-ttl-cache\./m,
    );
    expect(history.code, history.stderr).toBe(0);
    expect(history.stdout).toContain('No interview rounds yet');
    expect(history.stderr.trim()).toMatch(
      /^note: \.kata\/interviews\.json could not be used \(rounds\.0\.date: .*\); kept as \.kata\/backups\/state\/\S+-interviews\.json; a new history starts$/,
    );
    const kept = readdirSync(path.join(sandbox.root, '.kata/backups/state'));
    const backup = kept.find((name) => name.endsWith('-interviews.json'))!;
    expect(JSON.parse(sandbox.read(`.kata/backups/state/${backup}`))).toEqual(interviews);
    expect(sandbox.exists('.kata/results.json')).toBe(false);
  });
});

describe.concurrent(
  'long outputs at a terminal go through $PAGER [issue 12 F5]',
  { timeout: 60_000 },
  () => {
    /** Runs `args` at a terminal with a pager that saves what it is given; the screen's text. */
    const paged = async (args: string[], file: string): Promise<string> => {
      const pager = `cat > ${file}; echo "(paged into ${file})"`;
      const run = sandbox.background(args, { PAGER: pager }, { terminal: true });
      try {
        await run.waitFor(new RegExp(`\\(paged into ${file}\\)`), 1, 50_000);
        await run.exited();
        return run.output();
      } finally {
        run.stop();
      }
    };

    it('start: the README is paged, and what to do next stays on the screen', async () => {
      const screen = await paged(['start', slug], 'paged-start.txt');
      const title = /^#\s+(.+)$/m.exec(sandbox.read(`katas/${slug}/README.md`))?.[1] ?? '';
      expect(sandbox.read('paged-start.txt')).toContain(title.replace(/`/g, ''));
      expect(screen).not.toContain(title.replace(/`/g, ''));
      expect(screen).toContain(`edit   katas/${slug}/index.ts`);
    });

    it('solution: the reference, notes and diff are paged', async () => {
      await paged(['solution', slug, '--force', '--yes'], 'paged-solution.txt');
      const text = sandbox.read('paged-solution.txt');
      expect(text).toContain(`the reference: solutions/${slug}/index.ts`);
      expect(text).toContain('diff: your code → the reference');
    });

    it('not at a terminal, nothing is paged', async () => {
      const run = await sandbox.kata(['start', slug], { env: { PAGER: 'cat > paged-pipe.txt' } });
      expect(run.code).toBe(0);
      expect(sandbox.exists('paged-pipe.txt')).toBe(false);
    });
  },
);

describe('kata start', { timeout: 30_000 }, () => {
  it("prints the kata's README and the file to edit", async () => {
    const run = await sandbox.kata(['start', slug]);
    expect(run.code).toBe(0);
    const title = /^#\s+(.+)$/m.exec(sandbox.read(`katas/${slug}/README.md`))?.[1] ?? '';
    expect(run.stdout).toContain(title.replace(/`/g, ''));
    expect(run.stdout).toContain(`edit   katas/${slug}/index.ts`);
    expect(run.stdout).toContain(`npm run watch -- ${slug}`);
  });
});

describe.concurrent(
  'usage mistakes: one line naming the valid choices, exit 2',
  { timeout: 30_000 },
  () => {
    for (const command of ['start', 'hint', 'watch', 'solution', 'reset', 'interview']) {
      it(`${command} with an unknown kata lists the katas`, async () => {
        const line = expectUsageError(await sandbox.kata([command, 'no-such-kata']));
        expect(line).toBe(
          `kata ${command}: unknown kata "no-such-kata"; choose one of: ${slugs.join(', ')}`,
        );
      });
    }

    it('a missing kata lists the katas', async () => {
      const line = expectUsageError(await sandbox.kata(['hint']));
      expect(line).toContain(
        `missing required argument 'slug'; choose one of: ${slugs.join(', ')}`,
      );
    });

    it('reset without a kata (and without --list) lists the katas', async () => {
      const line = expectUsageError(await sandbox.kata(['reset', '--yes']));
      expect(line).toBe(`kata reset: name a kata; choose one of: ${slugs.join(', ')}`);
    });

    it('an unknown option lists the options of that command', async () => {
      const line = expectUsageError(await sandbox.kata(['solution', slug, '--forse']));
      expect(line).toContain("unknown option '--forse'");
      expect(line).toContain('--force, --yes, --help');
    });

    it('an unknown command lists the commands', async () => {
      const line = expectUsageError(await sandbox.kata(['solve', slug]));
      expect(line).toBe(
        "kata: unknown command 'solve'; commands: list, start, hint, watch, solution, reset, interview",
      );
    });

    it('interview --minutes must be a positive number', async () => {
      const runs = await Promise.all(
        ['0', 'soon'].map((minutes) => sandbox.kata(['interview', '--minutes', minutes])),
      );
      for (const run of runs)
        expect(expectUsageError(run)).toContain('give a positive number of minutes');
    });

    it('--help is not a mistake', async () => {
      const run = await sandbox.kata(['--help']);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('interview [options] [slug]');
    });
  },
);

describe.concurrent(
  'npm test usage mistakes: one line, exit 2, like the kata tool',
  { timeout: 30_000 },
  () => {
    const refused = (where: string, text: string): string =>
      `invalid ${where} "${text}": give a whole number of milliseconds above 0, e.g. 30000`;

    it('--timeout-ms abc and -5 are refused in one line [issue 12 item 9]', async () => {
      const [abc, negative] = await Promise.all([
        sandbox.test([slug, '--timeout-ms', 'abc']),
        sandbox.test(['--timeout-ms', '-5', slug]),
      ]);
      expect(expectUsageError(abc)).toBe(`npm test: ${refused('--timeout-ms', 'abc')}`);
      expect(expectUsageError(negative)).toBe(`npm test: ${refused('--timeout-ms', '-5')}`);
    });

    it('KATA_TIMEOUT_MS=-5 and abc are refused alike, not ignored [issue 12 item 9]', async () => {
      const [negative, abc, hint] = await Promise.all([
        sandbox.test([slug], { env: { KATA_TIMEOUT_MS: '-5' } }),
        sandbox.test([], { env: { KATA_TIMEOUT_MS: 'abc' } }),
        sandbox.kata(['hint', slug], { env: { KATA_TIMEOUT_MS: '1.5' } }),
      ]);
      expect(expectUsageError(negative)).toBe(`npm test: ${refused('KATA_TIMEOUT_MS', '-5')}`);
      expect(expectUsageError(abc)).toBe(`npm test: ${refused('KATA_TIMEOUT_MS', 'abc')}`);
      expect(expectUsageError(hint)).toBe(`kata hint: ${refused('KATA_TIMEOUT_MS', '1.5')}`);
    });

    it('an unknown kata or option is one line naming the choices, not the whole usage', async () => {
      const [kata, option] = await Promise.all([
        sandbox.test(['no-such-kata']),
        sandbox.test(['--bogus']),
      ]);
      expect(expectUsageError(kata)).toBe(
        `npm test: unknown kata "no-such-kata"; choose one of: ${slugs.join(', ')}`,
      );
      expect(expectUsageError(option)).toMatch(
        /^npm test: unknown option '--bogus'; options: --timeout-ms, .*--help$/,
      );
    });
  },
);

function solvedResult(name: string): unknown {
  return {
    version: 1,
    katas: {
      [name]: {
        slug: name,
        status: 'solved',
        stages: [
          {
            number: 1,
            title: 'works',
            passed: 1,
            total: 1,
            tests: [{ name: 'works', status: 'passed' }],
          },
        ],
        passed: 1,
        total: 1,
        durationMs: 10,
        gradedAt: '2030-01-01T00:00:00.000Z',
        consoleOutput: [],
      },
    },
  };
}
