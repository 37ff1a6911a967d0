import fc from 'fast-check';
import { describe, expect, test, vi } from 'vitest';
import { RetryError } from '@kata/retry-backoff';
import { advance, useFakeClock } from '../support/clock.ts';
import { assertProperty } from '../support/property.ts';
import {
  describeState,
  describeValue,
  expectHeld,
  expectOptionError,
  failures,
  invalidRetry,
  rejection,
  resolvedValue,
  retryErrorOf,
  runUntilSettled,
  scripted,
  start,
} from './fixtures.ts';

describe('stage 3: asks shouldRetry before each retry', () => {
  test("asks shouldRetry with each failed attempt's error and number before retrying [R16]", async () => {
    useFakeClock();
    const [e1, e2] = failures(2);
    const shouldRetry = vi.fn((_error: unknown, _attempt: number) => true);
    const operation = scripted({ reject: e1 }, { reject: e2 }, { value: 'ok' });
    const run = await start(operation, { shouldRetry });
    await advance(10_000);
    expect(resolvedValue(run, 'fails twice, shouldRetry says yes, then succeeds [R16]')).toBe('ok');
    expect(
      shouldRetry.mock.calls,
      'shouldRetry(error, attempt) after attempts 1 and 2 [R16]',
    ).toEqual([
      [e1, 1],
      [e2, 2],
    ]);
    expect(shouldRetry.mock.calls[0]?.[0], 'shouldRetry gets the error object itself [R16]').toBe(
      e1,
    );
  });

  test('rejects with the attempt error itself, unwrapped, when shouldRetry returns false [R18, R36]', async () => {
    useFakeClock();
    const permanent = Object.assign(new Error('400 Bad Request'), { status: 400 });
    const onRetry = vi.fn();
    const operation = scripted({ reject: permanent }, { value: 'never reached' });
    const run = await start(operation, { shouldRetry: () => false, onRetry });
    await runUntilSettled(run);
    const reason = rejection(run, 'shouldRetry returning false stops the retries [R18]');
    expectHeld('after retry rejected on a refusal', undefined, { timers: 0 });
    await advance(10_000);
    expect(
      reason,
      `shouldRetry false: retry rejects with the attempt error itself, not a RetryError wrapping it; got ${describeValue(reason)} [R18]`,
    ).toBe(permanent);
    expect(operation.times.length, 'shouldRetry false: no further attempt [R18]').toBe(1);
    expect(
      onRetry.mock.calls.length,
      'shouldRetry false: no retry follows, so no onRetry [R18]',
    ).toBe(0);
  });

  test('stops at the first attempt shouldRetry refuses [R18]', async () => {
    useFakeClock();
    const [transient, permanent] = failures(2);
    const operation = scripted({ reject: transient }, { reject: permanent }, { value: 'never' });
    const run = await start(operation, { shouldRetry: (error) => error === transient });
    await advance(10_000);
    expect(
      rejection(run, 'a retryable failure, then one shouldRetry refuses [R18]'),
      'retry rejects with the refused error (attempt 2), unwrapped [R18]',
    ).toBe(permanent);
    expect(operation.times.length, 'attempts made: the refusal ends them [R18]').toBe(2);
  });

  test('awaits an async shouldRetry: a promise of true retries, a promise of false stops [R17]', async () => {
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
      rejection(
        run,
        'shouldRetry resolves true after attempt 1 and false after attempt 2: a promise of false means no [R17]',
      ),
      'a promise of false is a no: retry rejects with attempt 2 error itself [R17]',
    ).toBe(e2);
    expect(
      operation.times.length,
      'a promise of true retried once, a promise of false stopped [R17]',
    ).toBe(2);
  });

  test('never asks shouldRetry after the last attempt [R16]', async () => {
    useFakeClock();
    const shouldRetry = vi.fn((_error: unknown, _attempt: number) => true);
    const operation = scripted(...failures(3).map((e) => ({ reject: e })));
    const run = await start(operation, { retries: 2, shouldRetry });
    await advance(10_000);
    retryErrorOf(run, 'retries 2, three failures, shouldRetry always true: a RetryError [R14]');
    expect(
      shouldRetry.mock.calls.map((call) => call[1]),
      'retries 2: shouldRetry is asked after attempts 1 and 2 only, when another attempt remains [R16]',
    ).toEqual([1, 2]);

    const once = vi.fn(() => true);
    const single = await start(scripted({ reject: new Error('only') }), {
      retries: 0,
      shouldRetry: once,
    });
    await advance(10_000);
    retryErrorOf(single, 'retries 0 and one failure: a RetryError [R14]');
    expect(
      once.mock.calls.length,
      'retries 0: no attempt remains, so shouldRetry is never asked [R16]',
    ).toBe(0);
  });

  test('rejects a shouldRetry that is not a function with a TypeError naming shouldRetry [R28, R31]', async () => {
    const what = "retry(() => 'ok', { shouldRetry: true })";
    const reason = await invalidRetry(
      () => 'ok',
      { shouldRetry: true as unknown as () => boolean },
      what,
    );
    expectOptionError(reason, [TypeError], 'shouldRetry', what, '[R31]');
  });

  test('follows any sequence of failures and shouldRetry answers (property) [R13, R16, R17, R18]', async () => {
    useFakeClock();
    await start(() => 'ok');
    await assertProperty(
      'with shouldRetry answering per attempt (sync or async), retry stops at the first success, the first refusal (rejecting with that error) or after retries + 1 attempts (RetryError), asking shouldRetry only when another attempt remains [R13, R16, R17, R18]',
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

          // The model, a deliberately plain loop over the same script, run step by step: the
          // first step where retry did something else is reported, with what the model expected.
          const script = attempts.map((step, i) =>
            step.ok
              ? `${i + 1}: ok`
              : `${i + 1}: fails, shouldRetry ${step.asyncAnswer ? 'resolves' : 'returns'} ${step.retryable}`,
          );
          const diverged = (step: string, expected: string, got: string): never => {
            throw new Error(
              `retries ${retries}, attempts [${script.join('; ')}]: at ${step}, the model expected ${expected}, ` +
                `but retry ${got}`,
            );
          };
          for (let attempt = 1; attempt <= retries + 1; attempt += 1) {
            const step = attempts[attempt - 1] ?? { ok: true, retryable: true };
            if (calls < attempt) {
              diverged(`attempt ${attempt}`, 'this attempt to be made', `made ${calls} attempt(s)`);
            }
            if (step.ok) {
              const { state } = run;
              if (state.state !== 'fulfilled' || state.value !== `value ${attempt}`) {
                diverged(
                  `attempt ${attempt} (a success)`,
                  `retry to resolve with "value ${attempt}" [R13]`,
                  describeState(state).replace(/^it /, ''),
                );
              }
              break;
            }
            if (attempt === retries + 1) {
              if (asked.includes(attempt)) {
                diverged(
                  `attempt ${attempt} (the last)`,
                  'shouldRetry not to be asked after the last attempt [R16]',
                  'asked it',
                );
              }
              const { state } = run;
              const error = state.state === 'rejected' ? state.reason : undefined;
              const ok =
                error instanceof RetryError &&
                error.attempts === attempt &&
                error.errors.length === attempt &&
                error.errors.every((e, i) => e === errors[i]);
              if (!ok) {
                diverged(
                  `attempt ${attempt} (the last, failed)`,
                  `a RetryError with attempts ${attempt} and every error in order [R13]`,
                  describeState(state).replace(/^it /, ''),
                );
              }
              break;
            }
            if (asked[attempt - 1] !== attempt) {
              diverged(
                `attempt ${attempt} (failed, another attempt left)`,
                `shouldRetry to be asked with attempt ${attempt} [R16]`,
                `asked it after attempts [${asked.join(', ')}]`,
              );
            }
            if (!step.retryable) {
              const { state } = run;
              if (state.state !== 'rejected' || state.reason !== errors[attempt - 1]) {
                diverged(
                  `attempt ${attempt} (refused${step.asyncAnswer ? ' by a promise of false' : ''})`,
                  `a rejection with attempt ${attempt}'s error itself [${step.asyncAnswer ? 'R17, ' : ''}R18]`,
                  `${describeState(state).replace(/^it /, '')} after ${calls} attempt(s)`,
                );
              }
              if (calls !== attempt) {
                diverged(
                  `attempt ${attempt} (refused)`,
                  'no further attempt [R18]',
                  `made ${calls} attempts`,
                );
              }
              break;
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
