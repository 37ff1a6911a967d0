/**
 * Grader for message-queue, stage 5 (first part): the consume() loop, its concurrency limit,
 * ack and nack of handler outcomes, long polling, and stopping on abort or close. The model-based
 * check and the limits are in stage-5-model-limits.test.ts. Time is a fake clock throughout.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  MessageQueue,
  consume,
  type QueueOptions,
  type ReceiveOptions,
  type ReceivedMessage,
} from '@kata/message-queue';
import { advance, useFakeClock } from '../support/clock.ts';
import { countTimers } from '../support/limits.ts';
import { deferred, promiseState } from '../support/promises.ts';
import { abortListeners, expectStats, stateOf } from './fixtures.ts';

beforeEach(() => {
  useFakeClock();
});

/** More receive() calls than this from one consume() on an idle queue is a loop, not long polling. */
const RECEIVE_CALLS_CAP = 1_000;

/**
 * A queue of the code under test whose receive() counts its calls and, past the cap, returns a
 * promise that never settles: a consume() that loops without waiting stops there and fails a test
 * instead of spinning in microtasks for ever.
 */
function guardedQueue(options: QueueOptions = {}): MessageQueue<string> & { receiveCalls: number } {
  class Guarded extends MessageQueue<string> {
    receiveCalls = 0;
    override receive(receiveOptions?: ReceiveOptions): Promise<ReceivedMessage<string>[]> {
      this.receiveCalls += 1;
      if (this.receiveCalls > RECEIVE_CALLS_CAP) return new Promise(() => undefined);
      return super.receive(receiveOptions);
    }
  }
  return new Guarded(options);
}

/** Lets the consumer run: pending callbacks, and timers due now (setImmediate, setTimeout 0). */
async function drain(): Promise<void> {
  for (let round = 0; round < 10; round += 1) await advance(0);
}

/** A handler whose calls wait until the test settles them; `started` lists the bodies in call order. */
function controlledHandler() {
  const started: string[] = [];
  const pending = new Map<string, ReturnType<typeof deferred<void>>>();
  const handler = (message: ReceivedMessage<string>): Promise<void> => {
    started.push(message.body);
    const call = deferred<void>();
    pending.set(message.body, call);
    return call.promise;
  };
  return { handler, started, pending, running: () => pending.size };
}

