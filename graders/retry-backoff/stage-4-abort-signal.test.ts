import { describe, expect, test, vi } from 'vitest';
import type { AttemptContext, RetryOptions } from '@kata/retry-backoff';
import { advance, useFakeClock } from '../support/clock.ts';
import { countTimers } from '../support/limits.ts';
import { deferred, flushMicrotasks } from '../support/promises.ts';
import {
  abortListeners,
  describeState,
  describeValue,
  expectHeld,
  expectOptionError,
  invalidRetry,
  rejection,
  resolvedValue,
  runUntilSettled,
  scripted,
  start,
  unhandledRejectionsDuring,
  type Run,
  type Step,
} from './fixtures.ts';

describe('stage 4: stops at once when the signal aborts', () => {
  test('rejects with signal.reason without calling the operation when the signal is already aborted [R21]', async () => {
    useFakeClock();
    const controller = new AbortController();
    const reason = new Error('shutting down');
    controller.abort(reason);
    const operation = vi.fn(() => 'ok');
    const run = await start(operation, { signal: controller.signal });
    expect(
      rejection(run, 'an already-aborted signal: retry rejects [R21]'),
      'retry rejects with signal.reason itself [R21]',
    ).toBe(reason);
    expect(
      operation.mock.calls.length,
      'an already-aborted signal: the operation is never called [R21]',
    ).toBe(0);
  });

  test('rejects at once with signal.reason when aborted while waiting, and clears the timer [R22]', async () => {
    useFakeClock();
    const controller = new AbortController();
    const reason = { why: 'client went away' };
    const operation = scripted({ reject: new Error('503') }, { value: 'never reached' });
    const run = await start(operation, { jitter: 'none', signal: controller.signal });
    await advance(50);
    controller.abort(reason);
    await flushMicrotasks();
    expect(
      rejection(
        run,
        'aborted 50 ms into the 100 ms wait: retry rejects at once, without more time passing [R22]',
      ),
      'retry rejects with signal.reason itself [R22]',
    ).toBe(reason);
    expect(
      vi.getTimerCount(),
      'aborted while waiting: timers pending (the wait timer is cleared) [R22]',
    ).toBe(0);
    await advance(10_000);
    expect(operation.times.length, 'aborted while waiting: no further attempt [R22]').toBe(1);
  });

  test("aborts the attempt's signal with the same reason and rejects at once when aborted during an attempt [R23]", async () => {
    useFakeClock();
    const controller = new AbortController();
    const reason = new Error('request cancelled');
    const operation = scripted({ hang: true });
    const run = await start(operation, { signal: controller.signal });
    const attemptSignal = operation.contexts[0]?.signal;
    expect(
      attemptSignal instanceof AbortSignal,
      'the attempt receives its own context.signal [R15]',
    ).toBe(true);
    controller.abort(reason);
    await flushMicrotasks();
    expect(
      rejection(
        run,
        'aborted during an attempt that never settles: retry rejects without waiting for it [R23]',
      ),
      'retry rejects with signal.reason itself [R23]',
    ).toBe(reason);
    expect(
      attemptSignal!.aborted,
      "the caller's abort aborts the running attempt's context.signal [R23]",
    ).toBe(true);
    expect(
      attemptSignal!.reason,
      "the attempt's context.signal carries the caller's reason [R23]",
    ).toBe(reason);
  });

  test('rejects with signal.reason, not a RetryError, when aborted during the last attempt [R23]', async () => {
    useFakeClock();
    const controller = new AbortController();
    const reason = new Error('request cancelled');
    const operation = scripted({ hang: true });
    const run = await start(operation, { retries: 0, signal: controller.signal });
    controller.abort(reason);
    await flushMicrotasks();
    expect(
      rejection(run, 'retries 0, aborted during the only attempt: retry rejects at once [R23]'),
      'an abort is not a failed attempt: retry rejects with signal.reason itself, even with no retry left [R23]',
    ).toBe(reason);
  });

  test('rejects at once with signal.reason when onRetry aborts the signal, without waiting out the delay [R22]', async () => {
    useFakeClock();
    const controller = new AbortController();
    const reason = new Error('gave up from onRetry');
    const operation = scripted({ reject: new Error('503') }, { value: 'never reached' });
    const run = await start(operation, {
      jitter: 'none',
      minDelayMs: 1_000,
      signal: controller.signal,
      onRetry: () => controller.abort(reason),
    });
    await flushMicrotasks();
    expect(
      rejection(
        run,
        'onRetry aborts the signal before the 1000 ms wait: retry rejects at once, without more time passing [R22]',
      ),
      'retry rejects with signal.reason itself [R22]',
    ).toBe(reason);
    expect(vi.getTimerCount(), 'aborted before the wait: no wait timer is left [R22]').toBe(0);
    await advance(10_000);
    expect(operation.times.length, 'aborted from onRetry: no further attempt [R22]').toBe(1);
  });

  test('uses the default AbortError reason when aborted without a reason [R23]', async () => {
    useFakeClock();
    const controller = new AbortController();
    const run = await start(scripted({ hang: true }), { signal: controller.signal });
    controller.abort();
    await flushMicrotasks();
    const reason = rejection(run, 'controller.abort() during an attempt [R23]');
    expect(
      reason,
      `retry rejects with signal.reason, the AbortError DOMException; got ${describeValue(reason)} [R23]`,
    ).toBe(controller.signal.reason);
  });

  test('ignores a late settlement of the abandoned attempt and never leaves its rejection unhandled [R24]', async () => {
    useFakeClock();
    const controller = new AbortController();
    const reason = new Error('cancelled');
    const late = deferred<string>();
    const operation = scripted({ settle: late.promise }, { value: 'never reached' });
    let run: Run<unknown> | undefined;
    const unhandled = await unhandledRejectionsDuring(async () => {
      run = await start(operation, { signal: controller.signal });
      controller.abort(reason);
      await flushMicrotasks();
      late.reject(new Error('late failure of the abandoned attempt'));
      await flushMicrotasks();
      await advance(10_000);
    });
    expect(
      unhandled.map(describeValue),
      "the abandoned attempt's later rejection is observed by retry, never reported as unhandled [R24]",
    ).toEqual([]);
    expect(
      rejection(run!, 'aborted during an attempt [R23]'),
      'the result stays signal.reason [R24]',
    ).toBe(reason);
    expect(operation.times.length, 'a late failure after the abort starts no retry [R24]').toBe(1);
  });

  test('rejects a signal that is not an AbortSignal with a TypeError naming signal, without calling the operation [R28, R31]', async () => {
    for (const signal of ['abort', {}, { aborted: false }, 42]) {
      const what = `retry(() => 'ok', { signal: ${typeof signal === 'string' ? `'${signal}'` : JSON.stringify(signal)} })`;
      const reason = await invalidRetry(
        () => 'ok',
        { signal: signal as unknown as AbortSignal },
        what,
      );
      expectOptionError(reason, [TypeError], 'signal', what, '[R31]');
    }
  });

  test("holds at most one abort listener on the caller's signal through every attempt and wait [R35]", async () => {
    useFakeClock();
    const controller = new AbortController();
    const { signal } = controller;
    const attempts = [
      deferred<string>(),
      deferred<string>(),
      deferred<string>(),
      deferred<string>(),
    ];
    const operation = scripted(...attempts.map((d) => ({ settle: d.promise })));
    const run = await start(operation, { jitter: 'none', signal });
    // Attempt n runs, fails after 10 ms, then the wait of 100 * 2 ** (n - 1) ms.
    for (let n = 1; n <= 3; n += 1) {
      expectHeld(`attempt ${n} running`, signal, { timers: 1, listeners: 1 });
      await advance(10);
      attempts[n - 1]!.reject(new Error(`failure ${n}`));
      await flushMicrotasks();
      const delay = 100 * 2 ** (n - 1);
      await advance(delay / 2);
      expectHeld(`halfway through the ${delay} ms wait after attempt ${n}`, signal, {
        timers: 1,
        listeners: 1,
      });
      await advance(delay / 2);
    }
    expectHeld('attempt 4 running', signal, { timers: 1, listeners: 1 });
    attempts[3]!.resolve('ok');
    await flushMicrotasks();
    expect(
      resolvedValue(run, 'three failures, then "ok" on attempt 4 (default retries 3) [R35]'),
    ).toBe('ok');
    expectHeld('after retry resolved', signal, { timers: 0, listeners: 0 });
  });

  test('leaves no abort listener and no timer once retry settles, whichever way, and a later abort changes nothing [R36, R37]', async () => {
    useFakeClock();
    const scenarios: {
      what: string;
      steps: Step[];
      options?: RetryOptions;
      abortAtMs?: number;
      abortFirst?: boolean;
      abortFromOnRetry?: boolean;
    }[] = [
      { what: 'resolved at once', steps: [{ value: 'ok' }] },
      { what: 'resolved after 2 retries', steps: [{ reject: 1 }, { throw: 2 }, { value: 'ok' }] },
      {
        what: 'rejected with a RetryError',
        steps: [{ reject: 1 }, { reject: 2 }],
        options: { retries: 1 },
      },
      {
        what: 'rejected as shouldRetry said no',
        steps: [{ reject: 1 }],
        options: { shouldRetry: () => false },
      },
      {
        what: 'rejected as shouldRetry said no (asynchronously)',
        steps: [{ reject: 1 }],
        options: { shouldRetry: async () => false },
      },
      { what: 'aborted before it started', steps: [{ value: 'ok' }], abortFirst: true },
      {
        what: 'aborted while waiting',
        steps: [{ reject: 1 }, { value: 'never reached' }],
        abortAtMs: 50,
      },
      { what: 'aborted during an attempt', steps: [{ hang: true }], abortAtMs: 50 },
      {
        what: 'aborted during the second attempt',
        steps: [{ reject: 1 }, { hang: true }],
        abortAtMs: 150,
      },
      {
        what: 'aborted from onRetry',
        steps: [{ reject: 1 }, { value: 'never reached' }],
        abortFromOnRetry: true,
      },
    ];
    for (const scenario of scenarios) {
      const controller = new AbortController();
      if (scenario.abortFirst) controller.abort(new Error('stop'));
      const run = await start(scripted(...scenario.steps), {
        jitter: 'none',
        ...scenario.options,
        ...(scenario.abortFromOnRetry
          ? { onRetry: () => controller.abort(new Error('stop from onRetry')) }
          : {}),
        signal: controller.signal,
      });
      if (scenario.abortAtMs !== undefined) {
        await advance(scenario.abortAtMs);
        controller.abort(new Error('stop'));
        await flushMicrotasks();
      }
      // Counted the moment retry settles: a timer it left behind must not get to fire first.
      await runUntilSettled(run);
      const settled = run.state;
      expect(
        settled.state,
        `retry ${scenario.what}: it has settled, but ${describeState(settled)} [R37]`,
      ).not.toBe('pending');
      expectHeld(`after retry ${scenario.what}`, controller.signal, { timers: 0, listeners: 0 });
      if (!controller.signal.aborted) {
        controller.abort(new Error('late abort'));
        await flushMicrotasks();
        await advance(1000);
        expect(
          run.state,
          `retry ${scenario.what}, then the caller's signal aborted: the outcome must not change [R37]`,
        ).toEqual(settled);
        expectHeld(`after a late abort of retry ${scenario.what}`, controller.signal, {
          timers: 0,
          listeners: 0,
        });
      }
    }
  });

  test('notices an abort by its event, not by polling, during a 10 s attempt [R38]', async () => {
    useFakeClock();
    const controller = new AbortController();
    const counts = countTimers();
    const reason = new Error('stop');
    const run = await start(scripted({ hang: true }), { signal: controller.signal });
    await advance(10_000);
    const { scheduled, fired } = counts();
    expect(
      fired <= 5 && scheduled <= 5,
      `over a 10_000 ms attempt with a caller's signal, ${scheduled} timers were scheduled and ${fired} ` +
        'callbacks ran: an abort is noticed by its event, not by checking signal.aborted on a timer [R38]',
    ).toBe(true);
    expect(
      abortListeners(controller.signal),
      'during the attempt: abort listeners on the caller’s signal [R35]',
    ).toBeLessThanOrEqual(1);
    controller.abort(reason);
    await flushMicrotasks();
    expect(rejection(run, 'aborted after 10 s: rejects at once [R23]')).toBe(reason);
  });

  test('passes the attempt a signal that aborts with the caller’s, whatever the attempt does with it [R23]', async () => {
    useFakeClock();
    const controller = new AbortController();
    const reasons: unknown[] = [];
    const run = await start(
      ({ signal }: AttemptContext) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            reasons.push(signal.reason);
            reject(new Error('the attempt stopped its work'));
          });
        }),
      { signal: controller.signal },
    );
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await flushMicrotasks();
    expect(
      reasons,
      "an operation listening on context.signal hears the caller's abort, with the caller's reason [R23]",
    ).toEqual([reason]);
    expect(
      rejection(run, 'aborted during an attempt that stops when its signal aborts [R23]'),
      "retry rejects with the caller's reason, not the attempt's own rejection [R23]",
    ).toBe(reason);
  });
});
