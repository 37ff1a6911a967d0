/**
 * Grader for token-bucket, stage 2: take() waits its turn, first in, first out. Waiting, order,
 * no overtaking, msUntil() ignoring waiters, errors as rejections, and the timers a wait may use
 * (one per bucket, no polling, none left behind). Time is a fake clock throughout.
 */
import { describe, expect, it, vi } from 'vitest';
import { TokenBucket } from '@kata/token-bucket';
import { advance, useFakeClock } from '../support/clock.ts';
import { countTimers } from '../support/limits.ts';
import { promiseState } from '../support/promises.ts';
import {
  SLACK_MS,
  callTake,
  expectError,
  expectState,
  expectTokens,
  expectWaitMs,
} from './fixtures.ts';

/** `take()`'s rejection, as an outcome for `expectError`, or a failure if it did not reject. */
async function rejectionOf(promise: Promise<void>, call: string, rule: string) {
  const reason = await expectState(promise, 'rejected', `${call} [${rule}]`);
  return { threw: true, value: reason };
}

describe('stage 2: take() waits its turn, first in, first out', () => {
  it('resolves at once and takes the tokens when they are there and nobody waits [R10]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 1, initialTokens: 3 });
    const taken = callTake(() => bucket.take(2), 'take(2) with 3 tokens');
    await advance(0);
    await expectState(
      taken,
      'fulfilled',
      'take(2) with 3 tokens and no waiters, without the clock moving [R10]',
    );
    expectTokens(bucket, 1, 'after take(2) from 3', 'R10');
    const one = callTake(() => bucket.take(), 'take() with 1 token');
    await advance(0);
    await expectState(one, 'fulfilled', 'take() (count 1 by default) with 1 token [R10]');
    expectTokens(bucket, 0, 'after take() from 1', 'R10');
  });

  it('waits until the tokens are there, including fractional waits, then takes them [R10]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    const two = callTake(() => bucket.take(2), 'take(2) from empty at 10/s');
    await advance(199);
    await expectState(
      two,
      'pending',
      'take(2) from empty at 10/s, after 199 ms (1.99 tokens) [R10]',
    );
    await advance(1 + SLACK_MS);
    await expectState(
      two,
      'fulfilled',
      `take(2) from empty at 10/s, after ${200 + SLACK_MS} ms (within 1 ms of 200 ms) [R10]`,
    );
    expect(bucket.tokens, 'take(2) must take the 2 tokens it waited for [R10]').toBeLessThan(0.1);

    const slow = new TokenBucket({ capacity: 2, refillPerSecond: 3, initialTokens: 0 });
    const one = callTake(() => slow.take(), 'take() from empty at 3/s');
    await advance(333);
    await expectState(
      one,
      'pending',
      'take() from empty at 3/s, after 333 ms (0.999 tokens) [R10]',
    );
    await advance(1 + SLACK_MS);
    await expectState(
      one,
      'fulfilled',
      `take() from empty at 3/s, after ${334 + SLACK_MS} ms (within 1 ms of 333.3 ms) [R10]`,
    );
  });

  it('counts the tokens already in when it has to wait [R10]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 2, initialTokens: 2.5 });
    const taken = callTake(() => bucket.take(3), 'take(3) with 2.5 tokens at 2/s');
    await advance(249);
    await expectState(taken, 'pending', 'take(3) with 2.5 tokens at 2/s, after 249 ms [R10]');
    await advance(1 + SLACK_MS);
    await expectState(
      taken,
      'fulfilled',
      `take(3) with 2.5 tokens at 2/s: 0.5 missing, so due at 250 ms; checked at ${250 + SLACK_MS} ms [R10]`,
    );
  });

  it('serves several waiters in call order, each as soon as its tokens are there [R10, R12]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    const counts = [3, 1, 5, 2, 1];
    const order: number[] = [];
    const waiters: Promise<void>[] = [];
    const join = (index: number): void => {
      const count = counts[index]!;
      const waiter = callTake(() => bucket.take(count), `take(${count})`);
      void waiter.then(() => order.push(index));
      waiters.push(waiter);
    };
    for (const index of [0, 1, 2, 3]) join(index);
    // A fifth joins at 150 ms, with 1.5 tokens in: enough for take(1), not for take(3) at the head.
    await advance(150);
    join(4);
    // Cumulative tokens 3, 4, 9, 11, 12 at 10/s: due at 300, 400, 900, 1100 and 1200 ms.
    let now = 150;
    for (const [index, dueMs] of [300, 400, 900, 1_100, 1_200].entries()) {
      const waiter = waiters[index]!;
      const what =
        `take(${counts[index]}), waiter ${index + 1} of take(3), take(1), take(5), take(2) ` +
        'from empty at 10/s and take(1) at 150 ms';
      await advance(dueMs - 1 - now);
      await expectState(
        waiter,
        'pending',
        `${what}, at ${dueMs - 1} ms: the waiters before it take the tokens first (served so ` +
          `far, in order: [${order.join(', ')}]) [R12]`,
      );
      await advance(1 + SLACK_MS);
      now = dueMs + SLACK_MS;
      await expectState(
        waiter,
        'fulfilled',
        `${what}, at ${now} ms (due at ${dueMs} ms; served so far, in order: ` +
          `[${order.join(', ')}]) [R10, R12]`,
      );
    }
    expect(
      order,
      'order in which the five take() calls fulfilled: first in, first out [R12]',
    ).toEqual([0, 1, 2, 3, 4]);
  });

  it('keeps a small take() behind a large one that waits, even when its own tokens are there [R13]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    const large = callTake(() => bucket.take(5), 'take(5)');
    const queued = callTake(() => bucket.take(1), 'take(1)');
    await advance(150);
    await expectState(
      queued,
      'pending',
      'take(1) queued behind take(5), at 150 ms with 1.5 tokens: serving it first would starve take(5) [R13]',
    );
    const late = callTake(() => bucket.take(1), 'take(1) at 150 ms');
    await advance(0);
    await expectState(
      late,
      'pending',
      'take(1) called at 150 ms with 1.5 tokens in, while take(5) waits: it must queue, not overtake [R13]',
    );
    await advance(350 + SLACK_MS);
    await expectState(
      large,
      'fulfilled',
      `take(5) from empty at 10/s, at ${500 + SLACK_MS} ms [R13]`,
    );
    await advance(200);
    await expectState(
      Promise.all([queued, late]),
      'fulfilled',
      'both take(1) calls, 2 tokens after take(5) was served [R13]',
    );
  });

  it('refuses tryTake() while a take() waits, even with enough tokens, and allows it after [R13]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    const large = callTake(() => bucket.take(5), 'take(5)');
    await advance(200);
    expect(
      bucket.tryTake(),
      'tryTake() with 2 tokens while take(5) waits: taking would starve the waiter [R13]',
    ).toBe(false);
    await advance(300 + SLACK_MS);
    await expectState(
      large,
      'fulfilled',
      'take(5) from empty at 10/s despite a tryTake() at 200 ms [R13]',
    );
    await advance(100);
    expect(
      bucket.tryTake(),
      'tryTake() once the queue is empty and 1 token has refilled [R13]',
    ).toBe(true);
  });

  it('answers msUntil() from the tokens in the bucket, ignoring waiting take() calls [R9]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    const large = callTake(() => bucket.take(5), 'take(5)');
    await advance(200);
    expect(
      bucket.msUntil(1),
      'msUntil(1) at 200 ms (2 tokens in) while take(5) waits: waiters are ignored [R9]',
    ).toBe(0);
    expectWaitMs(
      bucket.msUntil(3),
      100,
      'msUntil(3) at 200 ms (2 tokens in) while take(5) waits: waiters are ignored',
      'R9',
    );
    await advance(300 + SLACK_MS);
    await expectState(large, 'fulfilled', 'take(5) from empty at 10/s [R10]');
  });

  it('rejects take(count > capacity) at once with a RangeError naming count, leaving the queue free [R14]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 1 });
    for (const count of [6, 100]) {
      const call = `take(${count}) with capacity 5 (it could never be served)`;
      const outcome = await rejectionOf(
        callTake(() => bucket.take(count), call),
        call,
        'R14',
      );
      expectError(outcome, call, { classes: [RangeError], names: 'count', rule: 'R14' });
    }
    expectTokens(bucket, 5, 'after take(6) and take(100) were rejected: they take nothing', 'R14');
    expect(
      bucket.tryTake(),
      'tryTake() after take(6) was rejected: a rejected take() must not stay in the queue [R14]',
    ).toBe(true);
  });

  it('rejects take() with a count that is not an integer >= 1 with a RangeError naming count [R6]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 1 });
    for (const count of [0, -1, 1.5, NaN]) {
      const call = `take(${count})`;
      const outcome = await rejectionOf(
        callTake(() => bucket.take(count), call),
        call,
        'R6',
      );
      expectError(outcome, call, { classes: [RangeError], names: 'count', rule: 'R6' });
    }
    expectTokens(bucket, 5, 'after take() with invalid counts: they take nothing', 'R6');
  });

  it('reports every error of take() by rejecting, never by throwing synchronously [R11]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 1 });
    // callTake fails at once, naming R11, if the call throws instead of returning a promise; the
    // rule that makes each call an error is named when it does not reject.
    const calls: [string, string, () => Promise<void>][] = [
      ['take(0)', 'R6', () => bucket.take(0)],
      ['take(6) with capacity 5', 'R14', () => bucket.take(6)],
      [
        'take(1, { signal: AbortSignal.abort() }) with 5 tokens',
        'R15',
        () => bucket.take(1, { signal: AbortSignal.abort() }),
      ],
    ];
    for (const [call, rule, action] of calls) {
      const promise = callTake(action, call);
      await expectState(promise, 'rejected', `${call} [${rule}]`);
    }
  });

  it('leaves no timer behind once every waiter is served [R19]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    const waiters = [bucket.take(2), bucket.take(3)];
    await advance(500 + SLACK_MS);
    await expectState(
      Promise.all(waiters),
      'fulfilled',
      'take(2), take(3) from empty at 10/s, at 501 ms [R10]',
    );
    expect(
      vi.getTimerCount(),
      'timers pending after every take() was served: with nobody waiting there is none [R19]',
    ).toBe(0);
  });

  it('keeps at most one timer pending, however many wait, and none once all are served [R33, R19]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    const counts = [2, 1, 3, 1, 2, 4, 1];
    const waiters: Promise<void>[] = [];
    for (const count of counts) {
      waiters.push(callTake(() => bucket.take(count), `take(${count})`));
      expect(
        vi.getTimerCount(),
        `timers pending after ${waiters.length} take() calls joined the queue: at most one per ` +
          'bucket, set for the first waiter [R33]',
      ).toBeLessThanOrEqual(1);
    }
    // Cumulative 2, 3, 6, 7, 9, 13, 14 tokens at 10/s: one waiter served every 100 to 400 ms.
    let served = 0;
    for (let ms = 50; ms <= 1_450; ms += 50) {
      await advance(50);
      const states = await Promise.all(waiters.map((waiter) => promiseState(waiter)));
      const now = states.filter((state) => state.state !== 'pending').length;
      const pending = vi.getTimerCount();
      expect(
        pending,
        `timers pending at ${ms} ms with ${counts.length - now} of ${counts.length} waiters left: ` +
          `at most one per bucket, however many wait [R33]`,
      ).toBeLessThanOrEqual(now === counts.length ? 0 : 1);
      served = now;
    }
    expect(served, 'waiters served by 1450 ms (14 tokens due at 1400 ms) [R10]').toBe(
      counts.length,
    );
    expect(vi.getTimerCount(), 'timers pending once every waiter was served [R19]').toBe(0);
  });

  it('waits 10 s on a handful of timer callbacks, not by polling [R34]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 10, refillPerSecond: 1, initialTokens: 0 });
    const timers = countTimers();
    const waiters = [bucket.take(4), bucket.take(3), bucket.take(3)];
    // At 1/s: due at 4 s, 7 s and 10 s.
    await advance(10_000 + SLACK_MS);
    await expectState(
      Promise.all(waiters),
      'fulfilled',
      'take(4), take(3), take(3) from empty at 1/s, after 10 s [R10]',
    );
    const { fired, scheduled } = timers();
    expect(
      fired <= 12,
      `timer callbacks over a 10 s wait for take(4), take(3), take(3) from empty at 1/s: ` +
        `expected a handful (at most 12: a timer set for when the first waiter's tokens are ` +
        `due), got ${fired} fired of ${scheduled} scheduled; is take() polling? [R34]`,
    ).toBe(true);
  });
});
