/**
 * Grader for sliding-window, stage 4: many keys, with a least-recently-used bound, for each of the
 * three limiters: keys counted apart (R6), eviction of the least recently used key, refused checks
 * as uses, `size` (R13, with a randomized check against an LRU model), and the default `maxKeys`
 * (R14). The clock stands still in these tests, so no key's windows empty and none may be dropped
 * early: every key held still counts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertProperty } from '../support/property.ts';
import {
  BUDGET_TEST_TIMEOUT_MS,
  LIMITERS,
  clockAt,
  expectDecision,
  loopWithinBudget,
} from './fixtures.ts';

describe('stage 4: many keys, with a least-recently-used bound', () => {
  for (const { name, Limiter } of LIMITERS) {
    it(`${name} counts every key on its own [R6]`, () => {
      clockAt();
      const limiter = new Limiter({ limit: 2, windowMs: 1000 });
      limiter.check('alice', 2);
      expectDecision(
        limiter.check('bob'),
        { allowed: true, remaining: 1 },
        `${name}: check('bob') after check('alice', 2), limit 2: bob's count is his own`,
        'R6',
      );
      expectDecision(
        limiter.check('alice'),
        { allowed: false, remaining: 0 },
        `${name}: check('alice') after check('alice', 2) and check('bob'), limit 2`,
        'R6',
      );
      expectDecision(
        limiter.check('bob'),
        { allowed: true, remaining: 0 },
        `${name}: check('bob') again: alice's refusal counted nothing against bob`,
        'R6',
      );
      expect(limiter.size, `${name}: size after checks of alice and bob [R13]`).toBe(2);
    });

    it(`${name} drops the least recently used key when a new key arrives and maxKeys are held [R13]`, () => {
      clockAt();
      const limiter = new Limiter({ limit: 3, windowMs: 1000, maxKeys: 2 });
      limiter.check('a', 2);
      limiter.check('b', 2);
      limiter.check('a', 1); // 'a' is now the most recently used, and full
      limiter.check('c', 2);
      expect(limiter.size, `${name}: size with maxKeys 2 after checks of a, b, a, c [R13]`).toBe(2);
      expectDecision(
        limiter.check('a'),
        { allowed: false, remaining: 0 },
        `${name}: check('a') after check('a', 2), check('b', 2), check('a', 1), check('c', 2) with ` +
          "maxKeys 2, limit 3: 'a' was used after 'b', so 'c' must evict 'b' and 'a' keeps its 3",
        'R13',
      );
      expectDecision(
        limiter.check('b', 3),
        { allowed: true, remaining: 0 },
        `${name}: check('b', 3), same checks: 'b' was the least recently used when 'c' arrived, ` +
          'so it comes back as a new key with nothing counted',
        'R13',
      );
      expect(limiter.size, `${name}: size with maxKeys 2 after 'b' came back [R13]`).toBe(2);
    });

    it(`${name} counts a refused check as a use of its key [R13]`, () => {
      clockAt();
      const limiter = new Limiter({ limit: 2, windowMs: 1000, maxKeys: 2 });
      limiter.check('a', 2);
      limiter.check('b', 1);
      expect(
        limiter.check('a').allowed,
        `${name}: check('a') with 2 of 2 counted: refused, but a use of 'a' [R13]`,
      ).toBe(false);
      limiter.check('c');
      expectDecision(
        limiter.check('a'),
        { allowed: false, remaining: 0 },
        `${name}: check('a') after check('a', 2), check('b'), check('a') (refused), check('c') ` +
          "with maxKeys 2: the refused check made 'a' more recent than 'b', so 'c' must evict 'b'",
        'R13',
      );
    });

    it(
      `${name} holds 10 000 keys when maxKeys is absent [R14]`,
      () => {
        clockAt();
        const limiter = new Limiter({ limit: 1, windowMs: 1000 });
        loopWithinBudget(
          10_000,
          (i) => limiter.check(`key-${i}`),
          5_000,
          (done, spent) =>
            `${name}: ${done} checks of new keys took ${Math.round(spent)} ms of CPU, and 10 000 ` +
            'should take a few ms: is each check scanning the keys held? [R14, R15]',
        );
        expect(limiter.size, `${name}: size after checking 10 000 keys, maxKeys absent [R14]`).toBe(
          10_000,
        );
        expectDecision(
          limiter.check('key-0'),
          { allowed: false },
          `${name}: check('key-0') after 10 000 keys, each checked once with limit 1: with the ` +
            'default maxKeys of 10 000 it is still held, and full',
          'R14',
        );
        limiter.check('key-10000');
        expect(
          limiter.size,
          `${name}: size after a 10 001st key, maxKeys absent: never more than 10 000 [R14]`,
        ).toBe(10_000);
        expectDecision(
          limiter.check('key-1'),
          { allowed: true },
          `${name}: check('key-1') after a 10 001st key: the least recently used key was dropped ` +
            'and comes back new',
          'R14',
        );
      },
      BUDGET_TEST_TIMEOUT_MS,
    );

    it(`${name} matches an LRU model of keys over random keys and costs [R6, R13]`, async () => {
      clockAt();
      const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
      // Outside the property, so that an unwritten method fails this test with its own error.
      void new Limiter({ limit: 1, windowMs: 1 }).check('a');
      await assertProperty(
        `${name}, with the clock still: each key must keep its own count (R6), a check must count ` +
          'its cost only when allowed, and a new key beyond maxKeys must evict the least recently ' +
          'checked key (R13); size must match, since every key held still counts.',
        fc.property(
          fc.integer({ min: 1, max: 4 }),
          fc.array(fc.tuple(fc.constantFrom(...keys), fc.integer({ min: 1, max: 3 })), {
            maxLength: 40,
          }),
          (maxKeys, checks) => {
            const limit = 5;
            const limiter = new Limiter({ limit, windowMs: 1000, maxKeys });
            // The model: the count of each key, in order of use (a Map iterates oldest first).
            const model = new Map<string, number>();
            for (const [index, [key, cost]] of checks.entries()) {
              const known = model.get(key);
              let evicted: string | undefined;
              model.delete(key);
              if (known === undefined && model.size >= maxKeys) {
                evicted = model.keys().next().value!;
                model.delete(evicted);
              }
              const count = known ?? 0;
              const allowed = count + cost <= limit;
              model.set(key, allowed ? count + cost : count);
              const decision = limiter.check(key, cost);
              const expected = {
                allowed,
                remaining: limit - (allowed ? count + cost : count),
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
                    ? `'${key}' is new, so nothing of it counts` +
                      (evicted === undefined ? '' : ` and '${evicted}' is evicted [R13]`)
                    : `'${key}' had ${count} of ${limit} counted [R6, R13]`;
                throw new Error(
                  `check #${index} ('${key}', ${cost}) with limit ${limit}, maxKeys ${maxKeys}, ` +
                    `after ${JSON.stringify(checks.slice(0, index))}: the model expected ` +
                    `${JSON.stringify(expected)}, got ${JSON.stringify(actual)}; ${why}`,
                );
              }
            }
          },
        ),
        { numRuns: 80 },
      );
    });
  }
});
