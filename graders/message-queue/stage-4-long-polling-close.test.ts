/**
 * Grader for message-queue, stage 4: receive() waiting for messages (long polling), waiting
 * receivers served first-in first-out, abort, no leftover listener or timer, and close().
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { MessageQueue, QueueClosedError, type ReceivedMessage } from '@kata/message-queue';
import { advance, useFakeClock } from '../support/clock.ts';
import { flushMicrotasks, promiseState } from '../support/promises.ts';
import {
  abortListeners,
  bodies,
  callReceive,
  expectStats,
  receiveNow,
  stateOf,
  thrown,
} from './fixtures.ts';

beforeEach(() => {
  useFakeClock();
});

/** The messages a receive() has fulfilled with by now; fails if it is pending or rejected. */
async function served<T>(
  promise: Promise<ReceivedMessage<T>[]>,
  why: string,
): Promise<ReceivedMessage<T>[]> {
  const settled = await promiseState(promise);
  if (settled.state === 'rejected') throw settled.reason;
  expect(settled.state, `${why}: the waiting receive() must have fulfilled by now`).toBe(
    'fulfilled',
  );
  return (settled as { value: ReceivedMessage<T>[] }).value;
}

describe('stage 4: long-polling receive, abort and close', () => {
  it('waits while nothing is ready and resolves as soon as a message is sent [R19]', async () => {
    const queue = new MessageQueue<string>();
    const waiting = callReceive(queue, { waitMs: 1_000 });
    await advance(300);
    expect(
      await stateOf(waiting),
      'receive({ waitMs: 1000 }) at 300 ms with nothing sent [R19]',
    ).toBe('pending');
    queue.send('a');
    expect(
      bodies(await served(waiting, "send('a') at 300 ms [R19]")),
      'what the waiter got [R19]',
    ).toEqual(['a']);
    expectStats(queue, { inFlight: 1 }, 'after the waiter got a', '[R19]');
  });

  it('resolves [] exactly waitMs after the call when nothing comes [R19]', async () => {
    const queue = new MessageQueue<string>();
    const waiting = callReceive(queue, { waitMs: 1_000, max: 3 });
    await advance(999);
    expect(await stateOf(waiting), 'receive({ waitMs: 1000 }) at 999 ms [R19]').toBe('pending');
    await advance(1);
    expect(
      await served(waiting, 'at 1000 ms [R19]'),
      'a receive that timed out resolves [] [R19]',
    ).toEqual([]);
  });

  it('wakes when a delayed message becomes ready [R19]', async () => {
    const queue = new MessageQueue<string>();
    await advance(50); // the clock is not at 0 when the wait begins
    queue.send('a', { delayMs: 300 });
    const waiting = callReceive(queue, { waitMs: 1_000 });
    await advance(299);
    expect(await stateOf(waiting), 'at 299 ms, message delayed by 300 ms [R19]').toBe('pending');
    await advance(1);
    expect(
      bodies(await served(waiting, 'at 300 ms, when the delay ends [R19]')),
      'the waiter got [R19]',
    ).toEqual(['a']);
  });

  it('wakes when a visibility timeout ends [R19]', async () => {
    const queue = new MessageQueue<string>({ visibilityTimeoutMs: 200 });
    queue.send('a');
    await receiveNow(queue);
    const waiting = callReceive(queue, { waitMs: 1_000 });
    await advance(199);
    expect(await stateOf(waiting), 'at 199 ms, visibility timeout 200 ms [R19]').toBe('pending');
    await advance(1);
    const [message] = await served(waiting, 'at 200 ms, when the visibility timeout ends [R19]');
    expect(message?.receiveCount, 'the waiter got the second delivery [R19]').toBe(2);
  });

  it('wakes when a message is nacked, and when a nack delay ends [R19]', async () => {
    const queue = new MessageQueue<string>({ visibilityTimeoutMs: 10_000 });
    queue.send('a');
    const [first] = await receiveNow(queue);
    const waiter1 = callReceive(queue, { waitMs: 1_000 });
    queue.nack(first!.receiptHandle);
    const [second] = await served(waiter1, 'nack() without a delay [R19]');
    const waiter2 = callReceive(queue, { waitMs: 1_000 });
    queue.nack(second!.receiptHandle, { delayMs: 100 });
    await advance(99);
    expect(await stateOf(waiter2), '99 ms into a nack delay of 100 ms [R19]').toBe('pending');
    await advance(1);
    expect(
      (await served(waiter2, 'when the nack delay ends [R19]'))[0]?.receiveCount,
      'third delivery [R19]',
    ).toBe(3);
  });

  it('wakes during the call when extendVisibility(handle, 0) ends a delivery [R19]', async () => {
    const queue = new MessageQueue<string>({ visibilityTimeoutMs: 10_000 });
    queue.send('a');
    const [first] = await receiveNow(queue);
    const waiting = callReceive(queue, { waitMs: 1_000 });
    queue.extendVisibility(first!.receiptHandle, 0);
    const [again] = await served(
      waiting,
      'extendVisibility(handle, 0), without the clock moving [R19]',
    );
    expect(again?.receiveCount, 'the waiter got the second delivery [R19]').toBe(2);
  });

  it('delivers a message that becomes ready exactly when waitMs ends, whichever was set up first [R19]', async () => {
    const first = new MessageQueue<string>();
    first.send('a', { delayMs: 100 });
    const waiting1 = callReceive(first, { waitMs: 100 });
    const second = new MessageQueue<string>();
    const waiting2 = callReceive(second, { waitMs: 100 });
    second.send('b', { delayMs: 100 });
    await advance(100);
    expect(
      bodies(await served(waiting1, 'delay set before the wait [R19]')),
      'delayMs 100, then receive({ waitMs: 100 }) [R19]',
    ).toEqual(['a']);
    expect(
      bodies(await served(waiting2, 'wait set before the delay [R19]')),
      'receive({ waitMs: 100 }), then delayMs 100 [R19]',
    ).toEqual(['b']);
  });

  it('waits as long as it takes with waitMs Infinity [R19]', async () => {
    const queue = new MessageQueue<string>();
    const waiting = callReceive(queue, { waitMs: Infinity });
    await advance(3_600_000);
    expect(await stateOf(waiting), 'receive({ waitMs: Infinity }) an hour later [R19]').toBe(
      'pending',
    );
    queue.send('a');
    expect(
      bodies(await served(waiting, 'a message sent after an hour [R19]')),
      'the waiter got [R19]',
    ).toEqual(['a']);
  });

  it('gives a waiter up to max of the messages ready when it is served, and leaves the rest ready [R19]', async () => {
    const queue = new MessageQueue<string>();
    const waiting = callReceive(queue, { waitMs: 1_000, max: 2 });
    queue.send('a');
    queue.send('b');
    queue.send('c');
    const got = bodies(await served(waiting, 'three messages sent while it waited [R19]'));
    expect(
      got.length >= 1 && got.length <= 2,
      `a waiter with max 2 got ${JSON.stringify(got)} [R19]`,
    ).toBe(true);
    const rest = bodies(await receiveNow(queue, { max: 3 }));
    expect(
      [...got, ...rest],
      'what the waiter got, then what was left ready, in order [R19]',
    ).toEqual(['a', 'b', 'c']);
  });

  it('serves waiting receivers first-in, first-out, one batch each [R20]', async () => {
    const queue = new MessageQueue<string>();
    const waiters = [1, 2, 3].map(() => callReceive(queue, { waitMs: 1_000 }));
    await advance(10);
    queue.send('a');
    queue.send('b');
    expect(
      bodies(await served(waiters[0]!, 'the first waiter [R20]')),
      'the longest-waiting receiver gets a [R20]',
    ).toEqual(['a']);
    expect(
      bodies(await served(waiters[1]!, 'the second waiter [R20]')),
      'the second receiver gets b [R20]',
    ).toEqual(['b']);
    expect(await stateOf(waiters[2]!), 'the third receiver, with nothing left [R20]').toBe(
      'pending',
    );
  });

  it('serves waiters in order when several messages become ready at the same moment [R20]', async () => {
    const queue = new MessageQueue<string>();
    for (const body of ['a', 'b', 'c']) queue.send(body, { delayMs: 100 });
    const first = callReceive(queue, { waitMs: 1_000, max: 2 });
    const second = callReceive(queue, { waitMs: 1_000, max: 2 });
    await advance(100);
    const got1 = bodies(await served(first, 'the first waiter [R20]'));
    const got2 = bodies(await served(second, 'the second waiter [R20]'));
    expect(
      got1.length > 0 && got2.length > 0,
      `both waiters are served: got ${JSON.stringify([got1, got2])} [R20]`,
    ).toBe(true);
    const rest = bodies(await receiveNow(queue, { max: 3 }));
    expect(
      [...got1, ...got2, ...rest],
      'the first waiter gets the oldest messages, then the second [R20]',
    ).toEqual(['a', 'b', 'c']);
  });

  it('never lets a later receive take a message before an earlier waiting one [R20]', async () => {
    const queue = new MessageQueue<string>();
    const waiting = callReceive(queue, { waitMs: 1_000 });
    queue.send('a');
    const late = callReceive(queue, { max: 5 });
    expect(
      bodies(await served(waiting, 'the waiting receiver [R20]')),
      'the receiver that was waiting gets a [R20]',
    ).toEqual(['a']);
    expect(
      await served(late, 'the later receive() [R20]'),
      'a receive() called after the send, behind a waiter [R20]',
    ).toEqual([]);
  });

  it('rejects with signal.reason when the signal aborts while waiting, taking nothing [R21]', async () => {
    const queue = new MessageQueue<string>();
    const controller = new AbortController();
    const reason = new Error('stop waiting');
    const waiting = callReceive(queue, { waitMs: 10_000, signal: controller.signal });
    await advance(100);
    controller.abort(reason);
    const settled = await promiseState(waiting);
    expect(settled.state, 'receive() whose signal aborted at 100 ms [R21]').toBe('rejected');
    expect(
      (settled as { reason: unknown }).reason,
      'the rejection must be signal.reason itself [R21]',
    ).toBe(reason);
    queue.send('a');
    expectStats(queue, { ready: 1 }, 'a sent after the abort stays ready', '[R21]');
  });

  it('lets the next waiter be served when the one before it aborts [R21]', async () => {
    const queue = new MessageQueue<string>();
    const controller = new AbortController();
    const aborted = callReceive(queue, { waitMs: 10_000, signal: controller.signal });
    const next = callReceive(queue, { waitMs: 10_000 });
    aborted.catch(() => undefined);
    controller.abort();
    queue.send('a');
    expect(
      bodies(await served(next, 'the waiter behind the aborted one [R21]')),
      'it gets a [R21]',
    ).toEqual(['a']);
    // Aborting a waiter in the middle of the queue: the ones before and after it are served.
    const middle = new AbortController();
    const first = callReceive(queue, { waitMs: 10_000 });
    const second = callReceive(queue, { waitMs: 10_000, signal: middle.signal });
    const third = callReceive(queue, { waitMs: 10_000 });
    second.catch(() => undefined);
    middle.abort();
    queue.send('b');
    queue.send('c');
    expect(
      bodies(await served(first, 'the first of three waiters [R21]')),
      'it gets b [R21]',
    ).toEqual(['b']);
    expect(
      bodies(await served(third, 'the third, behind the aborted second [R21]')),
      'it gets c [R21]',
    ).toEqual(['c']);
  });

  it('rejects at once with signal.reason when the signal is already aborted, even with messages ready [R21]', async () => {
    const queue = new MessageQueue<string>();
    queue.send('a');
    const reason = { why: 'already' };
    const settled = await promiseState(callReceive(queue, { signal: AbortSignal.abort(reason) }));
    expect(settled.state, 'receive() with an aborted signal and a message ready [R21]').toBe(
      'rejected',
    );
    expect((settled as { reason: unknown }).reason, 'rejects with signal.reason itself [R21]').toBe(
      reason,
    );
    expectStats(queue, { ready: 1 }, 'the message stays ready', '[R21]');
  });

  it('leaves no abort listener and no timer behind once a waiting receive settles [R22]', async () => {
    const queue = new MessageQueue<string>({ visibilityTimeoutMs: 1_000 });
    const controller = new AbortController();
    const { signal } = controller;

    const timedOut = callReceive(queue, { waitMs: 100, signal });
    expect(
      abortListeners(signal),
      'a waiting receive() may listen to its signal',
    ).toBeLessThanOrEqual(1);
    await advance(100);
    await served(timedOut, 'timed out [R22]');
    expect(abortListeners(signal), 'abort listeners after receive() timed out [R22]').toBe(0);
    expect(
      vi.getTimerCount(),
      'timers pending after receive() timed out on an empty queue [R22]',
    ).toBe(0);

    const servedLater = callReceive(queue, { waitMs: 10_000, signal });
    queue.send('a');
    const [message] = await served(servedLater, 'served [R22]');
    queue.ack(message!.receiptHandle);
    expect(abortListeners(signal), 'abort listeners after receive() was served [R22]').toBe(0);
    expect(
      vi.getTimerCount(),
      'timers pending once the waiter was served and its message acked [R22]',
    ).toBe(0);

    const aborter = new AbortController();
    const aborted = callReceive(queue, { waitMs: 10_000, signal: aborter.signal });
    aborter.abort();
    await promiseState(aborted);
    expect(vi.getTimerCount(), 'timers pending after a waiting receive() was aborted [R22]').toBe(
      0,
    );

    const closed = callReceive(queue, { waitMs: 10_000, signal });
    queue.close();
    await served(closed, 'closed [R22]');
    expect(abortListeners(signal), 'abort listeners after close() ended the wait [R22]').toBe(0);
    expect(vi.getTimerCount(), 'timers pending after close() ended the wait [R22]').toBe(0);
  });

  it('resolves waiting receives with [] at once on close, and every later receive too [R23]', async () => {
    const queue = new MessageQueue<string>();
    const waiting = [
      callReceive(queue, { waitMs: 10_000 }),
      callReceive(queue, { waitMs: Infinity, max: 3 }),
    ];
    queue.close();
    await flushMicrotasks();
    for (const [index, promise] of waiting.entries()) {
      expect(
        await served(promise, `waiter ${index + 1} on close() [R23]`),
        `waiter ${index + 1} after close() [R23]`,
      ).toEqual([]);
    }
    expect(
      await receiveNow(queue, { waitMs: 10_000 }),
      'receive({ waitMs: 10000 }) after close() resolves at once [R23]',
    ).toEqual([]);
  });

  it('refuses send with QueueClosedError after close, and close twice is harmless [R23]', async () => {
    const queue = new MessageQueue<string>();
    queue.send('a');
    queue.close();
    expect(
      thrown(() => queue.close()),
      'close() a second time [R23]',
    ).toBeUndefined();
    const error = thrown(() => queue.send('b'));
    expect(
      error instanceof QueueClosedError,
      `send() after close() must throw QueueClosedError, got ${String(error)} [R23]`,
    ).toBe(true);
    expect((error as Error).name, "a QueueClosedError's name [R23]").toBe('QueueClosedError');
    expect((error as Error).message, "the QueueClosedError message says 'closed' [R23]").toContain(
      'closed',
    );
    expect(
      await receiveNow(queue, { max: 5 }),
      'receive() after close(), with a ready [R23]',
    ).toEqual([]);
    expectStats(queue, { ready: 1 }, 'after close(): a is still held', '[R23]');
  });

  it('still acks, nacks and extends visibility after close [R24]', async () => {
    const queue = new MessageQueue<string>({ visibilityTimeoutMs: 100 });
    queue.send('a');
    queue.send('b');
    queue.send('c');
    const [a, b, c] = await receiveNow(queue, { max: 3 });
    queue.close();
    expect(
      queue.extendVisibility(a!.receiptHandle, 500),
      'extendVisibility() after close() [R24]',
    ).toBe(true);
    await advance(100);
    expect(
      queue.ack(a!.receiptHandle),
      'ack() after close(), of a heartbeat-extended delivery [R24]',
    ).toBe(true);
    expect(queue.ack(b!.receiptHandle), 'ack() of a delivery that timed out at 100 ms [R24]').toBe(
      false,
    );
    expect(c?.body).toBe('c');
    expectStats(queue, { ready: 2 }, 'after close(): b and c timed out, a acked', '[R24]');
    const queue2 = new MessageQueue<string>({ visibilityTimeoutMs: 100 });
    queue2.send('x');
    const [x] = await receiveNow(queue2);
    queue2.close();
    expect(queue2.nack(x!.receiptHandle, { delayMs: 10 }), 'nack() after close() [R24]').toBe(true);
    expectStats(queue2, { delayed: 1 }, 'after a nack with a delay, after close()', '[R24]');
  });
});
