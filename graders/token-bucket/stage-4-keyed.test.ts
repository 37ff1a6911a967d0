/**
 * Grader for token-bucket, stage 4: per-key limits with least-recently-used eviction.
 * `KeyedRateLimiter.check` and its decision, `maxKeys` and LRU eviction (with a randomized check
 * against an LRU model), refused checks that change nothing (R4), and the Limits: O(1) amortized
 * `check` (R35) and memory bounded by `maxKeys` (R36). Time is a fake clock throughout.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { KeyedRateLimiter, type KeyedRateLimiterOptions } from '@kata/token-bucket';
import { advance, useFakeClock } from '../support/clock.ts';
import { describeRatio, heapUsedBytes, sizeRatio, type SizeRatio } from '../support/limits.ts';
import { assertProperty } from '../support/property.ts';
import { CLEAN_CASES, expectThrows, expectWaitMs } from './fixtures.ts';

/** Key counts for the complexity checks of R35: 200 times apart. */
const SIZES = { small: 100, large: 20_000 };
/** Checks per timed sample. */
const OPS = 400;
/**
 * New keys per timed sample: fewer, because the idiomatic `Map` LRU (`map.keys().next()` to find
 * the oldest) skips the entries deleted at the front of the map until V8 rehashes it, so its cost
 * per eviction grows with the evictions done since; a few hundred in all keep that well apart
 * from a scan of every key.
 */
const EVICTIONS = 100;

/** A limiter holding `size` keys (`maxKeys` = `size`), each checked once with the clock still. */
function limiterHolding(size: number): { limiter: KeyedRateLimiter; held: string[] } {
  const limiter = new KeyedRateLimiter({ capacity: 1_000, refillPerSecond: 1, maxKeys: size });
  const held = Array.from({ length: size }, (_, i) => `held-${size}-${i}`);
  for (const key of held) limiter.check(key);
  return { limiter, held };
}

function expectConstantTime(measured: SizeRatio, ops: number, what: string): void {
  expect(
    measured.ratio < 40,
    `${ops} ${what}, with ${SIZES.large} vs ${SIZES.small} keys held: ` +
      `${describeRatio(measured, SIZES)}; O(1) work (a Map in insertion order, or a linked ` +
      'list) measures about 1 to 10, a scan of the keys about the size ratio (200) [R35]',
  ).toBe(true);
}