describe('stage 5: consume, a model of the whole queue, and the limits', () => {
  it('calls the handler for every message and acks each one whose handler returns [R25, R26]', async () => {
    const queue = guardedQueue();
    for (const body of ['a', 'b', 'c', 'd', 'e']) queue.send(body);
    const handled: string[] = [];
    const controller = new AbortController();
    const done = consume(queue, (message) => void handled.push(message.body), {
      concurrency: 2,
      signal: controller.signal,
    });
    await drain();
    expect([...handled].sort(), 'bodies handled by consume(concurrency 2) [R25]').toEqual([
      'a',
      'b',
      'c',
      'd',
      'e',
    ]);
    expectStats(queue, {}, 'once every handler has returned: all acked', '[R26]');
    controller.abort();
    await drain();
    expect(await stateOf(done), 'consume() after the abort [R29]').toBe('fulfilled');
  });

  it('acks a message only once its handler promise fulfils [R26]', async () => {
    const queue = guardedQueue();
    queue.send('a');
    const { handler, pending } = controlledHandler();
    const controller = new AbortController();
    void consume(queue, handler, { concurrency: 1, signal: controller.signal });
    await drain();
    expectStats(queue, { inFlight: 1 }, 'while the handler promise is pending', '[R26]');
    pending.get('a')!.resolve();
    await drain();
    expectStats(queue, {}, 'after the handler promise fulfilled', '[R26]');
    controller.abort();
  });

  it('runs at most concurrency handlers and holds at most concurrency messages in flight [R25]', async () => {
    const queue = guardedQueue();
    for (let i = 0; i < 10; i += 1) queue.send(`m${i}`);
    const { handler, started, running } = controlledHandler();
    const controller = new AbortController();
    void consume(queue, handler, { concurrency: 3, signal: controller.signal });
    await drain();
    expect(running(), 'handlers running with concurrency 3 and 10 messages ready [R25]').toBe(3);
    expect(started, 'the first three messages, oldest first [R25]').toEqual(['m0', 'm1', 'm2']);
    expectStats(
      queue,
      { ready: 7, inFlight: 3 },
      'with 3 handlers running: no more than 3 received',
      '[R25]',
    );
    controller.abort();
  });

  it('starts the next message as soon as one handler finishes, not when the whole batch has [R25]', async () => {
    const queue = guardedQueue();
    for (let i = 0; i < 6; i += 1) queue.send(`m${i}`);
    const { handler, started, pending, running } = controlledHandler();
    const controller = new AbortController();
    void consume(queue, handler, { concurrency: 3, signal: controller.signal });
    await drain();
    pending.get('m1')!.resolve();
    pending.delete('m1');
    await drain();
    expect(started, 'after m1 finished while m0 and m2 still run [R25]').toEqual([
      'm0',
      'm1',
      'm2',
      'm3',
    ]);
    expect(running(), 'handlers running [R25]').toBe(3);
    expectStats(queue, { ready: 2, inFlight: 3 }, 'after m1 was acked and m3 received', '[R25]');
    controller.abort();
  });

  it('nacks the message of a handler that throws, and reports it to onError [R27]', async () => {
    const queue = guardedQueue({ maxReceives: 2 });
    queue.send('bad');
    queue.send('good');
    const failure = new Error('cannot handle bad');
    const calls: Array<[string, number]> = [];
    const errors: Array<[unknown, ReceivedMessage<string>]> = [];
    const controller = new AbortController();
    void consume(
      queue,
      (message) => {
        calls.push([message.body, message.receiveCount]);
        if (message.body === 'bad') throw failure;
      },
      {
        concurrency: 1,
        signal: controller.signal,
        onError: (error, message) => void errors.push([error, message]),
      },
    );
    await drain();
    expect(
      calls,
      'bad is nacked (ready again at once) and redelivered until maxReceives 2 [R27]',
    ).toContainEqual(['bad', 2]);
    expect(
      calls.filter(([body]) => body === 'good'),
      'good handled once [R27]',
    ).toEqual([['good', 1]]);
    expect(errors.length, 'onError calls: one per failed handler call [R27]').toBe(2);
    expect(errors[0]![0], 'onError gets the thrown error itself [R27]').toBe(failure);
    expect(errors[0]![1].body, "onError gets the failed handler's message [R27]").toBe('bad');
    expectStats(
      queue,
      { deadLettered: 1 },
      'bad dead-lettered after 2 failed deliveries, good acked',
      '[R27]',
    );
    controller.abort();
  });

  it('nacks the message of a handler that rejects, reporting to console.error by default [R27]', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const queue = guardedQueue({ maxReceives: 1 });
    queue.send('a');
    const failure = new Error('rejected');
    const controller = new AbortController();
    const done = consume(queue, () => Promise.reject(failure), {
      concurrency: 2,
      signal: controller.signal,
    });
    await drain();
    expectStats(
      queue,
      { deadLettered: 1 },
      'after the handler rejected with maxReceives 1: nacked, so dead-lettered',
      '[R27]',
    );
    expect(
      log.mock.calls.some((args) => args.includes(failure)),
      `console.error must be called with the handler's error when no onError is given; calls: ${log.mock.calls.length} [R27]`,
    ).toBe(true);
    expect(await stateOf(done), 'consume() goes on after a failed handler [R27]').toBe('pending');
    controller.abort();
  });

  it('waits for messages by long polling, without a timer firing again and again [R28]', async () => {
    const queue = guardedQueue();
    const counts = countTimers();
    const handled: string[] = [];
    const controller = new AbortController();
    void consume(queue, (message) => void handled.push(message.body), {
      concurrency: 4,
      signal: controller.signal,
    });
    await drain();
    await advance(60_000);
    expect(
      queue.receiveCalls,
      `receive() calls in 60 s on an empty queue (capped at ${RECEIVE_CALLS_CAP}) [R28]`,
    ).toBeLessThanOrEqual(120);
    expect(
      counts().fired,
      'timer callbacks in 60 s of waiting on an empty queue [R28]',
    ).toBeLessThanOrEqual(120);
    queue.send('a');
    await drain();
    expect(handled, 'a message sent after a minute of waiting is handled at once [R28]').toEqual([
      'a',
    ]);
    controller.abort();
  });

  it('stops receiving when the signal aborts, lets running handlers finish, then fulfils [R29]', async () => {
    const queue = guardedQueue();
    for (let i = 0; i < 5; i += 1) queue.send(`m${i}`);
    const { handler, pending } = controlledHandler();
    const controller = new AbortController();
    const done = consume(queue, handler, { concurrency: 2, signal: controller.signal });
    await drain();
    controller.abort();
    await drain();
    expect(await stateOf(done), 'consume() after the abort, with 2 handlers running [R29]').toBe(
      'pending',
    );
    pending.get('m0')!.resolve();
    await drain();
    expect(await stateOf(done), 'with 1 handler still running [R29]').toBe('pending');
    expectStats(
      queue,
      { ready: 3, inFlight: 1 },
      'after the abort: nothing more received',
      '[R29]',
    );
    pending.get('m1')!.resolve();
    await drain();
    expect(await stateOf(done), 'once both running handlers finished [R29]').toBe('fulfilled');
    expectStats(
      queue,
      { ready: 3 },
      'the handlers that finished after the abort were acked',
      '[R29]',
    );
  });

  it('fulfils at once and receives nothing with a signal already aborted [R29]', async () => {
    const queue = guardedQueue();
    queue.send('a');
    let calls = 0;
    const done = consume(queue, () => void (calls += 1), {
      concurrency: 1,
      signal: AbortSignal.abort(),
    });
    await drain();
    expect(await stateOf(done), 'consume() with an aborted signal [R29]').toBe('fulfilled');
    expect(calls, 'handler calls [R29]').toBe(0);
    expectStats(queue, { ready: 1 }, 'nothing received', '[R29]');
  });

  it('fulfils, without rejecting, when aborted while waiting on an empty queue [R29]', async () => {
    const queue = guardedQueue();
    const controller = new AbortController();
    const done = consume(queue, () => undefined, { concurrency: 3, signal: controller.signal });
    await drain();
    controller.abort(new Error('shutting down'));
    await drain();
    const settled = await promiseState(done);
    expect(settled.state, 'consume() aborted while idle must fulfil, not reject [R29]').toBe(
      'fulfilled',
    );
    expect(vi.getTimerCount(), 'timers left after consume() stopped on an empty queue [R29]').toBe(
      0,
    );
  });

  it('stops when the queue is closed, after its running handlers finish, leaving no listener [R30]', async () => {
    const queue = guardedQueue();
    queue.send('a');
    const { handler, pending } = controlledHandler();
    const controller = new AbortController();
    const done = consume(queue, handler, { concurrency: 2, signal: controller.signal });
    await drain();
    queue.close();
    await drain();
    expect(await stateOf(done), 'consume() after close() with a handler running [R30]').toBe(
      'pending',
    );
    pending.get('a')!.resolve();
    await drain();
    expect(await stateOf(done), 'once the running handler finished [R30]').toBe('fulfilled');
    expectStats(queue, {}, 'the handler that finished after close() was acked', '[R30]');
    expect(
      abortListeners(controller.signal),
      'abort listeners left on the signal after consume() fulfilled [R29, R30]',
    ).toBe(0);
  });

  it('stops when the queue is closed while it waits on an empty queue [R30]', async () => {
    const queue = guardedQueue();
    const controller = new AbortController();
    const done = consume(queue, () => undefined, { concurrency: 1, signal: controller.signal });
    await drain();
    queue.close();
    await drain();
    expect(await stateOf(done), 'consume() waiting on an empty queue, after close() [R30]').toBe(
      'fulfilled',
    );
    expect(abortListeners(controller.signal), 'abort listeners left on the signal [R29, R30]').toBe(
      0,
    );
  });

  it.each([0, -1, 1.5, Number.NaN, Infinity, '2'])(
    'rejects concurrency %s with a RangeError (TypeError for a non-number) naming concurrency [R31]',
    async (concurrency) => {
      const queue = guardedQueue();
      queue.send('a');
      let promise: Promise<void>;
      try {
        promise = consume(queue, () => undefined, {
          concurrency: concurrency as number,
          signal: new AbortController().signal,
        });
      } catch (error) {
        if (error instanceof Error && error.name === 'NotImplementedError') throw error;
        expect.fail(
          `consume() with concurrency ${String(concurrency)} threw synchronously (${String(error)}); it must reject [R31]`,
        );
      }
      const settled = await promiseState(promise);
      const type = typeof concurrency === 'number' ? RangeError : TypeError;
      expect(settled.state, `consume() with concurrency ${String(concurrency)} [R31]`).toBe(
        'rejected',
      );
      const reason = (settled as { reason: unknown }).reason;
      expect(
        reason instanceof type,
        `must reject with a ${type.name}, got ${String(reason)} [R31]`,
      ).toBe(true);
      expect((reason as Error).message, 'the message names concurrency [R31]').toContain(
        'concurrency',
      );
      await drain();
      expectStats(queue, { ready: 1 }, 'nothing received', '[R31]');
    },
  );
});
