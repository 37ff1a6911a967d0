// lru-ttl-cache: reference implementation of an LRU cache with time-to-live.

/** Why an entry left the cache, as reported to `onEviction`. */
export type EvictionReason = 'evict' | 'expire' | 'delete' | 'set' | 'clear';

export interface LruTtlCacheOptions<K, V> {
  /** Most entries held; an integer >= 1. */
  maxEntries: number;
  /** Default time-to-live in ms, measured from each `set`; `0` or absent means never expires. */
  ttlMs?: number;
  /** Called once for every entry that leaves the cache, after the cache has been updated. */
  onEviction?: (key: K, value: V, reason: EvictionReason) => void;
}

/** Options of one `set` (or `getOrLoad`). */
export interface SetOptions {
  /** This entry's time-to-live in ms; `0` means never expires, absent means the cache default. */
  ttlMs?: number;
}

interface Entry<V> {
  value: V;
  /** `performance.now()` from which the entry is expired; `Infinity` for never. */
  expiresAt: number;
}

export class LruTtlCache<K, V> {
  // A Map iterates in insertion order, so deleting and re-inserting a key on every use keeps it
  // ordered from least to most recently used: the first key is the one to evict, in O(1).
  readonly #entries = new Map<K, Entry<V>>();
  /** Loads in flight, so concurrent `getOrLoad` callers of one key share one loader call. */
  readonly #loads = new Map<K, Promise<V>>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #onEviction: ((key: K, value: V, reason: EvictionReason) => void) | undefined;

