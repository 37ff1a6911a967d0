import { getEventListeners } from 'node:events';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { PubSub } from '@kata/pub-sub';
import { deferred, flushMicrotasks, promiseState } from '../support/promises.ts';
import { assertProperty } from '../support/property.ts';

/** The contract's pattern rules, written as plainly as possible: the model the property compares against. */
function modelMatches(pattern: readonly string[], topic: readonly string[]): boolean {
  if (pattern.length === 0) return topic.length === 0;
  const [head, ...rest] = pattern;
  if (head === '#') {
    return modelMatches(rest, topic) || (topic.length > 0 && modelMatches(pattern, topic.slice(1)));
  }
  if (topic.length === 0) return false;
  return (head === '*' || head === topic[0]) && modelMatches(rest, topic.slice(1));
}

const abortListeners = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length;

/** Calls `fn` and returns what it threw (or `undefined`), so a test can check class and message together. */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** The rejection of `promise` (which must already have settled), or a marker if it did not reject. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  const state = await promiseState(promise);
  return state.state === 'rejected' ? state.reason : `<no rejection: ${state.state}>`;
}

const INVALID_TOPICS = ['', 'a..b', '.a', 'a.', 'a.*', 'a.#', '*', '#', 'a*b', 'or#ders'];
const MALFORMED_PATTERNS = [
  '',
  '.',
  'a..b',
  '.a',
  'a.',
  'a.#b',
  'a#',
  '**',
  '*a',
  'a.*b',
  '##',
  '#*',
];

describe('stage 1: subscribe, publish and unsubscribe on exact topics', () => {
  it('passes the message and the concrete topic to a subscribed handler and returns 1', () => {
    const bus = new PubSub();
    const handler = vi.fn();
    bus.subscribe('orders.created', handler);
    const called = bus.publish('orders.created', { id: 7 });
    expect(
      handler,
      'publish("orders.created", { id: 7 }) calls the handler with (message, topic)',
    ).toHaveBeenCalledWith({ id: 7 }, 'orders.created');
    expect(called, 'publish returns how many handlers it called').toBe(1);
  });

  it('calls matching handlers synchronously, in subscription order, and returns how many it called', () => {
    const bus = new PubSub();
    const log: string[] = [];
    bus.subscribe('a.b', () => void log.push('first'));
    bus.subscribe('a.c', () => void log.push('other topic'));
    bus.subscribe('a.b', () => void log.push('second'));
    bus.subscribe('a.b', () => void log.push('third'));
    const called = bus.publish('a.b', 1);
    expect(
      log,
      'three handlers on "a.b" run before publish returns, in the order they subscribed',
    ).toEqual(['first', 'second', 'third']);
    expect(called, 'publish("a.b") called three handlers').toBe(3);
  });

  it('calls nothing and returns 0 when no subscription matches the topic', () => {
    const bus = new PubSub();
    const handler = vi.fn();
    bus.subscribe('a.b', handler);
    for (const topic of ['a', 'a.b.c', 'a.c', 'b.a', 'ab']) {
      expect(bus.publish(topic, 1), `"a.b" does not match the topic "${topic}"`).toBe(0);
    }
    expect(handler, 'an exact pattern matches only the identical topic').not.toHaveBeenCalled();
  });

  it('treats the same handler subscribed twice as two subscriptions, removed one at a time', () => {
    const bus = new PubSub();
    const handler = vi.fn();
    const unsubscribeFirst = bus.subscribe('t', handler);
    bus.subscribe('t', handler);
    expect(bus.publish('t', 1), 'the same handler subscribed twice to "t" is called twice').toBe(2);
    expect(bus.listenerCount('t'), 'two subscribe calls are two subscriptions').toBe(2);
    unsubscribeFirst();
    expect(
      bus.publish('t', 2),
      'unsubscribing one of the two subscriptions leaves the other: the handler is still called once',
    ).toBe(1);
    expect(handler).toHaveBeenCalledTimes(3);
    expect(bus.listenerCount('t')).toBe(1);
  });

  it('makes unsubscribe idempotent: a second call removes nothing else', () => {
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
    expect(first, 'an unsubscribed handler is not called').not.toHaveBeenCalled();
    expect(
      [second.mock.calls.length, third.mock.calls.length, called],
      'calling the same unsubscribe three times must not remove the other subscriptions',
    ).toEqual([1, 1, 2]);
  });

  it('counts the subscriptions matching a topic with listenerCount', () => {
    const bus = new PubSub();
    expect(bus.listenerCount('a.b'), 'a new bus has no subscriptions').toBe(0);
    const unsubscribe = bus.subscribe('a.b', () => {});
    bus.subscribe('a.b', () => {});
    bus.subscribe('a.c', () => {});
    expect(bus.listenerCount('a.b'), 'two subscriptions to "a.b"').toBe(2);
    expect(bus.listenerCount('a.c')).toBe(1);
    expect(bus.listenerCount('a')).toBe(0);
    unsubscribe();
    expect(bus.listenerCount('a.b'), 'one of the two "a.b" subscriptions was removed').toBe(1);
  });

  it.each(INVALID_TOPICS)(
    'rejects the invalid topic %j in publish and listenerCount with a TypeError naming the topic',
    (topic) => {
      const bus = new PubSub();
      bus.subscribe('#', () => {});
      for (const [name, call] of [
        ['publish', () => bus.publish(topic, 1)],
        ['listenerCount', () => bus.listenerCount(topic)],
      ] as const) {
        const error = thrownBy(call);
        expect(
          error,
          `${name}(${JSON.stringify(topic)}) throws a TypeError: topics are non-empty segments without * or #`,
        ).toBeInstanceOf(TypeError);
        expect((error as Error).message, 'the message names the topic').toMatch(/topic/i);
      }
    },
  );

  it.each(INVALID_TOPICS)(
    'rejects the invalid topic %j in publishAsync with a rejected TypeError',
    async (topic) => {
      const bus = new PubSub();
      const handler = vi.fn();
      bus.subscribe('#', handler);
      let result: Promise<number> | undefined;
      const syncError = thrownBy(() => {
        result = bus.publishAsync(topic, 1);
      });
      expect(
        syncError,
        `publishAsync(${JSON.stringify(topic)}) returns a promise: it rejects rather than throwing`,
      ).toBeUndefined();
      const error = await rejectionOf(result!);
      expect(
        error,
        `publishAsync(${JSON.stringify(topic)}) rejects with a TypeError`,
      ).toBeInstanceOf(TypeError);
      expect((error as Error).message, 'the message names the topic').toMatch(/topic/i);
      expect(handler, 'nothing is delivered on an invalid topic').not.toHaveBeenCalled();
    },
  );

  it('rejects a topic that is not a string in publish and listenerCount with a TypeError naming the topic', () => {
    const bus = new PubSub();
    bus.subscribe('#', () => {});
    for (const topic of [undefined, null]) {
      for (const [name, call] of [
        ['publish', () => bus.publish(topic as unknown as string, 1)],
        ['listenerCount', () => bus.listenerCount(topic as unknown as string)],
      ] as const) {
        const error = thrownBy(call);
        expect(
          error,
          `${name}(${String(topic)}) throws a TypeError: a topic is a string`,
        ).toBeInstanceOf(TypeError);
        expect(
          (error as Error).message,
          `${name}(${String(topic)}): the message names the topic`,
        ).toMatch(/topic/i);
      }
    }
  });

  it('rejects a handler that is not a function with a TypeError naming handler', () => {
    const bus = new PubSub();
    const error = thrownBy(() => bus.subscribe('t', 'not a function' as unknown as () => void));
    expect(error, 'subscribe("t", "not a function") throws a TypeError').toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/handler/i);
  });

  it('rejects an onError that is not a function with a TypeError naming onError', () => {
    const error = thrownBy(() => new PubSub({ onError: 42 as unknown as () => void }));
    expect(error, 'new PubSub({ onError: 42 }) throws a TypeError').toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/onError/i);
  });
});

