/**
 * Grader for sliding-window, stage 5: the limits. The cost of `check` as a ratio of two sizes
 * measured in CPU time in one run, both sizes alive throughout (R15: keys held; R16: the log's
 * `limit`), loops a wrong algorithm makes quadratic run on a CPU budget so they fail with a reason
 * instead of timing out, memory per key over a long run (R17), and timers counted (R18).
 */
import { describe, expect, it, vi } from 'vitest';
import { SlidingLogLimiter, type WindowLimiter } from '@kata/sliding-window';
import {
  countTimers,
  describeRatio,
  heapUsedBytes,
  sizeRatio,
  type SizeRatio,
} from '../support/limits.ts';
import {
  BUDGET_TEST_TIMEOUT_MS,
  LIMITERS,
  clockAt,
  loopWithinBudget,
  type LimiterClass,
} from './fixtures.ts';

/**
 * Keys held for R15, 128 times apart. A scan of every key measures about 80 to 200 times more at
 * the large size; the usual `Map` LRU about 2 to 10 times, because finding its first key skips
 * the slots of keys deleted since V8 last rehashed the map (more of them in a larger map, and
 * more with each eviction: hence few evictions per sample).
 */
const KEY_SIZES = { small: 250, large: 32_000 };
/** The bound for R15: far above the `Map` LRU's ratio, far below a scan's. */
const KEYS_RATIO_BOUND = 30;
/** New keys per timed sample, each evicting one. */
const EVICTIONS = 200;
/** Checks of keys already held per timed sample. */
const TOUCHES = 2_000;

/**
 * The log's `limit` for R16's refused checks, 1000 times apart: walking the entries is fast, a
 * few ns each, so it takes tens of thousands of them to stand out from the cost of a check.
 */
const LIMIT_SIZES = { small: 100, large: 100_000 };
/**
 * For allowed checks, 100 times apart: V8 makes `Array.prototype.shift` O(1) on arrays of up to
 * about 16 000 numbers, but copies a larger array on every shift, and a log that drops its old
 * entries with `shift()` is the idiomatic answer, accepted here.
 */
const ALLOWED_LIMIT_SIZES = { small: 100, large: 10_000 };
/** The bound for R16: O(log limit) measures 1 to 4, a walk over the entries about 50 to 100. */
const LIMIT_RATIO_BOUND = 20;
/** Checks per timed sample in the R16 tests. */
const LOG_CHECKS = 2_000;

/** CPU ms the reference needs for a loop is a few; a budget this size only stops a quadratic one. */
const FILL_BUDGET_MS = 4_000;

/** A limiter of `Limiter` holding `size` keys (`maxKeys` = `size`), each checked once. */
function holding(Limiter: LimiterClass, name: string, size: number): WindowLimiter {
  const limiter = new Limiter({ limit: 1_000, windowMs: 60_000, maxKeys: size });
  loopWithinBudget(
    size,
    (i) => limiter.check(`held-${size}-${i}`),
    FILL_BUDGET_MS,
    (done, spent) =>
      `${name}: checking ${done} new keys (of ${size}) took ${Math.round(spent)} ms of CPU, where ` +
      'O(1) per check takes a few ms: each check does work that grows with the keys held, such ' +
      'as a scan or an array kept in order of use [R15]',
  );
  return limiter;
}

function expectRatio(
  measured: SizeRatio,
  sizes: { small: number; large: number },
  bound: number,
  what: string,
  expectation: string,
  rule: string,
): void {
  expect(
    measured.ratio < bound,
    `${what}: ${describeRatio(measured, sizes)}, must be under ${bound}; ${expectation} [${rule}]`,
  ).toBe(true);
}

/**
 * A log of `limit`, filled with `limit` requests of cost 1, one per ms, moving the shared clock on
 * by `limit` ms (`windowMs` is long enough that none leaves during the test).
 */
function fullLog(limit: number, windowMs: number): WindowLimiter {
  const limiter = new SlidingLogLimiter({ limit, windowMs });
  loopWithinBudget(
    limit,
    () => {
      vi.advanceTimersByTime(1);
      limiter.check('k');
    },
    FILL_BUDGET_MS,
    (done, spent) =>
      `SlidingLogLimiter with limit ${limit}: ${done} checks filling the log took ` +
      `${Math.round(spent)} ms of CPU, where O(log limit) per check takes a few ms: each check ` +
      'walks or sums the entries in the window [R16]',
  );
  return limiter;
}

