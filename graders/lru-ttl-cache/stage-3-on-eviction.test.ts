/**
 * Grader for lru-ttl-cache, stage 3: reports every eviction to onEviction. Its validation (R29),
 * every reason, each exactly once and in operation order (R19), `'expire'` whatever removes an
 * expired entry (R20), and the cache already updated inside the callback (R21). Time is a fake
 * clock throughout.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { LruTtlCache } from '@kata/lru-ttl-cache';
import { advance, useFakeClock } from '../support/clock.ts';
import { expectThrows, filled, recorded, sortEvents } from './fixtures.ts';

beforeEach(() => {
  useFakeClock();
});

describe('stage 3: reports every eviction to onEviction', () => {
  it('rejects an onEviction that is not a function with a TypeError naming onEviction [R29]', () => {
    for (const onEviction of ['log', 42, {}]) {
      const options = { maxEntries: 2, onEviction } as unknown as { maxEntries: number };
      expectThrows(
        () => new LruTtlCache(options),
        `new LruTtlCache({ maxEntries: 2, onEviction: ${JSON.stringify(onEviction)} })`,
        { type: TypeError, names: 'onEviction', rule: 'R29' },
      );
    }
    expect(
      new LruTtlCache({ maxEntries: 2, onEviction: undefined }).size,
      'new LruTtlCache({ maxEntries: 2, onEviction: undefined }): absent is allowed [R29]',
    ).toBe(0);
  });

  it("reports the evicted least recently used entry once, as 'evict' [R19]", () => {
    const { cache, events } = filled(2, ['a', 'b']);
    expect(events, 'maxEntries 2, set a, b: nothing has left the cache [R19]').toEqual([]);
    cache.set('c', 'c1');
    expect(events, "maxEntries 2, set a, b, c: 'a' is evicted, reported once [R19]").toEqual([
      ['a', 'a1', 'evict'],
    ]);
  });

  it("reports a replaced value as 'set', with the old value [R19]", () => {
    const { cache, events } = filled(2, ['a']);
    cache.set('a', 'a2');
    expect(events, "set('a', 'a1') then set('a', 'a2') [R19]").toEqual([['a', 'a1', 'set']]);
  });

  it("reports delete() as 'delete', and nothing for a missing key [R19]", () => {
    const { cache, events } = filled(2, ['a']);
    cache.delete('a');
    cache.delete('a');
    cache.delete('zzz');
    expect(events, "set a, delete('a') twice, delete('zzz') [R19]").toEqual([
      ['a', 'a1', 'delete'],
    ]);
  });

  it("reports every entry removed by clear() once, as 'clear' [R19]", () => {
    const { cache, events } = filled(3, ['a', 'b', 'c']);
    cache.clear();
    expect(sortEvents(events), 'set a, b, c, clear() (in any order) [R19]').toEqual([
      ['a', 'a1', 'clear'],
      ['b', 'b1', 'clear'],
      ['c', 'c1', 'clear'],
    ]);
    cache.clear();
    expect(events.length, 'a second clear() of an empty cache reports nothing more [R19]').toBe(3);
  });

  it("reports entries removed by prune() as 'expire' [R16, R19]", async () => {
    const { cache, events } = filled(3, ['a', 'b'], 100);
    cache.set('c', 'c1', { ttlMs: 0 });
    await advance(100);
    cache.prune();
    expect(
      sortEvents(events),
      'ttlMs 100, set a, b, c (ttlMs 0), prune() at 100 ms [R16, R19]',
    ).toEqual([
      ['a', 'a1', 'expire'],
      ['b', 'b1', 'expire'],
    ]);
  });

  it("reports an expired entry removed by delete() as 'expire', not 'delete' [R20]", async () => {
    const { cache, events } = filled(2, ['a'], 100);
    await advance(100);
    expect(cache.delete('a'), "delete('a') of an expired entry [R20]").toBe(false);
    cache.prune();
    expect(
      events,
      "ttlMs 100, set a, delete('a') at 100 ms (then prune()): the entry had expired, so 'expire', once [R20]",
    ).toEqual([['a', 'a1', 'expire']]);
  });

  it("reports an expired entry replaced by set() as 'expire', not 'set' [R20]", async () => {
    const { cache, events } = filled(2, ['a'], 100);
    await advance(100);
    cache.set('a', 'a2');
    expect(events, "ttlMs 100, set('a', 'a1'), set('a', 'a2') at 100 ms [R20]").toEqual([
      ['a', 'a1', 'expire'],
    ]);
  });

  it("reports an expired entry evicted for room as 'expire', not 'evict' [R20]", async () => {
    const { cache, events } = recorded({ maxEntries: 2 });
    cache.set('a', 'a1', { ttlMs: 100 }).set('b', 'b1');
    await advance(100);
    cache.set('c', 'c1');
    expect(
      events,
      "maxEntries 2, set a (ttlMs 100), set b, set c at 100 ms: 'a' had expired [R20]",
    ).toEqual([['a', 'a1', 'expire']]);
  });

  it("reports expired entries removed by clear() as 'expire', the others as 'clear' [R20]", async () => {
    const { cache, events } = recorded({ maxEntries: 3 });
    cache.set('a', 'a1', { ttlMs: 100 }).set('b', 'b1');
    await advance(100);
    cache.clear();
    expect(sortEvents(events), 'set a (ttlMs 100), set b, clear() at 100 ms [R20]').toEqual([
      ['a', 'a1', 'expire'],
      ['b', 'b1', 'clear'],
    ]);
  });

  it('reports an expired entry exactly once, however often it is read [R19, R20]', async () => {
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
      'ttlMs 100, set a, b; at 100 ms: get, peek, has, keys, entries, delete a (twice), prune(), clear() [R19, R20]',
    ).toEqual([
      ['a', 'a1', 'expire'],
      ['b', 'b1', 'expire'],
    ]);
  });

  it('reports nothing for reads of live entries [R19]', () => {
    const { cache, events } = filled(3, ['a', 'b']);
    cache.get('a');
    cache.peek('b');
    cache.has('a');
    Array.from(cache.keys());
    Array.from(cache.entries());
    cache.prune();
    expect(events, 'set a, b, then get, peek, has, keys, entries, prune [R19]').toEqual([]);
  });

  it('reports events in the order the operations removed the entries [R19]', () => {
    const { cache, events } = filled(2, ['a', 'b']);
    cache.set('a', 'a2');
    cache.set('c', 'c1');
    cache.delete('a');
    cache.set('d', 'd1');
    cache.set('e', 'e1');
    expect(
      events,
      'maxEntries 2: set a, b; set a (replace); set c (evicts b); delete a; set d; set e (evicts c) [R19]',
    ).toEqual([
      ['a', 'a1', 'set'],
      ['b', 'b1', 'evict'],
      ['a', 'a2', 'delete'],
      ['c', 'c1', 'evict'],
    ]);
  });

  describe('is called after the cache has been updated [R21]', () => {
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
        "maxEntries 2, set a, b, c: inside onEviction('a', 'a1', 'evict') the set must be complete: 'a' gone, 'c' stored, size 2 [R21]",
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
        "set a1, then set a2: inside onEviction('a', 'a1', 'set') peek('a') is already 'a2' [R21]",
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
      expect(seen, "set a, b, delete('a'): inside the 'delete' callback 'a' is gone [R21]").toEqual(
        [{ has: false, size: 1 }],
      );
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
      expect(sizes, "set a, b, c, clear(): size inside each 'clear' callback [R21]").toEqual([
        0, 0, 0,
      ]);
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
        "set a (ttlMs 100), b, prune() at 100 ms: size inside the 'expire' callback [R21]",
      ).toEqual([1]);
    });

    it("shows an expired entry gone inside the 'expire' callback of the read that found it", async () => {
      const seen: unknown[] = [];
      const cache: LruTtlCache<string, string> = new LruTtlCache<string, string>({
        maxEntries: 3,
        onEviction: (key) => {
          seen.push({ has: cache.has(key), keys: [...cache.keys()] });
        },
      });
      cache.set('a', 'a1', { ttlMs: 100 }).set('b', 'b1');
      await advance(100);
      cache.get('a');
      cache.prune();
      expect(
        seen,
        "set a (ttlMs 100), b, get('a') at 100 ms: if the read removes 'a', the cache no longer holds it inside the 'expire' callback [R21]",
      ).toEqual([{ has: false, keys: ['b'] }]);
    });

    it('stays consistent when the callback sets into the cache', () => {
      const cache: LruTtlCache<string, string> = new LruTtlCache<string, string>({
        maxEntries: 2,
        onEviction: (key, _value, reason) => {
          if (key === 'a' && reason === 'evict') cache.set('x', 'x1');
        },
      });
      cache.set('a', 'a1').set('b', 'b1').set('c', 'c1');
      expect(
        { keys: [...cache.keys()], size: cache.size },
        "maxEntries 2, set a, b, c, and onEviction('a', …, 'evict') sets x: c was stored before the callback, so x evicts b, the least recently used [R21, R5]",
      ).toEqual({ keys: ['x', 'c'], size: 2 });
    });
  });
});