describe('stage 2: wildcard patterns', () => {
  it('rejects a pattern that is not a string in subscribe and stream with a TypeError naming the pattern', () => {
    const bus = new PubSub();
    for (const pattern of [undefined, null]) {
      for (const [name, call] of [
        ['subscribe', () => bus.subscribe(pattern as unknown as string, () => {})],
        ['stream', () => bus.stream(pattern as unknown as string)],
      ] as const) {
        const error = thrownBy(call);
        expect(
          error,
          `${name}(${String(pattern)}) throws a TypeError: a pattern is a string`,
        ).toBeInstanceOf(TypeError);
        expect(
          (error as Error).message,
          `${name}(${String(pattern)}): the message names the pattern`,
        ).toMatch(/pattern/i);
      }
    }
  });

  const table: Array<[pattern: string, topic: string, matches: boolean]> = [
    ['*', 'a', true],
    ['*', 'a.b', false],
    ['a.*', 'a.b', true],
    ['a.*', 'a', false],
    ['a.*', 'a.b.c', false],
    ['*.b', 'a.b', true],
    ['*.b', 'b', false],
    ['a.*.c', 'a.b.c', true],
    ['a.*.c', 'a.c', false],
    ['a.*.c', 'a.b.b.c', false],
    ['*.*', 'a.b', true],
    ['*.*', 'a', false],
    ['#', 'a', true],
    ['#', 'a.b.c', true],
    ['a.#', 'a', true],
    ['a.#', 'a.b', true],
    ['a.#', 'a.b.c', true],
    ['a.#', 'b.a', false],
    ['#.c', 'c', true],
    ['#.c', 'a.b.c', true],
    ['#.c', 'c.a', false],
    ['a.#.b', 'a.b', true],
    ['a.#.b', 'a.x.b', true],
    ['a.#.b', 'a.x.y.b', true],
    ['a.#.b', 'a.x.y', false],
    ['a.#.b', 'a.b.c', false],
    ['a.#.b', 'a.b.b', true],
    ['#.a.#', 'a', true],
    ['#.a.#', 'x.a.y.z', true],
    ['#.a.#', 'x.y', false],
    ['*.#', 'a', true],
    ['#.*', 'a.b.c', true],
    ['#.#', 'a', true],
    ['*.#.*', 'a', false],
    ['*.#.*', 'a.b', true],
    ['orders.*.created', 'orders.eu.created', true],
    ['orders.*.created', 'orders.eu.updated', false],
    ['orders.created', 'ordersXcreated', false],
    ['price+', 'priceee', false],
    ['a(1)|b', 'a(1)|b', true],
    ['$a^', '$a^', true],
  ];

  it.each(table)('pattern %j against topic %j matches: %s', (pattern, topic, matches) => {
    const bus = new PubSub();
    const handler = vi.fn();
    bus.subscribe(pattern, handler);
    const rule = `"*" is exactly one segment, "#" zero or more (AMQP topic rules)`;
    expect(
      bus.publish(topic, 'm'),
      `publish(${JSON.stringify(topic)}) with one subscription to ${JSON.stringify(pattern)}: ${rule}`,
    ).toBe(matches ? 1 : 0);
    expect(handler.mock.calls.length).toBe(matches ? 1 : 0);
    expect(
      bus.listenerCount(topic),
      `listenerCount(${JSON.stringify(topic)}) agrees with publish`,
    ).toBe(matches ? 1 : 0);
  });

  it.each(MALFORMED_PATTERNS)(
    'rejects the malformed pattern %j with a TypeError naming the pattern',
    (pattern) => {
      const bus = new PubSub();
      const error = thrownBy(() => bus.subscribe(pattern, () => {}));
      expect(
        error,
        `subscribe(${JSON.stringify(pattern)}) throws a TypeError: segments are "*", "#" or a non-empty literal without them`,
      ).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(/pattern/i);
      expect(bus.listenerCount('a.b'), 'a rejected pattern subscribes nothing').toBe(0);
    },
  );

  it.each(MALFORMED_PATTERNS)(
    'rejects the malformed pattern %j in stream with a TypeError',
    (pattern) => {
      const bus = new PubSub();
      const error = thrownBy(() => bus.stream(pattern));
      expect(
        error,
        `stream(${JSON.stringify(pattern)}) throws a TypeError when called`,
      ).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(/pattern/i);
    },
  );

  it('accepts patterns made only of wildcards, such as "#.#", "*.*" and "#.*.#"', () => {
    const bus = new PubSub();
    for (const pattern of ['#.#', '*.*', '#.*.#', '*.#.*']) {
      expect(
        thrownBy(() => bus.subscribe(pattern, () => {})),
        `${JSON.stringify(pattern)} is a valid pattern`,
      ).toBeUndefined();
    }
    expect(bus.listenerCount('a.b'), 'all four patterns match "a.b"').toBe(4);
  });

  it('calls exactly the subscriptions whose pattern matches, in subscription order, for random patterns and topics', async () => {
    const patternSegment = fc.constantFrom('a', 'b', '*', '#');
    const topicSegment = fc.constantFrom('a', 'b', 'c');
    const pattern = fc
      .array(patternSegment, { minLength: 1, maxLength: 5 })
      .map((s) => s.join('.'));
    const topic = fc.array(topicSegment, { minLength: 1, maxLength: 5 }).map((s) => s.join('.'));
    // Outside the property first, so a method not written yet fails plainly rather than as a counterexample.
    const probe = new PubSub();
    probe.subscribe('a', () => {});
    probe.publish('a', null);
    probe.listenerCount('a');
    await assertProperty(
      'publish calls, in subscription order, exactly the subscriptions whose pattern matches the topic ' +
        '("*" = one segment, "#" = zero or more), returns their number, and listenerCount agrees',
      fc.property(
        fc.array(pattern, { minLength: 1, maxLength: 8 }),
        fc.array(topic, { minLength: 1, maxLength: 4 }),
        (patterns, topics) => {
          const bus = new PubSub();
          let log: number[] = [];
          patterns.forEach((p, index) => bus.subscribe(p, () => void log.push(index)));
          for (const t of topics) {
            log = [];
            const expected = patterns.flatMap((p, index) =>
              modelMatches(p.split('.'), t.split('.')) ? [index] : [],
            );
            const called = bus.publish(t, null);
            const counted = bus.listenerCount(t);
            const agrees =
              log.length === expected.length &&
              log.every((index, i) => index === expected[i]) &&
              called === expected.length &&
              counted === expected.length;
            if (agrees) continue; // expect() only on a mismatch: it is the slow part of 200 runs
            const context = `patterns ${JSON.stringify(patterns)}, topic ${JSON.stringify(t)}`;
            expect(log, `indexes of the patterns called for ${context}`).toEqual(expected);
            expect(called, `publish's return value for ${context}`).toBe(expected.length);
            expect(counted, `listenerCount for ${context}`).toBe(expected.length);
          }
        },
      ),
    );
  });
});