describe('stage 5: the limits', () => {
  for (const { name, Limiter } of LIMITERS) {
    it(
      `${name} checks keys already held as fast with 32 000 keys held as with 250 [R15]`,
      () => {
        clockAt();
        const measured = sizeRatio((size) => {
          const limiter = holding(Limiter, name, size);
          const picks = Array.from(
            { length: TOUCHES },
            (_, i) => `held-${size}-${(i * 7_919) % size}`,
          );
          return () => {
            for (const key of picks) limiter.check(key);
          };
        }, KEY_SIZES);
        expectRatio(
          measured,
          KEY_SIZES,
          KEYS_RATIO_BOUND,
          `${name}: ${TOUCHES} checks of keys already held, at 32 000 vs 250 keys held`,
          'O(1) per check (a Map used in insertion order) measures about 1 to 3, work that grows ' +
            'with the keys held (moving a key in an array kept in order of use) about 128',
          'R15',
        );
      },
      BUDGET_TEST_TIMEOUT_MS,
    );

    it(
      `${name} checks new keys, each evicting the least recently used, as fast with 32 000 keys held as with 250 [R15]`,
      () => {
        clockAt();
        const measured = sizeRatio(
          (size) => {
            const limiter = holding(Limiter, name, size);
            const fresh = Array.from({ length: EVICTIONS * 12 }, (_, i) => `new-${size}-${i}`);
            let next = 0;
            return () => {
              for (let i = 0; i < EVICTIONS; i += 1) limiter.check(fresh[next++]!);
            };
          },
          KEY_SIZES,
          11,
        );
        expectRatio(
          measured,
          KEY_SIZES,
          KEYS_RATIO_BOUND,
          `${name}: ${EVICTIONS} checks of new keys, each evicting one, at 32 000 vs 250 keys held`,
          'the Map delete-and-set LRU measures about 2 to 10, a linked list about 1, a scan of ' +
            'the keys for the least recently used about 100 or more',
          'R15',
        );
      },
      BUDGET_TEST_TIMEOUT_MS,
    );
  }

  it(
    'SlidingLogLimiter allows checks at a full log as fast with limit 10 000 as with 100 [R16]',
    () => {
      clockAt();
      // windowMs = limit and one check per ms: each check sees the oldest entry leave and is
      // allowed, so the log stays about full.
      const measured = sizeRatio((limit) => {
        const limiter = fullLog(limit, limit);
        return () => {
          for (let i = 0; i < LOG_CHECKS; i += 1) {
            vi.advanceTimersByTime(1);
            limiter.check('k');
          }
        };
      }, ALLOWED_LIMIT_SIZES);
      expectRatio(
        measured,
        ALLOWED_LIMIT_SIZES,
        LIMIT_RATIO_BOUND,
        `SlidingLogLimiter: ${LOG_CHECKS} allowed checks, each as the oldest entry leaves, at ` +
          'limit 10 000 vs 100',
        'O(1) amortized per check (drop the entries that left from the front of a queue, keep a ' +
          'running sum) measures about 1 to 3; summing or filtering the entries on each check ' +
          'about 20 to 100',
        'R16',
      );
    },
    BUDGET_TEST_TIMEOUT_MS,
  );

  it(
    'SlidingLogLimiter refuses a large cost as fast with limit 100 000 as with 100, retryAfterMs included [R16]',
    () => {
      clockAt();
      const measured = sizeRatio((limit) => {
        const limiter = fullLog(limit, 1_000_000_000);
        const costs = [1, Math.ceil(limit / 2), limit];
        return () => {
          for (let i = 0; i < LOG_CHECKS; i += 1) limiter.check('k', costs[i % 3]);
        };
      }, LIMIT_SIZES);
      expectRatio(
        measured,
        LIMIT_SIZES,
        LIMIT_RATIO_BOUND,
        `SlidingLogLimiter: ${LOG_CHECKS} refused checks of cost 1, limit / 2 and limit on a full ` +
          'log of entries 1 ms apart, at limit 100 000 vs 100',
        'O(log limit) (running totals on the entries, and a binary search for the entry whose ' +
          'leaving makes room) measures about 1 to 4; walking the entries to find retryAfterMs, ' +
          'or summing them, about 50 to 100',
        'R16',
      );
    },
    BUDGET_TEST_TIMEOUT_MS,
  );

  for (const { name, Limiter } of LIMITERS) {
    it(
      `${name} holds memory per key bounded by limit, however many checks it has had [R17]`,
      () => {
        clockAt();
        // limit 100 per 1000 ms, a check every 10 ms: every check is allowed, and 100 requests
        // are in the window at any time. 200 000 checks make 200 000 requests to forget.
        const limiter = new Limiter({ limit: 100, windowMs: 1000 });
        const run = (from: number, to: number): void => {
          for (let i = from; i < to; i += 1) {
            vi.advanceTimersByTime(10);
            limiter.check('k');
          }
        };
        const before = heapUsedBytes();
        run(0, 2_000);
        const early = heapUsedBytes() - before;
        loopWithinBudget(
          198,
          (block) => run(2_000 + block * 1_000, 3_000 + block * 1_000),
          20_000,
          (done, spent) =>
            `${name}: ${done * 1_000} checks took ${Math.round(spent)} ms of CPU [R16, R17]`,
        );
        const late = heapUsedBytes() - before;
        // Read after the last measurement, so that the limiter is alive while it is measured.
        const last = limiter.check('k');
        expect(last.limit, `${name}: the limiter is still there`).toBe(100);
        const floor = 256 * 1024;
        const ratio = late / Math.max(early, floor);
        const kb = (bytes: number): string => `${Math.round(bytes / 1024)} KB`;
        expect(
          ratio < 4,
          `${name} with limit 100 per 1000 ms, one key checked every 10 ms: heap growth after ` +
            `200 000 checks vs after 2 000: ${kb(late)} vs ${kb(early)}, ratio ${ratio.toFixed(1)} ` +
            `(over at least ${kb(floor)}); a key that keeps only what is in its window measures ` +
            'about 1, one that keeps (or only skips) the requests that left it grows with them',
        ).toBe(true);
      },
      BUDGET_TEST_TIMEOUT_MS,
    );

    it(
      `${name} holds memory per key bounded by limit after a burst, then sparse checks [R17]`,
      () => {
        clockAt();
        // A full burst, a whole window idle, then one check per window: each check finds the
        // one before it gone. A log that drops only while most of it is still live keeps all of
        // these once the burst has left at once.
        const limiter = new Limiter({ limit: 100, windowMs: 1000 });
        for (let i = 0; i < 100; i += 1) limiter.check('k');
        const run = (from: number, to: number): void => {
          for (let i = from; i < to; i += 1) {
            vi.advanceTimersByTime(1000);
            limiter.check('k');
          }
        };
        const before = heapUsedBytes();
        run(0, 1_000);
        const early = heapUsedBytes() - before;
        loopWithinBudget(
          99,
          (block) => run(1_000 + block * 1_000, 2_000 + block * 1_000),
          20_000,
          (done, spent) =>
            `${name}: ${done * 1_000} sparse checks took ${Math.round(spent)} ms of CPU [R16, R17]`,
        );
        const late = heapUsedBytes() - before;
        // Read after the last measurement, so that the limiter is alive while it is measured.
        const last = limiter.check('k');
        expect(last.limit, `${name}: the limiter is still there`).toBe(100);
        const floor = 256 * 1024;
        const ratio = late / Math.max(early, floor);
        const kb = (bytes: number): string => `${Math.round(bytes / 1024)} KB`;
        expect(
          ratio < 4,
          `${name} with limit 100 per 1000 ms, 100 checks at once, then one check per window: ` +
            `heap growth after 100 000 checks vs after 1 000: ${kb(late)} vs ${kb(early)}, ratio ` +
            `${ratio.toFixed(1)} (over at least ${kb(floor)}); a key that keeps only what is in ` +
            'its window measures about 1, one that keeps the requests that left it grows with them',
        ).toBe(true);
      },
      BUDGET_TEST_TIMEOUT_MS,
    );

    it(`${name} sets no timer, however many keys and windows it sees [R18]`, () => {
      clockAt();
      const timers = countTimers();
      const limiter = new Limiter({ limit: 3, windowMs: 100, maxKeys: 50 });
      for (let i = 0; i < 2_000; i += 1) {
        vi.advanceTimersByTime(7);
        limiter.check(`key-${i % 80}`, 1 + (i % 3));
        const { scheduled, pending } = timers();
        if (scheduled > 0 || pending > 0) {
          expect.fail(
            `${name}: after ${i + 1} checks, ${scheduled} timers were scheduled and ${pending} ` +
              'are pending; everything is computed when a check comes, so none is needed (no ' +
              'timer per key, no sweep on an interval) [R18]',
          );
        }
      }
    });
  }
});
