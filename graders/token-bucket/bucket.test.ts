/**
 * Grader for token-bucket, stages 1 to 4: the bucket, waiting take(), abort, and the keyed
 * limiter. Stage 5 (the Fastify hook) is in http.test.ts. Time is a fake clock throughout.
 */
import { getEventListeners } from 'node:events';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { KeyedRateLimiter, TokenBucket, type TokenBucketOptions } from '@kata/token-bucket';
import { advance, useFakeClock } from '../support/clock.ts';
import { promiseState } from '../support/promises.ts';
import { assertProperty } from '../support/property.ts';

/** Float tolerance: implementations may do the refill arithmetic in any order. */
const closeTo = (actual: number, expected: number): boolean =>
  Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected));

function expectTokens(bucket: TokenBucket, expected: number, why: string): void {
  const actual = bucket.tokens;
  expect(closeTo(actual, expected), `${why}: expected tokens ≈ ${expected}, got ${actual}`).toBe(
    true,
  );
}

/**
 * A wait in ms may be exact (fractional) or rounded up to a whole ms, and float error may push an
 * exact whole number a hair over, so anything from `exactMs` up to the next whole ms is accepted.
 */
function expectWaitMs(actual: number, exactMs: number, why: string): void {
  const ok = actual >= exactMs - 1e-6 && actual <= Math.ceil(exactMs + 1e-6);
  expect(ok, `${why}: expected ${exactMs} ms (or rounded up to a whole ms), got ${actual}`).toBe(
    true,
  );
}

/** A waiter resolves within this many ms of its tokens being there (timers fire on whole ms). */
const SLACK_MS = 1;

/** Calls take() and fails with a clear message if it throws instead of returning a promise. */
function callTake(call: () => Promise<void>, input: string): Promise<void> {
  try {
    return call();
  } catch (error) {
    if (error instanceof Error && error.name === 'NotImplementedError') throw error;
    expect.fail(
      `${input} threw synchronously (${String(error)}); take() returns a promise, so it must ` +
        'reject instead, or callers who write `.catch()` never see the error',
    );
  }
}

async function expectState(
  promise: Promise<unknown>,
  expected: 'pending' | 'fulfilled' | 'rejected',
  why: string,
): Promise<unknown> {
  const settled = await promiseState(promise);
  const detail = settled.state === 'rejected' ? ` with ${String(settled.reason)}` : '';
  expect(settled.state, `${why}: expected ${expected}, but it is ${settled.state}${detail}`).toBe(
    expected,
  );
  return settled.state === 'rejected' ? settled.reason : undefined;
}

const abortListeners = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length;

