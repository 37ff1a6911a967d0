import { describe, expect, it, vi } from 'vitest';
import { PubSub } from '@kata/pub-sub';
import {
  abortListeners,
  assertModel,
  commands,
  dotted,
  thrownBy,
  wildcardPatterns,
} from './fixtures.ts';

describe('stage 3: dispatch snapshot, once and abort signals', () => {
  it('makes a handler subscribed during a dispatch wait for the next message [R11]', () => {
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
      'the handler set is fixed when publish begins: only the first handler runs [R11]',
    ).toBe(1);
    expect(
      late,
      'a handler subscribed while "t" is being dispatched does not get that message [R11]',
    ).not.toHaveBeenCalled();
    bus.publish('t', 2);
    expect(late, 'it gets the next message [R11]').toHaveBeenCalledExactlyOnceWith(2, 't');
  });

  it('still delivers the current message to a handler unsubscribed during the dispatch, but not the next [R11]', () => {
    const bus = new PubSub();
    const later = vi.fn();
    let unsubscribeLater = (): void => {};
    bus.subscribe('t', () => unsubscribeLater());
    unsubscribeLater = bus.subscribe('t', later);
    expect(bus.publish('t', 1), 'both handlers were in the set when publish began [R11]').toBe(2);
    expect(
      later,
      'unsubscribed by an earlier handler of the same dispatch, it still gets this message [R11]',
    ).toHaveBeenCalledExactlyOnceWith(1, 't');
    bus.publish('t', 2);
    expect(later, 'after the dispatch the unsubscription holds [R11]').toHaveBeenCalledTimes(1);
  });

  it('lets a handler unsubscribe itself without skipping the handler after it [R11]', () => {
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
      'removing the running handler must not shift the next one out of the dispatch [R11]',
    ).toEqual(['self', 'next', 'next']);
  });

  it('runs a publish made from inside a handler to completion before the outer dispatch continues [R12]', () => {
    const bus = new PubSub();
    const log: string[] = [];
    let nestedCount: number | undefined;
    bus.subscribe('outer', () => {
      log.push('outer-1 start');
      nestedCount = bus.publish('inner', 0);
      log.push('outer-1 end');
    });
    bus.subscribe('outer', () => void log.push('outer-2'));
    bus.subscribe('inner', () => void log.push('inner-1'));
    bus.subscribe('inner', () => void log.push('inner-2'));
    bus.publish('outer', 0);
    expect(
      log,
      'publish is synchronous, so a nested publish finishes inside the handler that made it [R12]',
    ).toEqual(['outer-1 start', 'inner-1', 'inner-2', 'outer-1 end', 'outer-2']);
    expect(nestedCount, 'the nested publish returns the two handlers it called [R12]').toBe(2);
  });

  it('removes a once subscription before its handler runs [R13]', () => {
    const bus = new PubSub();
    const seen: number[] = [];
    bus.subscribe(
      't',
      () => {
        seen.push(bus.listenerCount('t'));
      },
      { once: true },
    );
    expect(bus.publish('t', 1), 'the once handler is called by the first publish [R13]').toBe(1);
    expect(
      seen,
      'inside the once handler, listenerCount("t") is already 0: it was removed before it ran [R13]',
    ).toEqual([0]);
    expect(bus.publish('t', 2), 'a once handler is not called again [R13]').toBe(0);
    expect(seen, 'the once handler ran exactly once [R13]').toHaveLength(1);
  });

  it('calls a once handler only once when it publishes to its own topic from inside [R13]', () => {
    const bus = new PubSub();
    const inner: number[] = [];
    const handler = vi.fn(() => {
      inner.push(bus.publish('t', 'again'));
    });
    bus.subscribe('t', handler, { once: true });
    bus.publish('t', 'first');
    expect(
      handler,
      'the re-entrant publish must not call the once handler a second time [R13]',
    ).toHaveBeenCalledTimes(1);
    expect(inner, 'the re-entrant publish found nothing to call [R13]').toEqual([0]);
  });

  it('calls a once handler only once when an earlier handler publishes the same topic re-entrantly [R13]', () => {
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
      'the nested publish runs the once handler; the outer dispatch, whose handler set still holds it, must not run it again [R13]',
    ).toHaveBeenCalledExactlyOnceWith('nested', 't');
  });

  it('agrees with a model of the bus over random sequences with once subscriptions [R13]', async () => {
    await assertModel(
      'a once subscription is called by the first publish that matches it and by no later one; ' +
        'listenerCount stops counting it from then on',
      commands({
        patterns: wildcardPatterns(3),
        topics: dotted(['a', 'b'], 3),
        once: true,
      }),
      '[R13]',
      0.5,
    );
  });

  it('removes a subscription when its signal aborts [R14]', () => {
    const bus = new PubSub();
    const controller = new AbortController();
    const handler = vi.fn();
    const other = vi.fn();
    bus.subscribe('t', handler, { signal: controller.signal });
    bus.subscribe('t', other);
    bus.publish('t', 1);
    controller.abort();
    expect(
      bus.listenerCount('t'),
      'aborting the signal removes its subscription, and only it [R14]',
    ).toBe(1);
    expect(bus.publish('t', 2), 'after the abort only the other subscription is called [R14]').toBe(
      1,
    );
    expect(handler, 'the aborted subscription got message 1 only [R14]').toHaveBeenCalledTimes(1);
  });

  it('subscribes nothing, and adds no abort listener, for an already-aborted signal [R15, R41]', () => {
    const bus = new PubSub();
    const handler = vi.fn();
    const signal = AbortSignal.abort();
    const unsubscribe = bus.subscribe('t', handler, { signal });
    expect(bus.listenerCount('t'), 'an already-aborted signal subscribes nothing [R15]').toBe(0);
    expect(bus.publish('t', 1), 'publish finds nothing to call [R15]').toBe(0);
    expect(handler, 'the handler is never called [R15]').not.toHaveBeenCalled();
    expect(
      abortListeners(signal),
      'no listener is added to a signal that has already aborted [R41]',
    ).toBe(0);
    expect(typeof unsubscribe, 'subscribe still returns an unsubscribe function [R15]').toBe(
      'function',
    );
    expect(thrownBy(unsubscribe), 'calling it is harmless [R15]').toBeUndefined();
  });

  it('keeps at most one abort listener per live subscription, and none once each has ended [R41]', () => {
    const bus = new PubSub();
    const controller = new AbortController();
    const { signal } = controller;
    const unsubscribe = bus.subscribe('a', () => {}, { signal });
    expect(
      abortListeners(signal),
      'one subscription on the signal: at most one listener [R41]',
    ).toBeLessThanOrEqual(1);
    for (let i = 0; i < 5; i += 1) bus.publish('a', i);
    expect(
      abortListeners(signal),
      'after 5 publishes, still at most one listener: dispatching adds none [R41]',
    ).toBeLessThanOrEqual(1);
    bus.subscribe('b', () => {}, { signal, once: true });
    bus.subscribe('c', () => {}, { signal });
    expect(
      abortListeners(signal),
      'three subscriptions share the signal: at most three listeners [R41]',
    ).toBeLessThanOrEqual(3);
    unsubscribe();
    expect(
      abortListeners(signal),
      'one of the three was unsubscribed: at most two listeners left [R41]',
    ).toBeLessThanOrEqual(2);
    bus.publish('b', 1);
    expect(
      abortListeners(signal),
      'the once subscription has run: at most one listener left [R41]',
    ).toBeLessThanOrEqual(1);
    controller.abort();
    expect(abortListeners(signal), 'the abort ended the last one: no listener is left [R41]').toBe(
      0,
    );
  });

  it('removes its abort listener from the signal when unsubscribed [R41]', () => {
    const bus = new PubSub();
    const controller = new AbortController();
    const unsubscribe = bus.subscribe('t', () => {}, { signal: controller.signal });
    unsubscribe();
    expect(
      abortListeners(controller.signal),
      "after unsubscribe, no abort listener may stay on the caller's signal (it would keep the subscription alive) [R41]",
    ).toBe(0);
  });

  it('removes its abort listener from the signal once a once handler has run [R41]', () => {
    const bus = new PubSub();
    const controller = new AbortController();
    bus.subscribe('t', () => {}, { signal: controller.signal, once: true });
    bus.publish('t', 1);
    expect(
      abortListeners(controller.signal),
      'a once subscription that has run leaves no abort listener behind [R41]',
    ).toBe(0);
  });
});
