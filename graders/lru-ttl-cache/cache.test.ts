/**
 * Grader for lru-ttl-cache, stages 1 to 4: recency and capacity, time-to-live, onEviction,
 * getOrLoad. Stage 5 (model-based check and O(1) timing) is in model.test.ts.
 * Time is a fake clock throughout: the cache may read Date.now() or performance.now().
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { LruTtlCache, type EvictionReason } from '@kata/lru-ttl-cache';
import { advance, useFakeClock } from '../support/clock.ts';
import { deferred, flushMicrotasks, promiseState } from '../support/promises.ts';

type Event = [key: string, value: string, reason: EvictionReason];

/** A cache of string keys and values whose onEviction calls are recorded in `events`. */
function recorded(options: { maxEntries: number; ttlMs?: number }): {
  cache: LruTtlCache<string, string>;
  events: Event[];
} {
  const events: Event[] = [];
  const cache = new LruTtlCache<string, string>({
    ...options,
    onEviction: (key, value, reason) => {
      events.push([key, value, reason]);
    },
  });
  return { cache, events };
}

/** A cache of `maxEntries` holding `keys` set in that order, each with value `<key>1`. */
function filled(maxEntries: number, keys: string[], ttlMs?: number) {
  const result = recorded(ttlMs === undefined ? { maxEntries } : { maxEntries, ttlMs });
  for (const key of keys) result.cache.set(key, `${key}1`);
  return result;
}

const sortEvents = (events: Event[]): Event[] =>
  [...events].sort((a, b) => (a.join('|') < b.join('|') ? -1 : 1));

beforeEach(() => {
  useFakeClock();
});

