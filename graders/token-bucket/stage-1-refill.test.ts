/**
 * Grader for token-bucket, stage 1: a bucket that refills continuously. The constructor and its
 * validation, `tokens`, `tryTake`, `msUntil`, reads that change nothing (R4), and their cost
 * (R32). Time is a fake clock throughout.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { TokenBucket, type TokenBucketOptions } from '@kata/token-bucket';
import { advance, useFakeClock } from '../support/clock.ts';
import { countTimers, describeRatio, sizeRatio } from '../support/limits.ts';
import { assertProperty } from '../support/property.ts';
import {
  CLEAN_CASES,
  TOKEN_TOLERANCE,
  expectThrows,
  expectTokens,
  expectWaitMs,
} from './fixtures.ts';

const RANGE = { classes: [RangeError] } as const;
const TYPE = { classes: [TypeError] } as const;

describe('stage 1: a bucket that refills continuously', () => {
  it('starts full by default and at initialTokens when given, fractions and 0 included [R1]', () => {
    useFakeClock();
    expectTokens(
      new TokenBucket({ capacity: 5, refillPerSecond: 1 }),
      5,
      'of new TokenBucket({ capacity: 5, refillPerSecond: 1 }) (no initialTokens: full)',
      'R1',
    );
    expectTokens(
      new TokenBucket({ capacity: 5, refillPerSecond: 1, initialTokens: 2.5 }),
      2.5,
      'of a new bucket with initialTokens 2.5',
      'R1',
    );
    const empty = new TokenBucket({ capacity: 5, refillPerSecond: 1, initialTokens: 0 });
    expectTokens(empty, 0, 'of a new bucket with initialTokens 0 (empty, not "absent")', 'R1');
    expect(
      empty.tryTake(),
      'tryTake() on a new bucket with initialTokens 0: it is empty, not full [R1]',
    ).toBe(false);
  });

  it('takes one token per tryTake() by default and refuses once the bucket is empty [R7]', () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 3, refillPerSecond: 1 });
    const results = [bucket.tryTake(), bucket.tryTake(), bucket.tryTake(), bucket.tryTake()];
    expect(
      results,
      'four tryTake() at the same instant on a full bucket of capacity 3: three tokens, then none [R7]',
    ).toEqual([true, true, true, false]);
    expectTokens(bucket, 0, 'after taking all 3 tokens', 'R7');
  });

  it('takes count tokens with tryTake(count) and takes nothing when it refuses [R7]', () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 1, initialTokens: 3 });
    expect(bucket.tryTake(2), 'tryTake(2) with 3 tokens [R7]').toBe(true);
    expectTokens(bucket, 1, 'after tryTake(2) from 3', 'R7');
    expect(bucket.tryTake(2), 'tryTake(2) with 1 token [R7]').toBe(false);
    expectTokens(bucket, 1, 'after a refused tryTake(2): it must take nothing', 'R7');
    expect(bucket.tryTake(6), 'tryTake(6) with capacity 5 can never succeed [R7]').toBe(false);
    expectTokens(bucket, 1, 'after tryTake(6) > capacity: it must take nothing', 'R7');
  });

  it('refills fractional tokens continuously, not in whole steps [R2]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 4, initialTokens: 0 });
    await advance(100);
    expectTokens(bucket, 0.4, '100 ms after empty at 4 tokens/s', 'R2');
    expect(bucket.tryTake(), 'tryTake() with 0.4 tokens [R2]').toBe(false);
    await advance(150);
    expectTokens(bucket, 1, '250 ms after empty at 4 tokens/s', 'R2');
    await advance(1);
    expect(bucket.tryTake(), 'tryTake() 251 ms after empty at 4 tokens/s (1.004 tokens) [R2]').toBe(
      true,
    );
    expectTokens(bucket, 0.004, 'after taking 1 of 1.004 tokens', 'R2');
    await advance(500);
    expectTokens(bucket, 2.004, 'from 0.004 tokens, 500 ms later at 4 tokens/s', 'R2');
  });

  it('never holds more than capacity, however long it sits idle [R3]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 3, refillPerSecond: 10, initialTokens: 2.5 });
    await advance(3_600_000);
    expectTokens(bucket, 3, 'of a bucket of capacity 3 idle for an hour at 10 tokens/s', 'R3');
    expect(bucket.tryTake(3), 'tryTake(3) from a full bucket of 3 [R3]').toBe(true);
    expect(
      bucket.tryTake(),
      'a fourth token after an idle hour would exceed the burst size of 3 [R3]',
    ).toBe(false);
  });

  it('reports with msUntil() the ms until count tokens are there, counting the tokens already in [R8]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0.5 });
    expectWaitMs(bucket.msUntil(), 50, 'msUntil() with 0.5 tokens at 10/s', 'R8');
    expectWaitMs(bucket.msUntil(3), 250, 'msUntil(3) with 0.5 tokens at 10/s', 'R8');
    expect(bucket.msUntil(6), 'msUntil(6) with capacity 5: never [R8]').toBe(Infinity);
    await advance(50);
    expect(bucket.msUntil(1), 'msUntil(1) once 1 token is in (0.5 + 50 ms at 10/s) [R8]').toBe(0);
    expectTokens(bucket, 1, 'after msUntil(1): it must take nothing', 'R8');
    const slow = new TokenBucket({ capacity: 2, refillPerSecond: 3, initialTokens: 0 });
    expectWaitMs(slow.msUntil(), 1000 / 3, 'msUntil() from empty at 3 tokens/s', 'R8');
  });

  it('reports with msUntil(capacity) the finite ms until the bucket is full [R8]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0.5 });
    expectWaitMs(
      bucket.msUntil(5),
      450,
      'msUntil(5) with capacity 5 and 0.5 tokens at 10/s: a full bucket is reachable, only a ' +
        'count above capacity is never available',
      'R8',
    );
    await advance(450);
    expect(bucket.msUntil(5), 'msUntil(5) once the bucket of capacity 5 is full [R8]').toBe(0);
  });

  it('earns a whole token at 1000 ms from empty at 1/s, however often it was looked at before [R4]', async () => {
    useFakeClock();
    const options = { capacity: 1, refillPerSecond: 1, initialTokens: 0 };
    const looks: [string, (bucket: TokenBucket) => unknown][] = [
      ['tokens', (bucket) => bucket.tokens],
      ['msUntil()', (bucket) => bucket.msUntil()],
      ['tryTake() (refused)', (bucket) => bucket.tryTake()],
    ];
    const buckets = looks.map(() => new TokenBucket(options));
    for (let ms = 100; ms < 1000; ms += 100) {
      await advance(100);
      looks.forEach(([, look], index) => look(buckets[index]!));
    }
    await advance(100);
    for (const [index, [name]] of looks.entries()) {
      const bucket = buckets[index]!;
      const tokens = bucket.tokens;
      expect(
        tokens >= 1,
        `tokens at 1000 ms from empty at 1/s, after reading ${name} every 100 ms: expected 1 ` +
          `(a whole token earned), got ${tokens}; a read must not round what the bucket stores [R4]`,
      ).toBe(true);
      expect(
        bucket.msUntil(),
        `msUntil() at 1000 ms from empty at 1/s, after reading ${name} every 100 ms [R4]`,
      ).toBe(0);
      expect(
        bucket.tryTake(),
        `tryTake() at 1000 ms from empty at 1/s, after reading ${name} every 100 ms: a whole ` +
          'token has been earned [R4]',
      ).toBe(true);
    }
  });

  it('never moves the moment tokens are there, whatever reads come before it [R4]', async () => {
    useFakeClock();
    type Look = 'tokens' | 'msUntil' | 'tryTake' | 'tryTakeOverCapacity';
    // Outside the property, so that an unwritten method fails this test with its own error.
    void new TokenBucket({ capacity: 1, refillPerSecond: 1 }).tokens;
    await assertProperty(
      'Reads change nothing (R4): from empty, count tokens are there at the whole ms the ' +
        'arithmetic says (no rounding), however the bucket was read (tokens, msUntil(), refused ' +
        'tryTake()) and at whatever steps before.',
      fc.property(
        fc.constantFrom(...CLEAN_CASES),
        fc.array(
          fc.record({
            waitMs: fc.integer({ min: 1, max: 400 }),
            look: fc.constantFrom<Look>('tokens', 'msUntil', 'tryTake', 'tryTakeOverCapacity'),
          }),
          { minLength: 1, maxLength: 30 },
        ),
        ({ refillPerSecond, count, dueMs }, looks) => {
          const capacity = count + 1;
          const bucket = new TokenBucket({ capacity, refillPerSecond, initialTokens: 0 });
          const done: string[] = [];
          let now = 0;
          for (const { waitMs, look } of looks) {
            if (now + waitMs >= dueMs) break;
            vi.advanceTimersByTime(waitMs);
            now += waitMs;
            if (look === 'tokens') void bucket.tokens;
            else if (look === 'msUntil') bucket.msUntil(count);
            else if (look === 'tryTake') bucket.tryTake(count);
            else bucket.tryTake(capacity + 1);
            done.push(`${look} at ${now} ms`);
          }
          vi.advanceTimersByTime(dueMs - now);
          const tokens = bucket.tokens;
          const taken = bucket.tryTake(count);
          if (!taken) {
            throw new Error(
              `tryTake(${count}) at ${dueMs} ms from empty at ${refillPerSecond}/s was refused ` +
                `(tokens read ${tokens}), although ${count} whole tokens have been earned; reads ` +
                `before it: ${done.join(', ') || 'none'} [R4]`,
            );
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('rejects a capacity that is not an integer >= 1 with a RangeError naming capacity [R5]', () => {
    for (const capacity of [0, -1, 2.5, Infinity, NaN]) {
      expectThrows(
        () => new TokenBucket({ capacity, refillPerSecond: 1 }),
        `new TokenBucket({ capacity: ${capacity}, refillPerSecond: 1 })`,
        { ...RANGE, names: 'capacity', rule: 'R5' },
      );
    }
  });

  it('rejects a refillPerSecond that is not finite and > 0 with a RangeError naming refillPerSecond [R5]', () => {
    for (const refillPerSecond of [0, -1, Infinity, NaN]) {
      expectThrows(
        () => new TokenBucket({ capacity: 1, refillPerSecond }),
        `new TokenBucket({ capacity: 1, refillPerSecond: ${refillPerSecond} })`,
        { ...RANGE, names: 'refillPerSecond', rule: 'R5' },
      );
    }
  });

  it('rejects initialTokens outside 0..capacity with a RangeError naming initialTokens [R5]', () => {
    for (const initialTokens of [-0.5, 5.5, NaN]) {
      expectThrows(
        () => new TokenBucket({ capacity: 5, refillPerSecond: 1, initialTokens }),
        `new TokenBucket({ capacity: 5, refillPerSecond: 1, initialTokens: ${initialTokens} })`,
        { ...RANGE, names: 'initialTokens', rule: 'R5' },
      );
    }
  });

  it('rejects options that are not numbers with a TypeError naming the option [R5]', () => {
    const cases: [string, string, Record<string, unknown>][] = [
      ['capacity', "{ capacity: '5', refillPerSecond: 1 }", { capacity: '5', refillPerSecond: 1 }],
      [
        'refillPerSecond',
        "{ capacity: 5, refillPerSecond: '10' }",
        { capacity: 5, refillPerSecond: '10' },
      ],
      [
        'initialTokens',
        "{ capacity: 5, refillPerSecond: 10, initialTokens: '1' }",
        { capacity: 5, refillPerSecond: 10, initialTokens: '1' },
      ],
    ];
    for (const [name, shown, options] of cases) {
      expectThrows(
        () => new TokenBucket(options as unknown as TokenBucketOptions),
        `new TokenBucket(${shown})`,
        { ...TYPE, names: name, rule: 'R5' },
      );
    }
  });

  it('rejects a count that is not an integer >= 1 in tryTake() and msUntil() with a RangeError naming count [R6]', () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 1 });
    for (const count of [0, -1, 1.5, NaN]) {
      expectThrows(() => bucket.tryTake(count), `tryTake(${count})`, {
        ...RANGE,
        names: 'count',
        rule: 'R6',
      });
      expectThrows(() => bucket.msUntil(count), `msUntil(${count})`, {
        ...RANGE,
        names: 'count',
        rule: 'R6',
      });
    }
    expectTokens(bucket, 5, 'after invalid counts: they must take nothing', 'R6');
  });

  it('matches a simple model of the bucket over random tryTake() and clock advances [R2, R3, R7]', async () => {
    useFakeClock();
    type Step = { take: number } | { advanceMs: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ take: fc.integer({ min: 1, max: 11 }) }),
      fc.record({ advanceMs: fc.integer({ min: 0, max: 2_500 }) }),
    );
    // Outside the property, so that an unwritten method fails this test with its own error.
    new TokenBucket({ capacity: 1, refillPerSecond: 1 }).tryTake();
    await assertProperty(
      'The bucket must behave like the model: tokens = min(capacity, tokens + ms * refillPerSecond ' +
        '/ 1000) between steps (R2, R3), and tryTake(n) succeeds exactly when n <= tokens, ' +
        'taking n (R7).',
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 2_000 }).map((n) => n / 100),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.array(step, { maxLength: 25 }),
        (capacity, refillPerSecond, initialFraction, steps) => {
          const initialTokens = capacity * initialFraction;
          const bucket = new TokenBucket({ capacity, refillPerSecond, initialTokens });
          const tolerance = TOKEN_TOLERANCE * capacity;
          let model = initialTokens;
          const setup = `capacity ${capacity}, refillPerSecond ${refillPerSecond}, initialTokens ${initialTokens}`;
          for (const [index, s] of steps.entries()) {
            const at = `step ${index} (${JSON.stringify(s)}) of a bucket with ${setup}, the model holding ${model} tokens before it`;
            if ('advanceMs' in s) {
              vi.advanceTimersByTime(s.advanceMs);
              model = Math.min(capacity, model + (s.advanceMs * refillPerSecond) / 1000);
            } else {
              const taken = bucket.tryTake(s.take);
              // Within float error of the boundary, either answer is right: follow the bucket.
              const expected = Math.abs(model - s.take) <= tolerance ? taken : s.take <= model;
              if (taken !== expected) {
                throw new Error(
                  `tryTake(${s.take}) at ${at}: the model expected ${expected}, the bucket ` +
                    `returned ${taken} [R7]`,
                );
              }
              if (taken) model = Math.max(0, model - s.take);
            }
            const tokens = bucket.tokens;
            if (!(
              Math.abs(tokens - model) <= tolerance &&
              tokens >= -tolerance &&
              tokens <= capacity + tolerance
            )) {
              throw new Error(
                `tokens after ${at}: the model expected ≈ ${model} within [0, ${capacity}], the ` +
                  `bucket holds ${tokens} [${tokens > capacity + tolerance ? 'R3' : 'R2'}]`,
              );
            }
          }
        },
      ),
      { numRuns: 80 },
    );
  });

  it('answers tokens, msUntil() and tryTake() as fast after 20 s idle as after 10 ms [R32]', () => {
    useFakeClock();
    // Half full, with a capacity no refill here reaches: every tryTake(1) succeeds, so each round
    // measures one idle period (a loop that stops once full cannot hide). A new bucket per sample:
    // both sizes share the one clock, and an old bucket would carry the other size's idle time.
    const capacity = 1_000_000_000;
    const sizes = { small: 10, large: 20_000 };
    const measured = sizeRatio(
      (idleMs) => {
        return () => {
          const bucket = new TokenBucket({
            capacity,
            refillPerSecond: 1,
            initialTokens: capacity / 2,
          });
          for (let i = 0; i < 20; i += 1) {
            vi.advanceTimersByTime(idleMs);
            void bucket.tokens;
            bucket.msUntil(capacity);
            bucket.tryTake(1);
          }
        };
      },
      sizes,
      9,
    );
    expect(
      measured.ratio < 25,
      `20 rounds of tokens, msUntil() and tryTake() after ${sizes.large} ms idle vs after ` +
        `${sizes.small} ms: ${describeRatio(measured, sizes)}; O(1) work measures about 1, work ` +
        'that grows with the time elapsed (a catch-up loop) about the size ratio [R32]',
    ).toBe(true);
  });

  it('starts no timer for tokens, tryTake() or msUntil(), refilling lazily [R32]', async () => {
    useFakeClock();
    const timers = countTimers();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    for (let i = 0; i < 10; i += 1) {
      await advance(150);
      void bucket.tokens;
      bucket.msUntil(3);
      bucket.tryTake(2);
    }
    const seen = timers();
    expect(
      seen.scheduled,
      'timers, intervals and immediates scheduled by new TokenBucket(), tokens, msUntil() and ' +
        'tryTake() over 1.5 s: refill is computed from the time elapsed, with no timer [R32]',
    ).toBe(0);
    expect(seen.pending, 'timers pending after tokens, msUntil() and tryTake() [R32]').toBe(0);
  });
});
