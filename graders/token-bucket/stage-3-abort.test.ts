/**
 * Grader for token-bucket, stage 3: take() can be aborted. An already aborted signal, aborting a
 * waiter at the head or in the middle of the queue, `signal.reason` as the rejection, and no abort
 * listener or timer left behind. Time is a fake clock throughout.
 */
import { describe, expect, it, vi } from 'vitest';
import { TokenBucket } from '@kata/token-bucket';
import { advance, useFakeClock } from '../support/clock.ts';
import { SLACK_MS, abortListeners, callTake, expectState, expectTokens } from './fixtures.ts';

describe('stage 3: take() can be aborted', () => {
  it('rejects at once with signal.reason when the signal is already aborted, even with tokens [R15]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 1 });
    const reason = new Error('caller gave up');
    const call = 'take(1, { signal }) with an already aborted signal and 5 tokens';
    const taken = callTake(() => bucket.take(1, { signal: AbortSignal.abort(reason) }), call);
    const got = await expectState(taken, 'rejected', `${call} [R15]`);
    expect(got, `${call}: the rejection must be signal.reason itself [R15]`).toBe(reason);
    expectTokens(
      bucket,
      5,
      'after a take() with an already aborted signal: it takes nothing',
      'R15',
    );
  });

  it('rejects a waiting take() with signal.reason on abort and takes nothing [R16]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    const controller = new AbortController();
    const taken = callTake(() => bucket.take(3, { signal: controller.signal }), 'take(3, signal)');
    await advance(100);
    const reason = new Error('client disconnected');
    controller.abort(reason);
    const got = await expectState(taken, 'rejected', 'take(3, { signal }) aborted at 100 ms [R16]');
    expect(
      got,
      'take(3, { signal }) aborted at 100 ms: the rejection must be signal.reason [R16]',
    ).toBe(reason);
    await advance(400);
    expectTokens(
      bucket,
      5,
      'at 500 ms from empty at 10/s, after take(3) was aborted at 100 ms: it must take nothing',
      'R16',
    );
  });

  it('lets the waiter behind an aborted one go as soon as its own tokens are there [R17]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    const controller = new AbortController();
    const large = callTake(() => bucket.take(5, { signal: controller.signal }), 'take(5, signal)');
    const small = callTake(() => bucket.take(1), 'take(1)');
    await advance(150);
    controller.abort();
    await expectState(large, 'rejected', 'take(5, { signal }) aborted at 150 ms [R16]');
    await advance(SLACK_MS);
    await expectState(
      small,
      'fulfilled',
      'take(1) queued behind take(5), once take(5) is aborted at 150 ms with 1.5 tokens in: ' +
        'its own token is there, so it must not wait for the 500 ms set for take(5) [R17]',
    );
  });

  it('keeps the order of the other waiters when one in the middle is aborted [R12, R17]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    const controller = new AbortController();
    const first = callTake(() => bucket.take(2), 'take(2)');
    const middle = callTake(() => bucket.take(2, { signal: controller.signal }), 'take(2, signal)');
    const last = callTake(() => bucket.take(1), 'take(1)');
    controller.abort();
    await expectState(middle, 'rejected', 'the middle take(2, { signal }), aborted at 0 ms [R16]');
    await advance(199);
    await expectState(first, 'pending', 'take(2) from empty at 10/s, at 199 ms [R10]');
    await advance(1 + SLACK_MS);
    await expectState(
      first,
      'fulfilled',
      `take(2) from empty at 10/s, at ${200 + SLACK_MS} ms [R10]`,
    );
    await advance(99 - SLACK_MS);
    await expectState(
      last,
      'pending',
      'take(1) after take(2) (the middle one aborted), at 299 ms: first take(2) is served [R12]',
    );
    await advance(1 + SLACK_MS);
    await expectState(
      last,
      'fulfilled',
      `take(1) after take(2) (the middle one aborted), at ${300 + SLACK_MS} ms: it need not wait ` +
        'for the aborted one’s tokens [R17]',
    );
  });

  it('removes its abort listener once it is served at once, served after a wait, or aborted [R18]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 1 });
    const immediate = new AbortController();
    const first = callTake(() => bucket.take(1, { signal: immediate.signal }), 'take(1, signal)');
    await advance(0);
    await expectState(first, 'fulfilled', 'take(1, { signal }) with 1 token [R10]');
    expect(
      abortListeners(immediate.signal),
      "abort listeners left on the caller's signal after take(1, { signal }) was served at once [R18]",
    ).toBe(0);

    const waited = new AbortController();
    const taken = callTake(() => bucket.take(2, { signal: waited.signal }), 'take(2, signal)');
    expect(
      abortListeners(waited.signal),
      'abort listeners on the signal while take(2, { signal }) waits: one is enough [R18]',
    ).toBeLessThanOrEqual(1);
    await advance(200 + SLACK_MS);
    await expectState(taken, 'fulfilled', 'take(2, { signal }) from empty at 10/s [R10]');
    expect(
      abortListeners(waited.signal),
      "abort listeners left on the caller's signal after take(2, { signal }) was served [R18]",
    ).toBe(0);
    const before = bucket.tokens;
    waited.abort();
    await advance(0);
    expectTokens(
      bucket,
      before,
      'after aborting the signal of a take(2) already served: it must not give its tokens back',
      'R18',
    );

    const aborted = new AbortController();
    const gone = callTake(() => bucket.take(3, { signal: aborted.signal }), 'take(3, signal)');
    aborted.abort();
    await expectState(gone, 'rejected', 'take(3, { signal }) aborted while waiting [R16]');
    expect(
      abortListeners(aborted.signal),
      "abort listeners left on the caller's signal after take(3, { signal }) was aborted [R18]",
    ).toBe(0);
  });

  it('adds one listener per waiting take() to a shared signal and removes each as it is served [R18]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    const shared = new AbortController();
    const waiters = [1, 1, 1].map((count) =>
      callTake(() => bucket.take(count, { signal: shared.signal }), `take(${count}, signal)`),
    );
    expect(
      abortListeners(shared.signal),
      'abort listeners on a signal shared by three waiting take() calls [R18]',
    ).toBeLessThanOrEqual(3);
    for (const [index, waiter] of waiters.entries()) {
      await advance(100);
      await expectState(
        waiter,
        'fulfilled',
        `take(1, { signal }) number ${index + 1} at ${(index + 1) * 100} ms [R10]`,
      );
      expect(
        abortListeners(shared.signal),
        `abort listeners left on the shared signal after ${index + 1} of 3 take() calls were ` +
          `served: at most one per take() still waiting (${2 - index}) [R18]`,
      ).toBeLessThanOrEqual(2 - index);
    }
  });

  it('leaves no timer behind once the last waiter is aborted [R19]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 10, initialTokens: 0 });
    const controller = new AbortController();
    const taken = callTake(() => bucket.take(5, { signal: controller.signal }), 'take(5, signal)');
    await advance(100);
    controller.abort();
    await expectState(taken, 'rejected', 'take(5, { signal }) aborted at 100 ms [R16]');
    expect(
      vi.getTimerCount(),
      'timers pending after the only waiter was aborted: with nobody waiting there is none [R19]',
    ).toBe(0);
  });

  it('keeps at most one timer while waiters are aborted one by one, and none after the last [R33, R19]', async () => {
    useFakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 1, initialTokens: 0 });
    const controllers = [5, 4, 3, 2].map(() => new AbortController());
    const waiters = [5, 4, 3, 2].map((count, index) =>
      callTake(
        () => bucket.take(count, { signal: controllers[index]!.signal }),
        `take(${count}, signal)`,
      ),
    );
    for (const [index, controller] of controllers.entries()) {
      await advance(100);
      controller.abort();
      await expectState(
        waiters[index]!,
        'rejected',
        `waiter ${index + 1} of 4 aborted at ${(index + 1) * 100} ms [R16]`,
      );
      const left = controllers.length - index - 1;
      expect(
        vi.getTimerCount(),
        `timers pending after aborting waiter ${index + 1} of 4 (${left} still waiting): ` +
          `${left > 0 ? 'at most one per bucket [R33]' : 'none with nobody waiting [R19]'}`,
      ).toBeLessThanOrEqual(left > 0 ? 1 : 0);
    }
  });
});
