/**
 * Grader for sliding-window, stage 3: the sliding-window counter. The rules every limiter shares
 * (R1 to R5), the estimate from the previous and current aligned windows compared exactly (R11),
 * `remaining` from the estimate (R5), `retryAfterMs` to the millisecond in this window or the next
 * (R12), and a randomized check of every decision against R11's formula, with `retryAfterMs`
 * found by trying every millisecond. Time is a fake clock throughout.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { SlidingCounterLimiter } from '@kata/sliding-window';
import { assertProperty } from '../support/property.ts';
import { T0, clockAt, commonRules, expectDecision, moveTo } from './fixtures.ts';
import { runAgainstModel, scenario } from './model.ts';

describe('stage 3: the sliding-window counter', () => {
  // limit 3 emptied at +0: at +1000 + e the estimate of one more is 3 × (1000 − e) / 1000 + 1,
  // at most 3 from e = 334 on.
  commonRules('SlidingCounterLimiter', SlidingCounterLimiter, 1334);

  it("weighs the previous window's count by the share of it still inside the sliding window [R11, R12]", () => {
    clockAt();
    const limiter = new SlidingCounterLimiter({ limit: 4, windowMs: 1000 });
    moveTo(900);
    limiter.check('k', 4);
    moveTo(1000);
    expectDecision(
      limiter.check('k', 1),
      { allowed: false, remaining: 0, retryAfterMs: 250 },
      "check('k', 1) at 1000 after check('k', 4) at 900, limit 4 per 1000 ms: the estimate is " +
        '4 × (1000 − 0) / 1000 + 0 = 4; 4 × (1000 − e) / 1000 + 1 <= 4 from e = 250',
      'R11, R12',
    );
    expectDecision(
      limiter.check('k', 3),
      { allowed: false, remaining: 0, retryAfterMs: 750 },
      "check('k', 3) at 1000, same state: 4 × (1000 − e) / 1000 + 3 <= 4 from e = 750",
      'R11, R12',
    );
    moveTo(1249);
    expect(
      limiter.check('k', 1).allowed,
      "check('k', 1) at 1249: estimate 4 × 751 / 1000 = 3.004, plus 1 is over 4 [R11]",
    ).toBe(false);
    moveTo(1250);
    expectDecision(
      limiter.check('k', 1),
      { allowed: true, remaining: 0 },
      "check('k', 1) at 1250: estimate 4 × 750 / 1000 = 3, plus 1 is exactly 4: allowed (<=)",
      'R11',
    );
    moveTo(1500);
    expectDecision(
      limiter.check('k', 1),
      { allowed: true, remaining: 0 },
      "check('k', 1) at 1500: estimate 4 × 500 / 1000 + 1 = 3, plus 1 is 4",
      'R11',
    );
    moveTo(1900);
    expectDecision(
      limiter.check('k', 1),
      { allowed: true, remaining: 0 },
      "check('k', 1) at 1900: estimate 4 × 100 / 1000 + 2 = 2.4, plus 1 is 3.4; remaining is " +
        'floor(4 − 3.4) = 0',
      'R11, R5',
    );
  });

  it('refuses the fixed window’s burst at the boundary [R11]', () => {
    clockAt();
    const limiter = new SlidingCounterLimiter({ limit: 10, windowMs: 60_000 });
    let allowed = 0;
    moveTo(59_999);
    for (let i = 0; i < 10; i += 1) if (limiter.check('client').allowed) allowed += 1;
    moveTo(60_000);
    for (let i = 0; i < 10; i += 1) if (limiter.check('client').allowed) allowed += 1;
    expect(
      allowed,
      '10 checks at 59 999 ms and 10 at 60 000 ms, limit 10 per 60 000 ms: at 60 000 the ' +
        "previous window's 10 count in full (60 000 of 60 000 ms left), so only the first 10 " +
        'are allowed [R11]',
    ).toBe(10);
    moveTo(66_000);
    expectDecision(
      limiter.check('client', 1),
      { allowed: true, remaining: 0 },
      "check('client') at 66 000: 10 × 54 000 / 60 000 = 9, plus 1 fits exactly",
      'R11',
    );
  });

  it('compares the exact estimate, not one rounded down, and floors only remaining [R11, R5]', () => {
    clockAt();
    const limiter = new SlidingCounterLimiter({ limit: 4, windowMs: 1000 });
    limiter.check('k', 3);
    moveTo(1500);
    expectDecision(
      limiter.check('k', 2),
      { allowed: true, remaining: 0 },
      "check('k', 2) at 1500 after check('k', 3) at 0, limit 4 per 1000 ms: estimate " +
        '3 × 500 / 1000 = 1.5, plus 2 is 3.5; remaining floor(4 − 3.5) = 0, not rounded to 1',
      'R11, R5',
    );
    expectDecision(
      limiter.check('k', 1),
      { allowed: false, remaining: 0, retryAfterMs: 167 },
      "check('k', 1) at 1500, estimate now 3.5: 3.5 + 1 is over 4 (rounding 1.5 down to 1 would " +
        'allow it); 3 × (1000 − e) / 1000 + 3 <= 4 from e = 667',
      'R11, R12',
    );
  });

  it('counts the previous window as empty after a whole window without requests [R11]', () => {
    clockAt();
    const limiter = new SlidingCounterLimiter({ limit: 4, windowMs: 1000 });
    moveTo(500);
    limiter.check('k', 4);
    moveTo(2000);
    expectDecision(
      limiter.check('k', 4),
      { allowed: true, remaining: 0 },
      "check('k', 4) at 2000 after check('k', 4) at 500, limit 4 per 1000 ms: the previous " +
        'window [1000, 2000) had nothing; [0, 1000) is two windows back and counts for nothing',
      'R11',
    );
    moveTo(2999);
    expectDecision(
      limiter.check('k', 1),
      { allowed: false, remaining: 0, retryAfterMs: 251 },
      "check('k', 1) at 2999 with 4 counted in [2000, 3000): at 3000 they become the previous " +
        'window, 4 × (1000 − e) / 1000 + 1 <= 4 from e = 250, at 3250',
      'R11',
    );
  });

  it('reports retryAfterMs in the next window when the current one cannot make room [R12]', () => {
    clockAt();
    const limiter = new SlidingCounterLimiter({ limit: 4, windowMs: 1000 });
    limiter.check('k', 4);
    moveTo(1500);
    limiter.check('k', 2);
    moveTo(1600);
    const state = "after check('k', 4) at 0 and check('k', 2) at 1500, limit 4 per 1000 ms";
    expectDecision(
      limiter.check('k', 1),
      { allowed: false, remaining: 0, retryAfterMs: 150 },
      `check('k', 1) at 1600 ${state}: 4 × (1000 − e) / 1000 + 2 + 1 <= 4 from e = 750, in this window`,
      'R12',
    );
    expectDecision(
      limiter.check('k', 3),
      { allowed: false, remaining: 0, retryAfterMs: 900 },
      `check('k', 3) at 1600 ${state}: 2 + 3 is over 4 for the rest of this window; in the next, ` +
        '2 × (1000 − e) / 1000 + 3 <= 4 from e = 500, at 2500',
      'R12',
    );
    moveTo(2499);
    expect(limiter.check('k', 3).allowed, `check('k', 3) at 2499 ${state} [R12]`).toBe(false);
    moveTo(2500);
    expectDecision(
      limiter.check('k', 3),
      { allowed: true, remaining: 0 },
      `check('k', 3) at 2500 ${state}, as retryAfterMs said`,
      'R12',
    );
  });

  it('aligns its windows to multiples of windowMs since the epoch [R11]', () => {
    clockAt(400);
    const limiter = new SlidingCounterLimiter({ limit: 2, windowMs: 1000 });
    limiter.check('k', 2);
    moveTo(1000);
    expectDecision(
      limiter.check('k', 1),
      { allowed: false, remaining: 0, retryAfterMs: 500 },
      "check('k', 1) at T0 + 1000 after check('k', 2) at T0 + 400, limit 2 per 1000 ms: the " +
        'window [T0, T0 + 1000) is now the previous one, estimate 2 × (1000 − e) / 1000 + 1 <= 2 ' +
        'from e = 500 (windows aligned to the epoch, not to the first request)',
      'R11',
    );
    moveTo(1500);
    expectDecision(
      limiter.check('k', 1),
      { allowed: true, remaining: 0 },
      "check('k', 1) at T0 + 1500: estimate 2 × 500 / 1000 = 1, plus 1 is 2",
      'R11',
    );
  });

  it("matches R11's formula over random keys, costs and clock steps, retryAfterMs to the ms [R3, R4, R5, R11, R12]", async () => {
    clockAt();
    void new SlidingCounterLimiter({ limit: 1, windowMs: 1 }).check('a');
    await assertProperty(
      'Each decision must match a model that keeps every allowed request and applies R11 to the ' +
        'counts of the previous and current aligned windows: allowed, limit, remaining (R5), ' +
        'retryAfterMs found by trying every ms (R12), Infinity for cost > limit (R4), refused ' +
        'checks counting nothing (R3).',
      fc.property(scenario, ({ limit, windowMs, offset, steps }) => {
        vi.setSystemTime(T0 + offset);
        const limiter = new SlidingCounterLimiter({ limit, windowMs });
        runAgainstModel(
          limiter,
          'counter',
          { limit, windowMs },
          steps,
          (ms) => vi.advanceTimersByTime(ms),
          'R3, R4, R5, R11, R12',
        );
      }),
      { numRuns: 200 },
    );
  });
});
