/**
 * Grader for retry-backoff (KATAS.md §2). Delays are checked as data: the fake clock stamps each
 * attempt with the time it started and onRetry reports every delay, so a failure shows the
 * schedule that was expected next to the one that ran.
 */
import { getEventListeners } from 'node:events';
import fc from 'fast-check';
import { describe, expect, test, vi } from 'vitest';
import {
  backoffDelay,
  retry,
  RetryError,
  TimeoutError,
  type AttemptContext,
  type RetryInfo,
  type RetryOptions,
} from '@kata/retry-backoff';
import { advance, useFakeClock } from '../support/clock.ts';
import { assertProperty } from '../support/property.ts';
import { deferred, flushMicrotasks, type PromiseState } from '../support/promises.ts';

// Captured before any test fakes the clock: the unhandled-rejection checks need one real
// macrotask hop, because Node reports an unhandled rejection only once the current task ends.
const realSetImmediate = globalThis.setImmediate;

// ---------------------------------------------------------------------------------------------
// Helpers

/** One attempt of a scripted operation. */
type Step =
  | { value: unknown }
  | { reject: unknown }
  | { throw: unknown }
  | { settle: Promise<unknown> }
  | { hang: true };

interface Scripted {
  (context: AttemptContext): unknown;
  /** The context each attempt received. */
  contexts: AttemptContext[];
  /** When each attempt started, in fake ms after the operation was created. */
  times: number[];
}

/** An operation that plays `steps` attempt by attempt (then never settles), recording each call. */
function scripted(...steps: Step[]): Scripted {
  const createdAt = Date.now();
  const operation = ((context: AttemptContext) => {
    operation.contexts.push(context);
    operation.times.push(Date.now() - createdAt);
    const step = steps[operation.contexts.length - 1] ?? { hang: true };
    if ('value' in step) return Promise.resolve(step.value);
    // Operations may reject with anything, not only Errors: the contract says `unknown`.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    if ('reject' in step) return Promise.reject(step.reject);
    if ('throw' in step) throw step.throw;
    if ('settle' in step) return step.settle;
    return new Promise(() => {});
  }) as Scripted;
  operation.contexts = [];
  operation.times = [];
  return operation;
}

/** `n` distinct errors, `failure 1` ... `failure n`. */
function failures(n: number): Error[] {
  return Array.from({ length: n }, (_, i) => new Error(`failure ${i + 1}`));
}

/** An error carrying a server's Retry-After, as the contract reads it. */
function withRetryAfter(message: string, retryAfterMs: unknown): Error {
  return Object.assign(new Error(message), { retryAfterMs });
}

interface Run<T> {
  readonly state: PromiseState<T>;
}

/**
 * Calls `retry` and watches its promise from the first moment (so a rejection is never reported
 * as unhandled) without ever awaiting it: a promise that never settles must not hang the grader.
 */
async function start<T>(
  operation: (context: AttemptContext) => T | Promise<T>,
  options?: RetryOptions,
): Promise<Run<T>> {
  let state: PromiseState<T> = { state: 'pending' };
  retry(operation, options).then(
    (value) => {
      state = { state: 'fulfilled', value };
    },
    (reason: unknown) => {
      state = { state: 'rejected', reason };
    },
  );
  await flushMicrotasks();
  // An implementation may defer its first attempt to a zero-delay timer; run those too.
  if (vi.isFakeTimers()) await advance(0);
  const now = state as PromiseState<T>; // assigned by the callbacks above
  if (now.state === 'rejected' && isNotImplemented(now.reason)) throw now.reason;
  return {
    get state() {
      return state;
    },
  };
}

function isNotImplemented(error: unknown): boolean {
  return error instanceof Error && error.name === 'NotImplementedError';
}

