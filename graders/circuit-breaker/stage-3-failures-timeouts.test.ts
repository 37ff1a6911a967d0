/**
 * Grader for circuit-breaker, stage 3: isFailure, per-call timeouts that abort the call's signal,
 * late outcomes after a timeout, and what a settled call leaves behind (timers, abort listeners).
 * Time is a fake clock throughout.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker, TimeoutError } from '@kata/circuit-breaker';
import { advance, useFakeClock } from '../support/clock.ts';
import { promiseState } from '../support/promises.ts';
import {
  abortListeners,
  Boom,
  callOf,
  controlled,
  expectState,
  expectStats,
  openIt,
  settleNow,
  show,
} from './fixtures.ts';

beforeEach(() => {
  useFakeClock();
});

class NotFound extends Error {
  override readonly name = 'NotFound';
}

describe('stage 3: isFailure, call timeouts and abort', () => {
  it('counts an error isFailure calls harmless as a success, and still rejects with it [R14]', async () => {
    const seen: unknown[] = [];
    const breaker = new CircuitBreaker({
      minimumCalls: 100,
      isFailure: (error) => {
        seen.push(error);
        return !(error instanceof NotFound);
      },
    });
    const notFound = new NotFound('no such order');
    const settled = await settleNow(breaker, () => Promise.reject(notFound));
    expect(
      settled.state,
      'call(fn) where fn rejects with an error isFailure calls harmless [R14]',
    ).toBe('rejected');
    expect((settled as { reason: unknown }).reason, 'the rejection: the very error [R14]').toBe(
      notFound,
    );
    expect(seen, 'isFailure must be called with the error fn rejected with [R14]').toEqual([
      notFound,
    ]);
    expectStats(
      breaker,
      { calls: 1, failures: 0 },
      'after an error isFailure calls harmless',
      '[R14]',
    );

    const thrownNotFound = new NotFound('thrown');
    const thrownSettled = await settleNow(breaker, () => {
      throw thrownNotFound;
    });
    expect(
      (thrownSettled as { reason: unknown }).reason,
      'a harmless error thrown synchronously: the rejection [R14]',
    ).toBe(thrownNotFound);
    expect(
      seen.at(-1),
      'isFailure must be called with a synchronously thrown error too [R14]',
    ).toBe(thrownNotFound);
    await settleNow(breaker, () => Promise.reject(new Boom()));
    expectStats(
      breaker,
      { calls: 3, failures: 1 },
      'after 2 harmless errors and 1 failure',
      '[R14]',
    );
  });

  it('never opens on errors isFailure calls harmless [R14]', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 2, isFailure: () => false });
    for (let i = 0; i < 5; i += 1) await settleNow(breaker, () => Promise.reject(new Boom()));
    expectState(
      breaker,
      'closed',
      'after 5 errors isFailure calls harmless (minimumCalls 2)',
      '[R14]',
    );
  });

  it('counts a harmless error as a successful trial when half-open [R14]', async () => {
    const breaker = new CircuitBreaker({
      minimumCalls: 1,
      openMs: 1_000,
      isFailure: (error) => !(error instanceof NotFound),
    });
    await openIt(breaker, 1);
    await advance(1_000);
    const settled = await settleNow(breaker, () => Promise.reject(new NotFound()));
    expect(settled.state, 'a trial rejected with a harmless error still rejects [R14]').toBe(
      'rejected',
    );
    expectState(
      breaker,
      'closed',
      'after the one trial rejected with an error isFailure calls harmless',
      '[R14, R12]',
    );
  });

  it('rejects with TimeoutError exactly callTimeoutMs after the call started [R15]', async () => {
    const breaker = new CircuitBreaker({ callTimeoutMs: 1_000, minimumCalls: 100 });
    const hung = controlled();
    const call = callOf(breaker, hung.fn);
    await advance(999);
    expect(
      (await promiseState(call)).state,
      'a call still running after 999 ms (callTimeoutMs 1,000) [R15]',
    ).toBe('pending');
    await advance(1);
    const settled = await promiseState(call);
    expect(
      settled.state,
      'a call still running at 1,000 ms (callTimeoutMs 1,000) must reject [R15]',
    ).toBe('rejected');
    const reason = (settled as { reason: unknown }).reason;
    expect(
      reason instanceof TimeoutError,
      `the rejection must be a TimeoutError, got ${show(reason)} [R15]`,
    ).toBe(true);
    expect((reason as Error).name, 'name of the TimeoutError [R15]').toBe('TimeoutError');
    expectStats(breaker, { calls: 1, failures: 1 }, 'after a call timed out', '[R15]');
  });

  it("aborts fn's signal with a TimeoutError when the call times out [R15]", async () => {
    const breaker = new CircuitBreaker({ callTimeoutMs: 500 });
    const hung = controlled();
    const reasons: unknown[] = [];
    void callOf(breaker, (signal) => {
      signal.addEventListener('abort', () => reasons.push(signal.reason), { once: true });
      return hung.fn(signal);
    });
    await advance(499);
    expect(
      hung.signal()?.aborted,
      "fn's signal 499 ms into a call with callTimeoutMs 500 [R15]",
    ).toBe(false);
    await advance(1);
    expect(hung.signal()?.aborted, "fn's signal once the call timed out [R15]").toBe(true);
    expect(
      hung.signal()?.reason instanceof TimeoutError,
      `the signal's reason must be a TimeoutError, got ${show(hung.signal()?.reason)} [R15]`,
    ).toBe(true);
    expect(reasons.length, 'abort events seen by fn [R15]').toBe(1);
  });

  it('counts a timeout as a failure whatever isFailure says [R15]', async () => {
    const breaker = new CircuitBreaker({
      callTimeoutMs: 100,
      minimumCalls: 2,
      isFailure: () => false,
    });
    void callOf(breaker, controlled().fn);
    void callOf(breaker, controlled().fn);
    await advance(100);
    expectState(
      breaker,
      'open',
      'after 2 calls timed out with isFailure always false (minimumCalls 2)',
      '[R15]',
    );
  });

  it('changes nothing when fn settles after its call timed out [R15]', async () => {
    const breaker = new CircuitBreaker({ callTimeoutMs: 100, minimumCalls: 100 });
    const resolvesLate = controlled();
    const rejectsLate = controlled();
    const one = callOf(breaker, resolvesLate.fn);
    const two = callOf(breaker, rejectsLate.fn);
    await advance(100);
    expectStats(breaker, { calls: 2, failures: 2 }, 'after 2 calls timed out', '[R15]');
    resolvesLate.resolve('late');
    rejectsLate.reject(new Boom('late'));
    await advance(1);
    const first = await promiseState(one);
    const second = await promiseState(two);
    expect(
      first.state === 'rejected' && (first as { reason: unknown }).reason instanceof TimeoutError,
      `a call that timed out, whose fn then fulfilled: still rejected with the TimeoutError, got ${show(first)} [R15]`,
    ).toBe(true);
    expect(
      second.state === 'rejected' && (second as { reason: unknown }).reason instanceof TimeoutError,
      `a call that timed out, whose fn then rejected: still rejected with the TimeoutError, got ${show(second)} [R15]`,
    ).toBe(true);
    expectStats(
      breaker,
      { calls: 2, failures: 2 },
      'after the 2 timed-out fns settled late: not counted again',
      '[R15]',
    );
  });

  it('reopens the circuit when a trial times out [R15, R11]', async () => {
    const breaker = new CircuitBreaker({ callTimeoutMs: 200, minimumCalls: 1, openMs: 1_000 });
    await openIt(breaker, 1);
    await advance(1_000);
    void callOf(breaker, controlled().fn);
    await advance(200);
    expectState(breaker, 'open', 'after the trial call timed out', '[R15, R11]');
  });

  it('settles as fn does when fn finishes before callTimeoutMs, without aborting [R15, R3]', async () => {
    const breaker = new CircuitBreaker({ callTimeoutMs: 1_000 });
    const quick = controlled();
    const call = callOf(breaker, quick.fn);
    await advance(999);
    quick.resolve('in time');
    expect(await call, 'a call whose fn fulfils at 999 ms (callTimeoutMs 1,000) [R15, R3]').toBe(
      'in time',
    );
    await advance(5_000);
    expect(quick.signal()?.aborted, "fn's signal after fn finished in time [R15]").toBe(false);
    expectStats(breaker, { calls: 1, failures: 0 }, 'after a call finished in time', '[R15]');
  });

  it('clears the timeout timer once a call settles [R16]', async () => {
    const breaker = new CircuitBreaker({ callTimeoutMs: 60_000, minimumCalls: 100 });
    const before = vi.getTimerCount();
    await settleNow(breaker, () => 'sync');
    await settleNow(breaker, async () => 'async');
    await settleNow(breaker, () => Promise.reject(new Boom()));
    await settleNow(breaker, () => {
      throw new Boom();
    });
    expect(
      vi.getTimerCount() - before,
      'timers left pending after 4 calls settled (callTimeoutMs 60,000) [R16]',
    ).toBe(0);
    void callOf(breaker, controlled().fn);
    await advance(60_000);
    expect(vi.getTimerCount() - before, 'timers left pending after a call timed out [R16]').toBe(0);
  });

  it('sets no timer without callTimeoutMs [R16]', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 100 });
    const hung = controlled();
    const call = callOf(breaker, hung.fn);
    expect(vi.getTimerCount(), 'timers pending while a call runs without callTimeoutMs [R16]').toBe(
      0,
    );
    await advance(3_600_000);
    expect(
      (await promiseState(call)).state,
      'a call without callTimeoutMs after an hour: still running [R16, R1]',
    ).toBe('pending');
    hung.resolve('ok');
    await call;
  });

  it("leaves no abort listener of its own on fn's signal once the call settled [R16]", async () => {
    const breaker = new CircuitBreaker({ callTimeoutMs: 1_000, minimumCalls: 100 });
    const signals: AbortSignal[] = [];
    const grab =
      (outcome: 'ok' | 'fail' | 'throw' | 'hang') =>
      (signal: AbortSignal): Promise<string> | string => {
        signals.push(signal);
        if (outcome === 'ok') return 'ok';
        if (outcome === 'throw') throw new Boom();
        if (outcome === 'fail') return Promise.reject(new Boom());
        return new Promise<string>(() => undefined);
      };
    await settleNow(breaker, grab('ok'));
    await settleNow(breaker, grab('fail'));
    await settleNow(breaker, grab('throw'));
    void callOf(breaker, grab('hang'));
    await advance(1_000);
    const outcomes = ['fulfilled', 'rejected', 'threw', 'timed out'];
    signals.forEach((signal, i) => {
      expect(
        abortListeners(signal),
        `abort listeners left on fn's signal after a call ${outcomes[i]} (fn added none) [R16]`,
      ).toBe(0);
    });
    const plain = new CircuitBreaker({ minimumCalls: 100 });
    const plainSignals: AbortSignal[] = [];
    for (let i = 0; i < 3; i += 1) {
      await settleNow(plain, (signal) => {
        plainSignals.push(signal);
        return i;
      });
    }
    for (const signal of plainSignals) {
      expect(
        abortListeners(signal),
        "abort listeners on fn's signal after calls without callTimeoutMs [R16]",
      ).toBe(0);
    }
  });
});
