/**
 * Grader for circuit-breaker, stage 2: fast rejection while open, the lazy change to half-open,
 * trial calls, reopening and closing, and calls that settle after the state they started in is
 * over. Time is a fake clock throughout (only Date and performance where the test shows that no
 * timer is needed).
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker } from '@kata/circuit-breaker';
import { advance, useFakeClock } from '../support/clock.ts';
import { promiseState } from '../support/promises.ts';
import {
  Boom,
  callOf,
  controlled,
  expectRefused,
  expectState,
  expectStats,
  openIt,
  recordingBreaker,
  runPattern,
  settleNow,
} from './fixtures.ts';

beforeEach(() => {
  useFakeClock();
});

describe('stage 2: open, half-open and trial calls', () => {
  it('refuses calls at once while open, with a CircuitOpenError and without calling fn [R8]', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 2, openMs: 5_000 });
    await openIt(breaker, 2);
    const error = await expectRefused(
      breaker,
      5_000,
      'right after the circuit opened (openMs 5,000)',
      '[R8]',
    );
    expect(error instanceof Error, 'a CircuitOpenError is an Error [R8]').toBe(true);
    expect(error.name, 'name of the CircuitOpenError [R8]').toBe('CircuitOpenError');
    for (let i = 0; i < 5; i += 1) {
      await expectRefused(breaker, 5_000, `(refusal ${i + 2}, no time passed)`, '[R8]');
    }
    expectState(breaker, 'open', 'after 6 refused calls', '[R8]');
    expectStats(
      breaker,
      { calls: 0, failures: 0 },
      'after 6 refused calls: refusals are not counted',
      '[R8, R7]',
    );
  });

  it('gives retryAfterMs as the time left until openMs has passed since opening [R8]', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 1, openMs: 5_000 });
    await openIt(breaker, 1);
    await advance(1_234);
    await expectRefused(breaker, 3_766, '1,234 ms after opening (openMs 5,000)', '[R8]');
    await advance(3_765);
    await expectRefused(breaker, 1, '4,999 ms after opening (openMs 5,000)', '[R8]');
    expectState(breaker, 'open', '4,999 ms after opening (openMs 5,000)', '[R8, R9]');
  });

  it('stays open 30 s by default [R1, R8]', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 1 });
    await openIt(breaker, 1);
    await expectRefused(breaker, 30_000, 'right after opening (default openMs 30,000)', '[R1, R8]');
    await advance(29_999);
    expectState(breaker, 'open', '29,999 ms after opening (default openMs 30,000)', '[R1, R8]');
    await advance(1);
    expectState(
      breaker,
      'half-open',
      '30,000 ms after opening (default openMs 30,000)',
      '[R1, R9]',
    );
  });

  it('is half-open exactly openMs after opening [R9]', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 1, openMs: 1_000 });
    await openIt(breaker, 1);
    await advance(999);
    expectState(breaker, 'open', '999 ms after opening (openMs 1,000)', '[R9]');
    await advance(1);
    expectState(breaker, 'half-open', '1,000 ms after opening (openMs 1,000)', '[R9]');
    expectStats(breaker, { calls: 0, failures: 0 }, 'when half-open', '[R9, R10]');
  });

  it('notices half-open without a timer: only Date and performance move [R9]', async () => {
    vi.useRealTimers();
    // Only the clocks are faked: a timer set for openMs would never fire during this test.
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    const byState = new CircuitBreaker({ minimumCalls: 1, openMs: 60_000 });
    const byCall = new CircuitBreaker({ minimumCalls: 1, openMs: 60_000 });
    const byStats = recordingBreaker({ minimumCalls: 1, openMs: 60_000 });
    for (const breaker of [byState, byCall, byStats.breaker]) await openIt(breaker, 1);
    vi.advanceTimersByTime(60_000);
    expectState(
      byState,
      'half-open',
      'read 60 s after opening (openMs 60,000), with no timer run',
      '[R9]',
    );
    let ran = false;
    const trial = await settleNow(
      byCall,
      () => {
        ran = true;
        return 'trial';
      },
      'call(fn) 60 s after opening, with no timer run',
    );
    expect(ran, 'call(fn) 60 s after opening (openMs 60,000): a trial call runs fn [R9, R10]').toBe(
      true,
    );
    expect(trial, 'the trial call fulfils with its value [R9]').toEqual({
      state: 'fulfilled',
      value: 'trial',
    });
    void byStats.breaker.stats;
    expect(
      byStats.changes,
      'state changes reported after stats was read 60 s after opening: stats sees half-open too [R9, R17]',
    ).toEqual(['closed->open', 'open->half-open']);
  });

  it('admits halfOpenCalls trials at the same time, and refuses the next with retryAfterMs 0 [R10]', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 1, openMs: 1_000, halfOpenCalls: 2 });
    await openIt(breaker, 1);
    await advance(1_000);
    const first = controlled();
    const second = controlled();
    void callOf(breaker, first.fn);
    void callOf(breaker, second.fn);
    expect(
      first.calls() + second.calls(),
      'fn of the 2 trial calls allowed (halfOpenCalls 2) [R10]',
    ).toBe(2);
    await expectRefused(breaker, 0, 'with 2 trials running and halfOpenCalls 2', '[R10]');
    expectState(breaker, 'half-open', 'with 2 trials running', '[R10]');
    first.resolve('ok');
    second.resolve('ok');
  });

  it('counts trials per half-open period, whether they overlap or follow each other [R10]', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 1, openMs: 1_000, halfOpenCalls: 3 });
    await openIt(breaker, 1);
    await advance(1_000);
    await runPattern(breaker, 'S');
    expectState(breaker, 'half-open', 'after 1 of 3 trials succeeded', '[R10, R12]');
    expectStats(
      breaker,
      { calls: 0, failures: 0 },
      'after a trial succeeded: trials are not counted in the window',
      '[R10]',
    );
    const running = controlled();
    void callOf(breaker, running.fn);
    await runPattern(breaker, 'S');
    expectState(
      breaker,
      'half-open',
      'after 2 trials succeeded and the third is running',
      '[R10, R12]',
    );
    await expectRefused(
      breaker,
      0,
      'after 3 trials were admitted (halfOpenCalls 3), one still running',
      '[R10]',
    );
    running.resolve('ok');
  });

  it('admits one trial by default [R1, R10]', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 1, openMs: 1_000 });
    await openIt(breaker, 1);
    await advance(1_000);
    const trial = controlled();
    void callOf(breaker, trial.fn);
    expect(trial.calls(), 'fn of the first call when half-open [R10]').toBe(1);
    await expectRefused(
      breaker,
      0,
      'while the one trial runs (default halfOpenCalls 1)',
      '[R1, R10]',
    );
    trial.resolve('ok');
  });

  it('opens again at once for a new openMs when a trial fails [R11]', async () => {
    const { breaker, changes } = recordingBreaker({
      minimumCalls: 1,
      openMs: 1_000,
      halfOpenCalls: 2,
    });
    await openIt(breaker, 1);
    await advance(1_000);
    await runPattern(breaker, 'F');
    expectState(breaker, 'open', 'after the first trial failed', '[R11]');
    await expectRefused(breaker, 1_000, 'right after a trial failed (openMs 1,000)', '[R11]');
    await advance(600);
    await expectRefused(breaker, 400, '600 ms after a trial failed', '[R11]');
    await advance(400);
    expectState(breaker, 'half-open', '1,000 ms after a trial failed', '[R11, R9]');
    await runPattern(breaker, 'SS');
    expectState(
      breaker,
      'closed',
      'after 2 trials of the second half-open period succeeded',
      '[R11, R12]',
    );
    expect(changes, 'state changes [R11]').toEqual([
      'closed->open',
      'open->half-open',
      'half-open->open',
      'open->half-open',
      'half-open->closed',
    ]);
  });

  it('closes with an empty window once all halfOpenCalls trials succeed [R12]', async () => {
    const breaker = new CircuitBreaker({
      minimumCalls: 3,
      openMs: 1_000,
      halfOpenCalls: 2,
      failureRateThreshold: 0.5,
    });
    await openIt(breaker, 3);
    await advance(1_000);
    await runPattern(breaker, 'S');
    expectState(breaker, 'half-open', 'after 1 of 2 trials succeeded', '[R12]');
    await runPattern(breaker, 'S');
    expectState(breaker, 'closed', 'after 2 of 2 trials succeeded', '[R12]');
    expectStats(breaker, { calls: 0, failures: 0 }, 'right after the circuit closed', '[R12]');
    await runPattern(breaker, 'FF');
    expectState(breaker, 'closed', 'after 2 failures in the new window (minimumCalls 3)', '[R12]');
    expectStats(breaker, { calls: 2, failures: 2 }, 'after 2 failures in the new window', '[R12]');
    await runPattern(breaker, 'F');
    expectState(breaker, 'open', 'after 3 failures in the new window', '[R12, R5]');
  });

  it('ignores a call from the closed state that settles after the circuit opened [R13]', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 2, openMs: 5_000 });
    const slow = controlled();
    const late = callOf(breaker, slow.fn);
    await runPattern(breaker, 'FF');
    expectState(
      breaker,
      'open',
      'after 2 failures (minimumCalls 2), a third call still running',
      '[R5]',
    );
    await advance(1_000);
    slow.reject(new Boom('late'));
    await late.catch(() => undefined);
    await expectRefused(
      breaker,
      4_000,
      'after a call started while closed failed, 1 s after opening: it must not reopen the circuit',
      '[R13]',
    );
    expectStats(
      breaker,
      { calls: 0, failures: 0 },
      'after a call started while closed settled while open',
      '[R13]',
    );
  });

  it('ignores a call from the closed state that settles while half-open: no trial used, no reopening [R13]', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 2, openMs: 1_000 });
    const failsLate = controlled();
    const succeedsLate = controlled();
    const one = callOf(breaker, failsLate.fn);
    const two = callOf(breaker, succeedsLate.fn);
    await runPattern(breaker, 'FF');
    await advance(1_000);
    expectState(breaker, 'half-open', '1 s after opening', '[R9]');
    succeedsLate.resolve('late');
    const value = await two;
    expect(value, 'a late call still fulfils with its value [R13, R3]').toBe('late');
    expectState(
      breaker,
      'half-open',
      'after a call started while closed succeeded while half-open (halfOpenCalls 1): it is no trial',
      '[R13]',
    );
    failsLate.reject(new Boom('late'));
    await one.catch(() => undefined);
    expectState(
      breaker,
      'half-open',
      'after a call started while closed failed while half-open: it is no trial',
      '[R13]',
    );
    const trial = await settleNow(breaker, () => 'trial', 'the first trial call');
    expect(trial.state, 'the one trial (halfOpenCalls 1) is still available [R13, R10]').toBe(
      'fulfilled',
    );
    expectState(breaker, 'closed', 'after the one trial succeeded', '[R13, R12]');
  });

  it('ignores a trial from an earlier half-open period [R13]', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 1, openMs: 1_000, halfOpenCalls: 2 });
    await openIt(breaker, 1);
    await advance(1_000);
    const slowTrial = controlled();
    const slow = callOf(breaker, slowTrial.fn);
    await runPattern(breaker, 'F');
    expectState(breaker, 'open', 'after one of two trials failed', '[R11]');
    slowTrial.resolve('late');
    await slow;
    await expectRefused(
      breaker,
      1_000,
      'after the other trial succeeded once the circuit had reopened',
      '[R13]',
    );
    await advance(1_000);
    await runPattern(breaker, 'S');
    const latest = controlled();
    void callOf(breaker, latest.fn);
    expect(
      latest.calls(),
      'the second trial of the new half-open period runs (halfOpenCalls 2) [R13, R10]',
    ).toBe(1);
    expectState(breaker, 'half-open', 'with 1 of 2 new trials succeeded', '[R13]');
    latest.resolve('ok');
    await promiseState(Promise.resolve());
  });

  it('ignores a call from an earlier closed period that settles after the circuit closed again [R13]', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 2, openMs: 1_000, windowMs: 60_000 });
    const old = controlled();
    const late = callOf(breaker, old.fn);
    await runPattern(breaker, 'FF');
    await advance(1_000);
    await runPattern(breaker, 'S');
    expectState(breaker, 'closed', 'after a successful trial', '[R12]');
    old.reject(new Boom('late'));
    const settled = await promiseState(late);
    expect(settled.state, 'a late call still rejects with its error [R13, R3]').toBe('rejected');
    expectStats(
      breaker,
      { calls: 0, failures: 0 },
      'after a call started two states ago failed',
      '[R13]',
    );
    await runPattern(breaker, 'F');
    expectState(
      breaker,
      'closed',
      'after one failure in the new window (minimumCalls 2): the late failure did not count',
      '[R13]',
    );
  });
});