describe('stage 1: a bucket that refills continuously', () => {
  it('starts full by default and at initialTokens when given, fractions included', () => {
    useFakeClock();
    expectTokens(
      new TokenBucket({ capacity: 5, refillPerSecond: 1 }),
      5,
      'capacity 5, no initialTokens',
    );
    expectTokens(
      new TokenBucket({ capacity: 5, refillPerSecond: 1, initialTokens: 2.5 }),
      2.5,
      'capacity 5, initialTokens 2.5',
    );
    expectTokens(
      new TokenBucket({ capacity: 5, refillPerSecond: 1, initialTokens: 0 }),
      0,
      'initialTokens 0 means an empty bucket, not "absent"',
    );
  });

  it('takes one token per tryTake() by default and refuses once the bucket is empty', () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 3, refillPerSecond: 1 });
    const results = [bucket.tryTake(), bucket.tryTake(), bucket.tryTake(), bucket.tryTake()];
    expect(results, 'capacity 3, four tryTake() at the same instant').toEqual([
      true,
      true,
      true,
      false,
    ]);
    expectTokens(bucket, 0, 'after taking all 3 tokens');
  });

  it('takes count tokens with tryTake(count) and takes nothing when it refuses', () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 1, initialTokens: 3 });
    expect(bucket.tryTake(2), 'tryTake(2) with 3 tokens').toBe(true);
    expectTokens(bucket, 1, 'after tryTake(2) from 3');
    expect(bucket.tryTake(2), 'tryTake(2) with 1 token').toBe(false);
    expectTokens(bucket, 1, 'a refused tryTake(2) must take nothing');
    expect(bucket.tryTake(6), 'tryTake(6) with capacity 5 can never succeed').toBe(false);
    expectTokens(bucket, 1, 'tryTake(6) > capacity must take nothing');
  });

  it('refills fractional tokens continuously, not in whole steps', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 4, initialTokens: 0 });
    await advance(100);
    expectTokens(bucket, 0.4, '4 tokens/s, 100 ms after empty');
    expect(bucket.tryTake(), 'tryTake() with 0.4 tokens').toBe(false);
    await advance(150);
    expectTokens(bucket, 1, '4 tokens/s, 250 ms after empty');
    await advance(1);
    expect(bucket.tryTake(), 'tryTake() 251 ms after empty at 4 tokens/s (1.004 tokens)').toBe(
      true,
    );
    expectTokens(bucket, 0.004, 'after taking 1 of 1.004 tokens');
  });

  it('never holds more than capacity, however long it sits idle', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 3, refillPerSecond: 10, initialTokens: 2.5 });
    await advance(3_600_000);
    expectTokens(bucket, 3, 'capacity 3, idle for an hour at 10 tokens/s');
    expect(bucket.tryTake(3), 'tryTake(3) from a full bucket of 3').toBe(true);
    expect(bucket.tryTake(), 'a fourth token after an idle hour would exceed the burst size').toBe(
      false,
    );
  });

  it('reports with msUntil() the ms until count tokens are there, counting the tokens already in', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0.5 });
    expectWaitMs(bucket.msUntil(), 50, 'msUntil() with 0.5 tokens at 10/s');
    expectWaitMs(bucket.msUntil(3), 250, 'msUntil(3) with 0.5 tokens at 10/s');
    expect(bucket.msUntil(6), 'msUntil(6) with capacity 5: never').toBe(Infinity);
    await advance(50);
    expect(bucket.msUntil(1), 'msUntil(1) once 1 token is in (0.5 + 50 ms at 10/s)').toBe(0);
    expectTokens(bucket, 1, 'msUntil() must not take tokens');
    const slow = new TokenBucket({ capacity: 2, refillPerSecond: 3, initialTokens: 0 });
    expectWaitMs(slow.msUntil(), 1000 / 3, 'msUntil() from empty at 3 tokens/s');
  });

  it('reports with msUntil(capacity) the finite ms until the bucket is full', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0.5 });
    expectWaitMs(
      bucket.msUntil(5),
      450,
      'msUntil(5) with capacity 5 and 0.5 tokens at 10/s: a full bucket is reachable, only a ' +
        'count above capacity is never available',
    );
    await advance(450);
    expect(bucket.msUntil(5), 'msUntil(5) once the bucket of capacity 5 is full').toBe(0);
  });

  it('rejects a capacity that is not an integer >= 1 with a RangeError naming capacity', () => {
    for (const capacity of [0, -1, 2.5, Infinity]) {
      expect(
        () => new TokenBucket({ capacity, refillPerSecond: 1 }),
        `capacity ${capacity}`,
      ).toThrow(RangeError);
      expect(
        () => new TokenBucket({ capacity, refillPerSecond: 1 }),
        `capacity ${capacity}`,
      ).toThrow(/capacity/);
    }
  });

  it('rejects a capacity that is not a number with a TypeError naming capacity', () => {
    const options = { capacity: '5', refillPerSecond: 1 } as unknown as {
      capacity: number;
      refillPerSecond: number;
    };
    expect(() => new TokenBucket(options), "capacity '5' (a string)").toThrow(TypeError);
    expect(() => new TokenBucket(options), "capacity '5' (a string)").toThrow(/capacity/);
  });

  it('rejects a refillPerSecond that is not finite and > 0 with a RangeError naming refillPerSecond', () => {
    for (const refillPerSecond of [0, -1, Infinity, NaN]) {
      const create = (): TokenBucket => new TokenBucket({ capacity: 1, refillPerSecond });
      expect(create, `refillPerSecond ${refillPerSecond}`).toThrow(RangeError);
      expect(create, `refillPerSecond ${refillPerSecond}`).toThrow(/refillPerSecond/);
    }
  });

  it('rejects initialTokens outside 0..capacity with a RangeError naming initialTokens', () => {
    for (const initialTokens of [-0.5, 5.5]) {
      const create = (): TokenBucket =>
        new TokenBucket({ capacity: 5, refillPerSecond: 1, initialTokens });
      expect(create, `initialTokens ${initialTokens} with capacity 5`).toThrow(RangeError);
      expect(create, `initialTokens ${initialTokens} with capacity 5`).toThrow(/initialTokens/);
    }
  });

  it('rejects a count that is not an integer >= 1 in tryTake() and msUntil() with a RangeError', () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 1 });
    for (const count of [0, -1, 1.5]) {
      expect(() => bucket.tryTake(count), `tryTake(${count})`).toThrow(RangeError);
      expect(() => bucket.msUntil(count), `msUntil(${count})`).toThrow(RangeError);
    }
    expectTokens(bucket, 5, 'invalid counts must take nothing');
  });

  it('rejects a refillPerSecond or initialTokens that is not a number with a TypeError naming it', () => {
    const cases: [string, Record<string, unknown>][] = [
      ['refillPerSecond', { capacity: 5, refillPerSecond: '10' }],
      ['initialTokens', { capacity: 5, refillPerSecond: 10, initialTokens: '1' }],
    ];
    for (const [name, options] of cases) {
      const create = (): TokenBucket => new TokenBucket(options as unknown as TokenBucketOptions);
      expect(create, `${JSON.stringify(options)}: ${name} given as a string`).toThrow(TypeError);
      expect(create, `${JSON.stringify(options)}: the message names ${name}`).toThrow(
        new RegExp(name),
      );
    }
  });

  it('names count in the RangeError of an invalid count in tryTake() and msUntil()', () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 1 });
    expect(() => bucket.tryTake(0), 'tryTake(0): the message names count').toThrow(/count/);
    expect(() => bucket.msUntil(1.5), 'msUntil(1.5): the message names count').toThrow(/count/);
  });

  it('matches a simple model of the bucket over random tryTake() and clock advances', async () => {
    useFakeClock();
    type Step = { take: number } | { advanceMs: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ take: fc.integer({ min: 1, max: 11 }) }),
      fc.record({ advanceMs: fc.integer({ min: 0, max: 2_500 }) }),
    );
    // Outside the property, so that an unwritten method fails this test with its own error.
    new TokenBucket({ capacity: 1, refillPerSecond: 1 }).tryTake();
    await assertProperty(
      'The bucket must behave like the model: tokens = min(capacity, tokens + ms * refillPerSecond ' +
        '/ 1000) between steps, and tryTake(n) succeeds exactly when n <= tokens, taking n.',
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 2_000 }).map((n) => n / 100),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.array(step, { maxLength: 25 }),
        (capacity, refillPerSecond, initialFraction, steps) => {
          const initialTokens = capacity * initialFraction;
          const bucket = new TokenBucket({ capacity, refillPerSecond, initialTokens });
          const tolerance = 1e-9 * capacity;
          let model = initialTokens;
          for (const [index, s] of steps.entries()) {
            const at = `step ${index} (${JSON.stringify(s)}), model tokens before it ${model}`;
            if ('advanceMs' in s) {
              vi.advanceTimersByTime(s.advanceMs);
              model = Math.min(capacity, model + (s.advanceMs * refillPerSecond) / 1000);
            } else {
              const taken = bucket.tryTake(s.take);
              // Within float error of the boundary, either answer is right: follow the bucket.
              const expected = Math.abs(model - s.take) <= tolerance ? taken : s.take <= model;
              expect(taken, `tryTake(${s.take}) at ${at}`).toBe(expected);
              if (taken) model = Math.max(0, model - s.take);
            }
            const tokens = bucket.tokens;
            expect(
              Math.abs(tokens - model) <= tolerance &&
                tokens >= -tolerance &&
                tokens <= capacity + tolerance,
              `tokens after ${at}: expected ≈ ${model} within [0, ${capacity}], got ${tokens}`,
            ).toBe(true);
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('stage 2: take() waits its turn, first in, first out', () => {
  it('resolves at once and takes the tokens when they are there and nobody waits', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 1, initialTokens: 3 });
    const taken = callTake(() => bucket.take(2), 'take(2) with 3 tokens');
    await advance(0);
    await expectState(
      taken,
      'fulfilled',
      'take(2) with 3 tokens and no waiters, without the clock moving',
    );
    expectTokens(bucket, 1, 'after take(2) from 3');
    const one = callTake(() => bucket.take(), 'take() with 1 token');
    await advance(0);
    await expectState(one, 'fulfilled', 'take() (count 1 by default) with 1 token');
    expectTokens(bucket, 0, 'after take() from 1');
  });

  it('waits until the tokens are there, including fractional waits, then takes them', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    const two = callTake(() => bucket.take(2), 'take(2) from empty at 10/s');
    await advance(199);
    await expectState(two, 'pending', 'take(2) from empty at 10/s, after 199 ms (1.99 tokens)');
    await advance(1 + SLACK_MS);
    await expectState(two, 'fulfilled', `take(2) from empty at 10/s, after ${200 + SLACK_MS} ms`);
    expect(bucket.tokens, 'take(2) must take the 2 tokens it waited for').toBeLessThan(0.1);

    const slow = new TokenBucket({ capacity: 2, refillPerSecond: 3, initialTokens: 0 });
    const one = callTake(() => slow.take(), 'take() from empty at 3/s');
    await advance(333);
    await expectState(one, 'pending', 'take() from empty at 3/s, after 333 ms (0.999 tokens)');
    await advance(1 + SLACK_MS);
    await expectState(one, 'fulfilled', `take() from empty at 3/s, after ${334 + SLACK_MS} ms`);
  });

  it('serves several waiters in call order, each as soon as its tokens are there', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    const counts = [3, 1, 5, 2];
    const order: number[] = [];
    const waiters = counts.map((count, index) => {
      const waiter = callTake(() => bucket.take(count), `take(${count})`);
      void waiter.then(() => order.push(index));
      return waiter;
    });
    // Cumulative tokens 3, 4, 9, 11 at 10/s: due at 300, 400, 900 and 1100 ms.
    let now = 0;
    for (const [index, dueMs] of [300, 400, 900, 1_100].entries()) {
      const waiter = waiters[index]!;
      const what = `take(${counts[index]}), waiter ${index + 1} of take(3), take(1), take(5), take(2) from empty at 10/s`;
      await advance(dueMs - 1 - now);
      await expectState(waiter, 'pending', `${what}, at ${dueMs - 1} ms`);
      await advance(1 + SLACK_MS);
      now = dueMs + SLACK_MS;
      await expectState(waiter, 'fulfilled', `${what}, at ${now} ms`);
    }
    expect(order, 'waiters must be served first in, first out').toEqual([0, 1, 2, 3]);
  });

  it('keeps a small take() behind a large one that waits, even when its own tokens are there', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    const large = callTake(() => bucket.take(5), 'take(5)');
    const queued = callTake(() => bucket.take(1), 'take(1)');
    await advance(150);
    await expectState(
      queued,
      'pending',
      'take(1) queued behind take(5), at 150 ms with 1.5 tokens: serving it first would starve take(5)',
    );
    const late = callTake(() => bucket.take(1), 'take(1) at 150 ms');
    await advance(0);
    await expectState(
      late,
      'pending',
      'take(1) called at 150 ms with 1.5 tokens in, while take(5) waits: it must queue, not overtake',
    );
    await advance(350 + SLACK_MS);
    await expectState(large, 'fulfilled', `take(5) from empty at 10/s, at ${500 + SLACK_MS} ms`);
    await advance(200);
    await expectState(
      Promise.all([queued, late]),
      'fulfilled',
      'both take(1) calls, 2 tokens after take(5) was served',
    );
  });

  it('refuses tryTake() while a take() waits, even with enough tokens, and allows it after', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    const large = callTake(() => bucket.take(5), 'take(5)');
    await advance(200);
    expect(
      bucket.tryTake(),
      'tryTake() with 2 tokens while take(5) waits: taking would starve the waiter',
    ).toBe(false);
    await advance(300 + SLACK_MS);
    await expectState(
      large,
      'fulfilled',
      'take(5) from empty at 10/s despite a tryTake() at 200 ms',
    );
    await advance(100);
    expect(bucket.tryTake(), 'tryTake() once the queue is empty and 1 token has refilled').toBe(
      true,
    );
  });

  it('answers msUntil() from the tokens in the bucket, ignoring waiting take() calls', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    const large = callTake(() => bucket.take(5), 'take(5)');
    await advance(200);
    expect(bucket.msUntil(1), 'msUntil(1) at 200 ms (2 tokens in) while take(5) waits').toBe(0);
    expectWaitMs(bucket.msUntil(3), 100, 'msUntil(3) at 200 ms (2 tokens in) while take(5) waits');
    await advance(300 + SLACK_MS);
    await expectState(large, 'fulfilled', 'take(5) from empty at 10/s');
  });

  it('rejects take(count > capacity) and invalid counts with a RangeError', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 1 });
    for (const count of [6, 0, -1, 1.5]) {
      const reason = await expectState(
        callTake(() => bucket.take(count), `take(${count})`),
        'rejected',
        `take(${count}) with capacity 5`,
      );
      expect(reason, `take(${count}) must reject with a RangeError`).toBeInstanceOf(RangeError);
    }
    expectTokens(bucket, 5, 'rejected take() calls must take nothing');
    expect(
      bucket.tryTake(),
      'a rejected take() must not stay in the queue and block tryTake()',
    ).toBe(true);
  });

  it('names count in the RangeError of take(count > capacity) and of an invalid count', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 1 });
    for (const count of [6, 0]) {
      const reason = await expectState(
        callTake(() => bucket.take(count), `take(${count})`),
        'rejected',
        `take(${count}) with capacity 5`,
      );
      expect(reason, `take(${count}) must reject with a RangeError`).toBeInstanceOf(RangeError);
      expect(
        (reason as Error).message,
        `take(${count}) with capacity 5: the message names the offending argument, count`,
      ).toMatch(/count/);
    }
  });

  it('leaves no timer behind once every waiter is served', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    const waiters = [bucket.take(2), bucket.take(3)];
    await advance(500 + SLACK_MS);
    await expectState(Promise.all(waiters), 'fulfilled', 'take(2), take(3) from empty at 10/s');
    expect(vi.getTimerCount(), 'timers pending after every take() resolved').toBe(0);
  });
});

