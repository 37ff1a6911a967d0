import fc from 'fast-check';
import { describe, expect, test, vi } from 'vitest';
import {
  RetryError,
  type AttemptContext,
  type RetryInfo,
  type RetryOptions,
} from '@kata/retry-backoff';
import { advance, useFakeClock } from '../support/clock.ts';
import { countTimers } from '../support/limits.ts';
import { deferred, flushMicrotasks } from '../support/promises.ts';
import { assertProperty } from '../support/property.ts';
import {
  describeOptions,
  describeValue,
  expectHeld,
  expectOptionError,
  failures,
  invalidRetry,
  resolvedValue,
  retryErrorOf,
  runUntilSettled,
  scripted,
  start,
  unhandledRejectionsDuring,
  withRetryAfter,
  type Run,
} from './fixtures.ts';

describe('stage 2: retries a failing operation', () => {
  test('resolves with the value of a first attempt that succeeds, and makes no other attempt [R11]', async () => {
    useFakeClock();
    const operation = vi.fn((_context: AttemptContext) => 'ok');
    const run = await start(operation);
    expect(
      resolvedValue(run, 'retry(() => "ok"): resolves with "ok" at once [R11]'),
      'retry(() => "ok"): the value itself [R11]',
    ).toBe('ok');
    await advance(10_000);
    expect(
      operation.mock.calls.length,
      'retry(() => "ok"): a first attempt that succeeds is the only attempt [R11]',
    ).toBe(1);
  });

  test('resolves with the value of an async operation [R11]', async () => {
    useFakeClock();
    const run = await start(scripted({ value: 42 }));
    expect(
      resolvedValue(
        run,
        'an operation whose promise resolves with 42: retry resolves with 42 [R11]',
      ),
    ).toBe(42);
  });

  test("resolves with falsy values too: undefined, null, 0, '' and false end the retries [R11]", async () => {
    useFakeClock();
    for (const value of [undefined, null, 0, '', false]) {
      for (const how of ['returned', 'resolved'] as const) {
        const operation = vi.fn(() => (how === 'returned' ? value : Promise.resolve(value)));
        const run = await start(operation, { jitter: 'none' });
        await advance(10_000);
        const what = `an operation that ${how} ${describeValue(value)}`;
        expect(
          resolvedValue(run, `${what}: retry resolves with that value, it is not a failure [R11]`),
          `${what}: the value itself [R11]`,
        ).toBe(value);
        expect(
          operation.mock.calls.length,
          `${what}: attempts made (a value, however falsy, ends the retries) [R11]`,
        ).toBe(1);
      }
    }
  });

  test('gives each attempt a context with its 1-based number and an AbortSignal of its own, not aborted [R15]', async () => {
    useFakeClock();
    const seen: { attempt: unknown; signal: unknown; aborted: unknown }[] = [];
    const [e1, e2] = failures(2);
    const run = await start(
      (context: AttemptContext) => {
        seen.push({
          attempt: context.attempt,
          signal: context.signal,
          aborted: context.signal?.aborted,
        });
        if (seen.length === 1) throw e1;
        if (seen.length === 2) return Promise.reject(e2!);
        return 'ok';
      },
      { jitter: 'none' },
    );
    await advance(10_000);
    resolvedValue(run, 'fails twice, then returns "ok" [R15]');
    expect(
      seen.map((s) => s.attempt),
      'context.attempt of attempts 1, 2 and 3: numbered from 1 [R15]',
    ).toEqual([1, 2, 3]);
    seen.forEach((s, i) => {
      expect(
        s.signal instanceof AbortSignal,
        `attempt ${i + 1}, no caller's signal and no timeout: context.signal is ${describeValue(s.signal)}, expected an AbortSignal [R15]`,
      ).toBe(true);
      expect(
        s.aborted,
        `attempt ${i + 1}: context.signal is not aborted when the attempt starts [R15]`,
      ).toBe(false);
    });
    expect(
      new Set(seen.map((s) => s.signal)).size,
      'three attempts: each gets a signal of its own (one attempt abandoned must not abort the next) [R15]',
    ).toBe(3);
  });

  test('retries rejected attempts after their delays and resolves with the later value [R12, R20]', async () => {
    useFakeClock();
    const [e1, e2] = failures(2);
    const operation = scripted({ reject: e1 }, { reject: e2 }, { value: 'third time lucky' });
    const run = await start(operation, { jitter: 'none' });
    await advance(99);
    expect(
      operation.times,
      "jitter 'none': the retry after a 100 ms delay has not started at 99 ms [R20]",
    ).toEqual([0]);
    await advance(10_000);
    expect(resolvedValue(run, 'rejects, rejects, then resolves "third time lucky" [R12]')).toBe(
      'third time lucky',
    );
    expect(
      operation.times,
      "jitter 'none', minDelayMs 100, factor 2: attempts start at 0 ms, +100 ms, then +200 ms [R20]",
    ).toEqual([0, 100, 300]);
  });

  test('counts a synchronous throw as a failed attempt and retries it [R12]', async () => {
    useFakeClock();
    const operation = scripted({ throw: new Error('thrown synchronously') }, { value: 'ok' });
    const run = await start(operation, { jitter: 'none' });
    await advance(1000);
    expect(
      resolvedValue(
        run,
        'an operation that throws synchronously, then returns "ok": the throw is a failed attempt, retried [R12]',
      ),
    ).toBe('ok');
    expect(operation.times, 'the sync throw is retried after the 100 ms delay [R12]').toEqual([
      0, 100,
    ]);
  });

  test('retries thrown values that are not objects: null, undefined, strings, numbers [R10, R12]', async () => {
    useFakeClock();
    const values = [null, undefined, 'busy', 503];
    const operation = scripted(...values.map((v) => ({ throw: v })), { value: 'ok' });
    const run = await start(operation, { retries: 4, minDelayMs: 1 });
    await advance(1000);
    expect(
      resolvedValue(
        run,
        'throws null, undefined, "busy", 503, then returns "ok" (retries 4): any thrown value is a failure, and ' +
          'looking for its retryAfterMs must not crash [R10, R12]',
      ),
    ).toBe('ok');
    expect(operation.times.length, 'every thrown value counts as one failed attempt [R12]').toBe(5);
  });

  test('makes retries + 1 attempts, then rejects with a RetryError holding every error in order [R13, R14]', async () => {
    useFakeClock();
    const errors = failures(3);
    const operation = scripted(...errors.map((e) => ({ reject: e })));
    const run = await start(operation, { retries: 2, jitter: 'none' });
    await advance(10_000);
    const error = retryErrorOf(
      run,
      'retries 2 and three failures: retry rejects with a RetryError [R14]',
    );
    expect(
      operation.times.length,
      'retries 2 means 3 attempts: the first is not a retry [R13]',
    ).toBe(3);
    expect(error.attempts, 'RetryError.attempts after 3 failed attempts [R14]').toBe(3);
    expect(
      error.errors.length,
      'RetryError.errors holds each attempt error, first to last [R14]',
    ).toBe(3);
    errors.forEach((e, i) => {
      expect(
        error.errors[i],
        `RetryError.errors[${i}] is attempt ${i + 1}'s own error object [R14]`,
      ).toBe(e);
    });
    expect(error.cause, 'RetryError.cause is the last attempt error [R14]').toBe(errors[2]);
    expect(error, 'a RetryError is an Error [R14]').toBeInstanceOf(Error);
    expect(error.name, 'RetryError.name [R14]').toBe('RetryError');
  });

  test('makes 4 attempts by default (retries defaults to 3) [R13]', async () => {
    useFakeClock();
    const operation = scripted(...failures(5).map((e) => ({ reject: e })));
    const run = await start(operation, { jitter: 'none' });
    await advance(10_000);
    const error = retryErrorOf(run, 'an operation that always fails ends in a RetryError [R13]');
    expect(
      operation.times,
      "no retries option, jitter 'none': 4 attempts at 0, 100, 300, 700 ms [R13]",
    ).toEqual([0, 100, 300, 700]);
    expect(error.attempts, 'RetryError.attempts with the default retries [R13]').toBe(4);
  });

  test('makes exactly one attempt with retries 0, and calls no onRetry [R13, R19]', async () => {
    useFakeClock();
    const [e1] = failures(1);
    const onRetry = vi.fn();
    const operation = scripted({ reject: e1 }, { value: 'never reached' });
    const run = await start(operation, { retries: 0, onRetry });
    await advance(10_000);
    const error = retryErrorOf(run, 'retries 0 and a failure reject with a RetryError [R13]');
    expect(operation.times.length, 'retries 0: one attempt, no retry [R13]').toBe(1);
    expect(error.attempts, 'RetryError.attempts with retries 0 [R13]').toBe(1);
    expect(error.errors, 'RetryError.errors with retries 0 [R13]').toEqual([e1]);
    expect(
      onRetry.mock.calls.length,
      'retries 0: no retry follows, so onRetry is never called [R19]',
    ).toBe(0);
  });

  test("rejects with a RetryError whose message the stub's class writes from the count and the last error [R14]", async () => {
    useFakeClock();
    const cases: [string, unknown[], number, string][] = [
      [
        'one Error("503") with retries 0',
        [new Error('503')],
        0,
        'Failed after 1 attempt: Error: 503',
      ],
      [
        'two failures with retries 1',
        [new Error('first failure'), new TypeError('connection reset by peer')],
        1,
        'Failed after 2 attempts: TypeError: connection reset by peer',
      ],
      ['one string "busy" with retries 0', ['busy'], 0, 'Failed after 1 attempt: busy'],
      ['three nulls with retries 2', [null, null, null], 2, 'Failed after 3 attempts: null'],
    ];
    for (const [what, reasons, retries, message] of cases) {
      const run = await start(scripted(...reasons.map((r) => ({ reject: r }))), {
        retries,
        minDelayMs: 1,
      });
      await advance(1000);
      const error = retryErrorOf(run, `${what}: a RetryError [R14]`);
      expect(
        error.message,
        `${what}: RetryError's message, as the stub's class writes it from attempts and errors (pass it the attempt count and every error) [R14]`,
      ).toBe(message);
    }
  });

  test('rejects with a RetryError even when the last error has no string form [R14]', async () => {
    useFakeClock();
    const bare: unknown = Object.create(null);
    const run = await start(scripted({ reject: bare }), { retries: 0 });
    const error = retryErrorOf(
      run,
      'retries 0, an operation rejecting with Object.create(null) (String() of it throws): still a RetryError [R14]',
    );
    expect(error.cause, 'RetryError.cause is that object [R14]').toBe(bare);
    expect(error.message, "RetryError's message as the stub's class writes it [R14]").toBe(
      'Failed after 1 attempt: [object Object]',
    );
  });

  test("calls onRetry before each wait with the error, the failed attempt's number and delayMs [R19]", async () => {
    useFakeClock();
    const errors = failures(4);
    const log: string[] = [];
    const infos: RetryInfo[] = [];
    const operation = scripted(...errors.map((e) => ({ reject: e })));
    const logged = (context: AttemptContext): unknown => {
      log.push(`attempt ${context.attempt}`);
      return operation(context);
    };
    const createdAt = Date.now();
    const onRetryTimes: number[] = [];
    const run = await start(logged, {
      jitter: 'none',
      onRetry: (info) => {
        log.push(`onRetry ${info.attempt}`);
        onRetryTimes.push(Date.now() - createdAt);
        infos.push({ error: info.error, attempt: info.attempt, delayMs: info.delayMs });
      },
    });
    await advance(10_000);
    retryErrorOf(run, 'four failures with the default retries [R19]');
    expect(
      onRetryTimes,
      'attempts fail at once at 0, 100 and 300 ms: onRetry is called then, before each wait, not after it [R19]',
    ).toEqual([0, 100, 300]);
    expect(
      infos,
      "jitter 'none': onRetry gets each failed attempt's error and number and the 100, 200, 400 ms delays [R19]",
    ).toEqual([
      { error: errors[0], attempt: 1, delayMs: 100 },
      { error: errors[1], attempt: 2, delayMs: 200 },
      { error: errors[2], attempt: 3, delayMs: 400 },
    ]);
    infos.forEach((info, i) =>
      expect(info.error, `onRetry #${i + 1}: the error object itself [R19]`).toBe(errors[i]),
    );
    expect(
      log,
      'onRetry runs after each failed attempt and before the next, and not after the last attempt [R19]',
    ).toEqual([
      'attempt 1',
      'onRetry 1',
      'attempt 2',
      'onRetry 2',
      'attempt 3',
      'onRetry 3',
      'attempt 4',
    ]);
  });

  test('computes its delays from minDelayMs, factor and maxDelayMs [R1, R20]', async () => {
    useFakeClock();
    const infos: RetryInfo[] = [];
    const options = {
      retries: 4,
      jitter: 'none',
      minDelayMs: 10,
      factor: 3,
      maxDelayMs: 200,
    } as const;
    const operation = scripted(...failures(5).map((e) => ({ reject: e })));
    const run = await start(operation, { ...options, onRetry: (info) => infos.push(info) });
    await advance(10_000);
    retryErrorOf(run, `five failures with ${describeOptions(options)} [R13]`);
    expect(
      infos.map((i) => i.delayMs),
      `${describeOptions(options)}: delays 10, 30, 90, then 270 capped at 200 ms [R1]`,
    ).toEqual([10, 30, 90, 200]);
    expect(operation.times, 'attempts start after exactly those delays [R20]').toEqual([
      0, 10, 40, 130, 330,
    ]);
  });

  test('retries without waiting with maxDelayMs 0 [R1]', async () => {
    useFakeClock();
    const infos: RetryInfo[] = [];
    const operation = scripted(...failures(2).map((e) => ({ reject: e })), { value: 'ok' });
    const run = await start(operation, { maxDelayMs: 0, onRetry: (info) => infos.push(info) });
    await advance(10);
    expect(
      resolvedValue(run, 'maxDelayMs 0, two failures, then "ok": every delay is 0 ms [R1]'),
    ).toBe('ok');
    expect(
      infos.map((info) => info.delayMs),
      'maxDelayMs 0: onRetry reports delays of 0 ms [R1]',
    ).toEqual([0, 0]);
  });

  test('reports delays of random() * base with full jitter and waits exactly those delays [R2, R19, R20]', async () => {
    useFakeClock();
    // How often random() is called is not part of the contract: each reported delay must be
    // random() * base for one of the values random() returned, and the wait must match it.
    const cycle = [0.5, 0.25, 0.75];
    const returned = new Set<number>();
    let calls = 0;
    const random = (): number => {
      const r = cycle[calls++ % cycle.length]!;
      returned.add(r);
      return r;
    };
    const infos: RetryInfo[] = [];
    const operation = scripted(...failures(4).map((e) => ({ reject: e })));
    const run = await start(operation, { random, onRetry: (info) => infos.push(info) });
    await advance(10_000);
    retryErrorOf(run, 'four failures with the default retries [R13]');
    expect(infos.length, 'onRetry calls for 4 attempts [R19]').toBe(3);
    infos.forEach((info, i) => {
      const base = 100 * 2 ** i;
      const allowed = [...returned].map((r) => r * base);
      expect(
        allowed,
        `retry ${i + 1} (base ${base} ms) reported delayMs ${info.delayMs}: full jitter waits random() * base, ` +
          `and random() returned ${[...returned].join(', ')} [R2, R19]`,
      ).toContain(info.delayMs);
    });
    const waits = operation.times.slice(1).map((t, i) => t - operation.times[i]!);
    expect(
      waits,
      `attempts started at ${operation.times.join(', ')} ms: each wait is exactly the delayMs onRetry reported [R20]`,
    ).toEqual(infos.map((i) => i.delayMs));
  });

  test("waits at least the failed attempt's retryAfterMs, after the jitter [R8]", async () => {
    useFakeClock();
    const infos: RetryInfo[] = [];
    const operation = scripted(
      { reject: withRetryAfter('429 Too Many Requests', 1000) },
      { value: 'ok' },
    );
    const run = await start(operation, { jitter: 'none', onRetry: (info) => infos.push(info) });
    await advance(10_000);
    expect(resolvedValue(run, 'a 429 with retryAfterMs 1000, then success [R8]')).toBe('ok');
    expect(
      infos.map((i) => i.delayMs),
      "jitter 'none' (100 ms) and an error with retryAfterMs 1000: the server's Retry-After is a floor [R8]",
    ).toEqual([1000]);
    expect(operation.times, 'the retry starts 1000 ms after the 429 [R8]').toEqual([0, 1000]);

    const jittered: RetryInfo[] = [];
    const again = await start(
      scripted({ reject: withRetryAfter('429 Too Many Requests', 1000) }, { value: 'ok' }),
      {
        jitter: 'full',
        minDelayMs: 1500,
        random: () => 0.5,
        onRetry: (info) => jittered.push(info),
      },
    );
    await advance(10_000);
    expect(resolvedValue(again, 'a 429 with retryAfterMs 1000, then success [R8]')).toBe('ok');
    expect(
      jittered.map((i) => i.delayMs),
      'full jitter (0.5 * 1500 ms = 750 ms) and retryAfterMs 1000: the floor applies to the delay after the ' +
        'jitter, so the retry never comes before the server asked [R8]',
    ).toEqual([1000]);

    const plain: RetryInfo[] = [];
    const fromObject = await start(
      scripted({ reject: { status: 429, retryAfterMs: 1000 } }, { value: 'ok' }),
      { jitter: 'none', onRetry: (info) => plain.push(info) },
    );
    await advance(10_000);
    expect(
      resolvedValue(fromObject, 'a rejection with { status: 429, retryAfterMs: 1000 } [R8]'),
    ).toBe('ok');
    expect(
      plain.map((i) => i.delayMs),
      'a thrown plain object { status: 429, retryAfterMs: 1000 } (not an Error) still sets the floor [R8]',
    ).toEqual([1000]);
  });

  test('caps a retryAfterMs above maxDelayMs at maxDelayMs [R9]', async () => {
    useFakeClock();
    const infos: RetryInfo[] = [];
    const operation = scripted({ reject: withRetryAfter('503', 60_000) }, { value: 'ok' });
    const run = await start(operation, {
      jitter: 'none',
      maxDelayMs: 5000,
      onRetry: (info) => infos.push(info),
    });
    await advance(100_000);
    expect(resolvedValue(run, 'a 503 with retryAfterMs 60_000, then success [R9]')).toBe('ok');
    expect(
      infos.map((i) => i.delayMs),
      'retryAfterMs 60_000 with maxDelayMs 5000: the cap still applies [R9]',
    ).toEqual([5000]);
    expect(operation.times, 'the retry starts 5000 ms after the 503 [R9]').toEqual([0, 5000]);
  });

  test('keeps the backoff delay when retryAfterMs is smaller, not finite or not a number [R8, R10]', async () => {
    useFakeClock();
    const ignored: unknown[] = [10, -5000, Number.POSITIVE_INFINITY, Number.NaN, '5000', null];
    for (const retryAfterMs of ignored) {
      const infos: RetryInfo[] = [];
      const operation = scripted({ reject: withRetryAfter('busy', retryAfterMs) }, { value: 'ok' });
      const run = await start(operation, { jitter: 'none', onRetry: (info) => infos.push(info) });
      await advance(100_000);
      const shown = typeof retryAfterMs === 'string' ? `'${retryAfterMs}'` : String(retryAfterMs);
      expect(resolvedValue(run, `an error with retryAfterMs ${shown}, then success [R10]`)).toBe(
        'ok',
      );
      expect(
        infos.map((i) => i.delayMs),
        `retryAfterMs ${shown} does not change jitter 'none''s 100 ms (only a finite number larger than it does) [R8, R10]`,
      ).toEqual([100]);
    }
  });

  test('never leaves a failed attempt’s rejection unhandled [R24]', async () => {
    useFakeClock();
    let run: Run<unknown> | undefined;
    const unhandled = await unhandledRejectionsDuring(async () => {
      run = await start(
        scripted({ reject: new Error('503') }, { reject: new Error('502') }, { value: 'ok' }),
        { jitter: 'none' },
      );
      await advance(10_000);
    });
    expect(
      unhandled.map(describeValue),
      'two rejected attempts, then "ok": retry handles every rejection of the operation, none is reported as unhandled [R24]',
    ).toEqual([]);
    resolvedValue(run!, 'two rejected attempts, then "ok" [R24]');
  });

  test('holds one timer during each wait, none during an attempt, and none once settled [R34, R36]', async () => {
    useFakeClock();
    const attempts = [deferred<string>(), deferred<string>(), deferred<string>()];
    const operation = scripted(...attempts.map((d) => ({ settle: d.promise })));
    const run = await start(operation, { jitter: 'none', retries: 2 });
    expectHeld('attempt 1 running (no attemptTimeoutMs)', undefined, { timers: 1 });
    attempts[0]!.reject(new Error('503'));
    await flushMicrotasks();
    await advance(50);
    expectHeld('50 ms into the 100 ms wait after attempt 1', undefined, { timers: 1 });
    await advance(50);
    expectHeld('attempt 2 running', undefined, { timers: 1 });
    attempts[1]!.reject(new Error('503'));
    await flushMicrotasks();
    await advance(100);
    expectHeld('100 ms into the 200 ms wait after attempt 2', undefined, { timers: 1 });
    await advance(100);
    attempts[2]!.resolve('ok');
    await flushMicrotasks();
    expect(resolvedValue(run, 'fails twice, then resolves "ok" [R34]')).toBe('ok');
    expectHeld('after retry resolved', undefined, { timers: 0 });

    const failing = await start(scripted(...failures(3).map((e) => ({ reject: e }))), {
      retries: 2,
      jitter: 'none',
    });
    await runUntilSettled(failing);
    retryErrorOf(failing, 'three failures with retries 2 [R13]');
    expectHeld('after retry rejected with a RetryError', undefined, { timers: 0 });
  });

  test('waits with one timer, not by polling: a 10 s wait runs a handful of timer callbacks [R38]', async () => {
    useFakeClock();
    const counts = countTimers();
    const operation = scripted({ reject: new Error('503') }, { value: 'ok' });
    const run = await start(operation, { jitter: 'none', minDelayMs: 10_000 });
    await advance(10_000);
    expect(resolvedValue(run, 'one failure, a 10_000 ms wait, then "ok" [R38]')).toBe('ok');
    const { scheduled, fired } = counts();
    expect(
      fired <= 5 && scheduled <= 5,
      `over a 10_000 ms wait, ${scheduled} timers were scheduled and ${fired} callbacks ran: ` +
        'a wait is one timer set for its whole delay, not a poll of the clock [R38]',
    ).toBe(true);
  });

  test('rejects (never throws) a retries that is not an integer >= 0, naming retries [R28, R29, R30]', async () => {
    for (const retries of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      const what = `retry(() => 'ok', { retries: ${retries} })`;
      const reason = await invalidRetry(() => 'ok', { retries }, what);
      expectOptionError(reason, [RangeError], 'retries', what, '[R30]');
    }
  });

  test('accepts retries 0 and minDelayMs 0 [R30]', async () => {
    useFakeClock();
    for (const options of [{ retries: 0 }, { minDelayMs: 0 }] as RetryOptions[]) {
      const run = await start(() => 'ok', options);
      expect(
        resolvedValue(
          run,
          `retry(() => 'ok', ${describeOptions(options)}): the value is in range, so retry resolves [R30]`,
        ),
      ).toBe('ok');
    }
  });

  test('rejects a non-function operation with a TypeError naming operation [R29, R31]', async () => {
    for (const operation of ['fetch', null, undefined, { call: () => 'ok' }]) {
      const what = `retry(${describeValue(operation)})`;
      const reason = await invalidRetry(operation, undefined, what);
      expectOptionError(reason, [TypeError], 'operation', what, '[R31]');
    }
  });

  test('rejects an onRetry that is not a function with a TypeError naming onRetry, even when no retry follows [R28, R31]', async () => {
    const what = "retry(() => 'ok', { onRetry: 'log' })";
    const reason = await invalidRetry(
      () => 'ok',
      { onRetry: 'log' as unknown as () => void },
      what,
    );
    expectOptionError(reason, [TypeError], 'onRetry', what, '[R31]');
  });

  test('rejects invalid delay options as backoffDelay does, without calling the operation [R28, R30, R31]', async () => {
    const cases: [RetryOptions, typeof RangeError | typeof TypeError, string][] = [
      [{ minDelayMs: -1 }, RangeError, 'minDelayMs'],
      [{ maxDelayMs: Number.NaN }, RangeError, 'maxDelayMs'],
      [{ factor: 0.5 }, RangeError, 'factor'],
      [{ jitter: 'half' as 'full' }, TypeError, 'jitter'],
      [{ random: 0.5 as unknown as () => number }, TypeError, 'random'],
    ];
    for (const [options, errorClass, name] of cases) {
      const what = `retry(() => 'ok', ${describeOptions(options)})`;
      const reason = await invalidRetry(() => 'ok', options, what);
      expectOptionError(
        reason,
        [errorClass],
        name,
        what,
        errorClass === RangeError ? '[R30]' : '[R31]',
      );
    }
  });

  test('rejects a numeric option given as a string with a TypeError or RangeError naming it [R30]', async () => {
    for (const options of [{ retries: '3' }, { minDelayMs: '100' }] as unknown as RetryOptions[]) {
      const what = `retry(() => 'ok', ${describeOptions(options)})`;
      const reason = await invalidRetry(() => 'ok', options, what);
      expectOptionError(reason, [TypeError, RangeError], Object.keys(options)[0]!, what, '[R30]');
    }
  });

  test('makes the right attempts and keeps every error in order for any failure sequence (property) [R11, R12, R13, R14, R36]', async () => {
    useFakeClock();
    await start(() => 'ok');
    await assertProperty(
      'an operation failing (by throw or rejection) on some attempts resolves with the first success within retries + 1 attempts, or rejects with a RetryError whose attempts = retries + 1 and errors = every error in order; no timer is left [R11, R12, R13, R14, R36]',
      fc.asyncProperty(
        fc.integer({ min: 0, max: 4 }),
        fc.array(fc.constantFrom('ok', 'throw', 'reject'), { minLength: 1, maxLength: 6 }),
        async (retries, outcomes) => {
          const errors = outcomes.map((_, i) => new Error(`attempt ${i + 1} failed`));
          let calls = 0;
          const run = await start(
            () => {
              calls += 1;
              const outcome = outcomes[calls - 1] ?? 'ok';
              if (outcome === 'ok') return `value ${calls}`;
              if (outcome === 'throw') throw errors[calls - 1];
              return Promise.reject(errors[calls - 1]!);
            },
            { retries, minDelayMs: 1, factor: 1, jitter: 'none' },
          );
          await advance(100);
          // Attempts past the end of the script succeed.
          const firstOk = [...outcomes, 'ok'].indexOf('ok');
          const attempts = retries + 1;
          const script = `retries ${retries}, attempts ${outcomes.join(', ')}`;
          const { state } = run;
          const fail = (expected: string): never => {
            throw new Error(
              `${script}: expected ${expected}; got ${calls} attempt(s) and ${
                state.state === 'pending'
                  ? 'a pending promise'
                  : state.state === 'fulfilled'
                    ? `a value ${describeValue(state.value)}`
                    : `a rejection ${describeValue(state.reason)}`
              }`,
            );
          };
          if (firstOk < attempts) {
            const expected = `${firstOk + 1} attempt(s) and the value "value ${firstOk + 1}" [R11, R12]`;
            if (state.state !== 'fulfilled' || state.value !== `value ${firstOk + 1}`)
              fail(expected);
            if (calls !== firstOk + 1) fail(expected);
          } else {
            const expected = `${attempts} attempts and a RetryError with attempts ${attempts} and those ${attempts} errors in order [R13, R14]`;
            if (state.state !== 'rejected' || !(state.reason instanceof RetryError)) fail(expected);
            const error = (state as { reason: RetryError }).reason;
            if (calls !== attempts || error.attempts !== attempts) fail(expected);
            const same =
              error.errors.length === attempts && error.errors.every((e, i) => e === errors[i]);
            if (!same) fail(expected);
          }
          if (vi.getTimerCount() !== 0) {
            throw new Error(
              `${script}: ${vi.getTimerCount()} timers left after retry settled, expected none [R36]`,
            );
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
