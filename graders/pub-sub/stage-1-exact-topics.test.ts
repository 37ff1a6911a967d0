import { describe, expect, it, vi } from 'vitest';
import { PubSub } from '@kata/pub-sub';
import { cpuTimeMs, describeRatio, sizeRatio } from '../support/limits.ts';
import {
  INVALID_TOPICS,
  assertModel,
  commands,
  dotted,
  rejectionOf,
  thrownBy,
} from './fixtures.ts';

describe('stage 1: subscribe, publish and unsubscribe on exact topics', () => {
  it('passes the message and the concrete topic to a subscribed handler and returns 1 [R8, R9]', () => {
    const bus = new PubSub();
    const handler = vi.fn();
    bus.subscribe('orders.created', handler);
    const called = bus.publish('orders.created', { id: 7 });
    expect(
      handler,
      'publish("orders.created", { id: 7 }) calls the handler with (message, topic) [R8]',
    ).toHaveBeenCalledWith({ id: 7 }, 'orders.created');
    expect(called, 'publish returns how many handlers it called [R9]').toBe(1);
  });

  it('calls matching handlers synchronously, in subscription order, and returns how many it called [R8, R9]', () => {
    const bus = new PubSub();
    const log: string[] = [];
    bus.subscribe('a.b', () => void log.push('first'));
    bus.subscribe('a.c', () => void log.push('other topic'));
    bus.subscribe('a.b', () => void log.push('second'));
    bus.subscribe('a.b', () => void log.push('third'));
    const called = bus.publish('a.b', 1);
    expect(
      log,
      'three handlers on "a.b" run before publish returns, in the order they subscribed [R8]',
    ).toEqual(['first', 'second', 'third']);
    expect(called, 'publish("a.b") called three handlers [R9]').toBe(3);
  });

  it('calls nothing and returns 0 when no subscription matches the topic [R4, R9]', () => {
    const bus = new PubSub();
    const handler = vi.fn();
    bus.subscribe('a.b', handler);
    for (const topic of ['a', 'a.b.c', 'a.c', 'b.a', 'ab']) {
      expect(bus.publish(topic, 1), `"a.b" does not match the topic "${topic}" [R4, R9]`).toBe(0);
    }
    expect(
      handler,
      'an exact pattern matches only the identical topic [R4]',
    ).not.toHaveBeenCalled();
  });

  it('treats the same handler subscribed twice as two subscriptions, removed one at a time [R6]', () => {
    const bus = new PubSub();
    const handler = vi.fn();
    const unsubscribeFirst = bus.subscribe('t', handler);
    bus.subscribe('t', handler);
    expect(
      bus.publish('t', 1),
      'the same handler subscribed twice to "t" is called twice [R6]',
    ).toBe(2);
    expect(bus.listenerCount('t'), 'two subscribe calls are two subscriptions [R6]').toBe(2);
    unsubscribeFirst();
    expect(
      bus.publish('t', 2),
      'unsubscribing one of the two subscriptions leaves the other: the handler is still called once [R6]',
    ).toBe(1);
    expect(handler, 'called twice for message 1, once for message 2 [R6]').toHaveBeenCalledTimes(3);
    expect(bus.listenerCount('t'), 'one subscription is left [R6]').toBe(1);
  });

  it('makes unsubscribe idempotent: a second call removes nothing else [R7]', () => {
    const bus = new PubSub();
    const first = vi.fn();
    const second = vi.fn();
    const third = vi.fn();
    const unsubscribeFirst = bus.subscribe('t', first);
    bus.subscribe('t', second);
    bus.subscribe('t', third);
    unsubscribeFirst();
    unsubscribeFirst();
    unsubscribeFirst();
    const called = bus.publish('t', 1);
    expect(first, 'an unsubscribed handler is not called [R7]').not.toHaveBeenCalled();
    expect(
      [second.mock.calls.length, third.mock.calls.length, called],
      'calling the same unsubscribe three times must not remove the other subscriptions [R7]',
    ).toEqual([1, 1, 2]);
  });

  it('counts the subscriptions matching a topic with listenerCount [R10]', () => {
    const bus = new PubSub();
    expect(bus.listenerCount('a.b'), 'a new bus has no subscriptions [R10]').toBe(0);
    const unsubscribe = bus.subscribe('a.b', () => {});
    bus.subscribe('a.b', () => {});
    bus.subscribe('a.c', () => {});
    expect(bus.listenerCount('a.b'), 'two subscriptions to "a.b" [R10]').toBe(2);
    expect(bus.listenerCount('a.c'), 'one subscription to "a.c" [R10]').toBe(1);
    expect(bus.listenerCount('a'), 'nothing is subscribed to "a" [R10]').toBe(0);
    unsubscribe();
    expect(bus.listenerCount('a.b'), 'one of the two "a.b" subscriptions was removed [R10]').toBe(
      1,
    );
  });

  it('agrees with a model of the bus over random subscribe, unsubscribe, publish and listenerCount sequences on exact topics [R6, R7, R8, R9, R10]', async () => {
    await assertModel(
      'On exact topics, publish calls the live subscriptions whose pattern equals the topic, in ' +
        'subscription order, and returns their number; listenerCount agrees; each unsubscribe ' +
        'removes its own subscription only, and calling it again does nothing',
      commands({ patterns: dotted(['a', 'b'], 2), topics: dotted(['a', 'b'], 2) }),
      '[R6, R7, R8, R9, R10]',
      0.5,
    );
  });

  it.each(INVALID_TOPICS)(
    'rejects the invalid topic %j in publish and listenerCount with a TypeError naming the topic [R1]',
    (topic) => {
      const bus = new PubSub();
      const handler = vi.fn();
      bus.subscribe('#', handler);
      for (const [name, call] of [
        ['publish', () => bus.publish(topic, 1)],
        ['listenerCount', () => bus.listenerCount(topic)],
      ] as const) {
        const error = thrownBy(call);
        expect(
          error,
          `${name}(${JSON.stringify(topic)}) throws a TypeError: topics are non-empty segments without * or # [R1]`,
        ).toBeInstanceOf(TypeError);
        expect(
          (error as Error).message,
          `${name}(${JSON.stringify(topic)}): the message names the topic [R1]`,
        ).toMatch(/topic/i);
      }
      expect(handler, 'nothing is delivered on an invalid topic [R1]').not.toHaveBeenCalled();
    },
  );

  it('rejects a topic that is not a string in publish and listenerCount with a TypeError naming the topic [R1]', () => {
    const bus = new PubSub();
    bus.subscribe('#', () => {});
    for (const topic of [undefined, null, 42]) {
      for (const [name, call] of [
        ['publish', () => bus.publish(topic as unknown as string, 1)],
        ['listenerCount', () => bus.listenerCount(topic as unknown as string)],
      ] as const) {
        const error = thrownBy(call);
        expect(
          error,
          `${name}(${String(topic)}) throws a TypeError: a topic is a string [R1]`,
        ).toBeInstanceOf(TypeError);
        expect(
          (error as Error).message,
          `${name}(${String(topic)}): the message names the topic [R1]`,
        ).toMatch(/topic/i);
      }
    }
  });

  it.each([...INVALID_TOPICS, null])(
    'rejects the invalid topic %j in publishAsync with a rejected TypeError, never a synchronous throw [R2]',
    async (topic) => {
      const bus = new PubSub();
      const handler = vi.fn();
      bus.subscribe('#', handler);
      let result: Promise<number> | undefined;
      const syncError = thrownBy(() => {
        result = bus.publishAsync(topic as string, 1);
      });
      expect(
        syncError,
        `publishAsync(${JSON.stringify(topic)}) returns a promise: it rejects rather than throwing [R2]`,
      ).toBeUndefined();
      const error = await rejectionOf(result!);
      expect(
        error,
        `publishAsync(${JSON.stringify(topic)}) rejects with a TypeError [R2]`,
      ).toBeInstanceOf(TypeError);
      expect((error as Error).message, 'the message names the topic [R2]').toMatch(/topic/i);
      expect(handler, 'nothing is delivered on an invalid topic [R2]').not.toHaveBeenCalled();
    },
  );

  it('rejects a handler that is not a function with a TypeError naming handler, subscribing nothing [R16]', () => {
    const bus = new PubSub();
    for (const handler of ['not a function', undefined, { handleEvent() {} }]) {
      const error = thrownBy(() => bus.subscribe('t', handler as unknown as () => void));
      expect(
        error,
        `subscribe("t", ${JSON.stringify(handler) ?? 'undefined'}) throws a TypeError [R16]`,
      ).toBeInstanceOf(TypeError);
      expect((error as Error).message, 'the message names the handler [R16]').toMatch(/handler/i);
    }
    expect(bus.listenerCount('t'), 'a rejected subscribe subscribes nothing [R16]').toBe(0);
  });

  it('rejects an onError that is not a function with a TypeError naming onError [R17]', () => {
    for (const onError of [42, 'console.error']) {
      const error = thrownBy(() => new PubSub({ onError: onError as unknown as () => void }));
      expect(
        error,
        `new PubSub({ onError: ${JSON.stringify(onError)} }) throws a TypeError [R17]`,
      ).toBeInstanceOf(TypeError);
      expect((error as Error).message, 'the message names onError [R17]').toMatch(/onError/i);
    }
  });

  it('subscribes and unsubscribes at a cost that does not grow with the number of subscriptions [R37]', () => {
    const noop = (): void => {};
    const perSample = 80;
    const samples = 9;
    // Subscribes: 80 on a bus of 100 subscriptions against 80 on a bigger bus, interleaved and
    // each sample's subscriptions removed again (untimed), checked as the bigger bus grows, so a
    // subscribe that copies the list is caught before a quadratic build of the whole bus.
    const tiny = new PubSub();
    for (let i = 0; i < 100; i += 1) tiny.subscribe('t', noop);
    const big = new PubSub();
    const bigUnsubscribes: Array<() => void> = [];
    const subscribeCost = (bus: PubSub): number => {
      const added: Array<() => void> = [];
      const used = cpuTimeMs(() => {
        for (let i = 0; i < perSample; i += 1) added.push(bus.subscribe('t', noop));
      });
      for (const unsubscribe of added) unsubscribe();
      return used;
    };
    for (const size of [10_000, 50_000]) {
      while (bigUnsubscribes.length < size) bigUnsubscribes.push(big.subscribe('t', noop));
      const measured = sizeRatio(
        (which) => (which === 100 ? () => subscribeCost(tiny) : () => subscribeCost(big)),
        { small: 100, large: size },
        samples,
      );
      expect(
        measured.ratio,
        `80 subscribes on a bus of ${size.toLocaleString('en-US')} subscriptions vs 100, CPU time: ` +
          `${describeRatio(measured, { small: 100, large: size })}. O(1) bookkeeping measures about 1 to 2; ` +
          'a subscribe that copies the list measures about the ratio of the sizes [R37]',
      ).toBeLessThan(8);
    }
    // Unsubscribes: 80 taken from the middle of a bus of 1,000 against 80 from the middle of the
    // bus of 50,000, so one that searches a list (indexOf, filter) scans about half of it.
    const small = new PubSub();
    const smallUnsubscribes: Array<() => void> = [];
    for (let i = 0; i < 1_000; i += 1) smallUnsubscribes.push(small.subscribe('t', noop));
    const middle = (all: Array<() => void>): Array<() => void> => {
      const spread = perSample * (samples + 1);
      const from = Math.floor(all.length / 2 - spread / 2);
      return all.slice(from, from + spread);
    };
    const pools = new Map([
      [1_000, middle(smallUnsubscribes)],
      [50_000, middle(bigUnsubscribes)],
    ]);
    const sizes = { small: 1_000, large: 50_000 };
    const unsubscribing = sizeRatio(
      (size) => {
        const pool = pools.get(size)!;
        return () => {
          for (let i = 0; i < perSample; i += 1) pool.pop()!();
        };
      },
      sizes,
      samples,
    );
    expect(
      unsubscribing.ratio,
      `80 unsubscribes on a bus of 50,000 subscriptions vs 1,000, CPU time: ${describeRatio(unsubscribing, sizes)}. ` +
        'O(1) bookkeeping measures about 1 to 2; an unsubscribe that searches a list measures tens [R37]',
    ).toBeLessThan(8);
    expect(
      [small.listenerCount('t'), big.listenerCount('t')],
      'after 800 unsubscribes from each bus, 200 and 49,200 subscriptions remain [R37]',
    ).toEqual([200, 49_200]);
  });
});