describe('stage 1: stores entries and evicts the least recently used', () => {
  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'rejects maxEntries %s with a RangeError naming maxEntries',
    (maxEntries) => {
      expect(
        () => new LruTtlCache({ maxEntries }),
        `new LruTtlCache({ maxEntries: ${maxEntries} }) must throw a RangeError: maxEntries is an integer >= 1`,
      ).toThrow(RangeError);
      expect(() => new LruTtlCache({ maxEntries })).toThrow(/maxEntries/);
    },
  );

  it.each([['10'], [undefined]])(
    'rejects maxEntries %j (not a number) with a TypeError naming maxEntries',
    (maxEntries) => {
      const options = { maxEntries } as unknown as { maxEntries: number };
      expect(
        () => new LruTtlCache(options),
        `new LruTtlCache({ maxEntries: ${JSON.stringify(maxEntries)} }) must throw a TypeError: a wrong type is a TypeError, not a RangeError`,
      ).toThrow(TypeError);
      expect(() => new LruTtlCache(options)).toThrow(/maxEntries/);
    },
  );

  it('returns stored values from get and peek, and undefined for a missing key', () => {
    const cache = new LruTtlCache<string, number>({ maxEntries: 3 });
    cache.set('a', 1).set('b', 2);
    expect(cache.get('a'), "set('a', 1) then get('a')").toBe(1);
    expect(cache.peek('b'), "set('b', 2) then peek('b')").toBe(2);
    expect(cache.get('zzz'), "get('zzz') of a key never set").toBeUndefined();
    expect(cache.peek('zzz'), "peek('zzz') of a key never set").toBeUndefined();
    expect(cache.has('a'), "has('a') after set('a', 1)").toBe(true);
    expect(cache.has('zzz'), "has('zzz') of a key never set").toBe(false);
  });

  it('stores falsy values (0, empty string, false, null) as present entries', () => {
    const cache = new LruTtlCache<string, unknown>({ maxEntries: 10 });
    const values: [string, unknown][] = [
      ['zero', 0],
      ['empty', ''],
      ['no', false],
      ['nothing', null],
    ];
    for (const [key, value] of values) cache.set(key, value);
    for (const [key, value] of values) {
      expect(cache.has(key), `has('${key}') after set('${key}', ${JSON.stringify(value)})`).toBe(
        true,
      );
      expect(cache.get(key), `get('${key}') after set('${key}', ${JSON.stringify(value)})`).toBe(
        value,
      );
    }
    expect(cache.size, 'size after storing 4 falsy values').toBe(4);
  });

  it('returns the cache itself from set, for chaining', () => {
    const cache = new LruTtlCache<string, number>({ maxEntries: 2 });
    expect(cache.set('a', 1), "set('a', 1) must return the cache (like Map.prototype.set)").toBe(
      cache,
    );
  });

  it('replaces the value of an existing key without adding an entry', () => {
    const cache = new LruTtlCache<string, number>({ maxEntries: 3 });
    cache.set('a', 1).set('a', 2);
    expect(cache.get('a'), "set('a', 1) then set('a', 2): get('a')").toBe(2);
    expect(cache.size, "set('a', 1) then set('a', 2): one key, one entry").toBe(1);
  });

  it('deletes an entry, returning true, and returns false for a missing key', () => {
    const cache = new LruTtlCache<string, number>({ maxEntries: 3 });
    cache.set('a', 1).set('b', 2);
    expect(cache.delete('a'), "delete('a') of a stored key").toBe(true);
    expect(cache.has('a'), "has('a') after delete('a')").toBe(false);
    expect(cache.get('a'), "get('a') after delete('a')").toBeUndefined();
    expect(cache.delete('a'), "delete('a') a second time: nothing left to delete").toBe(false);
    expect(cache.delete('zzz'), "delete('zzz') of a key never set").toBe(false);
    expect(cache.size, 'size after set a, set b, delete a').toBe(1);
  });

  it('clears every entry', () => {
    const cache = new LruTtlCache<string, number>({ maxEntries: 3 });
    cache.set('a', 1).set('b', 2).set('c', 3);
    cache.clear();
    expect(cache.size, 'size after clear()').toBe(0);
    expect([...cache.keys()], 'keys() after clear()').toEqual([]);
    expect(cache.has('a'), "has('a') after clear()").toBe(false);
    cache.set('d', 4);
    expect(
      [...cache.keys()],
      'the cache is usable again after clear(): keys() after set d',
    ).toEqual(['d']);
  });

  it('holds exactly maxEntries entries before evicting anything', () => {
    const { cache } = filled(3, ['a', 'b', 'c']);
    expect(cache.size, 'maxEntries 3, set a, b, c: all three fit (none evicted one early)').toBe(3);
    for (const key of ['a', 'b', 'c']) {
      expect(cache.has(key), `maxEntries 3, set a, b, c: has('${key}')`).toBe(true);
    }
  });

  it('evicts the least recently used entry when a new key is added at maxEntries', () => {
    const { cache } = filled(3, ['a', 'b', 'c', 'd']);
    expect(
      cache.has('a'),
      "maxEntries 3, set a, b, c, d: 'a' is the least recently used and must be evicted",
    ).toBe(false);
    expect([...cache.keys()], 'maxEntries 3, set a, b, c, d: keys() most recent first').toEqual([
      'd',
      'c',
      'b',
    ]);
    expect(cache.size, 'maxEntries 3, set a, b, c, d: size never exceeds maxEntries').toBe(3);
    cache.set('e', 'e1');
    expect(
      [...cache.keys()],
      "then set e: 'b' is now the least recently used and is evicted",
    ).toEqual(['e', 'd', 'c']);
  });

  it('keeps only the latest entry when maxEntries is 1', () => {
    const { cache } = filled(1, ['a', 'b']);
    expect([...cache.keys()], 'maxEntries 1, set a then b: keys()').toEqual(['b']);
    expect(cache.get('a'), "maxEntries 1, set a then b: get('a')").toBeUndefined();
  });

  it('marks an entry most recently used on get, so it survives the next eviction', () => {
    const { cache } = filled(3, ['a', 'b', 'c']);
    expect(cache.get('a'), "get('a')").toBe('a1');
    cache.set('d', 'd1');
    expect(
      cache.has('a'),
      "maxEntries 3, set a, b, c, get a, set d: get('a') made 'a' the most recently used, so 'b' is evicted instead",
    ).toBe(true);
    expect(cache.has('b'), "maxEntries 3, set a, b, c, get a, set d: 'b' is evicted").toBe(false);
    expect([...cache.keys()], 'keys() most recent first').toEqual(['d', 'a', 'c']);
  });

  it('marks an existing key most recently used when it is set again', () => {
    const { cache } = filled(3, ['a', 'b', 'c']);
    cache.set('a', 'a2');
    cache.set('d', 'd1');
    expect(
      [...cache.keys()],
      "maxEntries 3, set a, b, c, set a again, set d: 'a' was refreshed, so 'b' is evicted",
    ).toEqual(['d', 'a', 'c']);
    expect(cache.get('a'), "get('a') after set('a', 'a2')").toBe('a2');
  });

  it('replaces an existing key at maxEntries without evicting anything', () => {
    const { cache } = filled(2, ['a', 'b']);
    cache.set('a', 'a2');
    expect(
      [...cache.keys()],
      'maxEntries 2, set a, b, then set a again: the cache is full but a replacement adds no entry',
    ).toEqual(['a', 'b']);
  });

  it.each([
    ['peek', (cache: LruTtlCache<string, string>) => cache.peek('a')],
    ['has', (cache: LruTtlCache<string, string>) => cache.has('a')],
    ['keys', (cache: LruTtlCache<string, string>) => [...cache.keys()]],
    ['entries', (cache: LruTtlCache<string, string>) => [...cache.entries()]],
  ])('leaves recency unchanged on %s', (name, call) => {
    const { cache } = filled(3, ['a', 'b', 'c']);
    call(cache);
    cache.set('d', 'd1');
    expect(
      cache.has('a'),
      `maxEntries 3, set a, b, c, ${name}(), set d: ${name} must not refresh recency, so 'a' (least recently used) is evicted`,
    ).toBe(false);
    expect([...cache.keys()], 'keys() most recent first').toEqual(['d', 'c', 'b']);
  });

  it('leaves recency unchanged on get of a missing key', () => {
    const { cache } = filled(3, ['a', 'b', 'c']);
    cache.get('zzz');
    expect([...cache.keys()], "set a, b, c, get('zzz'): keys() most recent first").toEqual([
      'c',
      'b',
      'a',
    ]);
  });

  it('lists keys and entries from most to least recently used', () => {
    const { cache } = filled(4, ['a', 'b', 'c', 'd']);
    cache.get('b');
    cache.set('c', 'c2');
    expect([...cache.keys()], 'set a, b, c, d, get b, set c: keys()').toEqual(['c', 'b', 'd', 'a']);
    expect([...cache.entries()], 'set a, b, c, d, get b, set c: entries()').toEqual([
      ['c', 'c2'],
      ['b', 'b1'],
      ['d', 'd1'],
      ['a', 'a1'],
    ]);
  });

  it('makes room again after a delete, so the next new key evicts nothing', () => {
    const { cache } = filled(3, ['a', 'b', 'c']);
    cache.delete('b');
    cache.set('d', 'd1');
    expect(
      [...cache.keys()],
      'maxEntries 3, set a, b, c, delete b, set d: three entries fit',
    ).toEqual(['d', 'c', 'a']);
  });

  it('compares keys like a Map: objects by identity', () => {
    const cache = new LruTtlCache<object, string>({ maxEntries: 2 });
    const key = { id: 1 };
    cache.set(key, 'x');
    expect(cache.get(key), 'get with the same object').toBe('x');
    expect(cache.get({ id: 1 }), 'get with an equal but different object').toBeUndefined();
  });
});

