/**
 * Grader for lru-ttl-cache, stage 2: expires entries after their time-to-live. `ttlMs`
 * validation (R28), the deadline exactly (R10), reads that never extend it (R11), restarting on
 * `set` (R12), default and per-entry time-to-live (R13, R14), expired entries hidden from every
 * read (R15), removed by `prune()` and by operations that replace or evict them (R16), `size`
 * (R17), and no timer at any moment (R18). Time is a fake clock throughout.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { LruTtlCache } from '@kata/lru-ttl-cache';
import { advance, useFakeClock } from '../support/clock.ts';
import { countTimers } from '../support/limits.ts';
import { expectThrows } from './fixtures.ts';

beforeEach(() => {
  useFakeClock();
});

describe('stage 2: expires entries after their time-to-live', () => {
  it.each([-1, Number.NaN, Number.NEGATIVE_INFINITY])(
    'rejects a default ttlMs of %s with a RangeError naming ttlMs [R28]',
    (ttlMs) => {
      expectThrows(
        () => new LruTtlCache({ maxEntries: 2, ttlMs }),
        `new LruTtlCache({ maxEntries: 2, ttlMs: ${ttlMs} })`,
        { type: RangeError, names: 'ttlMs', rule: 'R28' },
      );
    },
  );

  it('rejects a default ttlMs that is not a number with a TypeError naming ttlMs [R28]', () => {
    const options = { maxEntries: 2, ttlMs: '1000' } as unknown as { maxEntries: number };
    expectThrows(
      () => new LruTtlCache(options),
      "new LruTtlCache({ maxEntries: 2, ttlMs: '1000' })",
      {
        type: TypeError,
        names: 'ttlMs',
        rule: 'R28',
      },
    );
  });

  it.each([-5, Number.NaN])(
    'rejects a per-entry ttlMs of %s with a RangeError naming ttlMs, leaving the cache unchanged [R28]',
    (ttlMs) => {
      const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
      cache.set('a', 'old').set('b', 'other');
      expectThrows(() => cache.set('a', 'new', { ttlMs }), `set('a', 'new', { ttlMs: ${ttlMs} })`, {
        type: RangeError,
        names: 'ttlMs',
        rule: 'R28',
      });
      expectThrows(() => cache.set('c', 'new', { ttlMs }), `set('c', 'new', { ttlMs: ${ttlMs} })`, {
        type: RangeError,
        names: 'ttlMs',
        rule: 'R28',
      });
      expect(
        [...cache.entries()],
        `set a, b, then the rejected set('a', …) and set('c', …) with { ttlMs: ${ttlMs} }: nothing stored, evicted or reordered [R28]`,
      ).toEqual([
        ['b', 'other'],
        ['a', 'old'],
      ]);
    },
  );

  it('rejects a per-entry ttlMs that is not a number with a TypeError naming ttlMs, leaving the cache unchanged [R28]', () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    cache.set('a', 'old');
    const options = { ttlMs: '10' } as unknown as { ttlMs: number };
    expectThrows(() => cache.set('a', 'x', options), "set('a', 'x', { ttlMs: '10' })", {
      type: TypeError,
      names: 'ttlMs',
      rule: 'R28',
    });
    expect(cache.get('a'), "after the rejected set('a', 'x', { ttlMs: '10' }) [R28]").toBe('old');
  });

  it('never expires entries when the default ttlMs is 0 or absent [R14]', async () => {
    const forever = new LruTtlCache<string, string>({ maxEntries: 2, ttlMs: 0 });
    const absent = new LruTtlCache<string, string>({ maxEntries: 2 });
    forever.set('a', 'x');
    absent.set('a', 'x');
    await advance(365 * 24 * 3_600_000);
    expect(forever.get('a'), 'ttlMs 0 means never expires: get after a year [R14]').toBe('x');
    expect(absent.get('a'), 'no ttlMs means never expires: get after a year [R14]').toBe('x');
    expect(forever.prune(), 'ttlMs 0: prune() after a year removes nothing [R14]').toBe(0);
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
    'shows an entry with ttlMs 1000 to %s at 999 ms and hides it from exactly 1000 ms on [R10, R15]',
    async (name) => {
      const probe = probes[name];
      const early = new LruTtlCache<string, string>({ maxEntries: 2, ttlMs: 1000 });
      const onTime = new LruTtlCache<string, string>({ maxEntries: 2, ttlMs: 1000 });
      const late = new LruTtlCache<string, string>({ maxEntries: 2, ttlMs: 1000 });
      for (const cache of [early, onTime, late]) cache.set('a', 'x');
      await advance(999);
      expect(
        probe(early),
        `ttlMs 1000, set at 0 ms: ${name} at 999 ms sees a live entry [R10]`,
      ).toEqual(liveAnswer[name]);
      await advance(1);
      expect(
        probe(onTime),
        `ttlMs 1000, set at 0 ms: ${name} at exactly 1000 ms must not see it (live while now < set time + ttlMs) [R10, R15]`,
      ).toEqual(goneAnswer[name]);
      await advance(1);
      expect(probe(late), `ttlMs 1000, set at 0 ms: ${name} at 1001 ms [R15]`).toEqual(
        goneAnswer[name],
      );
      expect(
        probe(early),
        `ttlMs 1000, set at 0 ms: ${name} at 1001 ms, after it was seen live at 999 ms [R11, R15]`,
      ).toEqual(goneAnswer[name]);
    },
  );

  it('expires an entry with a one-millisecond time-to-live after exactly 1 ms [R10]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    cache.set('a', 'x', { ttlMs: 1 });
    expect(cache.get('a'), "set('a', 'x', { ttlMs: 1 }): get at once [R10]").toBe('x');
    await advance(1);
    expect(cache.has('a'), "set('a', 'x', { ttlMs: 1 }): has at 1 ms [R10]").toBe(false);
  });

  it('uses a per-entry ttlMs instead of the default, longer or shorter [R13]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 3, ttlMs: 100 });
    cache.set('short', 's', { ttlMs: 50 });
    cache.set('long', 'l', { ttlMs: 300 });
    cache.set('default', 'd');
    await advance(50);
    expect(cache.has('short'), "set('short', { ttlMs: 50 }): has at 50 ms [R13]").toBe(false);
    expect(cache.has('default'), 'default ttlMs 100: has at 50 ms [R13]').toBe(true);
    await advance(50);
    expect(cache.has('default'), 'default ttlMs 100: has at 100 ms [R13]').toBe(false);
    expect(
      cache.has('long'),
      "set('long', { ttlMs: 300 }) with default 100: has at 100 ms [R13]",
    ).toBe(true);
    await advance(199);
    expect(cache.has('long'), "set('long', { ttlMs: 300 }): has at 299 ms [R13]").toBe(true);
    await advance(1);
    expect(cache.has('long'), "set('long', { ttlMs: 300 }): has at 300 ms [R10, R13]").toBe(false);
  });

  it('never expires an entry set with ttlMs 0, whatever the default [R14]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2, ttlMs: 100 });
    cache.set('a', 'x', { ttlMs: 0 });
    await advance(1_000_000);
    expect(
      cache.get('a'),
      "default ttlMs 100, set('a', 'x', { ttlMs: 0 }): 0 means never expires, not 'use the default' [R14]",
    ).toBe('x');
  });

  it('uses the default when the per-entry ttlMs is undefined or absent [R13]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 3, ttlMs: 100 });
    cache.set('a', 'x', { ttlMs: undefined });
    cache.set('b', 'y', {});
    cache.set('c', 'z');
    await advance(99);
    expect(
      [...cache.keys()],
      'default ttlMs 100, set a with { ttlMs: undefined }, b with {}, c with no options: keys() at 99 ms [R13]',
    ).toEqual(['c', 'b', 'a']);
    await advance(1);
    expect(
      cache.has('a'),
      "default ttlMs 100, set('a', 'x', { ttlMs: undefined }): has at 100 ms [R13]",
    ).toBe(false);
    expect(cache.has('b'), "default ttlMs 100, set('b', 'y', {}): has at 100 ms [R13]").toBe(false);
    expect(cache.has('c'), "default ttlMs 100, set('c', 'z'): has at 100 ms [R13]").toBe(false);
  });

  it('restarts the time-to-live when an entry is set again [R12]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2, ttlMs: 100 });
    cache.set('a', 'x');
    await advance(60);
    cache.set('a', 'y');
    await advance(99);
    expect(
      cache.get('a'),
      'ttlMs 100, set at 0 ms and again at 60 ms: get at 159 ms (the deadline is 160 ms, from the last set) [R12]',
    ).toBe('y');
    await advance(1);
    expect(
      cache.get('a'),
      'ttlMs 100, set at 0 ms and again at 60 ms: get at 160 ms [R10, R12]',
    ).toBeUndefined();
  });

  it("applies the new set's ttlMs when an entry is set again, longer or shorter [R12]", async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 3 });
    cache.set('a', 'x', { ttlMs: 100 });
    cache.set('a', 'y');
    cache.set('b', 'x');
    cache.set('b', 'y', { ttlMs: 100 });
    await advance(100);
    expect(
      cache.get('a'),
      "set('a', 'x', { ttlMs: 100 }) then set('a', 'y') with no default: the second set never expires [R12]",
    ).toBe('y');
    expect(
      cache.has('b'),
      "set('b', 'x') then set('b', 'y', { ttlMs: 100 }): expired at 100 ms [R12]",
    ).toBe(false);
  });

  it('does not extend the time-to-live when an entry is read [R11]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2, ttlMs: 100 });
    cache.set('a', 'x');
    for (let t = 0; t < 99; t += 33) {
      await advance(33);
      expect(cache.get('a'), `ttlMs 100, set at 0 ms: get at ${t + 33} ms [R11]`).toBe('x');
      expect(cache.peek('a'), `ttlMs 100, set at 0 ms: peek at ${t + 33} ms [R11]`).toBe('x');
      expect(cache.has('a'), `ttlMs 100, set at 0 ms: has at ${t + 33} ms [R11]`).toBe(true);
      expect([...cache.entries()], `entries() at ${t + 33} ms [R11]`).toEqual([['a', 'x']]);
    }
    await advance(1);
    expect(
      cache.get('a'),
      'ttlMs 100, set at 0 ms and read at 33, 66, 99 ms: reads do not extend it, so gone at 100 ms [R11]',
    ).toBeUndefined();
  });

  it('returns false from delete for an entry that has expired, from exactly its deadline [R10, R20]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 3, ttlMs: 100 });
    cache.set('a', 'x');
    cache.set('b', 'y');
    await advance(99);
    expect(cache.delete('b'), "ttlMs 100, set at 0 ms: delete('b') at 99 ms [R2, R10]").toBe(true);
    await advance(1);
    expect(
      cache.delete('a'),
      "ttlMs 100, set at 0 ms: delete('a') at exactly 100 ms finds nothing live [R10, R20]",
    ).toBe(false);
  });

  it('stores a fresh entry when an expired key is set again [R12, R16]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2, ttlMs: 100 });
    cache.set('a', 'x');
    await advance(150);
    cache.set('a', 'y');
    await advance(99);
    expect(
      cache.get('a'),
      'ttlMs 100, set at 0 ms, set again at 150 ms: get at 249 ms [R12, R16]',
    ).toBe('y');
    expect(cache.size, 'one key, one entry [R16, R17]').toBe(1);
  });

  it('prunes exactly the expired entries, from exactly their deadline, and returns how many it removed [R16, R17]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 5, ttlMs: 100 });
    cache.set('a', '1').set('b', '2').set('c', '3', { ttlMs: 0 }).set('d', '4', { ttlMs: 500 });
    await advance(50);
    cache.set('e', '5');
    expect(cache.prune(), 'prune() at 50 ms: nothing has expired yet [R16]').toBe(0);
    await advance(49);
    expect(cache.prune(), 'prune() at 99 ms: nothing has expired yet [R10, R16]').toBe(0);
    await advance(1);
    expect(
      cache.prune(),
      'prune() at 100 ms: a and b (ttlMs 100, set at 0 ms) have expired [R10, R16]',
    ).toBe(2);
    expect(cache.size, 'size after prune(): c, d and e remain [R17]').toBe(3);
    expect([...cache.keys()], 'keys() after prune() [R16]').toEqual(['e', 'd', 'c']);
    expect(cache.prune(), 'a second prune() at 100 ms has nothing left to remove [R16]').toBe(0);
    await advance(50);
    expect(cache.prune(), 'prune() at 150 ms: e (set at 50 ms, ttlMs 100) has expired [R16]').toBe(
      1,
    );
    expect(cache.size, 'size after the second prune(): c and d remain [R17]').toBe(2);
  });

  it('prunes every expired entry wherever it stands in the order of use [R16]', async () => {
    const cache = new LruTtlCache<number, number>({ maxEntries: 20 });
    for (let i = 0; i < 20; i += 1) cache.set(i, i, { ttlMs: i % 3 === 0 ? 100 : 0 });
    for (const key of [9, 3, 12, 0, 18]) cache.get(key);
    await advance(100);
    expect(
      cache.prune(),
      'keys 0..19, every third one (0, 3, …, 18) with ttlMs 100, some of them read since: prune() at 100 ms [R16]',
    ).toBe(7);
    expect(cache.size, 'size after prune(): the 13 that never expire [R17]').toBe(13);
  });

  it('counts expired entries in size at most until they are pruned [R17]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 5, ttlMs: 100 });
    cache.set('a', '1').set('b', '2').set('c', '3', { ttlMs: 0 });
    await advance(100);
    expect(
      cache.size,
      'size at 100 ms: 1 live entry, 2 expired that may still be counted [R17]',
    ).toBeGreaterThanOrEqual(1);
    expect(cache.size, 'size at 100 ms: at most the 3 entries stored [R17]').toBeLessThanOrEqual(3);
    cache.prune();
    expect(cache.size, 'size after prune(): only the live entry c [R17]').toBe(1);
  });

  it('evicts an expired least recently used entry to make room, keeping the live ones [R5, R16]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    cache.set('a', 'x', { ttlMs: 100 });
    cache.set('b', 'y');
    await advance(100);
    cache.set('c', 'z');
    expect(
      [...cache.keys()],
      "maxEntries 2, set a (ttlMs 100), set b, at 100 ms set c: 'a' has expired and makes the room [R5, R16]",
    ).toEqual(['c', 'b']);
    expect(cache.size, 'size: never above maxEntries [R17]').toBe(2);
  });

  it('replaces an expired key without evicting another entry [R6, R16]', async () => {
    const cache = new LruTtlCache<string, string>({ maxEntries: 2 });
    cache.set('a', 'x', { ttlMs: 100 });
    cache.set('b', 'y');
    await advance(100);
    cache.set('a', 'x2');
    expect(
      [...cache.entries()],
      "maxEntries 2, set a (ttlMs 100), set b, at 100 ms set a again: 'a' is a replacement, not a new key, so 'b' stays [R6, R16]",
    ).toEqual([
      ['a', 'x2'],
      ['b', 'y'],
    ]);
  });

  it('keeps no timer pending, however many entries are set, read or expired [R18]', async () => {
    const timers = countTimers();
    const cache = new LruTtlCache<number, number>({ maxEntries: 2_000, ttlMs: 1_000 });
    expect(timers().pending, 'timers pending after new LruTtlCache({ ttlMs: 1000 }) [R18]').toBe(0);
    for (let i = 0; i < 1_000; i += 1) cache.set(i, i, { ttlMs: 500 + i });
    expect(
      timers().pending,
      'timers pending after setting 1,000 entries with a time-to-live: expiry is checked when an entry is found (or by prune()), not by a timer per entry [R18]',
    ).toBe(0);
    for (let i = 0; i < 1_000; i += 100) cache.get(i);
    await advance(10_000);
    expect(cache.get(0), 'get(0) after every entry expired [R15]').toBeUndefined();
    const counts = timers();
    expect(counts.pending, 'timers pending after the entries expired and 10 s passed [R18]').toBe(
      0,
    );
    expect(
      counts.fired,
      'timer callbacks run over 10 s of a cache holding 1,000 entries: expiry needs no sweep [R18]',
    ).toBe(0);
    cache.prune();
    cache.clear();
    expect(vi.getTimerCount(), 'timers pending after prune() and clear() [R18]').toBe(0);
  });
});
