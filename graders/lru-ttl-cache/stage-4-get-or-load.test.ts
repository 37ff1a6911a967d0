/**
 * Grader for lru-ttl-cache, stage 4: loads missing entries once with getOrLoad. Live hits
 * without loading, counted as a use (R22); one shared load per key (R23); the loaded value
 * stored as by `set` when it arrives (R24); rejections shared and not cached (R25); bad arguments
 * rejected, never thrown (R26); and no timer (R18). Time is a fake clock throughout.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { LruTtlCache } from '@kata/lru-ttl-cache';
import { advance, useFakeClock } from '../support/clock.ts';
import { countTimers } from '../support/limits.ts';
import { deferred, flushMicrotasks, promiseState } from '../support/promises.ts';
import { callGetOrLoad, expectRejects, recorded } from './fixtures.ts';

beforeEach(() => {
  useFakeClock();
});

describe('stage 4: loads missing entries once with getOrLoad', () => {
  it('rejects, never throws, a loader that is not a function, with a TypeError naming loader, without storing [R26]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    const loader = 'fetch' as unknown as (key: string) => Promise<string>;
    const result = callGetOrLoad(() => cache.getOrLoad('a', loader), "getOrLoad('a', 'fetch')");
    await expectRejects(result, "getOrLoad('a', 'fetch')", {
      type: TypeError,
      names: 'loader',
      rule: 'R26',
    });
    expect(cache.has('a'), "nothing is stored after getOrLoad('a', 'fetch') [R26]").toBe(false);
  });

  it('rejects a loader that is not a function even for a live key [R26]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    cache.set('a', 'cached');
    const loader = undefined as unknown as (key: string) => Promise<string>;
    const shown = "set('a', 'cached'), getOrLoad('a', undefined)";
    await expectRejects(
      callGetOrLoad(() => cache.getOrLoad('a', loader), shown),
      shown,
      {
        type: TypeError,
        names: 'loader',
        rule: 'R26',
      },
    );
    expect(cache.peek('a'), 'the rejected call leaves the live entry as it was [R26]').toBe(
      'cached',
    );
  });

  it.each([
    ['a negative ttlMs', -1, RangeError],
    ['a NaN ttlMs', Number.NaN, RangeError],
    ['a ttlMs that is not a number', '10', TypeError],
  ] as const)(
    'rejects, never throws, %s option, naming ttlMs, without calling the loader [R26, R28]',
    async (_what, ttlMs, type) => {
      const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
      cache.set('live', 'cached');
      const loader = vi.fn(async () => 'x');
      const options = { ttlMs } as unknown as { ttlMs: number };
      for (const key of ['a', 'live']) {
        const shown = `getOrLoad('${key}', loader, { ttlMs: ${typeof ttlMs === 'string' ? `'${ttlMs}'` : String(ttlMs)} })${key === 'live' ? ' of a live key' : ''}`;
        await expectRejects(
          callGetOrLoad(() => cache.getOrLoad(key, loader, options), shown),
          shown,
          {
            type,
            names: 'ttlMs',
            rule: 'R26, R28',
          },
        );
      }
      expect(
        loader,
        'the loader is never called for an invalid option [R26]',
      ).not.toHaveBeenCalled();
      expect(cache.has('a'), 'nothing is stored after the rejected calls [R26]').toBe(false);
      expect(cache.peek('live'), 'the live entry is left as it was [R26]').toBe('cached');
    },
  );

  it('loads a missing key once, calling the loader with the key, and stores the value [R23, R24]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    const loader = vi.fn(async (key: string) => `loaded ${key}`);
    const result = cache.getOrLoad('a', loader);
    expect(
      await promiseState(result),
      "getOrLoad('a') with a loader resolving 'loaded a' [R23, R24]",
    ).toEqual({ state: 'fulfilled', value: 'loaded a' });
    expect(loader.mock.calls, "the loader is called once, with the key 'a' [R23, R24]").toEqual([
      ['a'],
    ]);
    expect(cache.peek('a'), 'the loaded value is stored in the cache [R23, R24]').toBe('loaded a');
  });

  it('returns a live entry without calling the loader [R22]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    cache.set('a', 'cached');
    const loader = vi.fn(async () => 'loaded');
    expect(
      await promiseState(cache.getOrLoad('a', loader)),
      "set('a', 'cached'), getOrLoad('a') [R22]",
    ).toEqual({ state: 'fulfilled', value: 'cached' });
    expect(loader, 'the loader must not be called for a live entry [R22]').not.toHaveBeenCalled();
  });

  it('counts a live entry returned by getOrLoad as a use, like get [R22]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    cache.set('a', 'a1').set('b', 'b1');
    await promiseState(cache.getOrLoad('a', async () => 'loaded'));
    cache.set('c', 'c1');
    expect(
      [...cache.keys()],
      "maxEntries 2, set a, b, getOrLoad('a'), set c: 'a' was used, so 'b' is evicted [R22]",
    ).toEqual(['c', 'a']);
  });

  it('shares one loader call among concurrent callers of a key [R23]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    const load = deferred<string>();
    const loader = vi.fn(() => load.promise);
    const early = [1, 2, 3, 4, 5].map(() => cache.getOrLoad('a', loader));
    await advance(10);
    const late = cache.getOrLoad('a', loader);
    expect(
      loader,
      "5 calls of getOrLoad('a') at once, then one 10 ms later while the load is pending: one loader call [R23]",
    ).toHaveBeenCalledTimes(1);
    load.resolve('value');
    for (const [index, result] of [...early, late].entries()) {
      expect(await promiseState(result), `caller ${index + 1} of 6 for key 'a' [R23]`).toEqual({
        state: 'fulfilled',
        value: 'value',
      });
    }
    expect(cache.get('a'), 'the shared value is stored [R23]').toBe('value');
    expect(loader, 'still one loader call [R23]').toHaveBeenCalledTimes(1);
  });

  it('loads different keys separately [R23]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    const loader = vi.fn(async (key: string) => key.toUpperCase());
    const a = cache.getOrLoad('a', loader);
    const b = cache.getOrLoad('b', loader);
    expect(await promiseState(a), "getOrLoad('a') [R23]").toEqual({
      state: 'fulfilled',
      value: 'A',
    });
    expect(await promiseState(b), "getOrLoad('b') [R23]").toEqual({
      state: 'fulfilled',
      value: 'B',
    });
    expect(loader.mock.calls, 'one loader call per key [R23]').toEqual([['a'], ['b']]);
  });

  it('rejects every waiting caller with the loader error and does not cache it [R25]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    const failure = new Error('database down');
    const load = deferred<string>();
    const failing = vi.fn(() => load.promise);
    const waiting = [1, 2, 3].map(() => cache.getOrLoad('a', failing));
    load.reject(failure);
    for (const [index, result] of waiting.entries()) {
      expect(
        await promiseState(result),
        `caller ${index + 1} of 3 waiting on a load that rejects: rejected with the loader's own error [R25]`,
      ).toEqual({ state: 'rejected', reason: failure });
    }
    expect(failing, 'one loader call for the 3 callers [R25]').toHaveBeenCalledTimes(1);
    expect(cache.has('a'), 'a failed load stores nothing [R25]').toBe(false);

    const retry = vi.fn(async () => 'recovered');
    expect(
      await promiseState(cache.getOrLoad('a', retry)),
      "getOrLoad('a') after the failed load: the rejection is not cached, so it loads again [R25]",
    ).toEqual({ state: 'fulfilled', value: 'recovered' });
    expect(retry).toHaveBeenCalledTimes(1);
  });

  it('loads again after a load has settled and its entry was deleted [R23]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    const loader = vi.fn(async () => 'v');
    await promiseState(cache.getOrLoad('a', loader));
    await promiseState(cache.getOrLoad('a', loader));
    expect(loader, 'second getOrLoad finds the stored value [R23]').toHaveBeenCalledTimes(1);
    cache.delete('a');
    await promiseState(cache.getOrLoad('a', loader));
    expect(loader, 'getOrLoad after delete loads again [R23]').toHaveBeenCalledTimes(2);
  });

  it('stores a loaded value with the ttlMs option, measured from when the value arrives [R24]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    const load = deferred<string>();
    const result = cache.getOrLoad('a', () => load.promise, { ttlMs: 100 });
    await advance(50);
    load.resolve('v');
    expect(await promiseState(result), 'the load resolves at 50 ms [R24]').toEqual({
      state: 'fulfilled',
      value: 'v',
    });
    await advance(99);
    expect(
      cache.peek('a'),
      'getOrLoad with { ttlMs: 100 } resolved at 50 ms: peek at 149 ms (stored at 50 ms, live until 150 ms) [R24]',
    ).toBe('v');
    await advance(1);
    expect(cache.peek('a'), 'same entry: peek at 150 ms [R24]').toBeUndefined();
  });

  it('loads again once the entry has expired, using the default ttlMs [R11, R24]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2, ttlMs: 100 });
    let version = 0;
    const loader = vi.fn(async () => `v${(version += 1)}`);
    await promiseState(cache.getOrLoad('a', loader));
    await advance(99);
    expect(
      await promiseState(cache.getOrLoad('a', loader)),
      'getOrLoad at 99 ms [R11, R24]',
    ).toEqual({
      state: 'fulfilled',
      value: 'v1',
    });
    await advance(1);
    expect(
      await promiseState(cache.getOrLoad('a', loader)),
      'default ttlMs 100: getOrLoad at 100 ms finds the entry expired and loads again [R11, R24]',
    ).toEqual({ state: 'fulfilled', value: 'v2' });
    expect(loader).toHaveBeenCalledTimes(2);
  });

  it('counts a loaded value as the most recently used entry, evicting the least recently used for room [R24]', async () => {
    const { cache, events } = recorded({ maxEntries: 2 });
    cache.set('a', 'a1').set('b', 'b1');
    const load = deferred<string>();
    const result = cache.getOrLoad('c', () => load.promise);
    cache.get('a');
    load.resolve('c1');
    expect(await promiseState(result), "getOrLoad('c') resolving 'c1' [R24]").toEqual({
      state: 'fulfilled',
      value: 'c1',
    });
    expect(
      [...cache.keys()],
      "maxEntries 2, set a, b, getOrLoad('c') in flight, get('a'), then the load resolves: 'c' is stored as by set, evicting 'b' [R24]",
    ).toEqual(['c', 'a']);
    expect(events, "the entry 'b' left for room: one 'evict' [R24, R19]").toEqual([
      ['b', 'b1', 'evict'],
    ]);
  });

  it("reports an expired entry replaced by a loaded value once, as 'expire' [R24, R20]", async () => {
    const { cache, events } = recorded({ maxEntries: 2, ttlMs: 100 });
    cache.set('a', 'a1');
    await advance(100);
    const result = cache.getOrLoad('a', async () => 'a2');
    expect(await promiseState(result), "getOrLoad('a') at 100 ms, after 'a' expired [R24]").toEqual(
      { state: 'fulfilled', value: 'a2' },
    );
    cache.prune();
    expect(
      events,
      "ttlMs 100, set('a', 'a1'), getOrLoad('a') at 100 ms loads 'a2': the expired 'a1' is reported once, as 'expire' [R20, R24]",
    ).toEqual([['a', 'a1', 'expire']]);
    expect(cache.peek('a'), "peek('a') after the load [R24]").toBe('a2');
  });

  it('does not extend the time-to-live of a live entry it returns [R11, R22]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2, ttlMs: 100 });
    cache.set('a', 'a1');
    const loader = vi.fn(async () => 'loaded');
    await advance(99);
    expect(
      await promiseState(cache.getOrLoad('a', loader)),
      "ttlMs 100, set at 0 ms: getOrLoad('a') at 99 ms [R22]",
    ).toEqual({ state: 'fulfilled', value: 'a1' });
    await advance(1);
    expect(
      cache.peek('a'),
      "ttlMs 100, set at 0 ms, getOrLoad('a') at 99 ms: peek at 100 ms, the read did not extend it [R11]",
    ).toBeUndefined();
  });

  it('stores nothing for a rejected load, whatever the cache held [R25]', async () => {
    const { cache, events } = recorded({ maxEntries: 2 });
    cache.set('b', 'b1');
    const failure = new Error('pricing API down');
    const result = cache.getOrLoad('a', async () => {
      throw failure;
    });
    expect(await promiseState(result), "getOrLoad('a') whose loader rejects [R25]").toEqual({
      state: 'rejected',
      reason: failure,
    });
    expect(
      { entries: [...cache.entries()], events },
      "set b, then getOrLoad('a') rejects: nothing stored, nothing evicted [R25]",
    ).toEqual({ entries: [['b', 'b1']], events: [] });
  });

  it('keeps no timer pending while a load waits or after loads settle [R18]', async () => {
    const timers = countTimers();
    const cache = new LruTtlCache<string, string>({ maxEntries: 10, ttlMs: 1_000 });
    const loads = ['a', 'b', 'c'].map(() => deferred<string>());
    const results = ['a', 'b', 'c'].map((key, i) => cache.getOrLoad(key, () => loads[i]!.promise));
    await flushMicrotasks();
    expect(
      timers().pending,
      'timers pending while three getOrLoad calls wait for their loaders [R18]',
    ).toBe(0);
    loads[0]!.resolve('A');
    loads[1]!.resolve('B');
    loads[2]!.reject(new Error('down'));
    for (const result of results) await promiseState(result);
    expect(timers().pending, 'timers pending after three loads settled [R18]').toBe(0);
    await advance(5_000);
    expect(timers().fired, 'timer callbacks run over 5 s after the loads [R18]').toBe(0);
  });
});
