import { inspect } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import { PubSub } from '@kata/pub-sub';
import { deferred, flushMicrotasks, promiseState } from '../support/promises.ts';
import { rejectionOf, thrownBy } from './fixtures.ts';

describe('stage 4: error isolation with onError and publishAsync', () => {
  it('keeps calling the other handlers when one throws, never throws from publish, and counts the thrower [R9, R18]', () => {
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
    expect(error, 'a handler that throws must not throw out of publish [R9, R18]').toBeUndefined();
    expect(
      after,
      'the handler after the one that threw still runs [R9, R18]',
    ).toHaveBeenCalledOnce();
    expect(called, 'publish counts the handler that threw [R9, R18]').toBe(2);
  });

  it('sends a thrown error to onError with the topic published and the subscription pattern [R19]', async () => {
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
      'onError(error, { topic, pattern }) for a handler of "orders.*" throwing on "orders.created" [R19]',
    ).toHaveBeenCalledExactlyOnceWith(boom, { topic: 'orders.created', pattern: 'orders.*' });
  });

  it("sends an async handler's rejection to onError with the topic and pattern when it rejects [R20]", async () => {
    const onError = vi.fn();
    const bus = new PubSub({ onError });
    const pending = deferred();
    bus.subscribe('orders.#', () => pending.promise);
    const after = vi.fn();
    bus.subscribe('orders.#', after);
    expect(
      bus.publish('orders.eu.created', 1),
      'publish returns at once, counting both handlers [R20]',
    ).toBe(2);
    expect(
      after,
      'publish does not wait for an async handler before calling the next [R20]',
    ).toHaveBeenCalledOnce();
    await flushMicrotasks();
    expect(
      onError,
      'nothing has failed yet: the async handler is still pending [R20]',
    ).not.toHaveBeenCalled();
    const boom = new Error('async boom');
    pending.reject(boom);
    await flushMicrotasks();
    expect(
      onError,
      'the rejection of an async handler reaches onError(error, { topic, pattern }) [R20]',
    ).toHaveBeenCalledExactlyOnceWith(boom, { topic: 'orders.eu.created', pattern: 'orders.#' });
  });

  it('reports handler failures with console.error, with their topic and pattern, when no onError is given [R21]', async () => {
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {});
    const bus = new PubSub();
    const syncBoom = new Error('sync boom');
    const asyncBoom = new Error('async boom');
    bus.subscribe('mail.*', () => {
      throw syncBoom;
    });
    bus.subscribe('mail.#', () => Promise.reject(asyncBoom));
    expect(
      thrownBy(() => bus.publish('mail.send', 1)),
      'publish never throws a handler error [R18]',
    ).toBeUndefined();
    await flushMicrotasks();
    // The call that logs the error (itself, or anything printing its message: a string, its
    // stack, a wrapper object), as console.error would print its arguments.
    const printed = (error: Error): string | undefined =>
      consoleError.mock.calls
        .map((args) => inspect(args, { depth: 4 }))
        .find((text) => text.includes(error.message));
    for (const [error, pattern, what] of [
      [syncBoom, 'mail.*', 'the thrown error'],
      [asyncBoom, 'mail.#', 'the async rejection'],
    ] as const) {
      const text = printed(error);
      expect(
        text,
        `the default onError is console.error: ${what} of the "${pattern}" handler on "mail.send" is logged [R21]`,
      ).toBeDefined();
      expect(
        text!.includes('mail.send') && text!.includes(pattern),
        `${what} is logged with its topic "mail.send" and pattern "${pattern}", as console.error(error, { topic, pattern }) would; logged: ${text} [R21]`,
      ).toBe(true);
    }
  });

  it('does not call onError when async handlers fulfil [R20]', async () => {
    const onError = vi.fn();
    const bus = new PubSub({ onError });
    bus.subscribe('t', async () => {});
    bus.subscribe('t', () => {});
    bus.publish('t', 1);
    await flushMicrotasks();
    expect(
      onError,
      'an async handler that fulfils has not failed: nothing goes to onError [R20]',
    ).not.toHaveBeenCalled();
  });

  it('counts a handler that returns anything but a promise as having succeeded [R20, R22]', async () => {
    const onError = vi.fn();
    const bus = new PubSub({ onError });
    const returned: unknown[] = [undefined, null, 0, 'done', { ok: true }];
    for (const value of returned) bus.subscribe('t', () => value as void);
    expect(
      bus.publish('t', 1),
      'publish to 5 handlers returning undefined, null, 0, a string, an object [R20, R22]',
    ).toBe(5);
    await flushMicrotasks();
    expect(
      onError.mock.calls.map(([error]) => String(error)),
      'handlers that return without throwing have not failed: nothing goes to onError [R20, R22]',
    ).toEqual([]);
    expect(
      await promiseState(bus.publishAsync('t', 2)),
      'publishAsync to the same 5 handlers resolves with 5: none of them failed [R20, R22]',
    ).toEqual({ state: 'fulfilled', value: 5 });
  });

  it('resolves publishAsync with the count only once every handler, async ones included, has settled [R22]', async () => {
    const bus = new PubSub();
    const slow = deferred();
    bus.subscribe('t', () => slow.promise);
    bus.subscribe('t', () => {});
    const result = bus.publishAsync('t', 1);
    expect(
      (await promiseState(result)).state,
      'publishAsync waits while an async handler is pending [R22]',
    ).toBe('pending');
    slow.resolve();
    expect(
      await promiseState(result),
      'once every handler has settled, it resolves to the number called [R22]',
    ).toEqual({
      state: 'fulfilled',
      value: 2,
    });
  });

  it('waits for every handler before rejecting, even after one has already failed [R23]', async () => {
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
      'a failure does not settle publishAsync early: it waits until every handler has settled [R23]',
    ).toBe('pending');
    slow.resolve();
    const error = await rejectionOf(result);
    expect(
      slowDone,
      'the slow handler finished before publishAsync settled [R23]',
    ).toHaveBeenCalledOnce();
    expect(error, 'publishAsync rejects with an AggregateError [R23]').toBeInstanceOf(
      AggregateError,
    );
    expect((error as AggregateError).errors, 'holding exactly the one failure [R23]').toEqual([
      boom,
    ]);
  });

  it('rejects publishAsync with an AggregateError of exactly the failures, sync and async [R23]', async () => {
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
      'two of four handlers failed: publishAsync rejects with an AggregateError [R23]',
    ).toBeInstanceOf(AggregateError);
    const errors = (error as AggregateError).errors;
    expect(
      errors,
      'errors holds the two failures and nothing else (order is free) [R23]',
    ).toHaveLength(2);
    expect(errors, 'errors holds the thrown error [R23]').toContain(syncBoom);
    expect(errors, 'errors holds the rejection [R23]').toContain(asyncBoom);
  });

  it('reports publishAsync failures only through its rejection, never to onError [R24]', async () => {
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
      'the caller of publishAsync handles its failures; onError must not see them too [R24]',
    ).not.toHaveBeenCalled();
    const plain = new PubSub();
    plain.subscribe('t', () => Promise.reject(new Error('async boom')));
    await promiseState(plain.publishAsync('t', 1));
    await flushMicrotasks();
    expect(consoleError, 'nor the default console.error [R24]').not.toHaveBeenCalled();
  });

  it('resolves publishAsync to 0 when nothing matches [R22]', async () => {
    const bus = new PubSub();
    bus.subscribe('a', () => {});
    expect(
      await promiseState(bus.publishAsync('b', 1)),
      'publishAsync("b") with only "a" subscribed resolves to 0 [R22]',
    ).toEqual({ state: 'fulfilled', value: 0 });
  });

  it('removes a once subscription before its handler runs in publishAsync too [R13, R22]', async () => {
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
      'the first publishAsync("t", 1) calls the once handler [R13, R22]',
    ).toEqual({ state: 'fulfilled', value: 1 });
    expect(
      seen,
      'inside the once handler, listenerCount("t") is already 0: it was removed before it ran [R13, R22]',
    ).toEqual([0]);
    expect(
      await promiseState(bus.publishAsync('t', 2)),
      'a once handler is not called again: publishAsync("t", 2) calls nothing [R13, R22]',
    ).toEqual({ state: 'fulfilled', value: 0 });
    expect(seen, 'the once handler ran exactly once [R13, R22]').toHaveLength(1);
  });
});
