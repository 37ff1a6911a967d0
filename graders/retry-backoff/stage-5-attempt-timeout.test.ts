import { describe, expect, test, vi } from 'vitest';
import { TimeoutError, type AttemptContext, type RetryInfo } from '@kata/retry-backoff';
import { advance, useFakeClock } from '../support/clock.ts';
import { countTimers } from '../support/limits.ts';
import { deferred, flushMicrotasks } from '../support/promises.ts';
import {
  describeState,
  describeValue,
  expectHeld,
  expectOptionError,
  invalidRetry,
  rejection,
  resolvedValue,
  retryErrorOf,
  runUntilSettled,
  scripted,
  start,
  unhandledRejectionsDuring,
  type Run,
} from './fixtures.ts';

describe('stage 5: limits each attempt with attemptTimeoutMs', () => {
  test('fails an attempt still running after attemptTimeoutMs ms with a TimeoutError and retries it [R25]', async () => {
    useFakeClock();
    const infos: RetryInfo[] = [];
    const operation = scripted({ hang: true }, { value: 'ok' });
    const run = await start(operation, {
      attemptTimeoutMs: 1000,
      jitter: 'none',
      onRetry: (info) => infos.push(info),
    });
    await advance(999);
    expect(
      infos,
      'attemptTimeoutMs 1000: at 999 ms the attempt has not timed out yet [R25]',
    ).toEqual([]);
    await advance(1);
    expect(
      infos.length,
      'attemptTimeoutMs 1000: at exactly 1000 ms the attempt fails and a retry is scheduled (onRetry) [R25]',
    ).toBe(1);
    const error = infos[0]?.error;
    expect(
      error instanceof TimeoutError,
      `the timed-out attempt fails with a TimeoutError, got ${describeValue(error)} [R25]`,
    ).toBe(true);
    expect(error, 'a TimeoutError is an Error [R25]').toBeInstanceOf(Error);
    expect((error as Error).name, 'TimeoutError.name [R25]').toBe('TimeoutError');
    expect(
      (error as Error).message,
      'new TimeoutError(attemptTimeoutMs): its message names the limit, 1000 ms [R25]',
    ).toContain('1000');
    await advance(10_000);
    expect(resolvedValue(run, 'the first attempt times out, the retry resolves "ok" [R25]')).toBe(
      'ok',
    );
    expect(operation.times, 'the retry starts 100 ms after the 1000 ms timeout [R25]').toEqual([
      0, 1100,
    ]);
  });

  test("aborts the timed-out attempt's context.signal with that TimeoutError, however late it is read [R26]", async () => {
    useFakeClock();
    const errors: unknown[] = [];
    const early: AbortSignal[] = [];
    const operation = scripted({ hang: true }, { hang: true }, { value: 'ok' });
    const run = await start(
      (context: AttemptContext) => {
        // Attempt 1 reads its signal at once; attempt 2 only after its time is up.
        if (context.attempt === 1) early.push(context.signal);
        return operation(context);
      },
      {
        attemptTimeoutMs: 500,
        jitter: 'none',
        shouldRetry: (error) => {
          errors.push(error);
          return true;
        },
      },
    );
    await advance(500);
    const first = early[0]!;
    expect(
      first.aborted,
      'attempt 1 read context.signal at its start: at 500 ms it is aborted, so the work can stop [R26]',
    ).toBe(true);
    expect(
      first.reason,
      'attempt 1: the signal aborts with the very TimeoutError shouldRetry is given [R26]',
    ).toBe(errors[0]);
    await advance(100 + 500);
    const late = operation.contexts[1]!.signal;
    expect(
      late.aborted,
      'attempt 2 first reads context.signal after its 500 ms are up: it is already aborted [R26]',
    ).toBe(true);
    expect(
      late.reason instanceof TimeoutError && late.reason === errors[1],
      `attempt 2's signal aborts with the TimeoutError shouldRetry got; its reason is ${describeValue(late.reason)} [R26]`,
    ).toBe(true);
    await advance(10_000);
    expect(resolvedValue(run, 'two timeouts, then "ok" [R25]')).toBe('ok');
  });

  test('rejects with a RetryError of TimeoutErrors when every attempt times out [R14, R25]', async () => {
    useFakeClock();
    const run = await start(scripted(), { retries: 2, attemptTimeoutMs: 200, jitter: 'none' });
    await advance(10_000);
    const error = retryErrorOf(
      run,
      'three attempts that never settle, attemptTimeoutMs 200: a RetryError [R14, R25]',
    );
    expect(error.attempts, 'RetryError.attempts [R14]').toBe(3);
    expect(error.errors.length, 'RetryError.errors: one per attempt [R14]').toBe(3);
    error.errors.forEach((e, i) =>
      expect(
        e instanceof TimeoutError,
        `errors[${i}] is a TimeoutError, got ${describeValue(e)} [R25]`,
      ).toBe(true),
    );
  });

  test('clears the attempt timer when the attempt settles in time [R27]', async () => {
    useFakeClock();
    const answer = deferred<string>();
    const run = await start(scripted({ settle: answer.promise }), { attemptTimeoutMs: 1000 });
    await advance(500);
    answer.resolve('in time');
    await flushMicrotasks();
    expect(
      resolvedValue(run, 'an attempt resolving at 500 ms with attemptTimeoutMs 1000 [R27]'),
    ).toBe('in time');
    expect(
      vi.getTimerCount(),
      'the attempt resolved: its timeout timer is cleared at once [R27]',
    ).toBe(0);

    const failing = deferred<string>();
    const rejected = await start(scripted({ settle: failing.promise }), {
      attemptTimeoutMs: 1000,
      retries: 0,
    });
    await advance(300);
    failing.reject(new Error('503'));
    await flushMicrotasks();
    retryErrorOf(rejected, 'retries 0 and an attempt rejecting at 300 ms [R27]');
    expect(
      vi.getTimerCount(),
      'the attempt rejected: its timeout timer is cleared at once [R27]',
    ).toBe(0);

    const thrown = await start(scripted({ throw: new Error('sync') }), {
      attemptTimeoutMs: 1000,
      retries: 0,
    });
    retryErrorOf(thrown, 'retries 0 and an attempt that throws synchronously [R27]');
    expect(
      vi.getTimerCount(),
      'the attempt threw: its timeout timer is cleared at once [R27]',
    ).toBe(0);
  });

  test('ignores a late settlement of a timed-out attempt and never leaves its rejection unhandled [R24]', async () => {
    useFakeClock();
    const first = deferred<string>();
    const second = deferred<string>();
    const operation = scripted({ settle: first.promise }, { settle: second.promise });
    let run: Run<unknown> | undefined;
    const unhandled = await unhandledRejectionsDuring(async () => {
      run = await start(operation, { attemptTimeoutMs: 1000, jitter: 'none' });
      await advance(1050);
      first.reject(new Error('late failure of the timed-out attempt'));
      await flushMicrotasks();
      await advance(50);
      second.resolve('second');
      await flushMicrotasks();
    });
    expect(
      unhandled.map(describeValue),
      "the timed-out attempt's later rejection is observed by retry, never reported as unhandled [R24]",
    ).toEqual([]);
    expect(
      resolvedValue(
        run!,
        'attempt 1 times out, then fails late; attempt 2 resolves "second" [R24]',
      ),
    ).toBe('second');
    expect(operation.times, 'one retry, 100 ms after the timeout [R24]').toEqual([0, 1100]);

    const slow = deferred<string>();
    const late = await start(scripted({ settle: slow.promise }, { value: 'fresh' }), {
      attemptTimeoutMs: 1000,
      jitter: 'none',
    });
    await advance(1050);
    slow.resolve('too late');
    await advance(1000);
    expect(
      resolvedValue(late, 'attempt 1 times out, then resolves "too late" during the wait [R24]'),
      'a timed-out attempt has failed: its late value is ignored and the retry runs [R24]',
    ).toBe('fresh');
  });

  test('lets attempts run for an hour when attemptTimeoutMs is absent [R25]', async () => {
    useFakeClock();
    const slow = deferred<string>();
    const operation = scripted({ settle: slow.promise });
    const run = await start(operation);
    await advance(3_600_000);
    expect(
      run.state.state,
      `no attemptTimeoutMs: an attempt has no time limit, but after an hour ${describeState(run.state)} [R25]`,
    ).toBe('pending');
    slow.resolve('after an hour');
    await flushMicrotasks();
    expect(resolvedValue(run, 'an attempt resolving after an hour [R25]')).toBe('after an hour');
    expect(operation.times.length, 'attempts made [R25]').toBe(1);
  });

  test('clears the attempt timer when the caller aborts during the attempt [R27]', async () => {
    useFakeClock();
    const controller = new AbortController();
    const run = await start(scripted({ hang: true }), {
      attemptTimeoutMs: 1000,
      signal: controller.signal,
    });
    await advance(300);
    controller.abort(new Error('stop'));
    await flushMicrotasks();
    rejection(run, 'aborted 300 ms into an attempt [R23]');
    expect(
      vi.getTimerCount(),
      'aborted during an attempt: its timeout timer is cleared at once [R27]',
    ).toBe(0);
  });

  test('holds at most one timer and one abort listener through every attempt and wait, with a time limit and a signal [R34, R35]', async () => {
    useFakeClock();
    const controller = new AbortController();
    const { signal } = controller;
    const d1 = deferred<string>();
    const operation = scripted(
      { settle: d1.promise },
      { hang: true },
      { throw: new Error('sync failure') },
      { value: 'ok' },
    );
    const options = { signal, attemptTimeoutMs: 1000, jitter: 'none', retries: 3 } as const;
    const run = await start(operation, options);
    await advance(200);
    expectHeld('attempt 1 running, with a 1000 ms limit', signal, { timers: 1, listeners: 1 });
    d1.reject(new Error('503'));
    await flushMicrotasks();
    await advance(50);
    expectHeld('50 ms into the 100 ms wait after attempt 1 failed', signal, {
      timers: 1,
      listeners: 1,
    });
    await advance(50 + 500);
    expectHeld('attempt 2 running, 500 ms in', signal, { timers: 1, listeners: 1 });
    await advance(500);
    await advance(100);
    expectHeld('100 ms into the 200 ms wait after attempt 2 timed out', signal, {
      timers: 1,
      listeners: 1,
    });
    await advance(100);
    await advance(200);
    expectHeld('200 ms into the 400 ms wait after attempt 3 threw', signal, {
      timers: 1,
      listeners: 1,
    });
    await advance(200);
    expect(
      resolvedValue(
        run,
        'attempt 1 rejects, attempt 2 times out, attempt 3 throws, attempt 4 returns "ok" [R25]',
      ),
    ).toBe('ok');
    expect(operation.times, 'attempts start at 0, 300, 1500 and 1900 ms [R20, R25]').toEqual([
      0, 300, 1500, 1900,
    ]);
    expectHeld('after retry resolved', signal, { timers: 0, listeners: 0 });
  });

  test('leaves no timer and no abort listener once retry settles after timeouts [R36, R37]', async () => {
    useFakeClock();
    const scenarios = [
      { what: 'rejected with a RetryError of timeouts', steps: [], abortAtMs: undefined },
      { what: 'resolved after a timeout', steps: [{ hang: true }, { value: 'ok' }] },
      { what: 'aborted while waiting after a timeout', steps: [{ hang: true }], abortAtMs: 250 },
      { what: 'aborted during an attempt with a limit', steps: [{ hang: true }], abortAtMs: 100 },
    ] as const;
    for (const scenario of scenarios) {
      const controller = new AbortController();
      const run = await start(scripted(...scenario.steps), {
        attemptTimeoutMs: 200,
        jitter: 'none',
        retries: 2,
        signal: controller.signal,
      });
      if ('abortAtMs' in scenario && scenario.abortAtMs !== undefined) {
        await advance(scenario.abortAtMs);
        controller.abort(new Error('stop'));
        await flushMicrotasks();
      }
      // Counted the moment retry settles: a timer it left behind must not get to fire first.
      await runUntilSettled(run);
      expect(
        run.state.state,
        `retry ${scenario.what}: it has settled, but ${describeState(run.state)} [R36]`,
      ).not.toBe('pending');
      expectHeld(`after retry ${scenario.what}`, controller.signal, { timers: 0, listeners: 0 });
    }
  });

  test('times attempts with one timer each, not by polling [R38]', async () => {
    useFakeClock();
    const counts = countTimers();
    const run = await start(scripted({ hang: true }, { value: 'ok' }), {
      attemptTimeoutMs: 10_000,
      minDelayMs: 10_000,
      jitter: 'none',
      signal: new AbortController().signal,
    });
    await advance(20_000);
    expect(
      resolvedValue(run, 'a 10_000 ms attempt that times out, a 10_000 ms wait, then "ok" [R25]'),
    ).toBe('ok');
    const { scheduled, fired } = counts();
    expect(
      fired <= 6 && scheduled <= 6,
      `over a 10_000 ms attempt and a 10_000 ms wait, ${scheduled} timers were scheduled and ${fired} callbacks ran: ` +
        "an attempt's time limit is one timer and a wait is one timer, not a poll of the clock [R38]",
    ).toBe(true);
  });

  test('rejects an attemptTimeoutMs that is not finite and > 0 with a RangeError naming attemptTimeoutMs [R28, R30]', async () => {
    for (const attemptTimeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const what = `retry(() => 'ok', { attemptTimeoutMs: ${attemptTimeoutMs} })`;
      const reason = await invalidRetry(() => 'ok', { attemptTimeoutMs }, what);
      expectOptionError(reason, [RangeError], 'attemptTimeoutMs', what, '[R30]');
    }
  });
});