describe('stage 2: expires entries after their time-to-live', () => {
  it.each([-1, Number.NaN, Number.NEGATIVE_INFINITY])(
    'rejects a default ttlMs of %s with a RangeError naming ttlMs',
    (ttlMs) => {
      expect(
        () => new LruTtlCache({ maxEntries: 2, ttlMs }),
        `new LruTtlCache({ maxEntries: 2, ttlMs: ${ttlMs} }) must throw a RangeError`,
      ).toThrow(RangeError);
      expect(() => new LruTtlCache({ maxEntries: 2, ttlMs })).toThrow(/ttlMs/);
    },
  );

  it('rejects a default ttlMs that is not a number with a TypeError naming ttlMs', () => {
    const options = { maxEntries: 2, ttlMs: '1000' } as unknown as { maxEntries: number };
    expect(
      () => new LruTtlCache(options),
      "new LruTtlCache({ maxEntries: 2, ttlMs: '1000' }) must throw a TypeError",
    ).toThrow(TypeError);
    expect(() => new LruTtlCache(options)).toThrow(/ttlMs/);
  });

  it.each([-5, Number.NaN])(
    'rejects a per-entry ttlMs of %s with a RangeError naming ttlMs, leaving the cache unchanged',
    (ttlMs) => {
      const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
      cache.set('a', 'old');
      expect(
        () => cache.set('a', 'new', { ttlMs }),
        `set('a', 'new', { ttlMs: ${ttlMs} }) must throw a RangeError`,
      ).toThrow(RangeError);
      expect(() => cache.set('a', 'new', { ttlMs })).toThrow(/ttlMs/);
      expect(
        cache.get('a'),
        `the rejected set('a', 'new', { ttlMs: ${ttlMs} }) must not store`,
      ).toBe('old');
    },
  );

  it('rejects a per-entry ttlMs that is not a number with a TypeError naming ttlMs', () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    const options = { ttlMs: '10' } as unknown as { ttlMs: number };
    expect(() => cache.set('a', 'x', options), "set('a', 'x', { ttlMs: '10' })").toThrow(TypeError);
    expect(() => cache.set('a', 'x', options)).toThrow(/ttlMs/);
  });

  it('keeps no timer per entry: 1,000 entries with a time-to-live schedule no timer', async () => {
    const cache = new LruTtlCache<number, number>({ maxEntries: 2_000, ttlMs: 1_000 });
    for (let i = 0; i < 1_000; i += 1) cache.set(i, i, { ttlMs: 500 + i });
    expect(
      vi.getTimerCount(),
      'timers pending after setting 1,000 entries with a TTL: expiry must be checked when an entry is read (or by prune()), not by a timer per entry',
    ).toBe(0);
    await advance(2_000);
    expect(cache.get(0), 'get(0) after every entry expired').toBeUndefined();
    expect(vi.getTimerCount(), 'timers pending after the entries expired').toBe(0);
  });

  it('never expires entries when ttlMs is 0 or absent', async () => {
    const forever = new LruTtlCache<string, string>({ maxEntries: 2, ttlMs: 0 });
    const absent = new LruTtlCache<string, string>({ maxEntries: 2 });
    forever.set('a', 'x');
    absent.set('a', 'x');
    await advance(365 * 24 * 3_600_000);
    expect(forever.get('a'), 'ttlMs 0 means never expires: get after a year').toBe('x');
    expect(absent.get('a'), 'no ttlMs means never expires: get after a year').toBe('x');
  });

  const probes = {
    get: (cache: LruTtlCache<string, string>) => cache.get('a'),
    peek: (cache: LruTtlCache<string, string>) => cache.peek('a'),
    has: (cache: LruTtlCache<string, string>) => cache.has('a'),
    keys: (cache: LruTtlCache<string, string>) => [...cache.keys()],
    entries: (cache: LruTtlCache<string, string>) => [...cache.entries()],
  };
  const liveAnswer = { get: 'x', peek: 'x', has: true, keys: ['a'], entries: [['a', 'x']] };
  const goneAnswer = { get: undefined, peek: undefined, has: false, keys: [], entries: [] };

  it.each(Object.keys(probes) as (keyof typeof probes)[])(
    'shows an entry with ttlMs 1000 to %s at 999 ms and hides it from exactly 1000 ms on',
    async (name) => {
      const probe = probes[name];
      const early = new LruTtlCache<string, string>({ maxEntries: 2, ttlMs: 1000 });
      const onTime = new LruTtlCache<string, string>({ maxEntries: 2, ttlMs: 1000 });
      const late = new LruTtlCache<string, string>({ maxEntries: 2, ttlMs: 1000 });
      for (const cache of [early, onTime, late]) cache.set('a', 'x');
      await advance(999);
      expect(probe(early), `ttlMs 1000, set at 0 ms: ${name} at 999 ms sees a live entry`).toEqual(
        liveAnswer[name],
      );
      await advance(1);
      expect(
        probe(onTime),
        `ttlMs 1000, set at 0 ms: ${name} at exactly 1000 ms must not see it (live while now < set time + ttlMs)`,
      ).toEqual(goneAnswer[name]);
      await advance(1);
      expect(probe(late), `ttlMs 1000, set at 0 ms: ${name} at 1001 ms`).toEqual(goneAnswer[name]);
    },
  );

  it('uses a per-entry ttlMs instead of the default, longer or shorter', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 3, ttlMs: 100 });
    cache.set('short', 's', { ttlMs: 50 });
    cache.set('long', 'l', { ttlMs: 300 });
    cache.set('default', 'd');
    await advance(50);
    expect(cache.has('short'), "set('short', { ttlMs: 50 }): has at 50 ms").toBe(false);
    expect(cache.has('default'), 'default ttlMs 100: has at 50 ms').toBe(true);
    await advance(50);
    expect(cache.has('default'), 'default ttlMs 100: has at 100 ms').toBe(false);
    expect(cache.has('long'), "set('long', { ttlMs: 300 }) with default 100: has at 100 ms").toBe(
      true,
    );
    await advance(199);
    expect(cache.has('long'), "set('long', { ttlMs: 300 }): has at 299 ms").toBe(true);
    await advance(1);
    expect(cache.has('long'), "set('long', { ttlMs: 300 }): has at 300 ms").toBe(false);
  });

  it('never expires an entry set with ttlMs 0, whatever the default', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2, ttlMs: 100 });
    cache.set('a', 'x', { ttlMs: 0 });
    await advance(1_000_000);
    expect(
      cache.get('a'),
      "default ttlMs 100, set('a', 'x', { ttlMs: 0 }): 0 means never expires, not 'use the default'",
    ).toBe('x');
  });

  it('uses the default when the per-entry ttlMs is undefined', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2, ttlMs: 100 });
    cache.set('a', 'x', { ttlMs: undefined });
    cache.set('b', 'y', {});
    await advance(100);
    expect(
      cache.has('a'),
      "default ttlMs 100, set('a', 'x', { ttlMs: undefined }): has at 100 ms",
    ).toBe(false);
    expect(cache.has('b'), "default ttlMs 100, set('b', 'y', {}): has at 100 ms").toBe(false);
  });

  it('restarts the time-to-live when an entry is set again', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2, ttlMs: 100 });
    cache.set('a', 'x');
    await advance(60);
    cache.set('a', 'y');
    await advance(99);
    expect(
      cache.get('a'),
      'ttlMs 100, set at 0 ms and again at 60 ms: get at 159 ms (the deadline is 160 ms, from the last set)',
    ).toBe('y');
    await advance(1);
    expect(
      cache.get('a'),
      'ttlMs 100, set at 0 ms and again at 60 ms: get at 160 ms',
    ).toBeUndefined();
  });

  it('applies the new per-entry ttlMs when an entry is set again', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    cache.set('a', 'x', { ttlMs: 100 });
    cache.set('a', 'y');
    await advance(1_000);
    expect(
      cache.get('a'),
      "set('a', 'x', { ttlMs: 100 }) then set('a', 'y') with no default: the second set never expires",
    ).toBe('y');
  });

  it('does not extend the time-to-live when an entry is read', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2, ttlMs: 100 });
    cache.set('a', 'x');
    for (let t = 0; t < 99; t += 33) {
      await advance(33);
      expect(cache.get('a'), `ttlMs 100, set at 0 ms: get at ${t + 33} ms`).toBe('x');
    }
    await advance(1);
    expect(
      cache.get('a'),
      'ttlMs 100, set at 0 ms and read at 33, 66, 99 ms: reads do not extend it, so gone at 100 ms',
    ).toBeUndefined();
  });

  it('returns false from delete for an entry that has expired', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2, ttlMs: 100 });
    cache.set('a', 'x');
    await advance(100);
    expect(
      cache.delete('a'),
      "ttlMs 100, set at 0 ms: delete('a') at 100 ms finds nothing live",
    ).toBe(false);
  });

  it('stores a fresh entry when an expired key is set again', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2, ttlMs: 100 });
    cache.set('a', 'x');
    await advance(150);
    cache.set('a', 'y');
    await advance(99);
    expect(cache.get('a'), 'ttlMs 100, set at 0 ms, set again at 150 ms: get at 249 ms').toBe('y');
  });

  it('prunes exactly the expired entries and returns how many it removed', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 5, ttlMs: 100 });
    cache.set('a', '1').set('b', '2').set('c', '3', { ttlMs: 0 }).set('d', '4', { ttlMs: 500 });
    await advance(50);
    cache.set('e', '5');
    expect(cache.prune(), 'prune() at 50 ms: nothing has expired yet').toBe(0);
    await advance(50);
    expect(cache.prune(), 'prune() at 100 ms: a and b (ttlMs 100, set at 0 ms) have expired').toBe(
      2,
    );
    expect(cache.size, 'size after prune(): c, d and e remain').toBe(3);
    expect([...cache.keys()], 'keys() after prune()').toEqual(['e', 'd', 'c']);
    expect(cache.prune(), 'a second prune() at 100 ms has nothing left to remove').toBe(0);
    await advance(50);
    expect(cache.prune(), 'prune() at 150 ms: e (set at 50 ms, ttlMs 100) has expired').toBe(1);
    expect(cache.size, 'size after the second prune(): c and d remain').toBe(2);
  });

  it('counts expired entries in size at most until they are pruned', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 5, ttlMs: 100 });
    cache.set('a', '1').set('b', '2').set('c', '3', { ttlMs: 0 });
    await advance(100);
    expect(
      cache.size,
      'size at 100 ms: 1 live entry, 2 expired that may still be counted',
    ).toBeGreaterThanOrEqual(1);
    expect(cache.size, 'size at 100 ms: at most the 3 entries stored').toBeLessThanOrEqual(3);
    cache.prune();
    expect(cache.size, 'size after prune(): only the live entry c').toBe(1);
  });

  it('evicts an expired least recently used entry to make room, keeping the live ones', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    cache.set('a', 'x', { ttlMs: 100 });
    cache.set('b', 'y');
    await advance(100);
    cache.set('c', 'z');
    expect(
      [...cache.keys()],
      "maxEntries 2, set a (ttlMs 100), set b, at 100 ms set c: 'a' has expired and makes the room",
    ).toEqual(['c', 'b']);
  });
});

