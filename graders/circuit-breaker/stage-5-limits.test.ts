/**
 * Grader for circuit-breaker, stage 5, the limits: O(1) amortized work per call whatever the
 * window holds (CPU-timed ratio of two window sizes, with a budget so that a scan per call fails
 * with a message instead of running past the time limit), memory bounded by one window, and no
 * timer while no call is in flight. Time is a fake clock throughout.
 */
import { describe, expect, it, vi } from 'vitest';
import { CircuitBreaker } from '@kata/circuit-breaker';
import { advance, useFakeClock } from '../support/clock.ts';
import {
  countTimers,
  cpuMs,
  describeRatio,
  heapUsedBytes,
  sizeRatioAsync,
} from '../support/limits.ts';
import { Boom, callOf, controlled, openIt, runPattern } from './fixtures.ts';

/** Calls in the small and the large window. */
const SIZES = { small: 1_000, large: 100_000 };
/** Calls per fake millisecond: the clock moves every few calls, so moving it costs little per call. */
const CALLS_PER_MS = 8;
/** Calls timed per sample, at both sizes. */
const CALLS_PER_SAMPLE = 2_000;
/** O(1) work measures 1 to 3; a scan of the window per call about 100 (the size ratio). */
const MAX_RATIO = 10;
/** CPU time allowed to fill both windows: a fraction of a second for O(1) work, minutes for a scan per call. */
const FILL_BUDGET_MS = 5_000;

class OverBudget extends Error {}

/** One error for every failing call: building a stack trace per call would cost more than the call. */
const FAILURE = new Boom('failed');
const succeed = (): string => 'ok';
const fail = (): Promise<never> => Promise.reject(FAILURE);

/**
 * Call number `i`: one in four fails (a rate of 0.25, under the default threshold), and the clock
 * moves 1 ms every CALLS_PER_MS calls, so the window slides: calls keep leaving it.
 */
async function oneCall(breaker: CircuitBreaker, i: number): Promise<void> {
  if (i % CALLS_PER_MS === 0) vi.advanceTimersByTime(1);
  await breaker.call(i % 4 === 3 ? fail : succeed).catch(() => undefined);
}

/** A breaker whose window holds `size` calls, and a sample of more calls on it. */
async function prepareWindow(size: number, deadline: number): Promise<() => Promise<void>> {
  const breaker = new CircuitBreaker({ windowMs: size / CALLS_PER_MS, minimumCalls: 10 });
  for (let i = 0; i < size; i += 1) {
    await oneCall(breaker, i);
    if (i % 256 === 0 && cpuMs() > deadline) {
      throw new OverBudget(
        `filling a window of ${size.toLocaleString('en-US')} calls stopped at ${i.toLocaleString('en-US')}`,
      );
    }
  }
  if (breaker.state !== 'closed')
    throw new Error(`the breaker opened at a failure rate of 0.25 [R5]`);
  let next = size;
  return async () => {
    for (let i = 0; i < CALLS_PER_SAMPLE; i += 1) await oneCall(breaker, next++);
  };
}

describe('stage 5: in front of a real failing upstream, and the limits', () => {
  it('costs O(1) amortized per call, whatever the number of calls in the window [R21]', async () => {
    useFakeClock();
    const deadline = cpuMs() + FILL_BUDGET_MS;
    let measured;
    try {
      measured = await sizeRatioAsync((size) => prepareWindow(size, deadline), SIZES, 9);
    } catch (error) {
      if (!(error instanceof OverBudget)) throw error;
      expect.fail(
        `${error.message}: still not done after ${FILL_BUDGET_MS} ms of CPU time. A call through a ` +
          'closed breaker must take microseconds: something scans every call in the window on each ' +
          'call (or each expiry copies the window) [R21]',
      );
    }
    expect(
      measured.ratio,
      `${CALLS_PER_SAMPLE} calls on a window of ${SIZES.large.toLocaleString('en-US')} calls against one of ` +
        `${SIZES.small.toLocaleString('en-US')}: ${describeRatio(measured, SIZES)}. O(1) work per call stays ` +
        `under ${MAX_RATIO}; a scan of the window per call is near 100 (CPU time) [R21]`,
    ).toBeLessThan(MAX_RATIO);
  }, 25_000);

  it('keeps memory bounded by the calls in one window [R22]', async () => {
    useFakeClock();
    // One call per ms, each at its own time: nothing a window may merge.
    const breaker = new CircuitBreaker({ windowMs: 100, minimumCalls: 10 });
    const run = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i += 1) {
        vi.advanceTimersByTime(1);
        await breaker.call(i % 4 === 3 ? fail : succeed).catch(() => undefined);
      }
    };
    await run(0, 1_000);
    const before = heapUsedBytes();
    const calls = 100_000;
    await run(1_000, 1_000 + calls);
    const grown = heapUsedBytes() - before;
    expect(breaker.stats.calls, 'calls in a window of 100 ms, one call per ms [R6]').toBe(100);
    expect(
      grown,
      `heap growth over ${calls.toLocaleString('en-US')} calls while the window holds 100: ` +
        `${Math.round(grown / 1024)} KiB. Calls that left the window must not be kept [R22]`,
    ).toBeLessThan(300 * 1024);
  }, 25_000);

  it('keeps no timer while no call is in flight: none for the window, none while open [R23]', async () => {
    useFakeClock();
    const counts = countTimers();
    const breaker = new CircuitBreaker({ windowMs: 1_000, minimumCalls: 4, openMs: 10_000 });
    for (let i = 0; i < 50; i += 1) {
      await runPattern(breaker, 'S');
      await advance(7);
    }
    expect(
      vi.getTimerCount(),
      'timers pending with 50 calls in the window and none in flight [R23]',
    ).toBe(0);
    await runPattern(breaker, 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF');
    await openIt(new CircuitBreaker({ minimumCalls: 1, openMs: 10_000 }), 1);
    expect(breaker.state, 'state after 60 failures on top of 50 successes (minimumCalls 4)').toBe(
      'open',
    );
    expect(vi.getTimerCount(), 'timers pending while the circuit is open [R23]').toBe(0);
    await advance(10_000);
    expect(breaker.state, 'state once openMs passed [R9]').toBe('half-open');
    expect(vi.getTimerCount(), 'timers pending while half-open with no trial running [R23]').toBe(
      0,
    );
    const timed = new CircuitBreaker({ callTimeoutMs: 1_000 });
    const running = controlled();
    const call = callOf(timed, running.fn);
    running.resolve('done');
    await call;
    expect(
      vi.getTimerCount(),
      'timers pending once a call with callTimeoutMs has settled [R23, R16]',
    ).toBe(0);
    expect(
      counts().fired,
      'timer callbacks that ran over 10 s open and a sliding window [R23]',
    ).toBe(0);
  });
});
