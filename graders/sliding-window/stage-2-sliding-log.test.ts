/**
 * Grader for sliding-window, stage 2: the exact sliding log. The rules every limiter shares (R1 to
 * R5), the window `(now − windowMs, now]` to the millisecond (R9), `retryAfterMs` for any cost
 * (R10), and a randomized check against a brute-force model that keeps every request. Time is a
 * fake clock throughout.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { SlidingLogLimiter } from '@kata/sliding-window';
import { assertProperty } from '../support/property.ts';
import { T0, clockAt, commonRules, expectDecision, moveTo } from './fixtures.ts';
import { runAgainstModel, scenario } from './model.ts';

describe('stage 2: the exact sliding log', () => {
  commonRules('SlidingLogLimiter', SlidingLogLimiter, 1000);

  it('counts a request up to t + windowMs − 1 and no longer at t + windowMs [R9]', () => {
    clockAt(300);
    const limiter = new SlidingLogLimiter({ limit: 2, windowMs: 1000 });
    limiter.check('k');
    moveTo(700);
    limiter.check('k');
    moveTo(1299);
    expectDecision(
      limiter.check('k'),
      { allowed: false, remaining: 0 },
      "check('k') at 1299 after requests at 300 and 700, limit 2 per 1000 ms: the one at 300 " +
        'still counts until 1299 included',
      'R9',
    );
    moveTo(1300);
    expectDecision(
      limiter.check('k'),
      { allowed: true, remaining: 0 },
      "check('k') at 1300: the request made at 300 left the window (1300 − 1000, 1300] exactly now",
      'R9',
    );
    moveTo(1700);
    expectDecision(
      limiter.check('k'),
      { allowed: true, remaining: 0 },
      "check('k') at 1700: the request at 700 left; 1300's still counts",
      'R9',
    );
  });

  it('refuses the fixed window’s burst: no windowMs ever holds more than limit [R9]', () => {
    clockAt();
    const limiter = new SlidingLogLimiter({ limit: 10, windowMs: 60_000 });
    let allowed = 0;
    moveTo(59_999);
    for (let i = 0; i < 10; i += 1) if (limiter.check('client').allowed) allowed += 1;
    moveTo(60_000);
    for (let i = 0; i < 10; i += 1) if (limiter.check('client').allowed) allowed += 1;
    expect(
      allowed,
      '10 checks at 59 999 ms and 10 at 60 000 ms, limit 10 per 60 000 ms: the log counts the ' +
        'last 60 000 ms whatever the calendar says, so only the first 10 are allowed [R9]',
    ).toBe(10);
    moveTo(119_998);
    expect(
      limiter.check('client').allowed,
      "check('client') at 119 998 ms: the 10 made at 59 999 count until 119 998 included [R9]",
    ).toBe(false);
    moveTo(119_999);
    expectDecision(
      limiter.check('client', 10),
      { allowed: true, remaining: 0 },
      "check('client', 10) at 119 999 ms, when the 10 of 59 999 have left",
      'R9',
    );
  });

  it('reports retryAfterMs as the moment enough cost has left the window for cost to fit [R10]', () => {
    clockAt();
    const limiter = new SlidingLogLimiter({ limit: 5, windowMs: 1000 });
    // 1 at +0, 1 at +100, 2 at +200, 1 at +300: 5 of 5.
    for (const [at, cost] of [
      [0, 1],
      [100, 1],
      [200, 2],
      [300, 1],
    ] as const) {
      moveTo(at);
      limiter.check('k', cost);
    }
    moveTo(400);
    const steps = '1 at +0, 1 at +100, 2 at +200, 1 at +300, limit 5 per 1000 ms';
    expectDecision(
      limiter.check('k', 1),
      { allowed: false, remaining: 0, retryAfterMs: 600 },
      `check('k', 1) at +400 after ${steps}: the oldest (+0) leaves at +1000`,
      'R10',
    );
    expectDecision(
      limiter.check('k', 2),
      { allowed: false, remaining: 0, retryAfterMs: 700 },
      `check('k', 2) at +400 after ${steps}: 2 must leave, +0 and +100; +100 leaves at +1100`,
      'R10',
    );
    expectDecision(
      limiter.check('k', 3),
      { allowed: false, remaining: 0, retryAfterMs: 800 },
      `check('k', 3) at +400 after ${steps}: +0 and +100 free only 2; +200's 2 leave at +1200`,
      'R10',
    );
    expectDecision(
      limiter.check('k', 5),
      { allowed: false, remaining: 0, retryAfterMs: 900 },
      `check('k', 5) at +400 after ${steps}: everything must leave, the last at +1300`,
      'R10',
    );
    moveTo(1199);
    expect(
      limiter.check('k', 3).allowed,
      `check('k', 3) at +1199 after ${steps}: +200's 2 still count [R10]`,
    ).toBe(false);
    moveTo(1200);
    expectDecision(
      limiter.check('k', 3),
      { allowed: true, remaining: 1 },
      `check('k', 3) at +1200 after ${steps}, as retryAfterMs said at +400`,
      'R10',
    );
  });

  it('reports retryAfterMs from requests allowed at the same ms, which leave together [R10]', () => {
    clockAt(10);
    const limiter = new SlidingLogLimiter({ limit: 4, windowMs: 100 });
    limiter.check('k', 1);
    limiter.check('k', 1);
    moveTo(50);
    limiter.check('k', 2);
    moveTo(60);
    expectDecision(
      limiter.check('k', 2),
      { allowed: false, remaining: 0, retryAfterMs: 50 },
      "check('k', 2) at +60 after two check('k', 1) at +10 and check('k', 2) at +50, limit 4 per " +
        '100 ms: both requests of +10 leave at +110',
      'R10',
    );
    expectDecision(
      limiter.check('k', 3),
      { allowed: false, remaining: 0, retryAfterMs: 90 },
      "check('k', 3) at +60, same requests: +10's 2 are not enough; +50's leave at +150",
      'R10',
    );
  });

  it('matches a brute-force model over random keys, costs and clock steps [R3, R4, R5, R9, R10]', async () => {
    clockAt();
    void new SlidingLogLimiter({ limit: 1, windowMs: 1 }).check('a');
    await assertProperty(
      'Each decision must match a model that keeps every allowed request and sums those in ' +
        '(now − windowMs, now] (R9): allowed, limit, remaining (R5), retryAfterMs found by ' +
        'trying every ms (R10), Infinity for cost > limit (R4), refused checks counting nothing (R3).',
      fc.property(scenario, ({ limit, windowMs, offset, steps }) => {
        vi.setSystemTime(T0 + offset);
        const limiter = new SlidingLogLimiter({ limit, windowMs });
        runAgainstModel(
          limiter,
          'log',
          { limit, windowMs },
          steps,
          (ms) => vi.advanceTimersByTime(ms),
          'R3, R4, R5, R9, R10',
        );
      }),
      { numRuns: 200 },
    );
  });
});