describe('stage 3: reports every eviction to onEviction', () => {
  it('rejects an onEviction that is not a function with a TypeError naming onEviction', () => {
    const options = { maxEntries: 2, onEviction: 'log' } as unknown as { maxEntries: number };
    expect(() => new LruTtlCache(options), "new LruTtlCache({ onEviction: 'log' })").toThrow(
      TypeError,
    );
    expect(() => new LruTtlCache(options)).toThrow(/onEviction/);
  });

  it("reports the evicted least recently used entry once, as 'evict'", () => {
    const { cache, events } = filled(2, ['a', 'b']);
    expect(events, 'maxEntries 2, set a, b: nothing has left the cache').toEqual([]);
    cache.set('c', 'c1');
    expect(events, "maxEntries 2, set a, b, c: 'a' is evicted, reported once").toEqual([
      ['a', 'a1', 'evict'],
    ]);
  });

  it("reports a replaced value as 'set', with the old value", () => {
    const { cache, events } = filled(2, ['a']);
    cache.set('a', 'a2');
    expect(events, "set('a', 'a1') then set('a', 'a2')").toEqual([['a', 'a1', 'set']]);
  });

  it("reports delete() as 'delete', and nothing for a missing key", () => {
    const { cache, events } = filled(2, ['a']);
    cache.delete('a');
    cache.delete('a');
    cache.delete('zzz');
    expect(events, "set a, delete('a') twice, delete('zzz')").toEqual([['a', 'a1', 'delete']]);
  });

  it("reports every entry removed by clear() once, as 'clear'", () => {
    const { cache, events } = filled(3, ['a', 'b', 'c']);
    cache.clear();
    expect(sortEvents(events), 'set a, b, c, clear() (in any order)').toEqual([
      ['a', 'a1', 'clear'],
      ['b', 'b1', 'clear'],
      ['c', 'c1', 'clear'],
    ]);
    cache.clear();
    expect(events.length, 'a second clear() of an empty cache reports nothing more').toBe(3);
  });

  it("reports entries removed by prune() as 'expire'", async () => {
    const { cache, events } = filled(3, ['a', 'b'], 100);
    cache.set('c', 'c1', { ttlMs: 0 });
    await advance(100);
    cache.prune();
    expect(sortEvents(events), 'ttlMs 100, set a, b, c (ttlMs 0), prune() at 100 ms').toEqual([
      ['a', 'a1', 'expire'],
      ['b', 'b1', 'expire'],
    ]);
  });

  it("reports an expired entry removed by delete() as 'expire', not 'delete'", async () => {
    const { cache, events } = filled(2, ['a'], 100);
    await advance(100);
    expect(cache.delete('a'), "delete('a') of an expired entry").toBe(false);
    cache.prune();
    expect(
      events,
      "ttlMs 100, set a, delete('a') at 100 ms (then prune()): the entry had expired, so 'expire', once",
    ).toEqual([['a', 'a1', 'expire']]);
  });

  it("reports an expired entry replaced by set() as 'expire', not 'set'", async () => {
    const { cache, events } = filled(2, ['a'], 100);
    await advance(100);
    cache.set('a', 'a2');
    expect(events, "ttlMs 100, set('a', 'a1'), set('a', 'a2') at 100 ms").toEqual([
      ['a', 'a1', 'expire'],
    ]);
  });

  it("reports an expired entry evicted for room as 'expire', not 'evict'", async () => {
    const { cache, events } = recorded({ maxEntries: 2 });
    cache.set('a', 'a1', { ttlMs: 100 }).set('b', 'b1');
    await advance(100);
    cache.set('c', 'c1');
    expect(
      events,
      "maxEntries 2, set a (ttlMs 100), set b, set c at 100 ms: 'a' had expired",
    ).toEqual([['a', 'a1', 'expire']]);
  });

  it("reports expired entries removed by clear() as 'expire', the others as 'clear'", async () => {
    const { cache, events } = recorded({ maxEntries: 3 });
    cache.set('a', 'a1', { ttlMs: 100 }).set('b', 'b1');
    await advance(100);
    cache.clear();
    expect(sortEvents(events), 'set a (ttlMs 100), set b, clear() at 100 ms').toEqual([
      ['a', 'a1', 'expire'],
      ['b', 'b1', 'clear'],
    ]);
  });

  it('reports an expired entry exactly once, however often it is read', async () => {
    const { cache, events } = filled(2, ['a', 'b'], 100);
    await advance(100);
    for (let round = 0; round < 2; round += 1) {
      cache.get('a');
      cache.peek('a');
      cache.has('a');
      Array.from(cache.keys());
      Array.from(cache.entries());
      cache.delete('a');
    }
    cache.prune();
    cache.clear();
    expect(
      sortEvents(events),
      'ttlMs 100, set a, b; at 100 ms: get, peek, has, keys, entries, delete a (twice), prune(), clear()',
    ).toEqual([
      ['a', 'a1', 'expire'],
      ['b', 'b1', 'expire'],
    ]);
  });

  it('reports nothing for reads of live entries', () => {
    const { cache, events } = filled(3, ['a', 'b']);
    cache.get('a');
    cache.peek('b');
    cache.has('a');
    Array.from(cache.keys());
    Array.from(cache.entries());
    cache.prune();
    expect(events, 'set a, b, then get, peek, has, keys, entries, prune').toEqual([]);
  });

  it('reports events in the order the operations removed the entries', () => {
    const { cache, events } = filled(2, ['a', 'b']);
    cache.set('a', 'a2');
    cache.set('c', 'c1');
    cache.delete('a');
    cache.set('d', 'd1');
    cache.set('e', 'e1');
    expect(
      events,
      'maxEntries 2: set a, b; set a (replace); set c (evicts b); delete a; set d; set e (evicts c)',
    ).toEqual([
      ['a', 'a1', 'set'],
      ['b', 'b1', 'evict'],
      ['a', 'a2', 'delete'],
      ['c', 'c1', 'evict'],
    ]);
  });

  describe('is called after the cache has been updated', () => {
    it("shows the new entry in and the evicted one out, inside an 'evict' callback", () => {
      const seen: unknown[] = [];
      const cache: LruTtlCache<string, string> = new LruTtlCache<string, string>({
        maxEntries: 2,
        onEviction: () => {
          seen.push({
            hasEvicted: cache.has('a'),
            newValue: cache.peek('c'),
            size: cache.size,
          });
        },
      });
      cache.set('a', 'a1').set('b', 'b1').set('c', 'c1');
      expect(
        seen,
        "maxEntries 2, set a, b, c: inside onEviction('a', 'a1', 'evict') the set must be complete: 'a' gone, 'c' stored, size 2",
      ).toEqual([{ hasEvicted: false, newValue: 'c1', size: 2 }]);
    });

    it("shows the new value inside a 'set' callback", () => {
      const seen: unknown[] = [];
      const cache: LruTtlCache<string, string> = new LruTtlCache<string, string>({
        maxEntries: 2,
        onEviction: () => {
          seen.push({ value: cache.peek('a'), size: cache.size });
        },
      });
      cache.set('a', 'a1').set('a', 'a2');
      expect(
        seen,
        "set a1, then set a2: inside onEviction('a', 'a1', 'set') peek('a') is already 'a2'",
      ).toEqual([{ value: 'a2', size: 1 }]);
    });

    it("shows the entry gone inside a 'delete' callback", () => {
      const seen: unknown[] = [];
      const cache: LruTtlCache<string, string> = new LruTtlCache<string, string>({
        maxEntries: 2,
        onEviction: () => {
          seen.push({ has: cache.has('a'), size: cache.size });
        },
      });
      cache.set('a', 'a1').set('b', 'b1');
      cache.delete('a');
      expect(seen, "set a, b, delete('a'): inside the 'delete' callback 'a' is gone").toEqual([
        { has: false, size: 1 },
      ]);
    });

    it("shows an empty cache inside every 'clear' callback", () => {
      const sizes: number[] = [];
      const cache: LruTtlCache<string, string> = new LruTtlCache<string, string>({
        maxEntries: 3,
        onEviction: () => {
          sizes.push(cache.size);
        },
      });
      cache.set('a', 'a1').set('b', 'b1').set('c', 'c1');
      cache.clear();
      expect(sizes, "set a, b, c, clear(): size inside each 'clear' callback").toEqual([0, 0, 0]);
    });

    it("shows the expired entry removed inside a pruning 'expire' callback", async () => {
      const sizes: number[] = [];
      const cache: LruTtlCache<string, string> = new LruTtlCache<string, string>({
        maxEntries: 3,
        onEviction: () => {
          sizes.push(cache.size);
        },
      });
      cache.set('a', 'a1', { ttlMs: 100 }).set('b', 'b1');
      await advance(100);
      cache.prune();
      expect(
        sizes,
        "set a (ttlMs 100), b, prune() at 100 ms: size inside the 'expire' callback",
      ).toEqual([1]);
    });
  });
});