describe('stage 3: take() can be aborted', () => {
  it('rejects at once with signal.reason when the signal is already aborted, even with tokens', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 1 });
    const reason = new Error('caller gave up');
    const taken = callTake(
      () => bucket.take(1, { signal: AbortSignal.abort(reason) }),
      'take(1, already aborted signal)',
    );
    const got = await expectState(
      taken,
      'rejected',
      'take(1) with an already aborted signal and 5 tokens',
    );
    expect(got, 'the rejection must be signal.reason').toBe(reason);
    expectTokens(bucket, 5, 'an aborted take() takes nothing');
  });

  it('rejects a waiting take() with signal.reason on abort and takes nothing', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    const controller = new AbortController();
    const taken = callTake(() => bucket.take(3, { signal: controller.signal }), 'take(3, signal)');
    await advance(100);
    const reason = new Error('client disconnected');
    controller.abort(reason);
    const got = await expectState(taken, 'rejected', 'take(3) aborted at 100 ms');
    expect(got, 'the rejection must be signal.reason').toBe(reason);
    await advance(400);
    expectTokens(bucket, 5, 'take(3) aborted at 100 ms must take nothing: full by 500 ms');
  });

  it('lets the waiter behind an aborted one go as soon as its own tokens are there', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    const controller = new AbortController();
    const large = callTake(() => bucket.take(5, { signal: controller.signal }), 'take(5, signal)');
    const small = callTake(() => bucket.take(1), 'take(1)');
    await advance(150);
    controller.abort();
    await expectState(large, 'rejected', 'take(5) aborted at 150 ms');
    await advance(SLACK_MS);
    await expectState(
      small,
      'fulfilled',
      'take(1) queued behind take(5), once take(5) is aborted at 150 ms with 1.5 tokens in',
    );
  });

  it('keeps the order of the other waiters when one in the middle is aborted', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    const controller = new AbortController();
    const first = callTake(() => bucket.take(2), 'take(2)');
    const middle = callTake(() => bucket.take(2, { signal: controller.signal }), 'take(2, signal)');
    const last = callTake(() => bucket.take(1), 'take(1)');
    controller.abort();
    await expectState(middle, 'rejected', 'the middle take(2), aborted at 0 ms');
    await advance(199);
    await expectState(first, 'pending', 'take(2) from empty at 10/s, at 199 ms');
    await advance(1 + SLACK_MS);
    await expectState(first, 'fulfilled', `take(2) from empty at 10/s, at ${200 + SLACK_MS} ms`);
    await advance(99 - SLACK_MS);
    await expectState(last, 'pending', 'take(1) after take(2) (middle one aborted), at 299 ms');
    await advance(1 + SLACK_MS);
    await expectState(
      last,
      'fulfilled',
      `take(1) after take(2) (middle one aborted), at ${300 + SLACK_MS} ms`,
    );
  });

  it('removes its abort listener once it resolves or is aborted', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 1 });
    const immediate = new AbortController();
    const first = callTake(() => bucket.take(1, { signal: immediate.signal }), 'take(1, signal)');
    await advance(0);
    await expectState(first, 'fulfilled', 'take(1, signal) with 1 token');
    expect(
      abortListeners(immediate.signal),
      'abort listeners left after take(1) resolved at once',
    ).toBe(0);

    const waited = new AbortController();
    const taken = callTake(() => bucket.take(2, { signal: waited.signal }), 'take(2, signal)');
    await advance(200 + SLACK_MS);
    await expectState(taken, 'fulfilled', 'take(2, signal) from empty at 10/s');
    expect(
      abortListeners(waited.signal),
      'abort listeners left on the signal after take(2) resolved',
    ).toBe(0);
    const before = bucket.tokens;
    waited.abort();
    await advance(0);
    expectTokens(bucket, before, 'aborting after take(2) resolved must not give its tokens back');

    const aborted = new AbortController();
    const gone = callTake(() => bucket.take(3, { signal: aborted.signal }), 'take(3, signal)');
    aborted.abort();
    await expectState(gone, 'rejected', 'take(3, signal) aborted while waiting');
    expect(abortListeners(aborted.signal), 'abort listeners left after take(3) was aborted').toBe(
      0,
    );
  });

  it('leaves no timer behind once the last waiter is aborted', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    const controller = new AbortController();
    const taken = callTake(() => bucket.take(5, { signal: controller.signal }), 'take(5, signal)');
    await advance(100);
    controller.abort();
    await expectState(taken, 'rejected', 'take(5) aborted at 100 ms');
    expect(vi.getTimerCount(), 'timers pending after the only waiter was aborted').toBe(0);
  });
});