describe('stage 4: per-key limits with least-recently-used eviction', () => {
  it('gives a new key a full bucket of its own and reports limit, remaining, retryAfterMs and resetMs [R20, R25, R26]', () => {
    useFakeClock();
    const limiter = new KeyedRateLimiter({ capacity: 3, refillPerSecond: 2 });
    const decision = limiter.check('alice');
    expect(
      decision,
      "first check('alice') with capacity 3 at 2/s: a new key starts full, 1 of 3 taken [R20, R25, R26]",
    ).toMatchObject({ allowed: true, limit: 3, remaining: 2, retryAfterMs: 0 });
    expectWaitMs(
      decision.resetMs,
      500,
      "resetMs after the first check('alice'), 1 token short at 2/s",
      'R26',
    );
    expect(
      limiter.check('bob', 3),
      "check('bob', 3) after check('alice'): bob's bucket is separate and starts full [R20]",
    ).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('refuses once the key is out of tokens, with retryAfterMs until cost tokens, taking nothing [R23, R26]', async () => {
    useFakeClock();
    const limiter = new KeyedRateLimiter({ capacity: 3, refillPerSecond: 2 });
    expect(limiter.check('k', 3).allowed, "check('k', 3) on a new key of capacity 3 [R23]").toBe(
      true,
    );
    await advance(250);
    const refused = limiter.check('k', 2);
    expect(refused, "check('k', 2) with 0.5 tokens [R23, R25]").toMatchObject({
      allowed: false,
      limit: 3,
      remaining: 0,
    });
    expectWaitMs(
      refused.retryAfterMs,
      750,
      "retryAfterMs of check('k', 2) with 0.5 tokens at 2/s",
      'R26',
    );
    expectWaitMs(refused.resetMs, 1250, 'resetMs with 0.5 of 3 tokens at 2/s', 'R26');
    await advance(751);
    expect(
      limiter.check('k', 2),
      "check('k', 2) 751 ms after the refusal: it took nothing, so 2.002 tokens are there [R23]",
    ).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('floors remaining to whole tokens [R25]', async () => {
    useFakeClock();
    const limiter = new KeyedRateLimiter({ capacity: 3, refillPerSecond: 2 });
    limiter.check('k', 3);
    await advance(1_250);
    const decision = limiter.check('k');
    expect(
      decision.remaining,
      "remaining after check('k') with 2.5 tokens: 1.5 left, rounded down [R25]",
    ).toBe(1);
    expectWaitMs(decision.resetMs, 750, 'resetMs with 1.5 of 3 tokens at 2/s', 'R26');
  });

  it('reports resetMs 0 for a full bucket [R26]', () => {
    useFakeClock();
    const limiter = new KeyedRateLimiter({ capacity: 3, refillPerSecond: 2 });
    const decision = limiter.check('k', 4);
    expect(
      decision.resetMs,
      "resetMs of check('k', 4) on a new (full) key of capacity 3: nothing taken, full now [R26]",
    ).toBe(0);
  });

  it("refills each key's bucket continuously from its last take, up to capacity [R2, R3]", async () => {
    useFakeClock();
    const limiter = new KeyedRateLimiter({ capacity: 3, refillPerSecond: 2 });
    limiter.check('k', 3);
    await advance(1_000);
    expect(
      limiter.check('k', 2),
      "check('k', 2) 1 s after emptying at 2/s (2 tokens): allowed, none left [R2]",
    ).toMatchObject({ allowed: true, remaining: 0 });
    await advance(250);
    const half = limiter.check('k', 2);
    expect(
      half,
      "check('k', 2) 250 ms after that take (0.5 token): refused, refilled from the take at 1 s [R2]",
    ).toMatchObject({ allowed: false, remaining: 0 });
    expectWaitMs(
      half.retryAfterMs,
      750,
      "retryAfterMs of check('k', 2) with 0.5 token at 2/s",
      'R2',
    );
    await advance(60_000);
    expect(
      limiter.check('k'),
      "check('k') after a minute idle: capacity 3 at most, so 2 left [R3]",
    ).toMatchObject({ allowed: true, remaining: 2 });
  });

  it('never allows cost > capacity: retryAfterMs is Infinity and nothing is taken [R24]', () => {
    useFakeClock();
    const limiter = new KeyedRateLimiter({ capacity: 3, refillPerSecond: 2 });
    limiter.check('k');
    const decision = limiter.check('k', 4);
    expect(
      decision,
      "check('k', 4) with capacity 3 and 2 tokens: a finite retryAfterMs would promise a retry that never succeeds [R24]",
    ).toMatchObject({ allowed: false, retryAfterMs: Infinity, remaining: 2 });
    expect(
      limiter.check('k', 2).allowed,
      "check('k', 2) after the refused check('k', 4): it must have taken nothing [R24]",
    ).toBe(true);
  });

  it('drops the least recently used bucket when a new key arrives and maxKeys are held [R21]', () => {
    useFakeClock();
    const limiter = new KeyedRateLimiter({ capacity: 3, refillPerSecond: 1, maxKeys: 2 });
    limiter.check('a', 2);
    limiter.check('b', 2);
    limiter.check('a', 1); // 'a' is now the most recently used
    limiter.check('c', 2);
    expect(limiter.size, 'size with maxKeys 2 after checks of a, b, a, c [R21]').toBe(2);
    expect(
      limiter.check('a').allowed,
      "check('a') after a, b, a, c with maxKeys 2: 'a' was used after 'b', so 'c' must evict 'b', " +
        "not 'a' (whose bucket is empty) [R21]",
    ).toBe(false);
    expect(
      limiter.check('b', 3),
      "check('b', 3): 'b' was the least recently used when 'c' arrived, so it comes back with a " +
        'full bucket [R21]',
    ).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('counts a refused check as a use of its key [R21]', () => {
    useFakeClock();
    const limiter = new KeyedRateLimiter({ capacity: 2, refillPerSecond: 1, maxKeys: 2 });
    limiter.check('a', 2);
    limiter.check('b', 1);
    expect(
      limiter.check('a').allowed,
      "check('a') with 'a' empty: refused, but it is a use of 'a' [R23]",
    ).toBe(false);
    limiter.check('c');
    expect(
      limiter.check('a').allowed,
      "check('a') after a, b, a (refused), c with maxKeys 2: the refused check made 'a' more " +
        "recent than 'b', so 'c' must evict 'b' and 'a' stays empty [R21]",
    ).toBe(false);
  });

  it('matches an LRU model of buckets over random keys and costs [R20, R21, R23]', async () => {
    useFakeClock();
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
    // Outside the property, so that an unwritten method fails this test with its own error.
    void new KeyedRateLimiter({ capacity: 1, refillPerSecond: 1 }).check('a').allowed;
    await assertProperty(
      'With the clock still, each key must keep its own tokens (capacity 5, a new key full: R20), ' +
        'a check must take its cost only when allowed (R23), and a new key beyond maxKeys must ' +
        'evict the least recently checked key (R21); size must match.',
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.tuple(fc.constantFrom(...keys), fc.integer({ min: 1, max: 3 })), {
          maxLength: 40,
        }),
        (maxKeys, checks) => {
          const capacity = 5;
          const limiter = new KeyedRateLimiter({ capacity, refillPerSecond: 1, maxKeys });
          // The model: tokens per key, in order of use (a Map iterates oldest first).
          const model = new Map<string, number>();
          for (const [index, [key, cost]] of checks.entries()) {
            const known = model.get(key);
            let evicted: string | undefined;
            model.delete(key);
            if (known === undefined && model.size >= maxKeys) {
              evicted = model.keys().next().value!;
              model.delete(evicted);
            }
            const tokens = known ?? capacity;
            const allowed = cost <= tokens;
            model.set(key, allowed ? tokens - cost : tokens);
            const decision = limiter.check(key, cost);
            const at =
              `check #${index} ('${key}', ${cost}) with maxKeys ${maxKeys}, after ` +
              `${JSON.stringify(checks.slice(0, index))}`;
            const expected = {
              allowed,
              remaining: allowed ? tokens - cost : tokens,
              size: model.size,
            };
            const actual = {
              allowed: decision.allowed,
              remaining: decision.remaining,
              size: limiter.size,
            };
            if (JSON.stringify(actual) !== JSON.stringify(expected)) {
              const why =
                known === undefined
                  ? `'${key}' is new, so its bucket starts full (${capacity} tokens)` +
                    (evicted === undefined ? '' : ` and '${evicted}' is evicted [R20, R21]`)
                  : `'${key}' had ${tokens} tokens left [R21, R23]`;
              throw new Error(
                `${at}: the model expected ${JSON.stringify(expected)}, got ` +
                  `${JSON.stringify(actual)}; ${why}`,
              );
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('holds 10 000 keys when maxKeys is absent [R22]', () => {
    useFakeClock();
    const limiter = new KeyedRateLimiter({ capacity: 1, refillPerSecond: 1 });
    for (let i = 0; i < 10_000; i += 1) limiter.check(`key-${i}`);
    expect(limiter.size, 'size after checking 10 000 keys with maxKeys absent [R22]').toBe(10_000);
    expect(
      limiter.check('key-0').allowed,
      "check('key-0') after 10 000 keys, each emptied: with the default maxKeys of 10 000 its " +
        'bucket is still held, and empty [R22]',
    ).toBe(false);
    limiter.check('key-10000');
    expect(
      limiter.size,
      'size after a 10 001st key with maxKeys absent: never more than 10 000 [R22]',
    ).toBe(10_000);
    expect(
      limiter.check('key-1').allowed,
      "check('key-1') after a 10 001st key: the least recently used key was evicted and comes " +
        'back full [R22]',
    ).toBe(true);
  });

  it('never moves the moment tokens are there, however often a refused check looked [R4]', async () => {
    useFakeClock();
    const limiter = new KeyedRateLimiter({ capacity: 1, refillPerSecond: 1 });
    expect(limiter.check('k').allowed, "check('k') on a new key of capacity 1 [R20]").toBe(true);
    for (let ms = 100; ms < 1000; ms += 100) {
      await advance(100);
      limiter.check('k');
    }
    await advance(100);
    const decision = limiter.check('k');
    expect(
      decision.allowed,
      "check('k') at 1000 ms from empty at 1/s, after a refused check every 100 ms: a whole " +
        `token has been earned (decision ${JSON.stringify(decision)}); a refused check must ` +
        'not round what the bucket stores [R4]',
    ).toBe(true);
  });

  it('never moves the moment tokens are there, whatever refused checks come before it [R4]', async () => {
    useFakeClock();
    void new KeyedRateLimiter({ capacity: 1, refillPerSecond: 1 }).check('k');
    await assertProperty(
      'Refused checks change nothing (R4): from empty, cost tokens are there at the whole ms the ' +
        'arithmetic says, however many refused checks came before and at whatever steps.',
      fc.property(
        fc.constantFrom(...CLEAN_CASES),
        fc.array(
          fc.record({ waitMs: fc.integer({ min: 1, max: 400 }), overCapacity: fc.boolean() }),
          { minLength: 1, maxLength: 30 },
        ),
        ({ refillPerSecond, count, dueMs }, looks) => {
          const limiter = new KeyedRateLimiter({ capacity: count, refillPerSecond });
          limiter.check('k', count); // a new key starts full: this empties it exactly
          const done: string[] = [];
          let now = 0;
          for (const { waitMs, overCapacity } of looks) {
            if (now + waitMs >= dueMs) break;
            vi.advanceTimersByTime(waitMs);
            now += waitMs;
            const cost = overCapacity ? count + 1 : count;
            limiter.check('k', cost);
            done.push(`check('k', ${cost}) at ${now} ms`);
          }
          vi.advanceTimersByTime(dueMs - now);
          const decision = limiter.check('k', count);
          if (!decision.allowed) {
            throw new Error(
              `check('k', ${count}) at ${dueMs} ms from empty at ${refillPerSecond}/s with ` +
                `capacity ${count} was refused (${JSON.stringify(decision)}), although ${count} ` +
                `whole tokens have been earned; refused checks before it: ${done.join(', ') || 'none'} [R4]`,
            );
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('rejects maxKeys, capacity or refillPerSecond out of range with a RangeError naming it [R5]', () => {
    const cases: [string, string, KeyedRateLimiterOptions][] = [
      [
        'maxKeys',
        '{ capacity: 3, refillPerSecond: 1, maxKeys: 0 }',
        { capacity: 3, refillPerSecond: 1, maxKeys: 0 },
      ],
      [
        'maxKeys',
        '{ capacity: 3, refillPerSecond: 1, maxKeys: 1.5 }',
        { capacity: 3, refillPerSecond: 1, maxKeys: 1.5 },
      ],
      ['capacity', '{ capacity: 0, refillPerSecond: 1 }', { capacity: 0, refillPerSecond: 1 }],
      ['capacity', '{ capacity: 2.5, refillPerSecond: 1 }', { capacity: 2.5, refillPerSecond: 1 }],
      [
        'refillPerSecond',
        '{ capacity: 3, refillPerSecond: 0 }',
        { capacity: 3, refillPerSecond: 0 },
      ],
      [
        'refillPerSecond',
        '{ capacity: 3, refillPerSecond: Infinity }',
        { capacity: 3, refillPerSecond: Infinity },
      ],
    ];
    for (const [name, shown, options] of cases) {
      expectThrows(() => new KeyedRateLimiter(options), `new KeyedRateLimiter(${shown})`, {
        classes: [RangeError],
        names: name,
        rule: 'R5',
      });
    }
  });

  it('rejects options that are not numbers with a TypeError naming the option [R5]', () => {
    const cases: [string, string, Record<string, unknown>][] = [
      [
        'maxKeys',
        "{ capacity: 3, refillPerSecond: 1, maxKeys: '10' }",
        { capacity: 3, refillPerSecond: 1, maxKeys: '10' },
      ],
      ['capacity', "{ capacity: '3', refillPerSecond: 1 }", { capacity: '3', refillPerSecond: 1 }],
    ];
    for (const [name, shown, options] of cases) {
      expectThrows(
        () => new KeyedRateLimiter(options as unknown as KeyedRateLimiterOptions),
        `new KeyedRateLimiter(${shown})`,
        { classes: [TypeError], names: name, rule: 'R5' },
      );
    }
  });

  it('rejects a cost that is not an integer >= 1 with a RangeError naming cost [R6]', () => {
    useFakeClock();
    const limiter = new KeyedRateLimiter({ capacity: 3, refillPerSecond: 1 });
    for (const cost of [0, -1, 1.5, NaN]) {
      expectThrows(() => limiter.check('k', cost), `check('k', ${cost})`, {
        classes: [RangeError],
        names: 'cost',
        rule: 'R6',
      });
    }
    expect(
      limiter.check('k', 3).allowed,
      "check('k', 3) after invalid costs: they must take nothing [R6]",
    ).toBe(true);
  });

  it('checks a key already held as fast with 20 000 keys held as with 100 [R35]', () => {
    useFakeClock();
    // Repeat checks of keys held, at scattered places in the order of use.
    const measured = sizeRatio(
      (size) => {
        const { limiter, held } = limiterHolding(size);
        const picks = Array.from({ length: OPS }, (_, i) => held[(i * 7_919) % size]!);
        return () => {
          for (const key of picks) limiter.check(key);
        };
      },
      SIZES,
      9,
    );
    expectConstantTime(measured, OPS, 'checks of keys already held');
  });

  it('checks a new key, evicting the least recently used, as fast with 20 000 keys held as with 100 [R35]', () => {
    useFakeClock();
    const measured = sizeRatio(
      (size) => {
        const { limiter } = limiterHolding(size);
        const fresh = Array.from({ length: EVICTIONS * 12 }, (_, i) => `new-${size}-${i}`);
        let next = 0;
        return () => {
          for (let i = 0; i < EVICTIONS; i += 1) limiter.check(fresh[next++]!);
        };
      },
      SIZES,
      11,
    );
    expectConstantTime(measured, EVICTIONS, 'checks of new keys, each evicting one');
  });

  it('holds memory for maxKeys buckets, however many keys it has seen [R36]', () => {
    useFakeClock();
    const maxKeys = 500;
    const seen = 20_000;
    const limiter = new KeyedRateLimiter({ capacity: 5, refillPerSecond: 1, maxKeys });
    // Long keys (flat strings of 200 characters), made as they are checked: whatever keeps a key
    // it no longer needs, or a record per check, shows.
    const key = (i: number): string => `key-${i}:`.padEnd(200, '.');
    const before = heapUsedBytes();
    let i = 0;
    for (; i < maxKeys; i += 1) limiter.check(key(i));
    const filled = heapUsedBytes() - before;
    for (; i < seen; i += 1) limiter.check(key(i));
    const after = heapUsedBytes() - before;
    // Read after the last measurement, so that the limiter is alive while it is measured.
    expect(
      limiter.size,
      `size after ${seen} keys with maxKeys ${maxKeys} [R21]`,
    ).toBeLessThanOrEqual(maxKeys);
    const floor = 256 * 1024;
    const ratio = after / Math.max(filled, floor);
    const kb = (bytes: number): string => `${Math.round(bytes / 1024)} KB`;
    expect(
      ratio < 6,
      `heap growth after checking ${seen} distinct keys vs after the first ${maxKeys} ` +
        `(maxKeys ${maxKeys}): ${kb(after)} vs ${kb(filled)}, ratio ${ratio.toFixed(1)} ` +
        `(over at least ${kb(floor)}); memory O(maxKeys) measures about 1, memory that grows ` +
        'with the keys seen or the checks made far more [R36]',
    ).toBe(true);
  });
});
