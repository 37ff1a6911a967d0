import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { backoffDelay, type RetryOptions } from '@kata/retry-backoff';
import { describeRatio, sizeRatio } from '../support/limits.ts';
import { assertProperty } from '../support/property.ts';
import { DIGITS, describeValue, expectThrows, thrownBy } from './fixtures.ts';

describe('stage 1: computes exponential backoff delays', () => {
  test("returns minDelayMs * factor ** (retryNumber - 1) ms with jitter 'none' [R1]", () => {
    const defaults = [1, 2, 3, 4].map((n) => backoffDelay(n, { jitter: 'none' }));
    expect(
      defaults,
      "backoffDelay(1..4, { jitter: 'none' }): defaults minDelayMs 100, factor 2 give 100, 200, 400, 800 ms [R1]",
    ).toEqual([100, 200, 400, 800]);
    const custom = [1, 2, 3, 4].map((n) =>
      backoffDelay(n, { jitter: 'none', minDelayMs: 50, factor: 3 }),
    );
    expect(
      custom,
      "backoffDelay(1..4, { jitter: 'none', minDelayMs: 50, factor: 3 }): 50 * 3 ** (n - 1) ms [R1]",
    ).toEqual([50, 150, 450, 1350]);
  });

  test('keeps the delay constant with factor 1 [R1]', () => {
    const delays = [1, 2, 10, 1000].map((n) =>
      backoffDelay(n, { jitter: 'none', minDelayMs: 250, factor: 1 }),
    );
    expect(
      delays,
      "backoffDelay(1, 2, 10, 1000, { jitter: 'none', minDelayMs: 250, factor: 1 }): 250 ms each [R1]",
    ).toEqual([250, 250, 250, 250]);
  });

  test('caps the base delay at maxDelayMs (30_000 ms by default) [R1]', () => {
    expect(
      backoffDelay(10, { jitter: 'none' }),
      "backoffDelay(10, { jitter: 'none' }): 100 * 2 ** 9 = 51_200 ms, capped at the default maxDelayMs 30_000 ms [R1]",
    ).toBe(30_000);
    const capped = [4, 5, 6, 50].map((n) => backoffDelay(n, { jitter: 'none', maxDelayMs: 1000 }));
    expect(
      capped,
      "backoffDelay(4, 5, 6, 50, { jitter: 'none', maxDelayMs: 1000 }): 800, then capped at 1000 ms [R1]",
    ).toEqual([800, 1000, 1000, 1000]);
  });

  test('returns 0 ms for every retry with maxDelayMs 0 [R1]', () => {
    for (const jitter of ['none', 'full', 'equal'] as const) {
      const delays = [1, 2, 30].map((n) =>
        backoffDelay(n, { jitter, maxDelayMs: 0, random: () => 0.5 }),
      );
      expect(
        delays,
        `backoffDelay(1, 2, 30, { jitter: '${jitter}', maxDelayMs: 0 }): a cap of 0 ms is valid (finite, >= 0) and makes every delay 0 [R1]`,
      ).toEqual([0, 0, 0]);
    }
  });

  test('caps even the first delay when maxDelayMs is below minDelayMs [R5]', () => {
    expect(
      backoffDelay(1, { jitter: 'none', minDelayMs: 500, maxDelayMs: 200 }),
      "backoffDelay(1, { jitter: 'none', minDelayMs: 500, maxDelayMs: 200 }): the cap wins, even on the first retry [R5]",
    ).toBe(200);
  });

  test('stays finite for huge retry numbers: maxDelayMs, or 0 ms when minDelayMs is 0 [R7]', () => {
    expect(
      backoffDelay(2000, { jitter: 'none' }),
      "backoffDelay(2000, { jitter: 'none' }): 2 ** 1999 overflows to Infinity, and the cap must still give 30_000 ms [R7]",
    ).toBe(30_000);
    expect(
      backoffDelay(2000, { jitter: 'none', minDelayMs: 0 }),
      "backoffDelay(2000, { jitter: 'none', minDelayMs: 0 }): 0 * Infinity is NaN in JavaScript, but the delay is 0 ms [R7]",
    ).toBe(0);
    expect(
      backoffDelay(2000, { jitter: 'full', minDelayMs: 0, random: () => 0.5 }),
      "backoffDelay(2000, { jitter: 'full', minDelayMs: 0 }): 0 ms, not NaN [R7]",
    ).toBe(0);
  });

  test("multiplies the base by random() with 'full' jitter [R2]", () => {
    const cases: [number, number, number][] = [
      // [retryNumber, random(), expected]
      [3, 0.25, 100],
      [3, 0, 0],
      [1, 0.5, 50],
      [4, 0.75, 600],
    ];
    for (const [n, r, expected] of cases) {
      expect(
        backoffDelay(n, { jitter: 'full', random: () => r }),
        `backoffDelay(${n}, { jitter: 'full', random: () => ${r} }): random() * base, base ${100 * 2 ** (n - 1)} ms [R2]`,
      ).toBeCloseTo(expected, DIGITS);
    }
  });

  test("applies 'full' jitter after the cap, so late retries still spread over [0, maxDelayMs) [R5]", () => {
    expect(
      backoffDelay(10, { jitter: 'full', maxDelayMs: 1000, random: () => 0.5 }),
      "backoffDelay(10, { jitter: 'full', maxDelayMs: 1000, random: () => 0.5 }): base = min(1000, 51_200) = 1000, " +
        'then 0.5 * 1000 = 500 ms. Capping after the jitter would send every late retry at exactly maxDelayMs, together [R5]',
    ).toBeCloseTo(500, DIGITS);
  });

  test("waits base / 2 + random() * base / 2 with 'equal' jitter [R3]", () => {
    const cases: [number, number, RetryOptions, number][] = [
      [2, 0, {}, 100],
      [2, 0.5, {}, 150],
      [2, 0.75, {}, 175],
      [10, 0, { maxDelayMs: 1000 }, 500],
      [10, 0.5, { maxDelayMs: 1000 }, 750],
    ];
    for (const [n, r, options, expected] of cases) {
      expect(
        backoffDelay(n, { ...options, jitter: 'equal', random: () => r }),
        `backoffDelay(${n}, { jitter: 'equal', random: () => ${r}${options.maxDelayMs === undefined ? '' : `, maxDelayMs: ${options.maxDelayMs}`} }): ` +
          `base / 2 + random() * base / 2 = ${expected} ms [R3]`,
      ).toBeCloseTo(expected, DIGITS);
    }
  });

  test('returns fractional delays as computed, without rounding [R6]', () => {
    const cases: [number, RetryOptions, number][] = [
      [2, { jitter: 'full', random: () => 0.999 }, 199.8],
      [1, { jitter: 'equal', random: () => 0.123 }, 56.15],
      [2, { jitter: 'none', minDelayMs: 0.5, factor: 1.5 }, 0.75],
    ];
    for (const [n, options, expected] of cases) {
      const delay = backoffDelay(n, options);
      expect(
        delay,
        `backoffDelay(${n}, ${JSON.stringify({ ...options, random: undefined })}${options.random ? ` with random() = ${options.random()}` : ''}): ` +
          `${expected} ms exactly as computed; delays are not rounded [R6]`,
      ).toBeCloseTo(expected, DIGITS);
    }
  });

  test("uses 'full' jitter by default [R4]", () => {
    expect(
      backoffDelay(2, { random: () => 0.5 }),
      'backoffDelay(2, { random: () => 0.5 }), no jitter option: the default is full jitter, 0.5 * 200 = 100 ms [R4]',
    ).toBeCloseTo(100, DIGITS);
  });

  test('uses Math.random by default: delays vary within [0, base) [R4]', () => {
    const delays = Array.from({ length: 50 }, () => backoffDelay(3));
    for (const delay of delays) {
      expect(
        delay >= 0 && delay < 400,
        `backoffDelay(3) with defaults (full jitter, base 400 ms) gave ${delay}: expected a delay in [0, 400) [R4]`,
      ).toBe(true);
    }
    expect(
      new Set(delays).size,
      `50 calls of backoffDelay(3) with the default random gave ${new Set(delays).size} distinct ` +
        'delays: the default random is Math.random, and without jitter clients that failed together retry together [R4]',
    ).toBeGreaterThan(1);
  });

  test('matches the formula and the jitter bounds for any options (property) [R1, R2, R3, R5]', async () => {
    backoffDelay(1);
    await assertProperty(
      'backoffDelay(n, options) = base (none), random() * base in [0, base] (full), or base / 2 + random() * base / 2 in [base / 2, base] (equal), where base = min(maxDelayMs, minDelayMs * factor ** (n - 1)) [R1, R2, R3, R5]',
      fc.property(
        fc.integer({ min: 1, max: 80 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 1, max: 4, noNaN: true }),
        fc.constantFrom('full' as const, 'equal' as const, 'none' as const),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (n, minDelayMs, extraMs, factor, jitter, r) => {
          const maxDelayMs = minDelayMs + extraMs;
          const base = Math.min(maxDelayMs, minDelayMs * factor ** (n - 1));
          const expected =
            jitter === 'none' ? base : jitter === 'full' ? r * base : base / 2 + (r * base) / 2;
          const options = { minDelayMs, maxDelayMs, factor, jitter };
          const delay = backoffDelay(n, { ...options, random: () => r });
          // Plain checks rather than expect(): this runs many times and must stay fast.
          const low = jitter === 'full' ? 0 : jitter === 'equal' ? base / 2 : base;
          const call = `backoffDelay(${n}, ${JSON.stringify(options)} with random() = ${r})`;
          if (!(Math.abs(delay - expected) <= 1e-6 * Math.max(1, expected))) {
            throw new Error(`${call} gave ${delay} ms, expected ${expected} ms (base ${base} ms)`);
          }
          if (!(delay >= low - 1e-9 && delay <= base * (1 + 1e-12))) {
            throw new Error(`${call} gave ${delay} ms, outside [${low}, ${base}] ms`);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  test('grows with random() and never exceeds maxDelayMs (property) [R2, R3, R5]', async () => {
    backoffDelay(1);
    await assertProperty(
      'for r1 <= r2, the delay with random() = r1 is at most the delay with random() = r2, and both are at most maxDelayMs [R2, R3, R5]',
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.constantFrom('full' as const, 'equal' as const, 'none' as const),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (n, minDelayMs, maxDelayMs, jitter, a, b) => {
          const [r1, r2] = a <= b ? [a, b] : [b, a];
          const options = { minDelayMs, maxDelayMs, jitter };
          const low = backoffDelay(n, { ...options, random: () => r1 });
          const high = backoffDelay(n, { ...options, random: () => r2 });
          const call = `backoffDelay(${n}, ${JSON.stringify(options)})`;
          if (!(low <= high + 1e-9)) {
            throw new Error(
              `${call}: random() = ${r1} gave ${low} ms but the larger ${r2} gave ${high} ms`,
            );
          }
          if (!(high <= maxDelayMs * (1 + 1e-12))) {
            throw new Error(`${call}: random() = ${r2} gave ${high} ms, above maxDelayMs`);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  test('takes O(1) time whatever the retry number, with factor 1 and minDelayMs 0 too [R33]', () => {
    backoffDelay(1);
    // The same calls at retry 2 and at retry 1,000,000, timed side by side: a loop over the retry
    // number (even one that stops at the cap, which factor 1 and minDelayMs 0 never reach) costs
    // a million steps per call at the large size, about a thousand times the small one.
    const configs: RetryOptions[] = [
      { jitter: 'none' },
      { jitter: 'none', factor: 1 },
      { jitter: 'none', minDelayMs: 0 },
      { jitter: 'equal', factor: 1.5, random: () => 0.5 },
    ];
    const sizes = { small: 2, large: 1_000_000 };
    let sink = 0;
    const measured = sizeRatio(
      (n) => () => {
        for (let i = 0; i < 10; i += 1) {
          for (const options of configs) sink += backoffDelay(n, options);
        }
      },
      sizes,
    );
    expect(typeof sink, 'backoffDelay returns numbers').toBe('number');
    expect(
      measured.ratio < 30,
      `backoffDelay(1_000_000, options) took ${measured.ratio.toFixed(0)} times as long as backoffDelay(2, options) ` +
        `(${describeRatio(measured, sizes)}), with { factor: 1 } and { minDelayMs: 0 } among the options: ` +
        'expected about the same, O(1) time with no loop over the retry number [R33]',
    ).toBe(true);
  });

  test('rejects a retryNumber that is not an integer >= 1 with a RangeError naming retryNumber [R32]', () => {
    for (const retryNumber of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectThrows(
        () => backoffDelay(retryNumber),
        [RangeError],
        'retryNumber',
        `backoffDelay(${retryNumber}): retry numbers are integers from 1`,
        '[R32]',
      );
    }
  });

  test('rejects out-of-range numeric options with a RangeError naming the option [R30, R32]', () => {
    const cases: [keyof RetryOptions, number][] = [
      ['minDelayMs', -1],
      ['minDelayMs', Number.NaN],
      ['minDelayMs', Number.POSITIVE_INFINITY],
      ['maxDelayMs', -1],
      ['maxDelayMs', Number.NaN],
      ['maxDelayMs', Number.POSITIVE_INFINITY],
      ['factor', 0.5],
      ['factor', 0],
      ['factor', -2],
      ['factor', Number.NaN],
      ['factor', Number.POSITIVE_INFINITY],
    ];
    for (const [name, value] of cases) {
      expectThrows(
        () => backoffDelay(1, { [name]: value }),
        [RangeError],
        name,
        `backoffDelay(1, { ${name}: ${value} })`,
        '[R30, R32]',
      );
    }
  });

  test('accepts the boundaries of the ranges: minDelayMs 0, maxDelayMs 0, factor 1 [R30, R32]', () => {
    for (const options of [{ minDelayMs: 0 }, { maxDelayMs: 0 }, { factor: 1 }]) {
      const call = `backoffDelay(1, { jitter: 'none', ${Object.entries(options)[0]!.join(': ')} })`;
      const outcome = thrownBy(() => backoffDelay(1, { jitter: 'none', ...options }));
      expect(
        'thrown' in outcome ? `threw ${describeValue(outcome.thrown)}` : 'returned',
        `${call}: the value is in range (finite and >= 0, or >= 1 for factor) [R30, R32]`,
      ).toBe('returned');
    }
  });

  test('rejects a numeric option given as a string with a TypeError or RangeError naming it [R30, R32]', () => {
    expectThrows(
      () => backoffDelay(1, { minDelayMs: '100' as unknown as number }),
      [TypeError, RangeError],
      'minDelayMs',
      "backoffDelay(1, { minDelayMs: '100' })",
      '[R30, R32]',
    );
  });

  test('rejects an unknown jitter with a TypeError naming jitter [R31, R32]', () => {
    for (const jitter of ['half', 'FULL', 1]) {
      expectThrows(
        () => backoffDelay(1, { jitter: jitter as 'full' }),
        [TypeError],
        'jitter',
        `backoffDelay(1, { jitter: ${JSON.stringify(jitter)} }): jitter is 'full', 'equal' or 'none'`,
        '[R31, R32]',
      );
    }
  });

  test('rejects a random that is not a function with a TypeError naming random [R31, R32]', () => {
    expectThrows(
      () => backoffDelay(1, { random: 0.5 as unknown as () => number }),
      [TypeError],
      'random',
      'backoffDelay(1, { random: 0.5 })',
      '[R31, R32]',
    );
  });
});