describe('stage 4: loads missing entries once with getOrLoad', () => {
  it('rejects a loader that is not a function with a TypeError', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    const loader = 'fetch' as unknown as (key: string) => Promise<string>;
    await expect(
      cache.getOrLoad('a', loader),
      "getOrLoad('a', 'fetch') must reject (not throw) with a TypeError",
    ).rejects.toBeInstanceOf(TypeError);
  });

  it('rejects a negative ttlMs option with a RangeError naming ttlMs, without loading', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    const loader = vi.fn(async () => 'x');
    const result = cache.getOrLoad('a', loader, { ttlMs: -1 });
    await expect(result, "getOrLoad('a', loader, { ttlMs: -1 })").rejects.toBeInstanceOf(
      RangeError,
    );
    await expect(cache.getOrLoad('a', loader, { ttlMs: -1 })).rejects.toThrow(/ttlMs/);
    expect(cache.has('a'), 'nothing is stored after the rejected call').toBe(false);
  });

  it('rejects a loader that is not a function with a TypeError naming loader, even for a live key', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    cache.set('a', 'cached');
    const loader = 'fetch' as unknown as (key: string) => Promise<string>;
    const result = cache.getOrLoad('a', loader);
    await expect(
      result,
      "set('a', 'cached'), getOrLoad('a', 'fetch'): an invalid argument rejects whatever the cache holds",
    ).rejects.toBeInstanceOf(TypeError);
    await expect(
      cache.getOrLoad('a', loader),
      'the TypeError message must name the offending argument, loader',
    ).rejects.toThrow(/loader/);
  });

  it('rejects a negative ttlMs option with a RangeError naming ttlMs, even for a live key', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    cache.set('a', 'cached');
    const loader = vi.fn(async () => 'x');
    await expect(
      cache.getOrLoad('a', loader, { ttlMs: -1 }),
      "set('a', 'cached'), getOrLoad('a', loader, { ttlMs: -1 }): an invalid option rejects whatever the cache holds",
    ).rejects.toBeInstanceOf(RangeError);
    await expect(
      cache.getOrLoad('a', loader, { ttlMs: -1 }),
      'the RangeError message must name the offending option, ttlMs',
    ).rejects.toThrow(/ttlMs/);
    expect(cache.peek('a'), 'the rejected call leaves the live entry as it was').toBe('cached');
  });

  it('loads a missing key once, calling the loader with the key, and stores the value', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    const loader = vi.fn(async (key: string) => `loaded ${key}`);
    const result = cache.getOrLoad('a', loader);
    expect(await promiseState(result), "getOrLoad('a') with a loader resolving 'loaded a'").toEqual(
      { state: 'fulfilled', value: 'loaded a' },
    );
    expect(loader.mock.calls, "the loader is called once, with the key 'a'").toEqual([['a']]);
    expect(cache.peek('a'), 'the loaded value is stored in the cache').toBe('loaded a');
  });

  it('returns a live entry without calling the loader', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    cache.set('a', 'cached');
    const loader = vi.fn(async () => 'loaded');
    expect(
      await promiseState(cache.getOrLoad('a', loader)),
      "set('a', 'cached'), getOrLoad('a')",
    ).toEqual({ state: 'fulfilled', value: 'cached' });
    expect(loader, 'the loader must not be called for a live entry').not.toHaveBeenCalled();
  });

  it('counts a live entry returned by getOrLoad as a use, like get', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    cache.set('a', 'a1').set('b', 'b1');
    await promiseState(cache.getOrLoad('a', async () => 'loaded'));
    cache.set('c', 'c1');
    expect(
      [...cache.keys()],
      "maxEntries 2, set a, b, getOrLoad('a'), set c: 'a' was used, so 'b' is evicted",
    ).toEqual(['c', 'a']);
  });

  it('shares one loader call among concurrent callers of a key', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    const load = deferred<string>();
    const loader = vi.fn(() => load.promise);
    const early = [1, 2, 3, 4, 5].map(() => cache.getOrLoad('a', loader));
    await advance(10);
    const late = cache.getOrLoad('a', loader);
    expect(
      loader,
      "5 calls of getOrLoad('a') at once, then one 10 ms later while the load is pending: one loader call",
    ).toHaveBeenCalledTimes(1);
    load.resolve('value');
    for (const [index, result] of [...early, late].entries()) {
      expect(await promiseState(result), `caller ${index + 1} of 6 for key 'a'`).toEqual({
        state: 'fulfilled',
        value: 'value',
      });
    }
    expect(cache.get('a'), 'the shared value is stored').toBe('value');
    expect(loader, 'still one loader call').toHaveBeenCalledTimes(1);
  });

  it('loads different keys separately', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    const loader = vi.fn(async (key: string) => key.toUpperCase());
    const a = cache.getOrLoad('a', loader);
    const b = cache.getOrLoad('b', loader);
    expect(await promiseState(a), "getOrLoad('a')").toEqual({ state: 'fulfilled', value: 'A' });
    expect(await promiseState(b), "getOrLoad('b')").toEqual({ state: 'fulfilled', value: 'B' });
    expect(loader.mock.calls, 'one loader call per key').toEqual([['a'], ['b']]);
  });

  it('rejects every waiting caller with the loader error and does not cache it', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    const failure = new Error('database down');
    const load = deferred<string>();
    const failing = vi.fn(() => load.promise);
    const waiting = [1, 2, 3].map(() => cache.getOrLoad('a', failing));
    load.reject(failure);
    for (const [index, result] of waiting.entries()) {
      expect(
        await promiseState(result),
        `caller ${index + 1} of 3 waiting on a load that rejects: rejected with the loader's own error`,
      ).toEqual({ state: 'rejected', reason: failure });
    }
    expect(failing, 'one loader call for the 3 callers').toHaveBeenCalledTimes(1);
    expect(cache.has('a'), 'a failed load stores nothing').toBe(false);

    const retry = vi.fn(async () => 'recovered');
    expect(
      await promiseState(cache.getOrLoad('a', retry)),
      "getOrLoad('a') after the failed load: the rejection is not cached, so it loads again",
    ).toEqual({ state: 'fulfilled', value: 'recovered' });
    expect(retry).toHaveBeenCalledTimes(1);
  });

  it('loads again after a load has settled and its entry was deleted', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    const loader = vi.fn(async () => 'v');
    await promiseState(cache.getOrLoad('a', loader));
    await promiseState(cache.getOrLoad('a', loader));
    expect(loader, 'second getOrLoad finds the stored value').toHaveBeenCalledTimes(1);
    cache.delete('a');
    await promiseState(cache.getOrLoad('a', loader));
    expect(loader, 'getOrLoad after delete loads again').toHaveBeenCalledTimes(2);
  });

  it('stores a loaded value with the ttlMs option, measured from when the value arrives', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    const load = deferred<string>();
    const result = cache.getOrLoad('a', () => load.promise, { ttlMs: 100 });
    await advance(50);
    load.resolve('v');
    expect(await promiseState(result), 'the load resolves at 50 ms').toEqual({
      state: 'fulfilled',
      value: 'v',
    });
    await advance(99);
    expect(
      cache.peek('a'),
      'getOrLoad with { ttlMs: 100 } resolved at 50 ms: peek at 149 ms (stored at 50 ms, live until 150 ms)',
    ).toBe('v');
    await advance(1);
    expect(cache.peek('a'), 'same entry: peek at 150 ms').toBeUndefined();
  });

  it('loads again once the entry has expired, using the default ttlMs', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2, ttlMs: 100 });
    let version = 0;
    const loader = vi.fn(async () => `v${(version += 1)}`);
    await promiseState(cache.getOrLoad('a', loader));
    await advance(99);
    expect(await promiseState(cache.getOrLoad('a', loader)), 'getOrLoad at 99 ms').toEqual({
      state: 'fulfilled',
      value: 'v1',
    });
    await advance(1);
    expect(
      await promiseState(cache.getOrLoad('a', loader)),
      'default ttlMs 100: getOrLoad at 100 ms finds the entry expired and loads again',
    ).toEqual({ state: 'fulfilled', value: 'v2' });
    expect(loader).toHaveBeenCalledTimes(2);
  });

  it('leaves no timer behind after loads settle', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 10, ttlMs: 1_000 });
    const results = ['a', 'b', 'c'].map((key) => cache.getOrLoad(key, async () => key));
    await flushMicrotasks();
    for (const result of results) await promiseState(result);
    expect(vi.getTimerCount(), 'timers pending after three loads settled').toBe(0);
  });
});