  constructor(options: LruTtlCacheOptions<K, V>) {
    const { maxEntries, ttlMs = 0, onEviction } = options;
    if (typeof maxEntries !== 'number') {
      throw new TypeError(`maxEntries must be a number, got ${typeof maxEntries}`);
    }
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`maxEntries must be an integer >= 1, got ${maxEntries}`);
    }
    if (onEviction !== undefined && typeof onEviction !== 'function') {
      throw new TypeError(`onEviction must be a function, got ${typeof onEviction}`);
    }
    this.#maxEntries = maxEntries;
    this.#ttlMs = checkTtl(ttlMs);
    this.#onEviction = onEviction;
  }

  /** The value of a live entry, marking it most recently used; `undefined` if absent or expired. */
  get(key: K): V | undefined {
    const entry = this.#live(key);
    if (entry === undefined) return undefined;
    this.#touch(key, entry);
    return entry.value;
  }

  /** The value of a live entry without changing its recency. */
  peek(key: K): V | undefined {
    return this.#live(key)?.value;
  }

  /** Whether a live entry exists, without changing its recency. */
  has(key: K): boolean {
    return this.#live(key) !== undefined;
  }

  /** Stores `value` as the most recently used entry; its time-to-live starts now. */
  set(key: K, value: V, options?: SetOptions): this {
    // Validate before touching anything: a rejected call leaves the cache as it was.
    const ttlMs = options?.ttlMs === undefined ? this.#ttlMs : checkTtl(options.ttlMs);
    const now = performance.now();
    const previous = this.#entries.get(key);
    if (previous !== undefined) this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAt: ttlMs > 0 ? now + ttlMs : Infinity });

    let evicted: [K, Entry<V>] | undefined;
    if (this.#entries.size > this.#maxEntries) {
      // A new key pushed the cache over its limit: the first key is the least recently used.
      evicted = this.#entries.entries().next().value;
      if (evicted !== undefined) this.#entries.delete(evicted[0]);
    }

    // Callbacks run last, so they see the cache as it now is (and may safely use it).
    if (previous !== undefined) this.#notify(key, previous, 'set', now);
    if (evicted !== undefined) this.#notify(evicted[0], evicted[1], 'evict', now);
    return this;
  }

  /** Removes an entry; true only if a live entry was removed. */
  delete(key: K): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#entries.delete(key);
    const now = performance.now();
    this.#notify(key, entry, 'delete', now);
    return !isExpired(entry, now);
  }

  /** Removes every entry. */
  clear(): void {
    const removed = [...this.#entries];
    this.#entries.clear();
    const now = performance.now();
    for (const [key, entry] of removed) this.#notify(key, entry, 'clear', now);
  }

  /** Entries stored; expired entries not yet removed are still counted. */
  get size(): number {
    return this.#entries.size;
  }

  /** Keys of live entries, most to least recently used. */
  *keys(): IterableIterator<K> {
    for (const [key] of this.entries()) yield key;
  }

  /** Live entries as `[key, value]`, most to least recently used. */
  entries(): IterableIterator<[K, V]> {
    // Map iterators only run forwards (least recent first), so take a snapshot and reverse it.
    // The snapshot also makes iteration safe if the caller changes the cache meanwhile.
    const now = performance.now();
    const live: [K, V][] = [];
    const expired: [K, Entry<V>][] = [];
    for (const [key, entry] of this.#entries) {
      if (isExpired(entry, now)) expired.push([key, entry]);
      else live.push([key, entry.value]);
    }
    for (const [key] of expired) this.#entries.delete(key);
    for (const [key, entry] of expired) this.#notify(key, entry, 'expire', now);
    return live.reverse().values();
  }

  /** Removes every expired entry now; returns how many were removed. */
  prune(): number {
    const now = performance.now();
    const expired: [K, Entry<V>][] = [];
    for (const [key, entry] of this.#entries) {
      if (isExpired(entry, now)) expired.push([key, entry]);
    }
    for (const [key] of expired) this.#entries.delete(key);
    for (const [key, entry] of expired) this.#notify(key, entry, 'expire', now);
    return expired.length;
  }

  /**
   * The live value of `key`, or the value `loader(key)` resolves to, which is then stored.
   * Concurrent callers for one key share a single loader call; a rejection is not cached.
   */
  async getOrLoad(key: K, loader: (key: K) => Promise<V>, options?: SetOptions): Promise<V> {
    if (typeof loader !== 'function') {
      throw new TypeError(`loader must be a function, got ${typeof loader}`);
    }
    if (options?.ttlMs !== undefined) checkTtl(options.ttlMs);

    const entry = this.#live(key);
    if (entry !== undefined) {
      this.#touch(key, entry);
      return entry.value;
    }

    let load = this.#loads.get(key);
    if (load === undefined) {
      // `async () => loader(key)` turns a loader that throws synchronously into a rejection.
      load = (async () => loader(key))().then(
        (value) => {
          this.#loads.delete(key);
          this.set(key, value, options);
          return value;
        },
        (error: unknown) => {
          this.#loads.delete(key);
          throw error;
        },
      );
      this.#loads.set(key, load);
    }
    return load;
  }

  /** The entry for `key` if it is live; an expired one is removed (reported as `'expire'`). */
  #live(key: K): Entry<V> | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    const now = performance.now();
    if (!isExpired(entry, now)) return entry;
    this.#entries.delete(key);
    this.#notify(key, entry, 'expire', now);
    return undefined;
  }

  /** Marks a live entry most recently used: re-inserting moves it to the end of the Map. */
  #touch(key: K, entry: Entry<V>): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
  }

  /** Reports a removed entry; whatever removed it, an entry already expired reports `'expire'`. */
  #notify(key: K, entry: Entry<V>, reason: EvictionReason, now: number): void {
    this.#onEviction?.(key, entry.value, isExpired(entry, now) ? 'expire' : reason);
  }
}

function isExpired(entry: Entry<unknown>, now: number): boolean {
  // Live while now < set time + ttlMs: at the deadline itself the entry is already gone.
  return now >= entry.expiresAt;
}

function checkTtl(ttlMs: unknown): number {
  if (typeof ttlMs !== 'number') throw new TypeError(`ttlMs must be a number, got ${typeof ttlMs}`);
  if (!(ttlMs >= 0))
    throw new RangeError(`ttlMs must be >= 0 (0 means never expires), got ${ttlMs}`);
  return ttlMs;
}
