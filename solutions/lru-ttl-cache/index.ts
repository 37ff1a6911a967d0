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

/** One stored entry, and its place in the recency list. */
interface Entry<K, V> {
  key: K;
  value: V;
  /** `performance.now()` from which the entry is expired; `Infinity` for never. */
  expiresAt: number;
  /** The entry used next after this one; `undefined` for the most recently used. */
  newer: Entry<K, V> | undefined;
  /** The entry used last before this one; `undefined` for the least recently used. */
  older: Entry<K, V> | undefined;
}

export class LruTtlCache<K, V> {
  // The Map finds an entry by key; the entries are also linked from most to least recently used,
  // so marking one as used is a few pointer writes and the one to evict is always at #oldest.
  readonly #entries = new Map<K, Entry<K, V>>();
  #newest: Entry<K, V> | undefined;
  #oldest: Entry<K, V> | undefined;
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
    this.#moveToNewest(entry);
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
    // The clock is read only for an entry that expires, and that reading serves the whole call.
    const now = ttlMs > 0 ? performance.now() : undefined;
    const expiresAt = now === undefined ? Infinity : now + ttlMs;

    const existing = this.#entries.get(key);
    if (existing !== undefined) {
      // Replace in place. The reason is decided before the new deadline hides an old expiry.
      const replaced = existing.value;
      const reason = removalReason(existing, 'set', now);
      existing.value = value;
      existing.expiresAt = expiresAt;
      this.#moveToNewest(existing);
      this.#onEviction?.(key, replaced, reason);
      return this;
    }

    if (this.#entries.size < this.#maxEntries) {
      this.#add({ key, value, expiresAt, newer: undefined, older: undefined });
      return this;
    }

    // The cache is full: the new key takes the place of the least recently used entry, and
    // reuses its object, so a full cache allocates nothing per `set`.
    const evicted = this.#oldest!;
    const { key: evictedKey, value: evictedValue } = evicted;
    const reason = removalReason(evicted, 'evict', now);
    this.#remove(evicted);
    evicted.key = key;
    evicted.value = value;
    evicted.expiresAt = expiresAt;
    this.#add(evicted);
    // Callbacks run last, so they see the cache as it now is (and may safely use it).
    this.#onEviction?.(evictedKey, evictedValue, reason);
    return this;
  }

  /** Removes an entry; true only if a live entry was removed. */
  delete(key: K): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    const reason = removalReason(entry, 'delete');
    this.#remove(entry);
    this.#onEviction?.(key, entry.value, reason);
    return reason !== 'expire';
  }

  /** Removes every entry. */
  clear(): void {
    const now = performance.now();
    const removed: [K, V, EvictionReason][] = [];
    for (let entry = this.#newest; entry !== undefined; entry = entry.older) {
      removed.push([entry.key, entry.value, removalReason(entry, 'clear', now)]);
    }
    this.#entries.clear();
    this.#newest = undefined;
    this.#oldest = undefined;
    for (const [key, value, reason] of removed) this.#onEviction?.(key, value, reason);
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
    // A snapshot, taken by walking the list from the newest end: iterating it stays safe if the
    // caller changes the cache meanwhile, and expired entries are removed before it is returned.
    const now = performance.now();
    const live: [K, V][] = [];
    const expired: Entry<K, V>[] = [];
    for (let entry = this.#newest; entry !== undefined; entry = entry.older) {
      if (isExpired(entry, now)) expired.push(entry);
      else live.push([entry.key, entry.value]);
    }
    this.#removeExpired(expired);
    return live.values();
  }

  /** Removes every expired entry now; returns how many were removed. */
  prune(): number {
    const now = performance.now();
    const expired: Entry<K, V>[] = [];
    for (let entry = this.#newest; entry !== undefined; entry = entry.older) {
      if (isExpired(entry, now)) expired.push(entry);
    }
    this.#removeExpired(expired);
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
      this.#moveToNewest(entry);
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
  #live(key: K): Entry<K, V> | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined || !isExpired(entry)) return entry;
    this.#remove(entry);
    this.#onEviction?.(key, entry.value, 'expire');
    return undefined;
  }

  /** Removes the given expired entries, then reports them. */
  #removeExpired(expired: Entry<K, V>[]): void {
    for (const entry of expired) this.#remove(entry);
    for (const entry of expired) this.#onEviction?.(entry.key, entry.value, 'expire');
  }

  /** Stores an entry that is not stored yet, as the most recently used. */
  #add(entry: Entry<K, V>): void {
    this.#entries.set(entry.key, entry);
    this.#linkAsNewest(entry);
  }

  /** Takes an entry out of the Map and out of the recency list. */
  #remove(entry: Entry<K, V>): void {
    this.#entries.delete(entry.key);
    this.#unlink(entry);
  }

  /** Marks a stored entry most recently used. */
  #moveToNewest(entry: Entry<K, V>): void {
    this.#unlink(entry);
    this.#linkAsNewest(entry);
  }

  /** Takes an entry out of the recency list, joining its neighbours (or moving the ends). */
  #unlink(entry: Entry<K, V>): void {
    if (entry.newer === undefined) this.#newest = entry.older;
    else entry.newer.older = entry.older;
    if (entry.older === undefined) this.#oldest = entry.newer;
    else entry.older.newer = entry.newer;
  }

  /** Puts an entry that is not in the recency list at its newest end. */
  #linkAsNewest(entry: Entry<K, V>): void {
    entry.newer = undefined;
    entry.older = this.#newest;
    if (this.#newest === undefined) this.#oldest = entry;
    else this.#newest.newer = entry;
    this.#newest = entry;
  }
}

/**
 * Whether an entry has expired: it is live while now < set time + ttlMs. Without `now`, the clock
 * is read only for an entry that can expire: a clock read is a good part of the cost of a `get`,
 * which a cache without time-to-live need not pay.
 */
function isExpired(entry: Entry<unknown, unknown>, now?: number): boolean {
  return entry.expiresAt !== Infinity && (now ?? performance.now()) >= entry.expiresAt;
}

/** Why an entry leaves the cache: whatever removes it, an entry already expired reports `'expire'`. */
function removalReason(
  entry: Entry<unknown, unknown>,
  reason: EvictionReason,
  now?: number,
): EvictionReason {
  return isExpired(entry, now) ? 'expire' : reason;
}

function checkTtl(ttlMs: unknown): number {
  if (typeof ttlMs !== 'number') throw new TypeError(`ttlMs must be a number, got ${typeof ttlMs}`);
  if (!(ttlMs >= 0))
    throw new RangeError(`ttlMs must be >= 0 (0 means never expires), got ${ttlMs}`);
  return ttlMs;
}