describe('stage 4: per-key limits with least-recently-used eviction', () => {
  it('gives a new key a full bucket and reports limit, remaining, retryAfterMs and resetMs', () => {
    useFakeClock();
    const limiter = new KeyedRateLimiter({ capacity: 3, refillPerSecond: 2 });
    const decision = limiter.check('alice');
    expect(decision, "first check('alice'), capacity 3 at 2/s").toMatchObject({
      allowed: true,
      limit: 3,
      remaining: 2,
      retryAfterMs: 0,
    });
    expectWaitMs(
      decision.resetMs,
      500,
      "resetMs after the first check('alice'), 1 token short at 2/s",
    );
    expect(
      limiter.check('bob', 3),
      "check('bob', 3): bob's bucket is separate from alice's",
    ).toMatchObject({
      allowed: true,
      remaining: 0,
    });
  });

  it('refuses once the key is out of tokens, with retryAfterMs until cost tokens, taking nothing', async () => {
    useFakeClock();
    const limiter = new KeyedRateLimiter({ capacity: 3, refillPerSecond: 2 });
    expect(limiter.check('k', 3).allowed, "check('k', 3) on a new key").toBe(true);
    await advance(250);
    const refused = limiter.check('k', 2);
    expect(refused, "check('k', 2) with 0.5 tokens").toMatchObject({
      allowed: false,
      limit: 3,
      remaining: 0,
    });
    expectWaitMs(
      refused.retryAfterMs,
      750,
      "retryAfterMs for check('k', 2) with 0.5 tokens at 2/s",
    );
    expectWaitMs(refused.resetMs, 1250, 'resetMs with 0.5 of 3 tokens at 2/s');
    await advance(751);
    expect(
      limiter.check('k', 2),
      "check('k', 2) 751 ms later: the refusal took nothing",
    ).toMatchObject({
      allowed: true,
      remaining: 0,
    });
  });

  it('floors remaining to whole tokens', async () => {
    useFakeClock();
    const limiter = new KeyedRateLimiter({ capacity: 3, refillPerSecond: 2 });
    limiter.check('k', 3);
    await advance(1_250);
    const decision = limiter.check('k');
    expect(decision.remaining, "remaining after check('k') with 2.5 tokens (1.5 left)").toBe(1);
    expectWaitMs(decision.resetMs, 750, 'resetMs with 1.5 of 3 tokens at 2/s');
  });

  it('never allows cost > capacity: retryAfterMs is Infinity and nothing is taken', () => {
    useFakeClock();
    const limiter = new KeyedRateLimiter({ capacity: 3, refillPerSecond: 2 });
    limiter.check('k');
    const decision = limiter.check('k', 4);
    expect(decision, "check('k', 4) with capacity 3").toMatchObject({
      allowed: false,
      retryAfterMs: Infinity,
      remaining: 2,
    });
    expect(limiter.check('k', 2).allowed, "check('k', 2) after the refused cost 4").toBe(true);
  });

  it('drops the least recently used bucket when a new key arrives and maxKeys are held', () => {
    useFakeClock();
    const limiter = new KeyedRateLimiter({ capacity: 3, refillPerSecond: 1, maxKeys: 2 });
    limiter.check('a', 2);
    limiter.check('b', 2);
    limiter.check('a', 1); // 'a' is now the most recently used
    limiter.check('c', 2);
    expect(limiter.size, 'size with maxKeys 2 after checks of a, b, a, c').toBe(2);
    expect(
      limiter.check('a').allowed,
      "'a' was used after 'b', so 'c' must evict 'b', not 'a' (whose bucket is empty)",
    ).toBe(false);
    expect(
      limiter.check('b', 3),
      "'b' was the least recently used when 'c' arrived: it comes back with a full bucket",
    ).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('matches an LRU model of buckets over random keys and costs', async () => {
    useFakeClock();
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
    // Outside the property, so that an unwritten method fails this test with its own error.
    void new KeyedRateLimiter({ capacity: 1, refillPerSecond: 1 }).check('a').allowed;
    await assertProperty(
      'With the clock still, each key must keep its own tokens (capacity 200, new key full) and ' +
        'a new key beyond maxKeys must evict the least recently checked key; size must match.',
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.tuple(fc.constantFrom(...keys), fc.integer({ min: 1, max: 3 })), {
          maxLength: 40,
        }),
        (maxKeys, checks) => {
          const limiter = new KeyedRateLimiter({ capacity: 200, refillPerSecond: 1, maxKeys });
          const model = new Map<string, number>();
          for (const [index, [key, cost]] of checks.entries()) {
            let tokens = model.get(key);
            model.delete(key);
            if (tokens === undefined) {
              tokens = 200;
              if (model.size >= maxKeys) model.delete(model.keys().next().value!);
            }
            model.set(key, tokens - cost);
            const decision = limiter.check(key, cost);
            const at = `check #${index} ('${key}', ${cost}), maxKeys ${maxKeys}`;
            expect(decision.allowed, `allowed at ${at}`).toBe(true);
            expect(decision.remaining, `remaining at ${at}`).toBe(tokens - cost);
            expect(limiter.size, `size after ${at}`).toBe(model.size);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('rejects maxKeys, capacity or refillPerSecond out of range with a RangeError naming it', () => {
    const cases: [string, ConstructorParameters<typeof KeyedRateLimiter>[0]][] = [
      ['maxKeys', { capacity: 3, refillPerSecond: 1, maxKeys: 0 }],
      ['maxKeys', { capacity: 3, refillPerSecond: 1, maxKeys: 1.5 }],
      ['capacity', { capacity: 0, refillPerSecond: 1 }],
      ['refillPerSecond', { capacity: 3, refillPerSecond: 0 }],
    ];
    for (const [name, options] of cases) {
      const create = (): KeyedRateLimiter => new KeyedRateLimiter(options);
      expect(create, JSON.stringify(options)).toThrow(RangeError);
      expect(create, JSON.stringify(options)).toThrow(new RegExp(name));
    }
  });

  it('names cost in the RangeError of an invalid cost', () => {
    useFakeClock();
    const limiter = new KeyedRateLimiter({ capacity: 3, refillPerSecond: 1 });
    expect(() => limiter.check('k', 0), "check('k', 0): the message names cost").toThrow(/cost/);
  });

  it('rejects a cost that is not an integer >= 1 with a RangeError', () => {
    useFakeClock();
    const limiter = new KeyedRateLimiter({ capacity: 3, refillPerSecond: 1 });
    for (const cost of [-1, 1.5]) {
      expect(() => limiter.check('k', cost), `check('k', ${cost})`).toThrow(RangeError);
    }
  });
});
