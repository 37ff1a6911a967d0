/**
 * Grader for lru-ttl-cache, stage 1: stores entries and evicts the least recently used.
 * `maxEntries` validation (R27), the basic operations (R1, R2), recency (R3, R4), capacity (R5,
 * R6), the order of `keys()` and `entries()` (R7), keys compared as a `Map` compares them (R8) and
 * falsy values (R9). Time is a fake clock throughout.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { LruTtlCache } from '@kata/lru-ttl-cache';
import { useFakeClock } from '../support/clock.ts';
import { expectThrows, filled } from './fixtures.ts';

beforeEach(() => {
  useFakeClock();
});

describe('stage 1: stores entries and evicts the least recently used', () => {
  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'rejects maxEntries %s with a RangeError naming maxEntries [R27]',
    (maxEntries) => {
      expectThrows(
        () => new LruTtlCache({ maxEntries }),
        `new LruTtlCache({ maxEntries: ${maxEntries} })`,
        {
          type: RangeError,
          names: 'maxEntries',
          rule: 'R27',
        },
      );
    },
  );

  it.each([['10'], [undefined], [null]])(
    'rejects maxEntries %j (not a number) with a TypeError naming maxEntries [R27]',
    (maxEntries) => {
      const options = { maxEntries } as unknown as { maxEntries: number };
      expectThrows(
        () => new LruTtlCache(options),
        `new LruTtlCache({ maxEntries: ${JSON.stringify(maxEntries)} }) (a wrong type is a TypeError, not a RangeError)`,
        { type: TypeError, names: 'maxEntries', rule: 'R27' },
      );
    },
  );

  it('returns stored values from get and peek, and undefined for a missing key [R1]', () => {
    const cache = new LruTtlCache<string, number>({ maxEntries: 3 });
    cache.set('a', 1).set('b', 2);
    expect(cache.get('a'), "set('a', 1) then get('a') [R1]").toBe(1);
    expect(cache.peek('b'), "set('b', 2) then peek('b') [R1]").toBe(2);
    expect(cache.get('zzz'), "get('zzz') of a key never set [R1]").toBeUndefined();
    expect(cache.peek('zzz'), "peek('zzz') of a key never set [R1]").toBeUndefined();
    expect(cache.has('a'), "has('a') after set('a', 1) [R1]").toBe(true);
    expect(cache.has('zzz'), "has('zzz') of a key never set [R1]").toBe(false);
    expect(cache.size, 'size after set a, set b [R1, R17]').toBe(2);
  });

  it('returns the cache itself from set, for chaining [R1]', () => {
    const cache = new LruTtlCache<string, number>({ maxEntries: 2 });
    expect(
      cache.set('a', 1),
      "set('a', 1) must return the cache (like Map.prototype.set) [R1]",
    ).toBe(cache);
    expect(cache.set('a', 2), "set('a', 2) replacing a value must return the cache too [R1]").toBe(
      cache,
    );
  });

  it('stores falsy values (0, empty string, false, null, NaN) as present entries [R9]', () => {
    const cache = new LruTtlCache<string, unknown>({ maxEntries: 10 });
    const values: [string, unknown][] = [
      ['zero', 0],
      ['empty', ''],
      ['no', false],
      ['nothing', null],
      ['nan', Number.NaN],
    ];
    for (const [key, value] of values) cache.set(key, value);
    for (const [key, value] of values) {
      const shown = Number.isNaN(value) ? 'NaN' : JSON.stringify(value);
      expect(cache.has(key), `has('${key}') after set('${key}', ${shown}) [R9]`).toBe(true);
      expect(cache.peek(key), `peek('${key}') after set('${key}', ${shown}) [R9]`).toBe(value);
      expect(cache.get(key), `get('${key}') after set('${key}', ${shown}) [R9]`).toBe(value);
    }
    expect(cache.size, 'size after storing 5 falsy values [R9]').toBe(5);
    expect(
      [...cache.keys()],
      'keys() after storing 5 falsy values, each read by get in order [R9]',
    ).toEqual(['nan', 'nothing', 'no', 'empty', 'zero']);
  });

  it('counts a get of a falsy value as a use [R3, R9]', () => {
    const cache = new LruTtlCache<string, number>({ maxEntries: 2 });
    cache.set('zero', 0).set('one', 1);
    cache.get('zero');
    cache.set('two', 2);
    expect(
      [...cache.keys()],
      "maxEntries 2, set zero = 0, one = 1, get('zero'), set two: get of the value 0 is a use, so 'one' is evicted [R3, R9]",
    ).toEqual(['two', 'zero']);
  });

  it('replaces the value of an existing key without adding an entry [R1, R6]', () => {
    const cache = new LruTtlCache<string, number>({ maxEntries: 3 });
    cache.set('a', 1).set('a', 2);
    expect(cache.get('a'), "set('a', 1) then set('a', 2): get('a') [R1]").toBe(2);
    expect(cache.size, "set('a', 1) then set('a', 2): one key, one entry [R6]").toBe(1);
  });

  it('deletes an entry, returning true, and returns false for a missing key [R2]', () => {
    const cache = new LruTtlCache<string, number>({ maxEntries: 3 });
    cache.set('a', 1).set('b', 2);
    expect(cache.delete('a'), "delete('a') of a stored key [R2]").toBe(true);
    expect(cache.has('a'), "has('a') after delete('a') [R2]").toBe(false);
    expect(cache.get('a'), "get('a') after delete('a') [R2]").toBeUndefined();
    expect(cache.delete('a'), "delete('a') a second time: nothing left to delete [R2]").toBe(false);
    expect(cache.delete('zzz'), "delete('zzz') of a key never set [R2]").toBe(false);
    expect(cache.size, 'size after set a, set b, delete a [R2, R17]').toBe(1);
    expect([...cache.keys()], 'keys() after set a, set b, delete a [R2]').toEqual(['b']);
  });

  it('clears every entry, and is usable again afterwards [R2]', () => {
    const cache = new LruTtlCache<string, number>({ maxEntries: 3 });
    cache.set('a', 1).set('b', 2).set('c', 3);
    cache.clear();
    expect(cache.size, 'size after clear() [R2]').toBe(0);
    expect([...cache.keys()], 'keys() after clear() [R2]').toEqual([]);
    expect(cache.has('a'), "has('a') after clear() [R2]").toBe(false);
    expect(cache.get('b'), "get('b') after clear() [R2]").toBeUndefined();
    cache.set('d', 4).set('e', 5).set('f', 6);
    expect(
      [...cache.keys()],
      'the cache is usable again after clear(): keys() after set d, e, f (maxEntries 3) [R2, R5]',
    ).toEqual(['f', 'e', 'd']);
    cache.set('g', 7);
    expect([...cache.keys()], "then set g: 'd' is evicted [R2, R5]").toEqual(['g', 'f', 'e']);
  });

  it('holds exactly maxEntries entries before evicting anything [R5]', () => {
    const { cache } = filled(3, ['a', 'b', 'c']);
    expect(
      cache.size,
      'maxEntries 3, set a, b, c: all three fit (none evicted one early) [R5]',
    ).toBe(3);
    for (const key of ['a', 'b', 'c']) {
      expect(cache.has(key), `maxEntries 3, set a, b, c: has('${key}') [R5]`).toBe(true);
    }
  });

  it('evicts the least recently used entry when a new key is added at maxEntries [R5, R7]', () => {
    const { cache } = filled(3, ['a', 'b', 'c', 'd']);
    expect(
      cache.has('a'),
      "maxEntries 3, set a, b, c, d: 'a' is the least recently used and must be evicted [R5]",
    ).toBe(false);
    expect(
      [...cache.keys()],
      'maxEntries 3, set a, b, c, d: keys() most recent first [R5, R7]',
    ).toEqual(['d', 'c', 'b']);
    expect(
      cache.size,
      'maxEntries 3, set a, b, c, d: size never exceeds maxEntries [R5, R17]',
    ).toBe(3);
    cache.set('e', 'e1');
    expect(
      [...cache.keys()],
      "then set e: 'b' is now the least recently used and is evicted [R5]",
    ).toEqual(['e', 'd', 'c']);
  });

  it('keeps only the latest entry when maxEntries is 1, and replacing it evicts nothing [R5, R6]', () => {
    const { cache } = filled(1, ['a', 'b']);
    expect([...cache.keys()], 'maxEntries 1, set a then b: keys() [R5]').toEqual(['b']);
    expect(cache.get('a'), "maxEntries 1, set a then b: get('a') [R5]").toBeUndefined();
    cache.set('b', 'b2');
    expect(
      [...cache.entries()],
      'maxEntries 1, set a, b, then set b again: a replacement evicts nothing [R6]',
    ).toEqual([['b', 'b2']]);
  });

  it('marks an entry most recently used on get, so it survives the next eviction [R3]', () => {
    const { cache } = filled(3, ['a', 'b', 'c']);
    expect(cache.get('a'), "get('a') [R1]").toBe('a1');
    cache.set('d', 'd1');
    expect(
      cache.has('a'),
      "maxEntries 3, set a, b, c, get a, set d: get('a') made 'a' the most recently used, so 'b' is evicted instead [R3]",
    ).toBe(true);
    expect(cache.has('b'), "maxEntries 3, set a, b, c, get a, set d: 'b' is evicted [R3]").toBe(
      false,
    );
    expect([...cache.keys()], 'keys() most recent first [R3, R7]').toEqual(['d', 'a', 'c']);
  });

  it('marks an existing key most recently used when it is set again [R3]', () => {
    const { cache } = filled(3, ['a', 'b', 'c']);
    cache.set('a', 'a2');
    cache.set('d', 'd1');
    expect(
      [...cache.keys()],
      "maxEntries 3, set a, b, c, set a again, set d: 'a' was refreshed, so 'b' is evicted [R3]",
    ).toEqual(['d', 'a', 'c']);
    expect(cache.get('a'), "get('a') after set('a', 'a2') [R1]").toBe('a2');
  });

  it('replaces an existing key at maxEntries without evicting anything [R6]', () => {
    const { cache, events } = filled(2, ['a', 'b']);
    cache.set('a', 'a2');
    expect(
      [...cache.entries()],
      'maxEntries 2, set a, b, then set a again: the cache is full but a replacement adds no entry [R6]',
    ).toEqual([
      ['a', 'a2'],
      ['b', 'b1'],
    ]);
    cache.set('b', 'b2');
    expect(cache.size, 'then set b again: still 2 entries [R6]').toBe(2);
    expect(
      events.filter(([, , reason]) => reason === 'evict'),
      "maxEntries 2, set a, b, a, b: nothing is evicted ('evict' reported) [R6]",
    ).toEqual([]);
  });

  it.each([
    ['peek', (cache: LruTtlCache<string, string>) => cache.peek('a')],
    ['has', (cache: LruTtlCache<string, string>) => cache.has('a')],
    ['keys', (cache: LruTtlCache<string, string>) => [...cache.keys()]],
    ['entries', (cache: LruTtlCache<string, string>) => [...cache.entries()]],
  ])('leaves recency unchanged on %s [R4]', (name, call) => {
    const { cache } = filled(3, ['a', 'b', 'c']);
    call(cache);
    cache.set('d', 'd1');
    expect(
      cache.has('a'),
      `maxEntries 3, set a, b, c, ${name}(), set d: ${name} must not refresh recency, so 'a' (least recently used) is evicted [R4]`,
    ).toBe(false);
    expect([...cache.keys()], 'keys() most recent first [R4, R7]').toEqual(['d', 'c', 'b']);
  });

  it('leaves recency unchanged on get of a missing key [R4]', () => {
    const { cache } = filled(3, ['a', 'b', 'c']);
    cache.get('zzz');
    expect([...cache.keys()], "set a, b, c, get('zzz'): keys() most recent first [R4]").toEqual([
      'c',
      'b',
      'a',
    ]);
  });

  it('lists keys and entries from most to least recently used [R7]', () => {
    const { cache } = filled(4, ['a', 'b', 'c', 'd']);
    cache.get('b');
    cache.set('c', 'c2');
    expect([...cache.keys()], 'set a, b, c, d, get b, set c: keys() [R7]').toEqual([
      'c',
      'b',
      'd',
      'a',
    ]);
    expect([...cache.entries()], 'set a, b, c, d, get b, set c: entries() [R7]').toEqual([
      ['c', 'c2'],
      ['b', 'b1'],
      ['d', 'd1'],
      ['a', 'a1'],
    ]);
  });

  it('makes room again after a delete, so the next new key evicts nothing [R2, R5]', () => {
    const { cache } = filled(3, ['a', 'b', 'c']);
    cache.delete('b');
    cache.set('d', 'd1');
    expect(
      [...cache.keys()],
      'maxEntries 3, set a, b, c, delete b, set d: three entries fit [R2, R5]',
    ).toEqual(['d', 'c', 'a']);
  });

  it('compares keys like a Map: objects by identity [R8]', () => {
    const cache = new LruTtlCache<object, string>({ maxEntries: 2 });
    const key = { id: 1 };
    cache.set(key, 'x');
    expect(cache.get(key), 'get with the same object [R8]').toBe('x');
    expect(
      cache.get({ id: 1 }),
      'get with an equal but different object: a different key [R8]',
    ).toBeUndefined();
    cache.set({ id: 1 }, 'y');
    expect(cache.size, 'set with an equal but different object adds a second entry [R8]').toBe(2);
    expect(cache.get(key), 'the first object still finds its own value [R8]').toBe('x');
  });

  it("compares keys like a Map: 1 and '1' are two keys, NaN is one key, 0 and -0 are one key [R8]", () => {
    const cache = new LruTtlCache<unknown, string>({ maxEntries: 10 });
    cache.set(1, 'number').set('1', 'string');
    expect(cache.get(1), "set(1, 'number'), set('1', 'string'): get(1) [R8]").toBe('number');
    expect(cache.get('1'), "set(1, 'number'), set('1', 'string'): get('1') [R8]").toBe('string');
    cache.set(Number.NaN, 'nan');
    expect(cache.get(Number.NaN), "set(NaN, 'nan') then get(NaN): NaN is one key [R8]").toBe('nan');
    cache.set(Number.NaN, 'nan2');
    cache.set(0, 'zero');
    expect(cache.get(-0), "set(0, 'zero') then get(-0): 0 and -0 are one key [R8]").toBe('zero');
    expect(cache.size, "keys 1, '1', NaN (set twice), 0: four entries [R8]").toBe(4);
  });
});