function describeValue(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

function describeState(state: PromiseState<unknown>): string {
  if (state.state === 'pending') return 'it is still pending';
  if (state.state === 'fulfilled') return `it resolved with ${describeValue(state.value)}`;
  return `it rejected with ${describeValue(state.reason)}`;
}

/** The value `run` resolved with; fails with `why` and what happened instead. */
function resolvedValue<T>(run: Run<T>, why: string): T {
  const { state } = run;
  if (state.state === 'rejected' && isNotImplemented(state.reason)) throw state.reason;
  expect(state.state, `${why}, but ${describeState(state)}`).toBe('fulfilled');
  return (state as { value: T }).value;
}

/** The reason `run` rejected with; fails with `why` and what happened instead. */
function rejection(run: Run<unknown>, why: string): unknown {
  const { state } = run;
  if (state.state === 'rejected' && isNotImplemented(state.reason)) throw state.reason;
  expect(state.state, `${why}, but ${describeState(state)}`).toBe('rejected');
  return (state as { reason: unknown }).reason;
}

/** The RetryError `run` rejected with; fails with `why` and what happened instead. */
function retryErrorOf(run: Run<unknown>, why: string): RetryError {
  const reason = rejection(run, why);
  expect(reason, `${why}, but it rejected with ${describeValue(reason)}`).toBeInstanceOf(
    RetryError,
  );
  return reason as RetryError;
}

/** Abort listeners currently registered on `signal`, however they were added. */
function abortListeners(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}

/** Runs `body`, then lets Node report unhandled rejections, and returns the ones it reported. */
async function unhandledRejectionsDuring(body: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => {
    seen.push(reason);
  };
  process.on('unhandledRejection', listener);
  try {
    await body();
    await new Promise((resolve) => realSetImmediate(resolve));
    await new Promise((resolve) => realSetImmediate(resolve));
  } finally {
    process.off('unhandledRejection', listener);
  }
  return seen;
}

/** Delays are not rounded, but may differ from the formula by floating-point noise. */
const DIGITS = 6;

// ---------------------------------------------------------------------------------------------

describe('stage 1: computes exponential backoff delays', () => {
  test("returns minDelayMs * factor ** (retryNumber - 1) ms with jitter 'none'", () => {
    const defaults = [1, 2, 3, 4].map((n) => backoffDelay(n, { jitter: 'none' }));
    expect(defaults, "defaults (minDelayMs 100, factor 2), jitter 'none', retries 1..4").toEqual([
      100, 200, 400, 800,
    ]);
    const custom = [1, 2, 3, 4].map((n) =>
      backoffDelay(n, { jitter: 'none', minDelayMs: 50, factor: 3 }),
    );
    expect(custom, "minDelayMs 50, factor 3, jitter 'none', retries 1..4").toEqual([
      50, 150, 450, 1350,
    ]);
  });

  test('keeps the delay constant with factor 1', () => {
    const delays = [1, 2, 10, 1000].map((n) =>
      backoffDelay(n, { jitter: 'none', minDelayMs: 250, factor: 1 }),
    );
    expect(delays, "minDelayMs 250, factor 1, jitter 'none', retries 1, 2, 10, 1000").toEqual([
      250, 250, 250, 250,
    ]);
  });

  test('caps the base delay at maxDelayMs (30_000 ms by default)', () => {
    expect(
      backoffDelay(10, { jitter: 'none' }),
      'retry 10 with defaults: 100 * 2 ** 9 = 51_200 ms, capped at the default maxDelayMs 30_000 ms',
    ).toBe(30_000);
    const capped = [4, 5, 6, 50].map((n) => backoffDelay(n, { jitter: 'none', maxDelayMs: 1000 }));
    expect(capped, "maxDelayMs 1000, jitter 'none', retries 4, 5, 6, 50").toEqual([
      800, 1000, 1000, 1000,
    ]);
  });

  test('caps even the first delay when maxDelayMs is below minDelayMs', () => {
    expect(
      backoffDelay(1, { jitter: 'none', minDelayMs: 500, maxDelayMs: 200 }),
      "minDelayMs 500, maxDelayMs 200, jitter 'none', retry 1: the cap applies to every delay",
    ).toBe(200);
  });

  test('stays finite for huge retry numbers: maxDelayMs, or 0 ms when minDelayMs is 0', () => {
    expect(
      backoffDelay(2000, { jitter: 'none' }),
      'retry 2000 with defaults: 2 ** 1999 overflows to Infinity, and the cap must still give 30_000 ms',
    ).toBe(30_000);
    expect(
      backoffDelay(2000, { jitter: 'none', minDelayMs: 0 }),
      'retry 2000 with minDelayMs 0: 0 * Infinity is NaN in JavaScript, but the delay is 0 ms',
    ).toBe(0);
  });

  test("multiplies the base by random() with 'full' jitter", () => {
    const cases: [number, number, number][] = [
      // [retryNumber, random(), expected]
      [3, 0.25, 100],
      [3, 0, 0],
      [1, 0.5, 50],
      [2, 0.999, 199.8],
    ];
    for (const [n, r, expected] of cases) {
      expect(
        backoffDelay(n, { jitter: 'full', random: () => r }),
        `retry ${n} with defaults (base ${100 * 2 ** (n - 1)} ms), random() = ${r}: random() * base`,
      ).toBeCloseTo(expected, DIGITS);
    }
  });

  test("applies 'full' jitter after the cap, so late retries still spread over [0, maxDelayMs)", () => {
    expect(
      backoffDelay(10, { jitter: 'full', maxDelayMs: 1000, random: () => 0.5 }),
      'retry 10, maxDelayMs 1000, random() = 0.5: base = min(1000, 51_200) = 1000, then 0.5 * 1000. ' +
        'Capping after the jitter would send every late retry at exactly maxDelayMs, together',
    ).toBeCloseTo(500, DIGITS);
  });

  test("waits base / 2 + random() * base / 2 with 'equal' jitter", () => {
    const cases: [number, number, RetryOptions, number][] = [
      [2, 0, {}, 100],
      [2, 0.5, {}, 150],
      [2, 0.75, {}, 175],
      [10, 0, { maxDelayMs: 1000 }, 500],
      [10, 0.5, { maxDelayMs: 1000 }, 750],
    ];
    for (const [n, r, options, expected] of cases) {
      expect(
        backoffDelay(n, { ...options, jitter: 'equal', random: () => r }),
        `retry ${n}, options ${JSON.stringify(options)}, random() = ${r}: base / 2 + random() * base / 2`,
      ).toBeCloseTo(expected, DIGITS);
    }
  });

  test("uses 'full' jitter by default", () => {
    expect(
      backoffDelay(2, { random: () => 0.5 }),
      'retry 2 (base 200 ms), random() = 0.5, no jitter option: the default is full jitter, 0.5 * 200',
    ).toBeCloseTo(100, DIGITS);
  });

  test('uses Math.random by default: delays vary within [0, base)', () => {
    const delays = Array.from({ length: 50 }, () => backoffDelay(3));
    for (const delay of delays) {
      expect(
        delay >= 0 && delay < 400,
        `retry 3 with defaults (full jitter, base 400 ms) gave ${delay}: expected a delay in [0, 400)`,
      ).toBe(true);
    }
    expect(
      new Set(delays).size,
      `50 calls of backoffDelay(3) with the default random gave ${new Set(delays).size} distinct ` +
        'delays: without jitter, clients that failed together retry together',
    ).toBeGreaterThan(1);
  });

  test('matches the formula and the jitter bounds for any options (property)', async () => {
    backoffDelay(1);
    await assertProperty(
      'backoffDelay(n, options) = base (none), random() * base in [0, base] (full), or base / 2 + random() * base / 2 in [base / 2, base] (equal), where base = min(maxDelayMs, minDelayMs * factor ** (n - 1))',
      fc.property(
        fc.integer({ min: 1, max: 80 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 1, max: 4, noNaN: true }),
        fc.constantFrom('full' as const, 'equal' as const, 'none' as const),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (n, minDelayMs, extraMs, factor, jitter, r) => {
          const maxDelayMs = minDelayMs + extraMs;
          const base = Math.min(maxDelayMs, minDelayMs * factor ** (n - 1));
          const expected =
            jitter === 'none' ? base : jitter === 'full' ? r * base : base / 2 + (r * base) / 2;
          const delay = backoffDelay(n, {
            minDelayMs,
            maxDelayMs,
            factor,
            jitter,
            random: () => r,
          });
          // Plain checks rather than expect(): this runs hundreds of times and must stay fast.
          const low = jitter === 'full' ? 0 : jitter === 'equal' ? base / 2 : base;
          if (!(Math.abs(delay - expected) <= 1e-6 * Math.max(1, expected))) {
            throw new Error(`got ${delay} ms, expected ${expected} ms (base ${base} ms)`);
          }
          if (!(delay >= low - 1e-9 && delay <= base * (1 + 1e-12))) {
            throw new Error(`got ${delay} ms, outside [${low}, ${base}] ms`);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  test('grows with random() and never exceeds maxDelayMs (property)', async () => {
    backoffDelay(1);
    await assertProperty(
      'for r1 <= r2, the delay with random() = r1 is at most the delay with random() = r2, and both are at most maxDelayMs',
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.constantFrom('full' as const, 'equal' as const, 'none' as const),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (n, minDelayMs, maxDelayMs, jitter, a, b) => {
          const [r1, r2] = a <= b ? [a, b] : [b, a];
          const options = { minDelayMs, maxDelayMs, jitter };
          const low = backoffDelay(n, { ...options, random: () => r1 });
          const high = backoffDelay(n, { ...options, random: () => r2 });
          if (!(low <= high + 1e-9)) {
            throw new Error(`random() = ${r1} gave ${low} ms but the larger ${r2} gave ${high} ms`);
          }
          if (!(high <= maxDelayMs * (1 + 1e-12))) {
            throw new Error(`random() = ${r2} gave ${high} ms, above maxDelayMs ${maxDelayMs}`);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  test('rejects a retryNumber that is not an integer >= 1 with a RangeError naming retryNumber', () => {
    for (const retryNumber of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(
        () => backoffDelay(retryNumber),
        `backoffDelay(${retryNumber}): retry numbers are 1-based integers`,
      ).toThrow(RangeError);
      expect(() => backoffDelay(retryNumber), `backoffDelay(${retryNumber})`).toThrow(
        /retryNumber/,
      );
    }
  });

  test('rejects out-of-range numeric options with a RangeError naming the option', () => {
    const cases: [keyof RetryOptions, number][] = [
      ['minDelayMs', -1],
      ['minDelayMs', Number.NaN],
      ['maxDelayMs', -1],
      ['maxDelayMs', Number.NaN],
      ['factor', 0.5],
      ['factor', 0],
      ['factor', -2],
      ['factor', Number.NaN],
    ];
    for (const [name, value] of cases) {
      const call = (): number => backoffDelay(1, { [name]: value });
      expect(call, `backoffDelay(1, { ${name}: ${value} })`).toThrow(RangeError);
      expect(call, `backoffDelay(1, { ${name}: ${value} }): the message names the option`).toThrow(
        new RegExp(name),
      );
    }
  });

  test('rejects a numeric option given as a string with a TypeError or RangeError naming it', () => {
    const call = (): number => backoffDelay(1, { minDelayMs: '100' as unknown as number });
    let thrown: unknown;
    try {
      call();
    } catch (error) {
      thrown = error;
    }
    if (isNotImplemented(thrown)) throw thrown;
    expect(
      thrown instanceof TypeError || thrown instanceof RangeError,
      `backoffDelay(1, { minDelayMs: '100' }) threw ${describeValue(thrown)}: expected a TypeError or RangeError`,
    ).toBe(true);
    expect(call, "backoffDelay(1, { minDelayMs: '100' }): the message names the option").toThrow(
      /minDelayMs/,
    );
  });

  test('rejects an unknown jitter with a TypeError naming jitter', () => {
    const call = (): number => backoffDelay(1, { jitter: 'half' as unknown as 'full' });
    expect(
      call,
      "backoffDelay(1, { jitter: 'half' }): jitter is 'full', 'equal' or 'none'",
    ).toThrow(TypeError);
    expect(call, "backoffDelay(1, { jitter: 'half' })").toThrow(/jitter/);
  });

  test('rejects a random that is not a function with a TypeError naming random', () => {
    const call = (): number => backoffDelay(1, { random: 0.5 as unknown as () => number });
    expect(call, 'backoffDelay(1, { random: 0.5 })').toThrow(TypeError);
    expect(call, 'backoffDelay(1, { random: 0.5 })').toThrow(/random/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('stage 2: retries a failing operation', () => {
  test('resolves with the value of a first attempt that succeeds, leaving no timer behind', async () => {
    useFakeClock();
    let abortedAtStart: boolean | undefined;
    const operation = vi.fn((context: AttemptContext) => {
      abortedAtStart = context.signal.aborted;
      return 'ok';
    });
    const run = await start(operation);
    expect(
      resolvedValue(run, 'an operation that returns "ok" at once resolves retry with "ok"'),
    ).toBe('ok');
    expect(operation, 'a first attempt that succeeds is the only attempt').toHaveBeenCalledTimes(1);
    const context = operation.mock.calls[0]![0];
    expect(context.attempt, 'the first attempt is attempt 1 (1-based)').toBe(1);
    expect(context.signal, 'every attempt receives an AbortSignal').toBeInstanceOf(AbortSignal);
    expect(
      abortedAtStart,
      "a fresh attempt's signal is not aborted when the operation starts",
    ).toBe(false);
    expect(vi.getTimerCount(), 'timers left after retry resolved').toBe(0);
  });

  test('resolves with the value of an async operation', async () => {
    useFakeClock();
    const run = await start(scripted({ value: 42 }));
    expect(
      resolvedValue(run, 'an operation whose promise resolves with 42 resolves retry with 42'),
    ).toBe(42);
  });

  test('retries rejected attempts after their delays and resolves with the later value', async () => {
    useFakeClock();
    const [e1, e2] = failures(2);
    const operation = scripted({ reject: e1 }, { reject: e2 }, { value: 'third time lucky' });
    const run = await start(operation, { jitter: 'none' });
    await advance(99);
    expect(
      operation.times,
      "jitter 'none': the retry after a 100 ms delay has not started at 99 ms",
    ).toEqual([0]);
    await advance(10_000);
    expect(resolvedValue(run, 'fails, fails, then resolves "third time lucky"')).toBe(
      'third time lucky',
    );
    expect(
      operation.times,
      "jitter 'none', minDelayMs 100, factor 2: attempts start at 0 ms, +100 ms, then +200 ms",
    ).toEqual([0, 100, 300]);
    expect(
      operation.contexts.map((c) => c.attempt),
      'context.attempt numbers the attempts from 1',
    ).toEqual([1, 2, 3]);
    expect(vi.getTimerCount(), 'timers left after retry resolved').toBe(0);
  });

  test('counts a synchronous throw as a failed attempt and retries it', async () => {
    useFakeClock();
    const operation = scripted({ throw: new Error('thrown synchronously') }, { value: 'ok' });
    let run: Run<unknown>;
    try {
      run = await start(operation, { jitter: 'none' });
    } catch (error) {
      if (isNotImplemented(error)) throw error;
      expect.fail(
        `retry threw ${describeValue(error)} itself: a synchronous throw of the operation is a failed attempt to retry`,
      );
    }
    await advance(1000);
    expect(
      resolvedValue(
        run,
        'an operation that throws synchronously, then returns "ok", resolves with "ok"',
      ),
    ).toBe('ok');
    expect(operation.times, 'the sync throw is retried after the 100 ms delay').toEqual([0, 100]);
  });

  test('makes retries + 1 attempts, then rejects with a RetryError holding every error in order', async () => {
    useFakeClock();
    const errors = failures(3);
    const operation = scripted(...errors.map((e) => ({ reject: e })));
    const run = await start(operation, { retries: 2, jitter: 'none' });
    await advance(10_000);
    const error = retryErrorOf(run, 'retries 2 and three failures reject with a RetryError');
    expect(operation.times.length, 'retries 2 means 3 attempts: the first is not a retry').toBe(3);
    expect(error.attempts, 'RetryError.attempts after 3 failed attempts').toBe(3);
    expect(error.errors, 'RetryError.errors holds each attempt error, first to last').toHaveLength(
      3,
    );
    errors.forEach((e, i) => {
      expect(
        error.errors[i],
        `RetryError.errors[${i}] is attempt ${i + 1}'s own error object`,
      ).toBe(e);
    });
    expect(error.cause, 'RetryError.cause is the last attempt error').toBe(errors[2]);
    expect(error, 'a RetryError is an Error').toBeInstanceOf(Error);
    expect(vi.getTimerCount(), 'timers left after retry rejected').toBe(0);
  });

  test('makes 4 attempts by default (retries defaults to 3)', async () => {
    useFakeClock();
    const operation = scripted(...failures(5).map((e) => ({ reject: e })));
    const run = await start(operation, { jitter: 'none' });
    await advance(10_000);
    const error = retryErrorOf(run, 'an operation that always fails ends in a RetryError');
    expect(operation.times, 'default retries 3: 4 attempts at 0, 100, 300, 700 ms').toEqual([
      0, 100, 300, 700,
    ]);
    expect(error.attempts, 'RetryError.attempts with the default retries').toBe(4);
  });

  test('makes exactly one attempt with retries 0', async () => {
    useFakeClock();
    const [e1] = failures(1);
    const onRetry = vi.fn();
    const operation = scripted({ reject: e1 }, { value: 'never reached' });
    const run = await start(operation, { retries: 0, onRetry });
    await advance(10_000);
    const error = retryErrorOf(run, 'retries 0 and a failure reject with a RetryError');
    expect(operation.times.length, 'retries 0: one attempt, no retry').toBe(1);
    expect(error.attempts, 'RetryError.attempts with retries 0').toBe(1);
    expect(error.errors, 'RetryError.errors with retries 0').toEqual([e1]);
    expect(onRetry, 'retries 0: no retry, so onRetry is never called').not.toHaveBeenCalled();
  });

  test("names the attempt count and the last error in RetryError's message", async () => {
    useFakeClock();
    const operation = scripted(
      { reject: new Error('first failure') },
      { reject: new Error('connection reset by peer') },
    );
    const run = await start(operation, { retries: 1 });
    await advance(10_000);
    const error = retryErrorOf(run, 'two failures with retries 1');
    expect(error.message, 'RetryError.message names the number of attempts (2)').toMatch(/\b2\b/);
    expect(error.message, 'RetryError.message names the last error').toContain(
      'connection reset by peer',
    );

    const plain = await start(scripted({ reject: 'plain string reason' }), { retries: 0 });
    await advance(10_000);
    const plainError = retryErrorOf(plain, 'one failure with the string "plain string reason"');
    expect(
      plainError.message,
      'RetryError.message names a last error that is not an Error',
    ).toContain('plain string reason');
  });

  test("calls onRetry before each wait with the error, the failed attempt's number and delayMs", async () => {
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
    retryErrorOf(run, 'four failures with the default retries');
    expect(
      onRetryTimes,
      'attempts fail at once at 0, 100 and 300 ms: onRetry is called then, before each wait, not after it',
    ).toEqual([0, 100, 300]);
    expect(
      infos,
      "jitter 'none': onRetry gets each failed attempt's error and number and the 100, 200, 400 ms delays",
    ).toEqual([
      { error: errors[0], attempt: 1, delayMs: 100 },
      { error: errors[1], attempt: 2, delayMs: 200 },
      { error: errors[2], attempt: 3, delayMs: 400 },
    ]);
    infos.forEach((info, i) =>
      expect(info.error, `onRetry #${i + 1} error object`).toBe(errors[i]),
    );
    expect(
      log,
      'onRetry runs after each failed attempt and before the next, and not after the last attempt',
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

  test('computes its delays from minDelayMs, factor and maxDelayMs', async () => {
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
    retryErrorOf(run, `five failures with ${JSON.stringify(options)}`);
    expect(
      infos.map((i) => i.delayMs),
      `${JSON.stringify(options)}: delays 10, 30, 90, then 270 capped at 200 ms`,
    ).toEqual([10, 30, 90, 200]);
    expect(operation.times, 'attempts start after those delays').toEqual([0, 10, 40, 130, 330]);
  });

  test('reports delays of random() * base with full jitter and waits exactly those delays', async () => {
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
    retryErrorOf(run, 'four failures with the default retries');
    expect(infos.length, 'onRetry calls for 4 attempts').toBe(3);
    infos.forEach((info, i) => {
      const base = 100 * 2 ** i;
      const allowed = [...returned].map((r) => r * base);
      expect(
        allowed,
        `retry ${i + 1} (base ${base} ms) reported delayMs ${info.delayMs}: full jitter waits random() * base, ` +
          `and random() returned ${[...returned].join(', ')}`,
      ).toContain(info.delayMs);
    });
    const waits = operation.times.slice(1).map((t, i) => t - operation.times[i]!);
    expect(
      waits,
      `attempts started at ${operation.times.join(', ')} ms: each wait is the delayMs onRetry reported`,
    ).toEqual(infos.map((i) => i.delayMs));
  });

  test("waits at least the failed attempt's retryAfterMs", async () => {
    useFakeClock();
    const infos: RetryInfo[] = [];
    const operation = scripted(
      { reject: withRetryAfter('429 Too Many Requests', 1000) },
      { value: 'ok' },
    );
    const run = await start(operation, { jitter: 'none', onRetry: (info) => infos.push(info) });
    await advance(10_000);
    expect(resolvedValue(run, 'a 429 with retryAfterMs 1000, then success')).toBe('ok');
    expect(
      infos.map((i) => i.delayMs),
      "jitter 'none' (100 ms) and an error with retryAfterMs 1000: the server's Retry-After is a floor",
    ).toEqual([1000]);
    expect(operation.times, 'the retry starts 1000 ms after the 429').toEqual([0, 1000]);

    const jittered: RetryInfo[] = [];
    const again = await start(
      scripted({ reject: withRetryAfter('429 Too Many Requests', 1000) }, { value: 'ok' }),
      { jitter: 'full', random: () => 0.5, onRetry: (info) => jittered.push(info) },
    );
    await advance(10_000);
    expect(resolvedValue(again, 'a 429 with retryAfterMs 1000, then success')).toBe('ok');
    expect(
      jittered.map((i) => i.delayMs),
      'full jitter (0.5 * 100 ms) and retryAfterMs 1000: the floor applies to the delay after the ' +
        'jitter, so the retry never comes before the server asked',
    ).toEqual([1000]);

    const plain: RetryInfo[] = [];
    const fromObject = await start(
      scripted({ reject: { status: 429, retryAfterMs: 1000 } }, { value: 'ok' }),
      { jitter: 'none', onRetry: (info) => plain.push(info) },
    );
    await advance(10_000);
    expect(resolvedValue(fromObject, 'a rejection with { status: 429, retryAfterMs: 1000 }')).toBe(
      'ok',
    );
    expect(
      plain.map((i) => i.delayMs),
      'a thrown plain object { status: 429, retryAfterMs: 1000 } (not an Error) still sets the floor',
    ).toEqual([1000]);
  });

  test('caps a retryAfterMs above maxDelayMs at maxDelayMs', async () => {
    useFakeClock();
    const infos: RetryInfo[] = [];
    const operation = scripted({ reject: withRetryAfter('503', 60_000) }, { value: 'ok' });
    const run = await start(operation, {
      jitter: 'none',
      maxDelayMs: 5000,
      onRetry: (info) => infos.push(info),
    });
    await advance(100_000);
    expect(resolvedValue(run, 'a 503 with retryAfterMs 60_000, then success')).toBe('ok');
    expect(
      infos.map((i) => i.delayMs),
      'retryAfterMs 60_000 with maxDelayMs 5000: the cap still applies',
    ).toEqual([5000]);
    expect(operation.times, 'the retry starts 5000 ms after the 503').toEqual([0, 5000]);
  });

  test('keeps the backoff delay when retryAfterMs is smaller, not finite or not a number', async () => {
    useFakeClock();
    const ignored: unknown[] = [10, -5000, Number.POSITIVE_INFINITY, Number.NaN, '5000', null];
    for (const retryAfterMs of ignored) {
      const infos: RetryInfo[] = [];
      const operation = scripted({ reject: withRetryAfter('busy', retryAfterMs) }, { value: 'ok' });
      const run = await start(operation, { jitter: 'none', onRetry: (info) => infos.push(info) });
      await advance(100_000);
      expect(
        resolvedValue(run, `an error with retryAfterMs ${String(retryAfterMs)}, then success`),
      ).toBe('ok');
      expect(
        infos.map((i) => i.delayMs),
        `retryAfterMs ${typeof retryAfterMs === 'string' ? `'${retryAfterMs}'` : String(retryAfterMs)} ` +
          "does not raise jitter 'none''s 100 ms (only a finite number larger than it does)",
      ).toEqual([100]);
    }
  });

  test('retries thrown values that are not objects: null, undefined, strings, numbers', async () => {
    useFakeClock();
    const values = [null, undefined, 'busy', 503];
    const operation = scripted(...values.map((v) => ({ throw: v })), { value: 'ok' });
    const run = await start(operation, { retries: 4, minDelayMs: 1 });
    await advance(1000);
    expect(
      resolvedValue(run, 'throws null, undefined, "busy", 503, then returns "ok" (retries 4)'),
    ).toBe('ok');
    expect(operation.times.length, 'every thrown value counts as one failed attempt').toBe(5);
  });

  test('rejects (not throws) a retries that is not an integer >= 0 with a RangeError naming retries', async () => {
    for (const retries of [-1, 1.5, Number.NaN]) {
      const operation = vi.fn(() => 'ok');
      let promise: Promise<unknown> | undefined;
      expect(() => {
        promise = retry(operation, { retries });
      }, `retry(op, { retries: ${retries} }) returns a rejected promise rather than throwing`).not.toThrow(
        RangeError,
      );
      await expect(promise, `retry(op, { retries: ${retries} })`).rejects.toBeInstanceOf(
        RangeError,
      );
      await expect(promise, `retry(op, { retries: ${retries} })`).rejects.toThrow(/retries/);
      expect(
        operation,
        `retries ${retries} is invalid: the operation is never called`,
      ).not.toHaveBeenCalled();
    }
  });

  test('rejects a non-function operation with a TypeError naming operation', async () => {
    const promise = retry('fetch' as unknown as () => unknown);
    await expect(promise, "retry('fetch')").rejects.toBeInstanceOf(TypeError);
    await expect(retry(null as unknown as () => unknown), 'retry(null)').rejects.toThrow(
      /operation/,
    );
  });

  test('rejects an onRetry that is not a function with a TypeError naming onRetry', async () => {
    const options = { onRetry: 'log' as unknown as () => void };
    await expect(
      retry(() => 'ok', options),
      "retry(op, { onRetry: 'log' })",
    ).rejects.toBeInstanceOf(TypeError);
    await expect(
      retry(() => 'ok', options),
      "retry(op, { onRetry: 'log' })",
    ).rejects.toThrow(/onRetry/);
  });

  test('rejects invalid delay options as backoffDelay does, without calling the operation', async () => {
    const operation = vi.fn(() => 'ok');
    await expect(
      retry(operation, { minDelayMs: -1 }),
      'retry(op, { minDelayMs: -1 })',
    ).rejects.toBeInstanceOf(RangeError);
    await expect(retry(operation, { factor: 0.5 }), 'retry(op, { factor: 0.5 })').rejects.toThrow(
      /factor/,
    );
    await expect(
      retry(operation, { jitter: 'half' as unknown as 'full' }),
      "retry(op, { jitter: 'half' })",
    ).rejects.toBeInstanceOf(TypeError);
    expect(operation, 'invalid options: the operation is never called').not.toHaveBeenCalled();
  });

  test('makes the right attempts and keeps every error in order for any failure sequence (property)', async () => {
    useFakeClock();
    await start(() => 'ok');
    await assertProperty(
      'an operation failing (by throw or rejection) on some attempts resolves with the first success within retries + 1 attempts, or rejects with a RetryError whose attempts = retries + 1 and errors = every error in order',
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
          if (firstOk < attempts) {
            expect(resolvedValue(run, 'a success within retries + 1 attempts')).toBe(
              `value ${firstOk + 1}`,
            );
            expect(calls, 'attempts made').toBe(firstOk + 1);
          } else {
            const error = retryErrorOf(run, 'no success within retries + 1 attempts');
            expect(calls, 'attempts made').toBe(attempts);
            expect(error.attempts, 'RetryError.attempts').toBe(attempts);
            expect(error.errors, 'RetryError.errors').toEqual(errors.slice(0, attempts));
            error.errors.forEach((e, i) => expect(e, `errors[${i}] identity`).toBe(errors[i]));
          }
          expect(vi.getTimerCount(), 'timers left after retry settled').toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('stage 3: asks shouldRetry before each retry', () => {
  test("asks shouldRetry with each failed attempt's error and number before retrying", async () => {
    useFakeClock();
    const [e1, e2] = failures(2);
    const shouldRetry = vi.fn((_error: unknown, _attempt: number) => true);
    const operation = scripted({ reject: e1 }, { reject: e2 }, { value: 'ok' });
    const run = await start(operation, { shouldRetry });
    await advance(10_000);
    expect(resolvedValue(run, 'fails twice, shouldRetry says yes, then succeeds')).toBe('ok');
    expect(shouldRetry.mock.calls, 'shouldRetry(error, attempt) after attempts 1 and 2').toEqual([
      [e1, 1],
      [e2, 2],
    ]);
    expect(shouldRetry.mock.calls[0]?.[0], 'shouldRetry gets the error object itself').toBe(e1);
  });

  test('rejects with the attempt error itself, unwrapped, when shouldRetry returns false', async () => {
    useFakeClock();
    const permanent = Object.assign(new Error('400 Bad Request'), { status: 400 });
    const onRetry = vi.fn();
    const operation = scripted({ reject: permanent }, { value: 'never reached' });
    const run = await start(operation, { shouldRetry: () => false, onRetry });
    await advance(10_000);
    const reason = rejection(run, 'shouldRetry returning false stops the retries');
    expect(
      reason,
      'shouldRetry false: retry rejects with the attempt error itself, not a RetryError wrapping it',
    ).toBe(permanent);
    expect(operation.times.length, 'shouldRetry false: no further attempt').toBe(1);
    expect(onRetry, 'shouldRetry false: no wait, so no onRetry').not.toHaveBeenCalled();
    expect(vi.getTimerCount(), 'timers left after retry rejected').toBe(0);
  });

  test('stops at the first attempt shouldRetry refuses', async () => {
    useFakeClock();
    const [transient, permanent] = failures(2);
    const operation = scripted({ reject: transient }, { reject: permanent }, { value: 'never' });
    const run = await start(operation, { shouldRetry: (error) => error === transient });
    await advance(10_000);
    expect(
      rejection(run, 'a retryable failure, then one shouldRetry refuses'),
      'retry rejects with the refused error (attempt 2), unwrapped',
    ).toBe(permanent);
    expect(operation.times.length, 'attempts made').toBe(2);
  });

  test('awaits an async shouldRetry: a promise of true retries, a promise of false stops', async () => {
    useFakeClock();
    const [e1, e2] = failures(2);
    const operation = scripted({ reject: e1 }, { reject: e2 }, { value: 'never' });
    const answers = [true, false];
    const run = await start(operation, {
      shouldRetry: async () => {
        await Promise.resolve();
        return answers.shift() ?? true;
      },
    });
    await advance(10_000);
    expect(
      rejection(run, 'shouldRetry resolves true after attempt 1 and false after attempt 2'),
      'a promise of false is a no: retry rejects with attempt 2 error itself',
    ).toBe(e2);
    expect(
      operation.times.length,
      'a promise of true retried once, a promise of false stopped',
    ).toBe(2);
  });

  test('never asks shouldRetry after the last attempt', async () => {
    useFakeClock();
    const shouldRetry = vi.fn(() => true);
    const operation = scripted(...failures(3).map((e) => ({ reject: e })));
    const run = await start(operation, { retries: 2, shouldRetry });
    await advance(10_000);
    retryErrorOf(run, 'retries 2, three failures, shouldRetry always true');
    expect(
      shouldRetry,
      'retries 2: shouldRetry is asked after attempts 1 and 2 only, when another attempt remains',
    ).toHaveBeenCalledTimes(2);

    const once = vi.fn(() => true);
    const single = await start(scripted({ reject: new Error('only') }), {
      retries: 0,
      shouldRetry: once,
    });
    await advance(10_000);
    retryErrorOf(single, 'retries 0 and one failure');
    expect(
      once,
      'retries 0: no attempt remains, so shouldRetry is never asked',
    ).not.toHaveBeenCalled();
  });

  test('rejects a shouldRetry that is not a function with a TypeError naming shouldRetry', async () => {
    const options = { shouldRetry: true as unknown as () => boolean };
    await expect(
      retry(() => 'ok', options),
      'retry(op, { shouldRetry: true })',
    ).rejects.toBeInstanceOf(TypeError);
    await expect(
      retry(() => 'ok', options),
      'retry(op, { shouldRetry: true })',
    ).rejects.toThrow(/shouldRetry/);
  });

  test('follows any sequence of failures and shouldRetry answers (property)', async () => {
    useFakeClock();
    await start(() => 'ok');
    await assertProperty(
      'with shouldRetry answering per attempt (sync or async), retry stops at the first success, the first refusal (rejecting with that error) or after retries + 1 attempts (RetryError), asking shouldRetry only when another attempt remains',
      fc.asyncProperty(
        fc.integer({ min: 0, max: 4 }),
        fc.array(
          fc.record({ ok: fc.boolean(), retryable: fc.boolean(), asyncAnswer: fc.boolean() }),
          { minLength: 1, maxLength: 6 },
        ),
        async (retries, attempts) => {
          const errors = attempts.map((_, i) => new Error(`attempt ${i + 1} failed`));
          let calls = 0;
          const asked: number[] = [];
          const run = await start(
            () => {
              calls += 1;
              if (attempts[calls - 1]?.ok ?? true) return `value ${calls}`;
              throw errors[calls - 1];
            },
            {
              retries,
              minDelayMs: 1,
              factor: 1,
              jitter: 'none',
              shouldRetry: (_error, attempt) => {
                asked.push(attempt);
                const { retryable = true, asyncAnswer = false } = attempts[attempt - 1] ?? {};
                return asyncAnswer ? Promise.resolve(retryable) : retryable;
              },
            },
          );
          await advance(100);

          // The model: a deliberately plain loop over the same script.
          const expectedAsked: number[] = [];
          let expected: { value: string } | { error: unknown } | { retryError: number } = {
            retryError: 0,
          };
          for (let attempt = 1; attempt <= retries + 1; attempt += 1) {
            const step = attempts[attempt - 1] ?? { ok: true, retryable: true };
            if (step.ok) {
              expected = { value: `value ${attempt}` };
              break;
            }
            if (attempt === retries + 1) {
              expected = { retryError: attempt };
              break;
            }
            expectedAsked.push(attempt);
            if (!step.retryable) {
              expected = { error: errors[attempt - 1] };
              break;
            }
          }
          expect(asked, 'attempts after which shouldRetry was asked').toEqual(expectedAsked);
          if ('value' in expected) {
            expect(resolvedValue(run, 'a success before any refusal')).toBe(expected.value);
          } else if ('error' in expected) {
            expect(rejection(run, 'a refusal'), 'the refused error itself').toBe(expected.error);
          } else {
            const error = retryErrorOf(run, 'out of retries');
            expect(error.attempts, 'RetryError.attempts').toBe(expected.retryError);
            expect(error.errors, 'RetryError.errors').toEqual(errors.slice(0, expected.retryError));
          }
          expect(vi.getTimerCount(), 'timers left after retry settled').toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('stage 4: stops at once when the signal aborts', () => {
  test('rejects with signal.reason without calling the operation when the signal is already aborted', async () => {
    useFakeClock();
    const controller = new AbortController();
    const reason = new Error('shutting down');
    controller.abort(reason);
    const operation = vi.fn(() => 'ok');
    const run = await start(operation, { signal: controller.signal });
    expect(
      rejection(run, 'an already-aborted signal rejects retry'),
      'retry rejects with signal.reason itself',
    ).toBe(reason);
    expect(
      operation,
      'an already-aborted signal: the operation is never called',
    ).not.toHaveBeenCalled();
    expect(vi.getTimerCount(), 'timers left after retry rejected').toBe(0);
  });

  test('rejects at once with signal.reason when aborted while waiting, and clears the timer', async () => {
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
        'aborted 50 ms into the 100 ms wait: retry rejects at once, without more time passing',
      ),
      'retry rejects with signal.reason itself',
    ).toBe(reason);
    expect(vi.getTimerCount(), 'aborted while waiting: the wait timer is cleared').toBe(0);
    await advance(10_000);
    expect(operation.times.length, 'aborted while waiting: no further attempt').toBe(1);
  });

  test("aborts the attempt's signal with the same reason and rejects at once when aborted during an attempt", async () => {
    useFakeClock();
    const controller = new AbortController();
    const reason = new Error('request cancelled');
    const operation = scripted({ hang: true });
    const run = await start(operation, { signal: controller.signal });
    const attemptSignal = operation.contexts[0]?.signal;
    expect(attemptSignal, 'the attempt receives context.signal').toBeInstanceOf(AbortSignal);
    controller.abort(reason);
    await flushMicrotasks();
    expect(
      rejection(
        run,
        'aborted during an attempt that never settles: retry rejects without waiting for it',
      ),
      'retry rejects with signal.reason itself',
    ).toBe(reason);
    expect(
      attemptSignal!.aborted,
      "the caller's abort aborts the running attempt's context.signal",
    ).toBe(true);
    expect(attemptSignal!.reason, "the attempt's context.signal carries the caller's reason").toBe(
      reason,
    );
    expect(vi.getTimerCount(), 'timers left after retry rejected').toBe(0);
  });

  test('rejects with signal.reason, not a RetryError, when aborted during the last attempt', async () => {
    useFakeClock();
    const controller = new AbortController();
    const reason = new Error('request cancelled');
    const operation = scripted({ hang: true });
    const run = await start(operation, { retries: 0, signal: controller.signal });
    controller.abort(reason);
    await flushMicrotasks();
    expect(
      rejection(run, 'retries 0, aborted during the only attempt: retry rejects at once'),
      'an abort is not a failed attempt: retry rejects with signal.reason itself, even with no retry left',
    ).toBe(reason);
  });

  test('rejects at once with signal.reason when onRetry aborts the signal, without waiting out the delay', async () => {
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
        'onRetry aborts the signal before the 1000 ms wait: retry rejects at once, without more time passing',
      ),
      'retry rejects with signal.reason itself',
    ).toBe(reason);
    expect(vi.getTimerCount(), 'aborted before the wait: no wait timer is left').toBe(0);
    await advance(10_000);
    expect(operation.times.length, 'aborted from onRetry: no further attempt').toBe(1);
  });

  test('rejects a signal that is not an AbortSignal with a TypeError naming signal, without calling the operation', async () => {
    const operation = vi.fn(() => 'ok');
    const options = { signal: 'abort' as unknown as AbortSignal };
    await expect(
      retry(operation, options),
      "retry(op, { signal: 'abort' }): signal must be an AbortSignal",
    ).rejects.toBeInstanceOf(TypeError);
    await expect(
      retry(operation, options),
      "retry(op, { signal: 'abort' }): the message names the option",
    ).rejects.toThrow(/signal/);
    expect(operation, 'an invalid signal: the operation is never called').not.toHaveBeenCalled();
  });

  test('uses the default AbortError reason when aborted without a reason', async () => {
    useFakeClock();
    const controller = new AbortController();
    const run = await start(scripted({ hang: true }), { signal: controller.signal });
    controller.abort();
    await flushMicrotasks();
    const reason = rejection(run, 'controller.abort() during an attempt');
    expect(reason, 'retry rejects with signal.reason, the AbortError DOMException').toBe(
      controller.signal.reason,
    );
  });

  test('ignores a late settlement of the abandoned attempt and never leaves its rejection unhandled', async () => {
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
      "the abandoned attempt's later rejection is observed by retry, never reported as unhandled",
    ).toEqual([]);
    expect(rejection(run!, 'aborted during an attempt'), 'the result stays signal.reason').toBe(
      reason,
    );
    expect(operation.times.length, 'a late failure after the abort starts no retry').toBe(1);
  });

  test("leaves no abort listener on the caller's signal once an abort has stopped it", async () => {
    useFakeClock();
    const scenarios: [string, Step[], number][] = [
      ['aborted while waiting', [{ reject: new Error('503') }, { value: 'never reached' }], 50],
      ['aborted during an attempt', [{ hang: true }], 0],
    ];
    for (const [what, steps, abortAtMs] of scenarios) {
      const controller = new AbortController();
      const run = await start(scripted(...steps), { jitter: 'none', signal: controller.signal });
      await advance(abortAtMs);
      controller.abort(new Error('stop'));
      await flushMicrotasks();
      expect(run.state.state, `${what}: retry rejects`).toBe('rejected');
      expect(
        abortListeners(controller.signal),
        `${what}: abort listeners left on the caller's signal after retry rejected`,
      ).toBe(0);
    }
  });

  test("removes its abort listeners from the caller's signal once it resolves or rejects", async () => {
    useFakeClock();
    const scenarios: [string, Step[], RetryOptions][] = [
      ['resolves at once', [{ value: 'ok' }], {}],
      ['resolves after 2 retries', [{ reject: 1 }, { reject: 2 }, { value: 'ok' }], {}],
      ['rejects with a RetryError', [{ reject: 1 }, { reject: 2 }], { retries: 1 }],
      ['stops when shouldRetry says no', [{ reject: 1 }], { shouldRetry: () => false }],
    ];
    for (const [what, steps, options] of scenarios) {
      const controller = new AbortController();
      const run = await start(scripted(...steps), { ...options, signal: controller.signal });
      await advance(10_000);
      expect(run.state.state, `${what}: retry settles`).not.toBe('pending');
      expect(
        abortListeners(controller.signal),
        `after retry ${what}, abort listeners left on the caller's signal (a long-lived signal ` +
          'shared by many calls would collect one per call)',
      ).toBe(0);
      controller.abort(new Error('late abort'));
      await flushMicrotasks();
      expect(run.state.state, `${what}: a later abort does not change the outcome`).not.toBe(
        'pending',
      );
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('stage 5: limits each attempt with attemptTimeoutMs', () => {
  test('fails an attempt still running after attemptTimeoutMs ms with a TimeoutError and retries it', async () => {
    useFakeClock();
    const infos: RetryInfo[] = [];
    const operation = scripted({ hang: true }, { value: 'ok' });
    const run = await start(operation, {
      attemptTimeoutMs: 1000,
      jitter: 'none',
      onRetry: (info) => infos.push(info),
    });
    await advance(999);
    expect(infos, 'attemptTimeoutMs 1000: at 999 ms the attempt has not timed out yet').toEqual([]);
    await advance(1);
    expect(
      infos.length,
      'attemptTimeoutMs 1000: at 1000 ms the attempt fails and a retry is scheduled',
    ).toBe(1);
    expect(infos[0]?.error, 'the timed-out attempt fails with a TimeoutError').toBeInstanceOf(
      TimeoutError,
    );
    expect(infos[0]?.error, 'a TimeoutError is an Error').toBeInstanceOf(Error);
    await advance(10_000);
    expect(resolvedValue(run, 'the first attempt times out, the retry resolves "ok"')).toBe('ok');
    expect(operation.times, 'the retry starts 100 ms after the 1000 ms timeout').toEqual([0, 1100]);
    expect(vi.getTimerCount(), 'timers left after retry resolved').toBe(0);
  });

  test("aborts the timed-out attempt's context.signal with that TimeoutError", async () => {
    useFakeClock();
    const errors: unknown[] = [];
    const operation = scripted({ hang: true }, { value: 'ok' });
    await start(operation, {
      attemptTimeoutMs: 500,
      shouldRetry: (error) => {
        errors.push(error);
        return true;
      },
    });
    await advance(500);
    const signal = operation.contexts[0]?.signal;
    expect(
      signal?.aborted,
      "a timed-out attempt's context.signal is aborted, so it can stop its work",
    ).toBe(true);
    expect(signal?.reason, "the attempt's signal reason is a TimeoutError").toBeInstanceOf(
      TimeoutError,
    );
    expect(
      errors[0],
      'shouldRetry gets the same TimeoutError the attempt signal aborted with',
    ).toBe(signal?.reason);
  });

  test('rejects with a RetryError of TimeoutErrors when every attempt times out', async () => {
    useFakeClock();
    const run = await start(scripted(), { retries: 2, attemptTimeoutMs: 200, jitter: 'none' });
    await advance(10_000);
    const error = retryErrorOf(run, 'three attempts that never settle, attemptTimeoutMs 200');
    expect(error.attempts, 'RetryError.attempts').toBe(3);
    expect(error.errors.length, 'RetryError.errors: one per attempt').toBe(3);
    error.errors.forEach((e, i) =>
      expect(e, `errors[${i}] is a TimeoutError`).toBeInstanceOf(TimeoutError),
    );
    expect(vi.getTimerCount(), 'timers left after retry rejected').toBe(0);
  });

  test('clears the attempt timer when the attempt settles in time', async () => {
    useFakeClock();
    const answer = deferred<string>();
    const run = await start(scripted({ settle: answer.promise }), { attemptTimeoutMs: 1000 });
    await advance(500);
    answer.resolve('in time');
    await flushMicrotasks();
    expect(resolvedValue(run, 'an attempt resolving at 500 ms with attemptTimeoutMs 1000')).toBe(
      'in time',
    );
    expect(vi.getTimerCount(), 'the attempt resolved: its timeout timer is cleared at once').toBe(
      0,
    );

    const thrown = await start(scripted({ throw: new Error('sync') }), {
      attemptTimeoutMs: 1000,
      retries: 0,
    });
    retryErrorOf(thrown, 'retries 0 and an attempt that throws synchronously');
    expect(vi.getTimerCount(), 'the attempt threw: its timeout timer is cleared at once').toBe(0);
  });

  test('ignores a late settlement of a timed-out attempt and never leaves its rejection unhandled', async () => {
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
      "the timed-out attempt's later rejection is observed by retry, never reported as unhandled",
    ).toEqual([]);
    expect(
      resolvedValue(run!, 'attempt 1 times out, then fails late; attempt 2 resolves "second"'),
    ).toBe('second');
    expect(operation.times, 'one retry, 100 ms after the timeout').toEqual([0, 1100]);

    const slow = deferred<string>();
    const late = await start(scripted({ settle: slow.promise }, { value: 'fresh' }), {
      attemptTimeoutMs: 1000,
      jitter: 'none',
    });
    await advance(1050);
    slow.resolve('too late');
    await advance(1000);
    expect(
      resolvedValue(late, 'attempt 1 times out, then resolves "too late" during the wait'),
      'a timed-out attempt has failed: its late value is ignored and the retry runs',
    ).toBe('fresh');
  });

  test('lets attempts run for an hour when attemptTimeoutMs is absent', async () => {
    useFakeClock();
    const slow = deferred<string>();
    const operation = scripted({ settle: slow.promise });
    const run = await start(operation);
    await advance(3_600_000);
    expect(run.state.state, 'no attemptTimeoutMs: an attempt has no time limit').toBe('pending');
    slow.resolve('after an hour');
    await flushMicrotasks();
    expect(resolvedValue(run, 'an attempt resolving after an hour')).toBe('after an hour');
    expect(operation.times.length, 'attempts made').toBe(1);
  });

  test('clears the attempt timer when the caller aborts during the attempt', async () => {
    useFakeClock();
    const controller = new AbortController();
    const run = await start(scripted({ hang: true }), {
      attemptTimeoutMs: 1000,
      signal: controller.signal,
    });
    await advance(300);
    controller.abort(new Error('stop'));
    await flushMicrotasks();
    rejection(run, 'aborted 300 ms into an attempt');
    expect(vi.getTimerCount(), 'aborted during an attempt: its timeout timer is cleared').toBe(0);
  });

  test('rejects an attemptTimeoutMs that is not finite and > 0 with a RangeError naming attemptTimeoutMs', async () => {
    for (const attemptTimeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const operation = vi.fn(() => 'ok');
      const promise = retry(operation, { attemptTimeoutMs });
      await expect(
        promise,
        `retry(op, { attemptTimeoutMs: ${attemptTimeoutMs} })`,
      ).rejects.toBeInstanceOf(RangeError);
      await expect(promise, `retry(op, { attemptTimeoutMs: ${attemptTimeoutMs} })`).rejects.toThrow(
        /attemptTimeoutMs/,
      );
      expect(
        operation,
        `attemptTimeoutMs ${attemptTimeoutMs}: the operation is never called`,
      ).not.toHaveBeenCalled();
    }
  });
});
