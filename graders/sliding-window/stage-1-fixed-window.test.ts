/**
 * Grader for sliding-window, stage 1: a fixed window, and its burst at the boundary. The rules
 * every limiter shares (R1 to R5, from fixtures.ts), windows aligned to the epoch (R7),
 * `retryAfterMs` to the next window (R8), the burst of twice the limit across a boundary, and a
 * randomized check against a brute-force model. Time is a fake clock throughout.
 */
import { describe, expect, it, vi } from 'vitest';
import { FixedWindowLimiter } from '@kata/sliding-window';
import { assertProperty } from '../support/property.ts';
import { T0, clockAt, commonRules, expectDecision, moveTo } from './fixtures.ts';
import { runAgainstModel, scenario } from './model.ts';
import fc from 'fast-check';

describe('stage 1: a fixed window, and its burst at the boundary', () => {
  commonRules('FixedWindowLimiter', FixedWindowLimiter, 1000);

  it('allows up to limit in a window, refuses beyond, and starts the next window from 0 [R7]', () => {
    clockAt();
    const limiter = new FixedWindowLimiter({ limit: 3, windowMs: 1000 });
    for (let i = 1; i <= 3; i += 1) {
      moveTo(i * 100);
      expectDecision(
        limiter.check('k'),
        { allowed: true, remaining: 3 - i },
        `check('k') #${i} at +${i * 100} ms, limit 3 per window of 1000 ms`,
        'R7',
      );
    }
    moveTo(999);
    expectDecision(
      limiter.check('k'),
      { allowed: false, remaining: 0 },
      "check('k') at +999 ms, the window's last ms, with 3 of 3 counted",
      'R7',
    );
    moveTo(1000);
    expectDecision(
      limiter.check('k', 3),
      { allowed: true, remaining: 0 },
      "check('k', 3) at +1000 ms: a new window [1000, 2000) starts from 0",
      'R7',
    );
  });

  it('lets twice the limit through within 2 ms across a window boundary: the fixed window’s flaw [R7]', () => {
    // The lesson of this kata: "10 per minute" is only 10 per *calendar* minute. A client that
    // sends 10 in the last ms of one minute and 10 in the first ms of the next gets 20 through in
    // 2 ms, and the fixed window is right to allow them. The sliding log and counter (stages 2
    // and 3) refuse the second 10.
    clockAt();
    const limiter = new FixedWindowLimiter({ limit: 10, windowMs: 60_000 });
    let allowed = 0;
    moveTo(59_999);
    for (let i = 0; i < 10; i += 1) if (limiter.check('client').allowed) allowed += 1;
    expect(
      allowed,
      '10 checks at 59 999 ms, the last ms of the window [0, 60 000) with limit 10 [R7]',
    ).toBe(10);
    moveTo(60_000);
    for (let i = 0; i < 10; i += 1) if (limiter.check('client').allowed) allowed += 1;
    expect(
      allowed,
      '10 more checks at 60 000 ms, the first ms of the next window: a fixed window counts each ' +
        'window from 0, so all 10 are allowed, 20 within 2 ms for a limit of "10 per minute" [R7]',
    ).toBe(20);
  });

  it('aligns windows to multiples of windowMs since the epoch, not to the first request [R7]', () => {
    // The clock starts 400 ms into a window: the key's first window is [T0, T0 + 1000), of which
    // 600 ms are left. A window started at the first request would end at T0 + 1400.
    clockAt(400);
    const limiter = new FixedWindowLimiter({ limit: 2, windowMs: 1000 });
    expectDecision(
      limiter.check('k', 2),
      { allowed: true, remaining: 0 },
      "check('k', 2) at 400 ms into the window [T0, T0 + 1000), limit 2",
      'R7',
    );
    moveTo(999);
    expect(
      limiter.check('k').allowed,
      "check('k') at T0 + 999, the window's last ms, with 2 of 2 counted [R7]",
    ).toBe(false);
    moveTo(1000);
    expectDecision(
      limiter.check('k', 2),
      { allowed: true, remaining: 0 },
      "check('k', 2) at T0 + 1000 (first request at T0 + 400): windows are aligned to multiples of " +
        'windowMs since the epoch (Date.now()), so a new window starts here, not at T0 + 1400',
      'R7',
    );
  });

  it('reports retryAfterMs as the time to the next window [R8]', () => {
    clockAt(250);
    const limiter = new FixedWindowLimiter({ limit: 2, windowMs: 1000 });
    limiter.check('k', 2);
    expectDecision(
      limiter.check('k'),
      { allowed: false, remaining: 0, retryAfterMs: 750 },
      "check('k') at T0 + 250 with 2 of 2 counted: the next window starts at T0 + 1000",
      'R8',
    );
    moveTo(999);
    expectDecision(
      limiter.check('k', 2),
      { allowed: false, retryAfterMs: 1 },
      "check('k', 2) at T0 + 999, the window's last ms",
      'R8',
    );
    moveTo(1000);
    limiter.check('k', 1);
    moveTo(1001);
    expectDecision(
      limiter.check('k', 2),
      { allowed: false, remaining: 1, retryAfterMs: 999 },
      "check('k', 2) at T0 + 1001 with 1 of 2 counted in [T0 + 1000, T0 + 2000)",
      'R8',
    );
  });

  it('keeps counting in its window while the clock stands still, and forgets after an idle hour [R7]', () => {
    clockAt();
    const limiter = new FixedWindowLimiter({ limit: 5, windowMs: 1000 });
    for (let i = 0; i < 5; i += 1) limiter.check('k');
    expect(limiter.check('k').allowed, "a 6th check('k') at the same ms, limit 5 [R7]").toBe(false);
    moveTo(3_600_500);
    expectDecision(
      limiter.check('k', 5),
      { allowed: true, remaining: 0 },
      "check('k', 5) an hour later: every window starts from 0",
      'R7',
    );
  });

  it('matches a brute-force model over random keys, costs and clock steps [R3, R4, R5, R7, R8]', async () => {
    clockAt();
    void new FixedWindowLimiter({ limit: 1, windowMs: 1 }).check('a');
    await assertProperty(
      'Each decision must match a model that keeps every allowed request and counts those of the ' +
        'current aligned window (R7): allowed, limit, remaining (R5), retryAfterMs to the next ' +
        'window (R8), Infinity for cost > limit (R4), refused checks counting nothing (R3).',
      fc.property(scenario, ({ limit, windowMs, offset, steps }) => {
        vi.setSystemTime(T0 + offset);
        const limiter = new FixedWindowLimiter({ limit, windowMs });
        runAgainstModel(
          limiter,
          'fixed',
          { limit, windowMs },
          steps,
          (ms) => vi.advanceTimersByTime(ms),
          'R3, R4, R5, R7, R8',
        );
      }),
      { numRuns: 150 },
    );
  });
});
