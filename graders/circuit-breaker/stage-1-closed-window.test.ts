/**
 * Grader for circuit-breaker, stage 1: options, calls passing through while closed, counting when
 * a call settles, opening on the failure rate after minimumCalls, and the time-based window.
 * Time is a fake clock throughout.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { CircuitBreaker } from '@kata/circuit-breaker';
import { advance, useFakeClock } from '../support/clock.ts';
import { promiseState } from '../support/promises.ts';
import {
  Boom,
  callOf,
  controlled,
  expectInvalid,
  expectState,
  expectStats,
  runPattern,
  settleNow,
  show,
} from './fixtures.ts';

beforeEach(() => {
  useFakeClock();
});

describe('stage 1: closed, the failure rate and the sliding window', () => {
  it('accepts no options, empty options, undefined options and every valid option [R1]', () => {
    const breakers = [
      new CircuitBreaker(),
      new CircuitBreaker({}),
      new CircuitBreaker({
        failureRateThreshold: undefined,
        minimumCalls: undefined,
        windowMs: undefined,
        openMs: undefined,
        halfOpenCalls: undefined,
        callTimeoutMs: undefined,
        isFailure: undefined,
        onStateChange: undefined,
      }),
      new CircuitBreaker({
        failureRateThreshold: 1,
        minimumCalls: 1,
        windowMs: 0.5,
        openMs: 0.5,
        halfOpenCalls: 1,
        callTimeoutMs: 0.5,
        isFailure: () => true,
        onStateChange: () => undefined,
      }),
      new CircuitBreaker({ failureRateThreshold: 0.01, minimumCalls: 1000, halfOpenCalls: 50 }),
    ];
    for (const breaker of breakers) {
      expectState(breaker, 'closed', 'of a new breaker', '[R1, R3]');
    }
  });

  it('rejects failureRateThreshold outside 0 < x <= 1 with a RangeError naming it [R1]', () => {
    for (const value of [0, -0.5, 1.01, 50, Number.NaN, Infinity]) {
      expectInvalid(
        () => new CircuitBreaker({ failureRateThreshold: value }),
        RangeError,
        'failureRateThreshold',
        `new CircuitBreaker({ failureRateThreshold: ${value} })`,
        '[R1]',
      );
    }
  });

  it.each(['minimumCalls', 'halfOpenCalls'])(
    'rejects %s that is not an integer >= 1 with a RangeError naming it [R1]',
    (option) => {
      for (const value of [0, -1, 1.5, Number.NaN, Infinity]) {
        expectInvalid(
          () => new CircuitBreaker({ [option]: value }),
          RangeError,
          option,
          `new CircuitBreaker({ ${option}: ${value} })`,
          '[R1]',
        );
      }
    },
  );

  it.each(['windowMs', 'openMs', 'callTimeoutMs'])(
    'rejects %s that is not finite and > 0 with a RangeError naming it [R1]',
    (option) => {
      for (const value of [0, -1, Number.NaN, Infinity, -Infinity]) {
        expectInvalid(
          () => new CircuitBreaker({ [option]: value }),
          RangeError,
          option,
          `new CircuitBreaker({ ${option}: ${value} })`,
          '[R1]',
        );
      }
    },
  );

  it.each([
    'failureRateThreshold',
    'minimumCalls',
    'windowMs',
    'openMs',
    'halfOpenCalls',
    'callTimeoutMs',
  ])('rejects %s that is not a number with a TypeError naming it [R1]', (option) => {
    for (const value of ['5', true, {}]) {
      expectInvalid(
        () => new CircuitBreaker({ [option]: value }),
        TypeError,
        option,
        `new CircuitBreaker({ ${option}: ${JSON.stringify(value)} })`,
        '[R1]',
      );
    }
  });

  it.each(['isFailure', 'onStateChange'])(
    'rejects %s that is not a function with a TypeError naming it [R1]',
    (option) => {
      for (const value of ['yes', 1, {}]) {
        expectInvalid(
          () => new CircuitBreaker({ [option]: value }),
          TypeError,
          option,
          `new CircuitBreaker({ ${option}: ${JSON.stringify(value)} })`,
          '[R1]',
        );
      }
    },
  );

  it('opens by default after 10 calls at a failure rate of 0.5, counting 10 s back [R1, R5, R6]', async () => {
    const nine = new CircuitBreaker();
    await runPattern(nine, 'FFFFFFFFF');
    expectState(nine, 'closed', 'after 9 failures (default minimumCalls 10)', '[R1, R5]');
    const below = new CircuitBreaker();
    await runPattern(below, 'SSSSSSFFFF');
    expectState(
      below,
      'closed',
      'after 10 calls, 4 of them failures (default threshold 0.5)',
      '[R1, R5]',
    );
    const half = new CircuitBreaker();
    await runPattern(half, 'SSSSSFFFF');
    await runPattern(half, 'F');
    expectState(
      half,
      'open',
      'after 10 calls, 5 of them failures (default threshold 0.5)',
      '[R1, R5]',
    );

    const window = new CircuitBreaker();
    await runPattern(window, 'SFS');
    await advance(9_999);
    expectStats(
      window,
      { calls: 3, failures: 1 },
      '9,999 ms after 3 calls (default windowMs 10,000)',
      '[R1, R6]',
    );
    await advance(1);
    expectStats(
      window,
      { calls: 0, failures: 0 },
      '10,000 ms after 3 calls (default windowMs 10,000)',
      '[R1, R6]',
    );
  });

  it('rejects call(fn) with a TypeError when fn is not a function, counting nothing [R2]', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 1 });
    for (const value of [undefined, null, 'fn', 42, {}]) {
      const settled = await promiseState(callOf(breaker, value as never, `call(${show(value)})`));
      expect(settled.state, `call(${show(value)}) must reject [R2]`).toBe('rejected');
      const reason = (settled as { reason: unknown }).reason;
      expect(
        reason instanceof TypeError,
        `call(${show(value)}) must reject with a TypeError, got ${show(reason)} [R2]`,
      ).toBe(true);
    }
    expectStats(breaker, { calls: 0, failures: 0 }, 'after 5 calls with no function', '[R2]');
    expectState(breaker, 'closed', 'after 5 calls with no function (minimumCalls 1)', '[R2]');
  });

  it('starts closed with empty stats [R3]', () => {
    const breaker = new CircuitBreaker();
    expectState(breaker, 'closed', 'of a new breaker', '[R3]');
    expectStats(breaker, { calls: 0, failures: 0 }, 'of a new breaker', '[R3]');
  });

  it('calls fn once with an AbortSignal that is not aborted, and fulfils with its value [R3]', async () => {
    const breaker = new CircuitBreaker();
    const seen: unknown[] = [];
    const value = { order: 7 };
    const settled = await settleNow(breaker, (signal) => {
      seen.push(signal);
      return value;
    });
    expect(seen.length, 'times fn was called by one call(fn) [R3]').toBe(1);
    expect(
      seen[0] instanceof AbortSignal,
      `fn's argument must be an AbortSignal, got ${show(seen[0])} [R3]`,
    ).toBe(true);
    expect(
      (seen[0] as AbortSignal).aborted,
      "fn's signal must not be aborted when fn starts [R3]",
    ).toBe(false);
    expect(settled, 'call(fn) where fn returns { order: 7 }: the very value [R3]').toEqual({
      state: 'fulfilled',
      value,
    });
    const later = await settleNow(breaker, async () => 'later');
    expect(later, "call(fn) where fn's promise fulfils with 'later' [R3]").toEqual({
      state: 'fulfilled',
      value: 'later',
    });
    const nothing = await settleNow(breaker, () => undefined);
    expect(nothing, 'call(fn) where fn returns undefined [R3]').toEqual({
      state: 'fulfilled',
      value: undefined,
    });
  });

  it('rejects with the very error fn rejected with, whatever it is [R3]', async () => {
    const breaker = new CircuitBreaker();
    const error = new Boom('payment provider down');
    const settled = await settleNow(breaker, () => Promise.reject(error));
    expect(settled.state, 'call(fn) where fn rejects [R3]').toBe('rejected');
    expect(
      (settled as { reason: unknown }).reason,
      'the rejection must be the very error fn rejected with, not a copy or a wrapper [R3]',
    ).toBe(error);
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the point of the test
    const text = await settleNow(breaker, () => Promise.reject('not an Error'));
    expect(text, "call(fn) where fn rejects with the string 'not an Error' [R3]").toEqual({
      state: 'rejected',
      reason: 'not an Error',
    });
  });

  it('counts a call when it settles, not when it starts [R4]', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 100 });
    const first = controlled();
    const second = controlled();
    const one = callOf(breaker, first.fn);
    const two = callOf(breaker, second.fn);
    expect(first.calls() + second.calls(), 'fn of two calls started [R3]').toBe(2);
    expectStats(breaker, { calls: 0, failures: 0 }, 'while two calls are running', '[R4]');
    first.resolve('done');
    await one;
    expectStats(
      breaker,
      { calls: 1, failures: 0 },
      'after one call succeeded, one still running',
      '[R4]',
    );
    second.reject(new Boom());
    await two.catch(() => undefined);
    expectStats(
      breaker,
      { calls: 2, failures: 1 },
      'after one call succeeded and one failed',
      '[R4]',
    );
  });

  it('treats a synchronous throw from fn as a failure, and rejects with it [R4]', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 100 });
    const error = new Boom('thrown');
    const settled = await settleNow(
      breaker,
      () => {
        throw error;
      },
      'call(fn) where fn throws synchronously',
    );
    expect(settled.state, 'call(fn) where fn throws synchronously must reject [R4]').toBe(
      'rejected',
    );
    expect(
      (settled as { reason: unknown }).reason,
      'the rejection of a fn that throws: the thrown error [R4]',
    ).toBe(error);
    expectStats(breaker, { calls: 1, failures: 1 }, 'after fn threw synchronously', '[R4]');
    const timed = new CircuitBreaker({ minimumCalls: 100, callTimeoutMs: 1_000 });
    const again = await settleNow(
      timed,
      () => {
        throw error;
      },
      'call(fn) where fn throws synchronously, with callTimeoutMs',
    );
    expect(again, 'call(fn) where fn throws synchronously, with callTimeoutMs 1,000 [R4]').toEqual({
      state: 'rejected',
      reason: error,
    });
    expectStats(
      timed,
      { calls: 1, failures: 1 },
      'after fn threw synchronously, with callTimeoutMs',
      '[R4]',
    );
  });

  it('opens once the failure rate reaches the threshold exactly [R5]', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 4, failureRateThreshold: 0.5 });
    await runPattern(breaker, 'SSF');
    expectState(breaker, 'closed', 'after S, S, F (3 calls, fewer than minimumCalls 4)', '[R5]');
    await runPattern(breaker, 'F');
    expectState(
      breaker,
      'open',
      'after S, S, F, F: 2 / 4 = 0.5 >= failureRateThreshold 0.5',
      '[R5]',
    );

    const quarter = new CircuitBreaker({ minimumCalls: 4, failureRateThreshold: 0.25 });
    await runPattern(quarter, 'SSSF');
    expectState(
      quarter,
      'open',
      'after S, S, S, F: 1 / 4 = 0.25 >= failureRateThreshold 0.25',
      '[R5]',
    );
  });

  it('stays closed below the threshold [R5]', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 4, failureRateThreshold: 0.5 });
    await runPattern(breaker, 'SSSF');
    expectState(breaker, 'closed', 'after S, S, S, F: 1 / 4 = 0.25 < 0.5', '[R5]');
    await runPattern(breaker, 'SSSSF');
    expectState(breaker, 'closed', 'after S, S, S, F, S, S, S, S, F: 2 / 9 < 0.5', '[R5]');
    const all = new CircuitBreaker({ minimumCalls: 3, failureRateThreshold: 1 });
    await runPattern(all, 'FFS');
    expectState(all, 'closed', 'after F, F, S with threshold 1: 2 / 3 < 1', '[R5]');
    const allFailed = new CircuitBreaker({ minimumCalls: 3, failureRateThreshold: 1 });
    await runPattern(allFailed, 'FFF');
    expectState(allFailed, 'open', 'after F, F, F with threshold 1: 3 / 3 >= 1', '[R5]');
  });

  it('does not judge the rate before minimumCalls calls are in the window [R5]', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 5, failureRateThreshold: 0.5 });
    await runPattern(breaker, 'FFFF');
    expectState(breaker, 'closed', 'after 4 failures with minimumCalls 5', '[R5]');
    await runPattern(breaker, 'F');
    expectState(breaker, 'open', 'after 5 failures with minimumCalls 5', '[R5]');
    const one = new CircuitBreaker({ minimumCalls: 1, failureRateThreshold: 1 });
    await runPattern(one, 'F');
    expectState(one, 'open', 'after 1 failure with minimumCalls 1 and threshold 1', '[R5]');
  });

  it('judges the rate after a success too: 4 failures then a success opens at 4 / 5 [R5]', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 5, failureRateThreshold: 0.5 });
    await runPattern(breaker, 'FFFF');
    expectState(breaker, 'closed', 'after 4 failures with minimumCalls 5', '[R5]');
    await runPattern(breaker, 'S');
    expectState(
      breaker,
      'open',
      'after 4 failures and then a success: 4 / 5 >= 0.5, judged after every counted call',
      '[R5]',
    );
  });

  it('keeps a call in the window while now - settled < windowMs, and drops it at windowMs [R6]', async () => {
    const breaker = new CircuitBreaker({ windowMs: 1_000, minimumCalls: 100 });
    await runPattern(breaker, 'SF');
    await advance(400);
    await runPattern(breaker, 'F');
    await advance(599);
    expectStats(
      breaker,
      { calls: 3, failures: 2 },
      '999 ms after S, F and 599 ms after F (windowMs 1,000)',
      '[R6]',
    );
    await advance(1);
    expectStats(
      breaker,
      { calls: 1, failures: 1 },
      '1,000 ms after S, F (gone) and 600 ms after F',
      '[R6]',
    );
    await advance(400);
    expectStats(breaker, { calls: 0, failures: 0 }, '1,000 ms after the last call', '[R6]');
  });

  it('places a call in the window by when it settled, not when it started [R6, R4]', async () => {
    const breaker = new CircuitBreaker({ windowMs: 1_000, minimumCalls: 100 });
    const slow = controlled();
    const call = callOf(breaker, slow.fn);
    await advance(900);
    slow.reject(new Boom());
    await call.catch(() => undefined);
    await advance(999);
    expectStats(
      breaker,
      { calls: 1, failures: 1 },
      'of a call started at 0, failed at 900, read at 1,899 (windowMs 1,000)',
      '[R6, R4]',
    );
    await advance(1);
    expectStats(breaker, { calls: 0, failures: 0 }, 'of that call read at 1,900', '[R6]');
  });

  it('keeps exact counts while calls leave the window and bursts arrive [R6]', async () => {
    const windowMs = 100;
    const breaker = new CircuitBreaker({ windowMs, minimumCalls: 10_000 });
    // A model: every call's settle time and outcome; the window is those with now - t < windowMs.
    const log: Array<{ at: number; failed: boolean }> = [];
    let now = 0;
    const run = async (pattern: string): Promise<void> => {
      for (const letter of pattern) {
        await runPattern(breaker, letter);
        log.push({ at: now, failed: letter === 'F' });
      }
    };
    const tick = async (ms: number): Promise<void> => {
      await advance(ms);
      now += ms;
    };
    const check = (what: string): void => {
      const inWindow = log.filter((call) => now - call.at < windowMs);
      const failures = inWindow.filter((call) => call.failed).length;
      expectStats(
        breaker,
        { calls: inWindow.length, failures },
        `at ${now} ms, ${what} (windowMs ${windowMs})`,
        '[R6]',
      );
    };
    for (let i = 0; i < 40; i += 1) {
      await run(i % 4 === 3 ? 'F' : 'S'); // one call per ms from 0 to 39, every 4th failing
      await tick(1);
    }
    await tick(80);
    check('after one call per ms from 0 to 39');
    for (let i = 0; i < 50; i += 1) {
      await run(i % 3 === 0 ? 'FF' : 'FS'); // two calls per ms from 120 to 169
      await tick(1);
      if (i % 5 === 4) check('during two calls per ms from 120');
    }
    await run('F'.repeat(30)); // a burst of 30 at 170
    check('after a burst of 30 failures at 170');
    while (now < 300) {
      await tick(3);
      check('as calls leave the window');
    }
  });

  it('judges the failure rate over the window only: failures that left it do not count [R6]', async () => {
    const breaker = new CircuitBreaker({
      windowMs: 1_000,
      minimumCalls: 4,
      failureRateThreshold: 0.5,
    });
    await runPattern(breaker, 'FFF');
    await advance(1_000);
    await runPattern(breaker, 'S');
    expectState(
      breaker,
      'closed',
      'after F, F, F, then S 1,000 ms later: the window holds only S',
      '[R6]',
    );
    await runPattern(breaker, 'SSF');
    expectState(
      breaker,
      'closed',
      'then S, S, F: the window holds S, S, S, F, 1 / 4 < 0.5',
      '[R6]',
    );

    const inside = new CircuitBreaker({
      windowMs: 1_000,
      minimumCalls: 4,
      failureRateThreshold: 0.5,
    });
    await runPattern(inside, 'FFF');
    await advance(999);
    await runPattern(inside, 'S');
    expectState(
      inside,
      'open',
      'after F, F, F, then S 999 ms later: 3 / 4 in the window',
      '[R6, R5]',
    );
  });

  it('empties the window when the circuit opens [R7]', async () => {
    const breaker = new CircuitBreaker({
      minimumCalls: 4,
      failureRateThreshold: 0.5,
      windowMs: 10_000,
    });
    await runPattern(breaker, 'SSFF');
    expectState(breaker, 'open', 'after S, S, F, F', '[R5]');
    expectStats(breaker, { calls: 0, failures: 0 }, 'right after the circuit opened', '[R7]');
    await advance(5_000);
    expectStats(breaker, { calls: 0, failures: 0 }, '5 s after the circuit opened', '[R7]');
  });
});
