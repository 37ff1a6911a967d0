import { describe, expect, it, vi } from 'vitest';
import { PubSub } from '@kata/pub-sub';
import { advance, useFakeClock } from '../support/clock.ts';
import { collectGarbage, countTimers } from '../support/limits.ts';
import { promiseState } from '../support/promises.ts';
import { abortListeners, read, rejectionOf, thrownBy } from './fixtures.ts';

/** How many of the objects behind `refs` are still alive after a full garbage collection. */
async function aliveAfterCollection(refs: ReadonlyArray<WeakRef<object>>): Promise<number> {
  // An object touched during the current job is kept until the job ends: let it end first.
  await new Promise((resolve) => setImmediate(resolve));
  collectGarbage();
  return refs.filter((ref) => ref.deref() !== undefined).length;
}

describe('stage 5: async iteration with stream()', () => {
  it('yields the matching messages in publish order [R26]', async () => {
    const bus = new PubSub();
    const messages = bus.stream<number>('orders.*');
    bus.publish('orders.created', 1);
    bus.publish('payments.created', 99);
    bus.publish('orders.paid', 2);
    bus.publish('orders.eu.created', 98);
    bus.publish('orders.shipped', 3);
    expect(
      await read(messages, 3),
      'stream("orders.*") yields only the messages of matching topics, in order [R26]',
    ).toEqual([1, 2, 3]);
    expect(
      (await promiseState(messages.next())).state,
      'with nothing buffered, the next read waits [R26]',
    ).toBe('pending');
  });

  it('subscribes when called, counting in listenerCount before any read [R25]', () => {
    const bus = new PubSub();
    bus.stream('a.#');
    expect(
      bus.listenerCount('a.b'),
      'stream() subscribes at once, not on the first read [R25]',
    ).toBe(1);
  });

  it('hands a message to a read that is already waiting [R26]', async () => {
    const bus = new PubSub();
    const messages = bus.stream<string>('t');
    const pending = messages.next();
    expect(
      (await promiseState(pending)).state,
      'nothing is published yet: the read waits [R26]',
    ).toBe('pending');
    bus.publish('t', 'hello');
    expect(
      await promiseState(pending),
      'the waiting read gets the published message [R26]',
    ).toEqual({
      state: 'fulfilled',
      value: { value: 'hello', done: false },
    });
  });

  it('serves reads made before any message arrives in the order they were made [R26]', async () => {
    const bus = new PubSub();
    const messages = bus.stream<number>('t');
    const first = messages.next();
    const second = messages.next();
    bus.publish('t', 1);
    bus.publish('t', 2);
    expect(
      [await promiseState(first), await promiseState(second)],
      'two reads waiting, then messages 1 and 2: each read gets its own message, in order [R26]',
    ).toEqual([
      { state: 'fulfilled', value: { value: 1, done: false } },
      { state: 'fulfilled', value: { value: 2, done: false } },
    ]);
  });

  it('buffers up to bufferSize messages while the consumer is slow, without dropping any [R28]', async () => {
    for (const overflow of ['drop-oldest', 'drop-newest', 'error'] as const) {
      const bus = new PubSub();
      const messages = bus.stream<number>('t', { bufferSize: 3, overflow });
      bus.publish('t', 1);
      bus.publish('t', 2);
      bus.publish('t', 3);
      expect(
        await read(messages, 3),
        `bufferSize 3, overflow ${overflow}: three unread messages fit exactly, none is dropped [R28]`,
      ).toEqual([1, 2, 3]);
    }
  });

  it('drops the oldest buffered message on overflow by default [R30]', async () => {
    const bus = new PubSub();
    const messages = bus.stream<number>('t', { bufferSize: 2 });
    for (const n of [1, 2, 3, 4, 5]) bus.publish('t', n);
    expect(
      await read(messages, 2),
      'bufferSize 2, five messages unread: the default policy keeps the newest two [R30]',
    ).toEqual([4, 5]);
    expect(
      (await promiseState(messages.next())).state,
      'only two were kept: the third read waits [R30]',
    ).toBe('pending');
  });

  it("drops the oldest buffered message with overflow 'drop-oldest' [R30]", async () => {
    const bus = new PubSub();
    const messages = bus.stream<number>('t', { bufferSize: 2, overflow: 'drop-oldest' });
    for (const n of [1, 2, 3, 4, 5]) bus.publish('t', n);
    expect(
      await read(messages, 2),
      "bufferSize 2, 'drop-oldest', messages 1..5 unread: 4 and 5 remain [R30]",
    ).toEqual([4, 5]);
  });

  it("drops the incoming message with overflow 'drop-newest' [R31]", async () => {
    const bus = new PubSub();
    const messages = bus.stream<number>('t', { bufferSize: 2, overflow: 'drop-newest' });
    for (const n of [1, 2, 3, 4, 5]) bus.publish('t', n);
    expect(
      await read(messages, 2),
      "bufferSize 2, 'drop-newest', messages 1..5 unread: 1 and 2 remain [R31]",
    ).toEqual([1, 2]);
    expect(
      (await promiseState(messages.next())).state,
      'messages 3..5 were dropped, not queued [R31]',
    ).toBe('pending');
  });

  it('holds 1024 messages by default [R28, R30]', async () => {
    const bus = new PubSub();
    const messages = bus.stream<number>('t');
    for (let n = 1; n <= 1025; n += 1) bus.publish('t', n);
    const values = await read(messages, 1024);
    expect(
      [values[0], values[1023]],
      'default bufferSize 1024 and drop-oldest: after 1025 unread messages, 2..1025 remain [R28, R30]',
    ).toEqual([2, 1025]);
    expect(
      (await promiseState(messages.next())).state,
      'only 1024 were kept: read 1025 waits [R28, R30]',
    ).toBe('pending');
  });

  it("ends the stream on overflow with 'error': it unsubscribes, discards the buffer and the next read rejects with code ERR_BUFFER_OVERFLOW [R32]", async () => {
    const bus = new PubSub();
    const controller = new AbortController();
    const messages = bus.stream<number>('t', {
      bufferSize: 2,
      overflow: 'error',
      signal: controller.signal,
    });
    bus.publish('t', 1);
    bus.publish('t', 2);
    bus.publish('t', 3);
    expect(
      bus.listenerCount('t'),
      "a third unread message overflows bufferSize 2: 'error' unsubscribes at once [R32]",
    ).toBe(0);
    const error = await rejectionOf(messages.next());
    expect(
      error,
      'the next read rejects with an Error (the buffered 1 and 2 are discarded) [R32]',
    ).toBeInstanceOf(Error);
    expect((error as { code?: unknown }).code, "the error's code [R32]").toBe(
      'ERR_BUFFER_OVERFLOW',
    );
    expect(
      await promiseState(messages.next()),
      'reads after the overflow error are done [R32]',
    ).toEqual({
      state: 'fulfilled',
      value: { value: undefined, done: true },
    });
    expect(
      abortListeners(controller.signal),
      'the ended stream leaves no abort listener on its signal [R41]',
    ).toBe(0);
  });

  it.each(['drop-newest', 'error'] as const)(
    "gives a message handed straight to a waiting read no buffer room (overflow '%s') [R27]",
    async (overflow) => {
      const bus = new PubSub();
      const messages = bus.stream<number>('t', { bufferSize: 1, overflow });
      const waiting = messages.next();
      bus.publish('t', 1);
      bus.publish('t', 2);
      expect(
        await promiseState(waiting),
        'a read was waiting, so message 1 goes straight to it [R27]',
      ).toEqual({ state: 'fulfilled', value: { value: 1, done: false } });
      expect(
        await promiseState(messages.next()),
        'bufferSize 1: message 2 fits because message 1, handed to the waiting read, took no room [R27]',
      ).toEqual({ state: 'fulfilled', value: { value: 2, done: false } });
    },
  );

  it('unsubscribes and leaves no abort listener when a for await loop breaks [R34]', async () => {
    const bus = new PubSub();
    const controller = new AbortController();
    const messages = bus.stream<number>('t', { signal: controller.signal });
    bus.publish('t', 1);
    bus.publish('t', 2);
    const seen: number[] = [];
    for await (const message of messages) {
      seen.push(message);
      break;
    }
    expect(seen, 'the loop read message 1, then broke [R34]').toEqual([1]);
    expect(
      bus.listenerCount('t'),
      '`break` ends the iteration: the stream must unsubscribe [R34]',
    ).toBe(0);
    expect(
      abortListeners(controller.signal),
      "and remove its abort listener from the caller's signal [R34, R41]",
    ).toBe(0);
  });

  it('unsubscribes on return() and is done from then on [R34]', async () => {
    const bus = new PubSub();
    const messages = bus.stream<number>('t');
    bus.publish('t', 1);
    const returned = await promiseState(messages.return!());
    expect(
      returned.state === 'fulfilled' && returned.value.done,
      'return() resolves to a done result [R34]',
    ).toBe(true);
    expect(bus.listenerCount('t'), 'return() unsubscribes [R34]').toBe(0);
    bus.publish('t', 2);
    expect(await promiseState(messages.next()), 'after return(), reads are done [R34]').toEqual({
      state: 'fulfilled',
      value: { value: undefined, done: true },
    });
  });

  it('settles a read still waiting when return() ends the stream: it is done [R34]', async () => {
    const bus = new PubSub();
    const messages = bus.stream<number>('t');
    const pending = messages.next();
    const returned = await promiseState(messages.return!());
    expect(
      returned.state === 'fulfilled' && returned.value.done,
      'return() while a read waits resolves to a done result [R34]',
    ).toBe(true);
    expect(
      await promiseState(pending),
      'the read that was waiting when return() ended the stream is done, not left pending forever [R34]',
    ).toEqual({ state: 'fulfilled', value: { value: undefined, done: true } });
  });

  it("rejects the pending read with the signal's reason on abort, and unsubscribes [R35]", async () => {
    const bus = new PubSub();
    const controller = new AbortController();
    const messages = bus.stream<number>('t', { signal: controller.signal });
    const pending = messages.next();
    expect(
      (await promiseState(pending)).state,
      'nothing is published yet: the read waits [R35]',
    ).toBe('pending');
    const reason = new Error('consumer gone');
    controller.abort(reason);
    expect(
      await rejectionOf(pending),
      'aborting rejects the read that was waiting with signal.reason [R35]',
    ).toBe(reason);
    expect(bus.listenerCount('t'), 'aborting unsubscribes [R35]').toBe(0);
  });

  it("discards the buffer on abort: the next read rejects with the signal's reason [R35]", async () => {
    const bus = new PubSub();
    const controller = new AbortController();
    const messages = bus.stream<number>('t', { signal: controller.signal });
    bus.publish('t', 1);
    bus.publish('t', 2);
    const reason = new Error('stop');
    controller.abort(reason);
    expect(
      await rejectionOf(messages.next()),
      'buffered 1 and 2 are discarded; the next read rejects with signal.reason [R35]',
    ).toBe(reason);
    expect(bus.listenerCount('t'), 'aborting unsubscribes [R35]').toBe(0);
  });

  it('subscribes nothing for an already-aborted signal and reports its reason [R36]', async () => {
    const bus = new PubSub();
    const reason = new Error('already aborted');
    const signal = AbortSignal.abort(reason);
    let messages: AsyncIterableIterator<number> | undefined;
    const thrown = thrownBy(() => {
      messages = bus.stream<number>('t', { signal });
    });
    expect(bus.listenerCount('t'), 'an already-aborted signal subscribes nothing [R36]').toBe(0);
    if (thrown === undefined) {
      expect(
        await rejectionOf(messages!.next()),
        'the first read rejects with signal.reason [R36]',
      ).toBe(reason);
    } else {
      expect(
        thrown,
        'stream() may throw signal.reason at once for an already-aborted signal [R36]',
      ).toBe(reason);
    }
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'rejects bufferSize %s with a RangeError naming bufferSize [R29]',
    (bufferSize) => {
      const bus = new PubSub();
      const error = thrownBy(() => bus.stream('t', { bufferSize }));
      expect(
        error,
        `stream("t", { bufferSize: ${bufferSize} }) throws a RangeError: it must be an integer >= 1 [R29]`,
      ).toBeInstanceOf(RangeError);
      expect((error as Error).message, 'the message names bufferSize [R29]').toMatch(/bufferSize/i);
      expect(bus.listenerCount('t'), 'a rejected stream subscribes nothing [R29]').toBe(0);
    },
  );

  it('rejects an unknown overflow policy with an error naming overflow [R33]', () => {
    const bus = new PubSub();
    const error = thrownBy(() => bus.stream('t', { overflow: 'drop-all' as 'error' }));
    expect(
      error instanceof TypeError || error instanceof RangeError,
      `stream("t", { overflow: "drop-all" }) throws a TypeError (or RangeError); got ${String(error)} [R33]`,
    ).toBe(true);
    expect((error as Error).message, 'the message names overflow [R33]').toMatch(/overflow/i);
  });

  it("keeps no more than bufferSize unread messages alive when it drops them ('drop-oldest' and 'drop-newest') [R40]", async () => {
    const bus = new PubSub();
    const bufferSize = 8;
    const policies = ['drop-oldest', 'drop-newest'] as const;
    const streams = policies.map((overflow) =>
      bus.stream<{ n: number }>('t', { bufferSize, overflow }),
    );
    const refs: Array<WeakRef<object>> = [];
    for (let n = 0; n < 1_000; n += 1) {
      const message = { n };
      refs.push(new WeakRef(message));
      bus.publish('t', message);
    }
    const alive = await aliveAfterCollection(refs);
    expect(
      alive,
      `1,000 messages published to two unread streams with bufferSize 8, one 'drop-oldest' and one ` +
        `'drop-newest': ${alive} of them are still referenced after garbage collection. A buffer must ` +
        'drop messages as they overflow, not keep them all and trim later (up to 32 is allowed: 16 ' +
        'per stream, for a buffer that compacts lazily) [R40]',
    ).toBeLessThanOrEqual(2 * 2 * bufferSize);
    const firsts = await Promise.all(streams.map(async (stream) => (await read(stream, 1))[0]?.n));
    expect(
      firsts,
      "the streams still yield what they kept: 'drop-oldest' the newest 8, 'drop-newest' the first 8 [R30, R31]",
    ).toEqual([1_000 - bufferSize, 0]);
  });

  it('keeps no message alive once it has been read [R40]', async () => {
    const bus = new PubSub();
    const bufferSize = 4;
    const messages = bus.stream<{ n: number }>('t', { bufferSize });
    const refs: Array<WeakRef<object>> = [];
    for (let n = 0; n < 200; n += 1) {
      const message = { n };
      refs.push(new WeakRef(message));
      bus.publish('t', message); // buffered: no read is waiting
      const state = await promiseState(messages.next());
      if (state.state !== 'fulfilled' || state.value.value !== message) {
        throw new Error(`read ${n + 1} did not yield the message just published [R26]`);
      }
    }
    const alive = await aliveAfterCollection(refs);
    expect(
      alive,
      `200 messages each published, buffered and read in turn: ${alive} of them are still referenced ` +
        'after garbage collection. A message handed to a read leaves the buffer (a queue read by a head ' +
        'index must release its slots) [R40]',
    ).toBeLessThanOrEqual(2 * bufferSize);
  });

  it('keeps at most one abort listener while it lives, during each waiting read, and none once it has ended [R41]', async () => {
    const ends = {
      'break out of for await': async (messages: AsyncIterableIterator<number>) => {
        for await (const _ of messages) break;
      },
      'return()': async (messages: AsyncIterableIterator<number>) => {
        await messages.return!();
      },
      abort: async (_: AsyncIterableIterator<number>, controller: AbortController) => {
        controller.abort(new Error('stop'));
      },
      "overflow 'error'": async (
        _: AsyncIterableIterator<number>,
        __: AbortController,
        bus: PubSub,
      ) => {
        bus.publish('t', -1);
        bus.publish('t', -2);
      },
    };
    for (const [how, end] of Object.entries(ends)) {
      const bus = new PubSub();
      const controller = new AbortController();
      const { signal } = controller;
      const messages = bus.stream<number>('t', { signal, bufferSize: 1, overflow: 'error' });
      expect(
        abortListeners(signal),
        `a new stream: at most one abort listener [R41]`,
      ).toBeLessThanOrEqual(1);
      for (let n = 0; n < 3; n += 1) {
        const waiting = messages.next();
        await promiseState(waiting);
        expect(
          abortListeners(signal),
          `read ${n + 1} is waiting: still at most one abort listener, not one per read [R41]`,
        ).toBeLessThanOrEqual(1);
        bus.publish('t', n);
        await promiseState(waiting);
        expect(
          abortListeners(signal),
          `read ${n + 1} got its message: at most one abort listener [R41]`,
        ).toBeLessThanOrEqual(1);
      }
      bus.publish('t', 99); // buffered, so break and return() end a stream holding a message
      await end(messages, controller, bus);
      await promiseState(messages.next());
      expect(
        bus.listenerCount('t'),
        `the stream ended by ${how} is unsubscribed [R32, R34, R35]`,
      ).toBe(0);
      expect(
        abortListeners(signal),
        `the stream ended by ${how}: no abort listener may stay on the caller's signal [R41]`,
      ).toBe(0);
    }
  });

  it('waits for a message without timers, and leaves none behind once it has ended [R42]', async () => {
    useFakeClock();
    const timers = countTimers();
    const bus = new PubSub();
    const messages = bus.stream<number>('t');
    const waiting = messages.next();
    await advance(10_000);
    expect(
      timers().fired,
      'a read waited 10 s of fake time for a message: no timer callback should run (a publish wakes it, ' +
        'polling does not) [R42]',
    ).toBeLessThanOrEqual(1);
    bus.publish('t', 1);
    expect(
      await promiseState(waiting),
      'the publish itself hands the message to the waiting read [R42]',
    ).toEqual({ state: 'fulfilled', value: { value: 1, done: false } });
    const next = messages.next();
    await messages.return!();
    await promiseState(next);
    expect(vi.getTimerCount(), 'the stream has ended: nothing may stay scheduled [R42]').toBe(0);
  });
});
