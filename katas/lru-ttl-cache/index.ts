// lru-ttl-cache: an LRU cache whose entries can expire. See README.md; grade with `npm test -- lru-ttl-cache`.
/* eslint-disable @typescript-eslint/no-unused-vars -- the stub's parameters are yours to use */
import { NotImplementedError } from '../not-implemented.ts';

/**
 * Why an entry left the cache, as reported to `onEviction`:
 * - `'evict'`: dropped as least recently used, to make room under `maxEntries`;
 * - `'expire'`: its time-to-live had run out (whatever operation removed it);
 * - `'delete'`: removed by `delete()`;
 * - `'set'`: its value was replaced by `set()` (or by a `getOrLoad()` that stored a new value);
 * - `'clear'`: removed by `clear()`.
 */
export type EvictionReason = 'evict' | 'expire' | 'delete' | 'set' | 'clear';

export interface LruTtlCacheOptions<K, V> {
  /**
   * Most entries held. Adding a new key when `maxEntries` are held evicts the least recently
   * used entry. An integer >= 1 (`Infinity` is not an integer).
   */
  maxEntries: number;
  /**
   * Default time-to-live in ms, measured from each `set` of an entry (reads do not extend it).
   * `0` or absent: entries never expire. Fractions are allowed.
   * @default 0
   */
  ttlMs?: number;
  /**
   * Called exactly once for every entry that leaves the cache, with the key, the value it held and
   * why. Called after the cache has been updated: inside the callback the cache already shows the
   * operation's result (for `set`, the new entry is in and the evicted or replaced one is out).
   */
  onEviction?: (key: K, value: V, reason: EvictionReason) => void;
}

/** Options of one `set` or `getOrLoad`. */
export interface SetOptions {
  /**
   * This entry's time-to-live in ms. `0` means never expires, whatever the cache default;
   * absent (or `undefined`) means the cache's `ttlMs`.
   */
  ttlMs?: number;
}

/**
 * A least-recently-used cache of at most `maxEntries` entries, each optionally expiring `ttlMs`
 * after it was last set. `get`, `peek`, `has`, `set` and `delete` run in O(1); no timer is kept
 * per entry (expired entries are noticed when found, or removed by `prune()`).
 */
export class LruTtlCache<K, V> {
  /**
   * @throws {TypeError} when `maxEntries` or `ttlMs` is not a number, or `onEviction` is given but
   *   is not a function (the message names the option).
   * @throws {RangeError} when `maxEntries` is not an integer >= 1, or `ttlMs` is negative or NaN
   *   (the message names the option).
   */
  constructor(options: LruTtlCacheOptions<K, V>) {
    // TODO: validate the options and set up the storage.
    throw new NotImplementedError('LruTtlCache constructor');
  }

  /**
   * The value of a live entry, which becomes the most recently used. `undefined` if the key is
   * absent or its entry has expired (an expired entry found here may be removed).
   */
  get(key: K): V | undefined {
    // TODO: look up a live entry and mark it most recently used.
    throw new NotImplementedError('LruTtlCache.get');
  }

  /** Like `get`, but the entry's recency does not change. */
  peek(key: K): V | undefined {
    // TODO: look up a live entry without touching its recency.
    throw new NotImplementedError('LruTtlCache.peek');
  }

  /** Whether a live (unexpired) entry exists for `key`; recency does not change. */
  has(key: K): boolean {
    // TODO: answer without touching recency.
    throw new NotImplementedError('LruTtlCache.has');
  }

  /**
   * Stores `value` under `key` as the most recently used entry; its time-to-live starts now, even
   * if the key was already present. Adding a new key when `maxEntries` entries are held evicts the
   * least recently used one. Replacing a value reports the old one as `'set'` (`'expire'` if it
   * had already expired).
   * @returns this cache, for chaining.
   * @throws {TypeError} when `options.ttlMs` is given and not a number.
   * @throws {RangeError} when `options.ttlMs` is negative or NaN; the cache is left unchanged.
   */
  set(key: K, value: V, options?: SetOptions): this {
    // TODO: store the entry, restart its time-to-live, evict the least recently used if full.
    throw new NotImplementedError('LruTtlCache.set');
  }

  /**
   * Removes the entry for `key`.
   * @returns true if a live entry was removed; false if there was none, or it had expired (an
   *   expired entry removed here is reported as `'expire'`, not `'delete'`).
   */
  delete(key: K): boolean {
    // TODO: remove the entry and report it with the right reason.
    throw new NotImplementedError('LruTtlCache.delete');
  }

  /** Removes every entry, reporting each as `'clear'` (or `'expire'` if it had expired). */
  clear(): void {
    // TODO: empty the cache, then report every removed entry.
    throw new NotImplementedError('LruTtlCache.clear');
  }

  /** Entries stored; expired entries not yet removed may still be counted. Never > `maxEntries`. */
  get size(): number {
    // TODO: count the stored entries.
    throw new NotImplementedError('LruTtlCache.size');
  }

  /** Keys of live entries, most to least recently used. Recency does not change. */
  keys(): IterableIterator<K> {
    // TODO: iterate live keys from most to least recently used.
    throw new NotImplementedError('LruTtlCache.keys');
  }

  /** Live entries as `[key, value]` pairs, most to least recently used. Recency does not change. */
  entries(): IterableIterator<[K, V]> {
    // TODO: iterate live entries from most to least recently used.
    throw new NotImplementedError('LruTtlCache.entries');
  }

  /**
   * Removes every expired entry now, reporting each as `'expire'`.
   * @returns how many entries were removed.
   */
  prune(): number {
    // TODO: remove expired entries and count them.
    throw new NotImplementedError('LruTtlCache.prune');
  }

  /**
   * The value of a live entry (counted as a use, like `get`, and `loader` is not called);
   * otherwise the value `loader(key)` resolves to, stored with `options` as by `set`. Concurrent
   * callers for the same key share one `loader` call, the first caller's. A rejected load is not
   * cached: it rejects every caller waiting on it, and the next call loads again.
   * @throws {TypeError} (as a rejection) when `loader` is not a function or `options.ttlMs` is
   *   not a number.
   * @throws {RangeError} (as a rejection) when `options.ttlMs` is negative or NaN.
   */
  getOrLoad(key: K, loader: (key: K) => Promise<V>, options?: SetOptions): Promise<V> {
    // TODO: return a live value, or share one in-flight load per key.
    throw new NotImplementedError('LruTtlCache.getOrLoad');
  }
}