describe('stage 3: dispatch snapshot, once and abort signals', () => {
  it('makes a handler subscribed during a dispatch wait for the next message', () => {
    const bus = new PubSub();
    const late = vi.fn();
    let subscribed = false;
    bus.subscribe('t', () => {
      if (!subscribed) {
        subscribed = true;
        bus.subscribe('t', late);
      }
    });
    expect(
      bus.publish('t', 1),
      'the handler set is fixed when publish begins: only the first handler runs',
    ).toBe(1);
    expect(
      late,
      'a handler subscribed while "t" is being dispatched does not get that message',
    ).not.toHaveBeenCalled();
    bus.publish('t', 2);
    expect(late, 'it gets the next message').toHaveBeenCalledExactlyOnceWith(2, 't');
  });

  it('still delivers the current message to a handler unsubscribed during the dispatch, but not the next', () => {
    const bus = new PubSub();
    const later = vi.fn();
    let unsubscribeLater = (): void => {};
    bus.subscribe('t', () => unsubscribeLater());
    unsubscribeLater = bus.subscribe('t', later);
    expect(bus.publish('t', 1), 'both handlers were in the set when publish began').toBe(2);
    expect(
      later,
      'unsubscribed by an earlier handler of the same dispatch, it still gets this message',
    ).toHaveBeenCalledExactlyOnceWith(1, 't');
    bus.publish('t', 2);
    expect(later, 'after the dispatch the unsubscription holds').toHaveBeenCalledTimes(1);
  });

  it('lets a handler unsubscribe itself without skipping the handler after it', () => {
    const bus = new PubSub();
    const log: string[] = [];
    const unsubscribeSelf = bus.subscribe('t', () => {
      log.push('self');
      unsubscribeSelf();
    });
    bus.subscribe('t', () => void log.push('next'));
    bus.publish('t', 1);
    bus.publish('t', 2);
    expect(
      log,
      'removing the running handler must not shift the next one out of the dispatch',
    ).toEqual(['self', 'next', 'next']);
  });

  it('runs a publish made from inside a handler to completion before the outer dispatch continues', () => {
    const bus = new PubSub();
    const log: string[] = [];
    bus.subscribe('outer', () => {
      log.push('outer-1 start');
      bus.publish('inner', 0);
      log.push('outer-1 end');
    });
    bus.subscribe('outer', () => void log.push('outer-2'));
    bus.subscribe('inner', () => void log.push('inner'));
    bus.publish('outer', 0);
    expect(
      log,
      'publish is synchronous, so a nested publish finishes inside the handler that made it',
    ).toEqual(['outer-1 start', 'inner', 'outer-1 end', 'outer-2']);
  });

  it('removes a once subscription before its handler runs', () => {
    const bus = new PubSub();
    const seen: number[] = [];
    bus.subscribe(
      't',
      () => {
        seen.push(bus.listenerCount('t'));
      },
      { once: true },
    );
    expect(bus.publish('t', 1), 'the once handler is called by the first publish').toBe(1);
    expect(
      seen,
      'inside the once handler, listenerCount("t") is already 0: it was removed before it ran',
    ).toEqual([0]);
    expect(bus.publish('t', 2), 'a once handler is not called again').toBe(0);
    expect(seen).toHaveLength(1);
  });

  it('calls a once handler only once when it publishes to its own topic from inside', () => {
    const bus = new PubSub();
    const inner: number[] = [];
    const handler = vi.fn(() => {
      inner.push(bus.publish('t', 'again'));
    });
    bus.subscribe('t', handler, { once: true });
    bus.publish('t', 'first');
    expect(
      handler,
      'the re-entrant publish must not call the once handler a second time',
    ).toHaveBeenCalledTimes(1);
    expect(inner, 'the re-entrant publish found nothing to call').toEqual([0]);
  });

  it('calls a once handler only once when an earlier handler publishes the same topic re-entrantly', () => {
    const bus = new PubSub();
    let nested = false;
    bus.subscribe('t', () => {
      if (nested) return;
      nested = true;
      bus.publish('t', 'nested');
    });
    const once = vi.fn();
    bus.subscribe('t', once, { once: true });
    bus.publish('t', 'outer');
    expect(
      once,
      'the nested publish runs the once handler; the outer dispatch, whose handler set still holds it, must not run it again',
    ).toHaveBeenCalledExactlyOnceWith('nested', 't');
  });

  it('removes a subscription when its signal aborts', () => {
    const bus = new PubSub();
    const controller = new AbortController();
    const handler = vi.fn();
    bus.subscribe('t', handler, { signal: controller.signal });
    bus.publish('t', 1);
    controller.abort();
    expect(bus.listenerCount('t'), 'aborting the signal removes the subscription').toBe(0);
    expect(bus.publish('t', 2)).toBe(0);
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it('subscribes nothing, and adds no abort listener, for an already-aborted signal', () => {
    const bus = new PubSub();
    const handler = vi.fn();
    const signal = AbortSignal.abort();
    const unsubscribe = bus.subscribe('t', handler, { signal });
    expect(bus.listenerCount('t'), 'an already-aborted signal subscribes nothing').toBe(0);
    expect(bus.publish('t', 1)).toBe(0);
    expect(handler).not.toHaveBeenCalled();
    expect(
      abortListeners(signal),
      'no listener is added to a signal that has already aborted',
    ).toBe(0);
    expect(typeof unsubscribe, 'subscribe still returns an unsubscribe function').toBe('function');
    expect(thrownBy(unsubscribe), 'calling it is harmless').toBeUndefined();
  });

  it('removes its abort listener from the signal when unsubscribed', () => {
    const bus = new PubSub();
    const controller = new AbortController();
    const unsubscribe = bus.subscribe('t', () => {}, { signal: controller.signal });
    unsubscribe();
    expect(
      abortListeners(controller.signal),
      "after unsubscribe, no abort listener may stay on the caller's signal (it would keep the subscription alive)",
    ).toBe(0);
  });

  it('removes its abort listener from the signal once a once handler has run', () => {
    const bus = new PubSub();
    const controller = new AbortController();
    bus.subscribe('t', () => {}, { signal: controller.signal, once: true });
    bus.publish('t', 1);
    expect(
      abortListeners(controller.signal),
      'a once subscription that has run leaves no abort listener behind',
    ).toBe(0);
  });
});

describe('stage 4: error isolation with onError and publishAsync', () => {
  it('keeps calling the other handlers when one throws, never throws from publish, and counts the thrower', () => {
    const onError = vi.fn();
    const bus = new PubSub({ onError });
    const after = vi.fn();
    bus.subscribe('t', () => {
      throw new Error('boom');
    });
    bus.subscribe('t', after);
    let called: number | undefined;
    const error = thrownBy(() => {
      called = bus.publish('t', 1);
    });
    expect(error, 'a handler that throws must not throw out of publish').toBeUndefined();
    expect(after, 'the handler after the one that threw still runs').toHaveBeenCalledOnce();
    expect(called, 'publish counts the handler that threw').toBe(2);
  });

  it('sends a thrown error to onError with the topic published and the subscription pattern', async () => {
    const onError = vi.fn();
    const bus = new PubSub({ onError });
    const boom = new Error('boom');
    bus.subscribe('orders.*', () => {
      throw boom;
    });
    bus.publish('orders.created', 1);
    await flushMicrotasks();
    expect(
      onError,
      'onError(error, { topic, pattern }) for a handler of "orders.*" throwing on "orders.created"',
    ).toHaveBeenCalledExactlyOnceWith(boom, { topic: 'orders.created', pattern: 'orders.*' });
  });

  it("sends an async handler's rejection to onError with the topic and pattern when it rejects", async () => {
    const onError = vi.fn();
    const bus = new PubSub({ onError });
    const pending = deferred();
    bus.subscribe('orders.#', () => pending.promise);
    const after = vi.fn();
    bus.subscribe('orders.#', after);
    expect(
      bus.publish('orders.eu.created', 1),
      'publish returns at once, counting both handlers',
    ).toBe(2);
    expect(
      after,
      'publish does not wait for an async handler before calling the next',
    ).toHaveBeenCalledOnce();
    await flushMicrotasks();
    expect(
      onError,
      'nothing has failed yet: the async handler is still pending',
    ).not.toHaveBeenCalled();
    const boom = new Error('async boom');
    pending.reject(boom);
    await flushMicrotasks();
    expect(
      onError,
      'the rejection of an async handler reaches onError(error, { topic, pattern })',
    ).toHaveBeenCalledExactlyOnceWith(boom, { topic: 'orders.eu.created', pattern: 'orders.#' });
  });

  it('reports handler failures with console.error when no onError is given', async () => {
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {});
    const bus = new PubSub();
    const syncBoom = new Error('sync boom');
    const asyncBoom = new Error('async boom');
    bus.subscribe('t', () => {
      throw syncBoom;
    });
    bus.subscribe('t', () => Promise.reject(asyncBoom));
    expect(
      thrownBy(() => bus.publish('t', 1)),
      'publish never throws a handler error',
    ).toBeUndefined();
    await flushMicrotasks();
    // Logged as the error itself, or anything that prints its message (a string, its stack, a wrapper object).
    const logged = (error: Error): boolean =>
      consoleError.mock.calls.some(
        (args) => args.includes(error) || inspect(args).includes(error.message),
      );
    expect(
      logged(syncBoom),
      'the default onError is console.error: the thrown error is logged',
    ).toBe(true);
    expect(
      logged(asyncBoom),
      'the default onError is console.error: the async rejection is logged',
    ).toBe(true);
  });

  it('does not call onError when async handlers fulfil', async () => {
    const onError = vi.fn();
    const bus = new PubSub({ onError });
    bus.subscribe('t', async () => {});
    bus.subscribe('t', () => {});
    bus.publish('t', 1);
    await flushMicrotasks();
    expect(onError).not.toHaveBeenCalled();
  });

  it('counts a handler that returns anything but a promise as having succeeded', async () => {
    const onError = vi.fn();
    const bus = new PubSub({ onError });
    const returned: unknown[] = [undefined, null, 0, 'done', { ok: true }];
    for (const value of returned) bus.subscribe('t', () => value as void);
    expect(
      bus.publish('t', 1),
      'publish to 5 handlers returning undefined, null, 0, a string, an object',
    ).toBe(5);
    await flushMicrotasks();
    expect(
      onError.mock.calls.map(([error]) => String(error)),
      'handlers that return without throwing have not failed: nothing goes to onError',
    ).toEqual([]);
    expect(
      await promiseState(bus.publishAsync('t', 2)),
      'publishAsync to the same 5 handlers resolves with 5: none of them failed',
    ).toEqual({ state: 'fulfilled', value: 5 });
  });

  it('resolves publishAsync with the count only once every handler, async ones included, has settled', async () => {
    const bus = new PubSub();
    const slow = deferred();
    bus.subscribe('t', () => slow.promise);
    bus.subscribe('t', () => {});
    const result = bus.publishAsync('t', 1);
    expect(
      (await promiseState(result)).state,
      'publishAsync waits while an async handler is pending',
    ).toBe('pending');
    slow.resolve();
    expect(
      await promiseState(result),
      'once every handler has settled, it resolves to the number called',
    ).toEqual({
      state: 'fulfilled',
      value: 2,
    });
  });

  it('waits for every handler before rejecting, even after one has already failed', async () => {
    const onError = vi.fn();
    const bus = new PubSub({ onError });
    const boom = new Error('boom');
    const slow = deferred();
    const slowDone = vi.fn();
    bus.subscribe('t', () => {
      throw boom;
    });
    bus.subscribe('t', async () => {
      await slow.promise;
      slowDone();
    });
    const result = bus.publishAsync('t', 1);
    expect(
      (await promiseState(result)).state,
      'a failure does not settle publishAsync early: it waits until every handler has settled',
    ).toBe('pending');
    slow.resolve();
    const error = await rejectionOf(result);
    expect(
      slowDone,
      'the slow handler finished before publishAsync settled',
    ).toHaveBeenCalledOnce();
    expect(error, 'publishAsync rejects with an AggregateError').toBeInstanceOf(AggregateError);
    expect((error as AggregateError).errors, 'holding exactly the one failure').toEqual([boom]);
  });

  it('rejects publishAsync with an AggregateError of exactly the failures, sync and async', async () => {
    const bus = new PubSub({ onError: () => {} });
    const syncBoom = new Error('sync boom');
    const asyncBoom = new Error('async boom');
    bus.subscribe('t', () => {
      throw syncBoom;
    });
    bus.subscribe('t', async () => {});
    bus.subscribe('t', () => Promise.reject(asyncBoom));
    bus.subscribe('t', () => {});
    const error = await rejectionOf(bus.publishAsync('t', 1));
    expect(
      error,
      'two of four handlers failed: publishAsync rejects with an AggregateError',
    ).toBeInstanceOf(AggregateError);
    const errors = (error as AggregateError).errors;
    expect(errors, 'errors holds the two failures and nothing else (order is free)').toHaveLength(
      2,
    );
    expect(errors).toContain(syncBoom);
    expect(errors).toContain(asyncBoom);
  });

  it('reports publishAsync failures only through its rejection, never to onError', async () => {
    const onError = vi.fn();
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {});
    const bus = new PubSub({ onError });
    bus.subscribe('t', () => {
      throw new Error('sync boom');
    });
    bus.subscribe('t', () => Promise.reject(new Error('async boom')));
    await promiseState(bus.publishAsync('t', 1));
    await flushMicrotasks();
    expect(
      onError,
      'the caller of publishAsync handles its failures; onError must not see them too',
    ).not.toHaveBeenCalled();
    const plain = new PubSub();
    plain.subscribe('t', () => Promise.reject(new Error('async boom')));
    await promiseState(plain.publishAsync('t', 1));
    await flushMicrotasks();
    expect(consoleError, 'nor the default console.error').not.toHaveBeenCalled();
  });

  it('resolves publishAsync to 0 when nothing matches', async () => {
    const bus = new PubSub();
    bus.subscribe('a', () => {});
    expect(await promiseState(bus.publishAsync('b', 1))).toEqual({ state: 'fulfilled', value: 0 });
  });

  it('removes a once subscription before its handler runs in publishAsync too', async () => {
    const bus = new PubSub();
    const seen: number[] = [];
    bus.subscribe(
      't',
      () => {
        seen.push(bus.listenerCount('t'));
      },
      { once: true },
    );
    expect(
      await promiseState(bus.publishAsync('t', 1)),
      'the first publishAsync("t", 1) calls the once handler',
    ).toEqual({ state: 'fulfilled', value: 1 });
    expect(
      seen,
      'inside the once handler, listenerCount("t") is already 0: it was removed before it ran',
    ).toEqual([0]);
    expect(
      await promiseState(bus.publishAsync('t', 2)),
      'a once handler is not called again: publishAsync("t", 2) calls nothing',
    ).toEqual({ state: 'fulfilled', value: 0 });
    expect(seen).toHaveLength(1);
  });
});

