/**
 * The interview clock (issue 12, friction): at a terminal the time left moves in the prompt, a
 * line warns at 5 and at 1 minute left, and no grading outlasts the round. Each test has a
 * sandbox of its own, so both run at once, and beside the other files.
 */
import { describe, expect, it } from 'vitest';
import { createSandbox } from './sandbox.ts';

const slug = 'lru-ttl-cache';

describe.concurrent('the interview clock', { timeout: 60_000 }, () => {
  it('moves in the prompt at a terminal, and warns at 1 minute left [issue 12 F4]', async () => {
    const own = createSandbox({ git: false });
    try {
      const round = own.background(
        ['interview', slug, '--minutes', '1.05'],
        {},
        { terminal: true },
      );
      try {
        // 63 s: the 1-minute warning comes 3 s in; the 5-minute one is skipped.
        await round.waitFor(/1 minute left\./, 1, 40_000);
        const shown = new Set(
          [...round.output().matchAll(/(\d\d:\d\d) left \S* ?›/g)].map((match) => match[1]),
        );
        expect(shown.size, round.output()).toBeGreaterThanOrEqual(2);
        expect(round.output()).not.toContain('5 minutes left');
        round.write('submit\r');
        await round.waitFor(new RegExp(`Round over \\(submitted\\): ${slug}`), 1, 30_000);
      } finally {
        round.stop();
      }
    } finally {
      own.remove();
    }
  });

  it('caps the final grading when time is up, even for code that loops [issue 12 F4]', async () => {
    const own = createSandbox({ git: false });
    try {
      const file = `katas/${slug}/index.ts`;
      own.write(
        file,
        own
          .read(file)
          .replace(
            /(constructor\(options: LruTtlCacheOptions<K, V>\) \{)/,
            '$1\n    while (options !== undefined) {\n      // never returns\n    }',
          ),
      );
      const started = Date.now();
      const run = await own.kata(['interview', slug, '--minutes', '0.05'], {
        keepStdinOpen: true,
        env: { KATA_TIMEOUT_MS: '60000' },
        timeoutMs: 50_000,
      });
      const elapsed = Date.now() - started;
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain('Time is up.');
      expect(run.stdout).toContain('Final grading (at most 15 s)');
      expect(run.stdout).toMatch(/result {7}timed out/);
      expect(run.stdout).toMatch(/stages {7}0\/5 stages, 0\/\d+ tests/);
      // 3 s of round and at most 15 s of grading, where the time limit alone would allow 60 s.
      expect(elapsed).toBeLessThan(40_000);
    } finally {
      own.remove();
    }
  });
});