describe('stage 5: async iteration with stream()', () => {
  async function read<T>(iterator: AsyncIterator<T>, count: number): Promise<T[]> {
    const values: T[] = [];
    for (let i = 0; i < count; i += 1) {
      const state = await promiseState(iterator.next());
      if (state.state !== 'fulfilled' || state.value.done === true) {
        throw new Error(
          `read ${i + 1} of ${count} did not yield a message: ${JSON.stringify(state)}`,
        );
      }
      values.push(state.value.value);
    }
    return values;
  }

  it('yields the matching messages in publish order', async () => {
    const bus = new PubSub();
    const messages = bus.stream<number>('orders.*');
    bus.publish('orders.created', 1);
    bus.publish('payments.created', 99);
    bus.publish('orders.paid', 2);
    bus.publish('orders.eu.created', 98);
    bus.publish('orders.shipped', 3);
    expect(
      await read(messages, 3),
      'stream("orders.*") yields only the messages of matching topics, in order',
    ).toEqual([1, 2, 3]);
    expect(
      (await promiseState(messages.next())).state,
      'with nothing buffered, the next read waits',
    ).toBe('pending');
  });

  it('subscribes when called, counting in listenerCount before any read', () => {
    const bus = new PubSub();
    bus.stream('a.#');
    expect(bus.listenerCount('a.b'), 'stream() subscribes at once, not on the first read').toBe(1);
  });

  it('hands a message to a read that is already waiting', async () => {
    const bus = new PubSub();
    const messages = bus.stream<string>('t');
    const pending = messages.next();
    expect((await promiseState(pending)).state).toBe('pending');
    bus.publish('t', 'hello');
    expect(await promiseState(pending), 'the waiting read gets the published message').toEqual({
      state: 'fulfilled',
      value: { value: 'hello', done: false },
    });
  });

  it('serves reads made before any message arrives in the order they were made', async () => {
    const bus = new PubSub();
    const messages = bus.stream<number>('t');
    const first = messages.next();
    const second = messages.next();
    bus.publish('t', 1);
    bus.publish('t', 2);
    expect(
      [await promiseState(first), await promiseState(second)],
      'two reads waiting, then messages 1 and 2: each read gets its own message, in order',
    ).toEqual([
      { state: 'fulfilled', value: { value: 1, done: false } },
      { state: 'fulfilled', value: { value: 2, done: false } },
    ]);
  });

  it('buffers up to bufferSize messages while the consumer is slow, without dropping any', async () => {
    for (const overflow of ['drop-oldest', 'drop-newest', 'error'] as const) {
      const bus = new PubSub();
      const messages = bus.stream<number>('t', { bufferSize: 3, overflow });
      bus.publish('t', 1);
      bus.publish('t', 2);
      bus.publish('t', 3);
      expect(
        await read(messages, 3),
        `bufferSize 3, overflow ${overflow}: three unread messages fit exactly, none is dropped`,
      ).toEqual([1, 2, 3]);
    }
  });

  it('drops the oldest buffered message on overflow by default', async () => {
    const bus = new PubSub();
    const messages = bus.stream<number>('t', { bufferSize: 2 });
    for (const n of [1, 2, 3, 4, 5]) bus.publish('t', n);
    expect(
      await read(messages, 2),
      'bufferSize 2, five messages unread: the default policy keeps the newest two',
    ).toEqual([4, 5]);
    expect((await promiseState(messages.next())).state).toBe('pending');
  });

  it("drops the oldest buffered message with overflow 'drop-oldest'", async () => {
    const bus = new PubSub();
    const messages = bus.stream<number>('t', { bufferSize: 2, overflow: 'drop-oldest' });
    for (const n of [1, 2, 3, 4, 5]) bus.publish('t', n);
    expect(
      await read(messages, 2),
      "bufferSize 2, 'drop-oldest', messages 1..5 unread: 4 and 5 remain",
    ).toEqual([4, 5]);
  });

  it("drops the incoming message with overflow 'drop-newest'", async () => {
    const bus = new PubSub();
    const messages = bus.stream<number>('t', { bufferSize: 2, overflow: 'drop-newest' });
    for (const n of [1, 2, 3, 4, 5]) bus.publish('t', n);
    expect(
      await read(messages, 2),
      "bufferSize 2, 'drop-newest', messages 1..5 unread: 1 and 2 remain",
    ).toEqual([1, 2]);
    expect(
      (await promiseState(messages.next())).state,
      'messages 3..5 were dropped, not queued',
    ).toBe('pending');
  });

  it('holds 1024 messages by default', async () => {
    const bus = new PubSub();
    const messages = bus.stream<number>('t');
    for (let n = 1; n <= 1025; n += 1) bus.publish('t', n);
    const values = await read(messages, 1024);
    expect(
      [values[0], values[1023]],
      'default bufferSize 1024 and drop-oldest: after 1025 unread messages, 2..1025 remain',
    ).toEqual([2, 1025]);
    expect((await promiseState(messages.next())).state).toBe('pending');
  });

  it("ends the stream on overflow with 'error': it unsubscribes, discards the buffer and the next read rejects with code ERR_BUFFER_OVERFLOW", async () => {
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
      "a third unread message overflows bufferSize 2: 'error' unsubscribes at once",
    ).toBe(0);
    const error = await rejectionOf(messages.next());
    expect(
      error,
      'the next read rejects with an Error (the buffered 1 and 2 are discarded)',
    ).toBeInstanceOf(Error);
    expect((error as { code?: unknown }).code, "the error's code").toBe('ERR_BUFFER_OVERFLOW');
    expect(await promiseState(messages.next()), 'reads after the overflow error are done').toEqual({
      state: 'fulfilled',
      value: { value: undefined, done: true },
    });
    expect(
      abortListeners(controller.signal),
      'the ended stream leaves no abort listener on its signal',
    ).toBe(0);
  });

  it.each(['drop-newest', 'error'] as const)(
    "gives a message handed straight to a waiting read no buffer room (overflow '%s')",
    async (overflow) => {
      const bus = new PubSub();
      const messages = bus.stream<number>('t', { bufferSize: 1, overflow });
      const waiting = messages.next();
      bus.publish('t', 1);
      bus.publish('t', 2);
      expect(
        await promiseState(waiting),
        'a read was waiting, so message 1 goes straight to it',
      ).toEqual({ state: 'fulfilled', value: { value: 1, done: false } });
      expect(
        await promiseState(messages.next()),
        'bufferSize 1: message 2 fits because message 1, handed to the waiting read, took no room',
      ).toEqual({ state: 'fulfilled', value: { value: 2, done: false } });
    },
  );

  it('unsubscribes and leaves no abort listener when a for await loop breaks', async () => {
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
    expect(seen).toEqual([1]);
    expect(bus.listenerCount('t'), '`break` ends the iteration: the stream must unsubscribe').toBe(
      0,
    );
    expect(
      abortListeners(controller.signal),
      "and remove its abort listener from the caller's signal",
    ).toBe(0);
  });

  it('unsubscribes on return() and is done from then on', async () => {
    const bus = new PubSub();
    const messages = bus.stream<number>('t');
    bus.publish('t', 1);
    const returned = await promiseState(messages.return!());
    expect(
      returned.state === 'fulfilled' && returned.value.done,
      'return() resolves to a done result',
    ).toBe(true);
    expect(bus.listenerCount('t'), 'return() unsubscribes').toBe(0);
    bus.publish('t', 2);
    expect(await promiseState(messages.next()), 'after return(), reads are done').toEqual({
      state: 'fulfilled',
      value: { value: undefined, done: true },
    });
  });

  it('settles a read still waiting when return() ends the stream: it is done', async () => {
    const bus = new PubSub();
    const messages = bus.stream<number>('t');
    const pending = messages.next();
    const returned = await promiseState(messages.return!());
    expect(
      returned.state === 'fulfilled' && returned.value.done,
      'return() while a read waits resolves to a done result',
    ).toBe(true);
    expect(
      await promiseState(pending),
      'the read that was waiting when return() ended the stream is done, not left pending forever',
    ).toEqual({ state: 'fulfilled', value: { value: undefined, done: true } });
  });

  it("rejects the pending read with the signal's reason on abort, and unsubscribes", async () => {
    const bus = new PubSub();
    const controller = new AbortController();
    const messages = bus.stream<number>('t', { signal: controller.signal });
    const pending = messages.next();
    expect((await promiseState(pending)).state).toBe('pending');
    const reason = new Error('consumer gone');
    controller.abort(reason);
    expect(
      await rejectionOf(pending),
      'aborting rejects the read that was waiting with signal.reason',
    ).toBe(reason);
    expect(bus.listenerCount('t'), 'aborting unsubscribes').toBe(0);
  });

  it("discards the buffer on abort: the next read rejects with the signal's reason", async () => {
    const bus = new PubSub();
    const controller = new AbortController();
    const messages = bus.stream<number>('t', { signal: controller.signal });
    bus.publish('t', 1);
    bus.publish('t', 2);
    const reason = new Error('stop');
    controller.abort(reason);
    expect(
      await rejectionOf(messages.next()),
      'buffered 1 and 2 are discarded; the next read rejects with signal.reason',
    ).toBe(reason);
    expect(bus.listenerCount('t')).toBe(0);
  });

  it('subscribes nothing for an already-aborted signal and reports its reason', async () => {
    const bus = new PubSub();
    const reason = new Error('already aborted');
    const signal = AbortSignal.abort(reason);
    let messages: AsyncIterableIterator<number> | undefined;
    const thrown = thrownBy(() => {
      messages = bus.stream<number>('t', { signal });
    });
    expect(bus.listenerCount('t'), 'an already-aborted signal subscribes nothing').toBe(0);
    if (thrown === undefined) {
      expect(await rejectionOf(messages!.next()), 'the first read rejects with signal.reason').toBe(
        reason,
      );
    } else {
      expect(thrown, 'stream() may throw signal.reason at once for an already-aborted signal').toBe(
        reason,
      );
    }
  });

  it.each([0, -1, 1.5, Number.NaN])(
    'rejects bufferSize %s with a RangeError naming bufferSize',
    (bufferSize) => {
      const bus = new PubSub();
      const error = thrownBy(() => bus.stream('t', { bufferSize }));
      expect(
        error,
        `stream("t", { bufferSize: ${bufferSize} }) throws a RangeError: it must be an integer >= 1`,
      ).toBeInstanceOf(RangeError);
      expect((error as Error).message).toMatch(/bufferSize/i);
      expect(bus.listenerCount('t'), 'a rejected stream subscribes nothing').toBe(0);
    },
  );

  it('rejects an unknown overflow policy with an error naming overflow', () => {
    const bus = new PubSub();
    const error = thrownBy(() => bus.stream('t', { overflow: 'drop-all' as 'error' }));
    expect(
      error instanceof TypeError || error instanceof RangeError,
      `stream("t", { overflow: "drop-all" }) throws a TypeError (or RangeError); got ${String(error)}`,
    ).toBe(true);
    expect((error as Error).message).toMatch(/overflow/i);
  });
});
