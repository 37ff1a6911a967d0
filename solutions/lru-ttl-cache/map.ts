// lru-ttl-cache, the short answer: the same contract as index.ts with one insertion-ordered `Map`
// and no linked list. A use deletes the key and sets it again, so the Map's first key is always
// the least recently used. Read index.ts first; this is the design HINTS.md leads to.

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
  /** `Date.now()` from which the entry is expired; `Infinity` for never. */
  expiresAt: number;
}

export class LruTtlCache<K, V> {
  /** Least recently used first: iteration order is insertion order. */
  readonly #map = new Map<K, Entry<V>>();
  readonly #loads = new Map<K, Promise<V>>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #onEviction: ((key: K, value: V, reason: EvictionReason) => void) | undefined;

  constructor(options: LruTtlCacheOptions<K, V>) {
    const { maxEntries, ttlMs = 0, onEviction } = options;
    if (typeof maxEntries !== 'number') throw new TypeError('maxEntries must be a number');
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError('maxEntries must be an integer >= 1');
    }
    if (onEviction !== undefined && typeof onEviction !== 'function') {
      throw new TypeError('onEviction must be a function');
    }
    this.#maxEntries = maxEntries;
    this.#ttlMs = ttl(ttlMs);
    this.#onEviction = onEviction;
  }

  get(key: K): V | undefined {
    const entry = this.#live(key);
    if (entry === undefined) return undefined;
    this.#map.delete(key);
    this.#map.set(key, entry);
    return entry.value;
  }

  peek(key: K): V | undefined {
    return this.#live(key)?.value;
  }

  has(key: K): boolean {
    return this.#live(key) !== undefined;
  }

  set(key: K, value: V, options?: SetOptions): this {
    const ttlMs = options?.ttlMs === undefined ? this.#ttlMs : ttl(options.ttlMs);
    const now = Date.now();
    const entry = { value, expiresAt: ttlMs > 0 ? now + ttlMs : Infinity };
    const old = this.#map.get(key);
    if (old !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, entry);
      this.#onEviction?.(key, old.value, now >= old.expiresAt ? 'expire' : 'set');
      return this;
    }
    let evicted: [K, Entry<V>] | undefined;
    if (this.#map.size >= this.#maxEntries) {
      evicted = this.#map.entries().next().value!;
      this.#map.delete(evicted[0]);
    }
    this.#map.set(key, entry);
    if (evicted !== undefined) {
      const [oldKey, oldEntry] = evicted;
      this.#onEviction?.(oldKey, oldEntry.value, now >= oldEntry.expiresAt ? 'expire' : 'evict');
    }
    return this;
  }

  delete(key: K): boolean {
    const entry = this.#map.get(key);
    if (entry === undefined) return false;
    this.#map.delete(key);
    const expired = Date.now() >= entry.expiresAt;
    this.#onEviction?.(key, entry.value, expired ? 'expire' : 'delete');
    return !expired;
  }

  clear(): void {
    const now = Date.now();
    const removed = [...this.#map];
    this.#map.clear();
    for (const [key, entry] of removed) {
      this.#onEviction?.(key, entry.value, now >= entry.expiresAt ? 'expire' : 'clear');
    }
  }

  get size(): number {
    return this.#map.size;
  }

  *keys(): IterableIterator<K> {
    for (const [key] of this.entries()) yield key;
  }

  entries(): IterableIterator<[K, V]> {
    this.prune();
    const live: [K, V][] = [];
    for (const [key, entry] of this.#map) live.push([key, entry.value]);
    return live.reverse().values();
  }

  prune(): number {
    const now = Date.now();
    const expired: [K, V][] = [];
    for (const [key, entry] of this.#map) {
      if (now >= entry.expiresAt) expired.push([key, entry.value]);
    }
    for (const [key] of expired) this.#map.delete(key);
    for (const [key, value] of expired) this.#onEviction?.(key, value, 'expire');
    return expired.length;
  }

  async getOrLoad(key: K, loader: (key: K) => Promise<V>, options?: SetOptions): Promise<V> {
    if (typeof loader !== 'function') throw new TypeError('loader must be a function');
    if (options?.ttlMs !== undefined) ttl(options.ttlMs);
    const entry = this.#live(key);
    if (entry !== undefined) return this.get(key) as V;
    let load = this.#loads.get(key);
    if (load === undefined) {
      load = (async () => loader(key))().finally(() => this.#loads.delete(key));
      this.#loads.set(key, load);
      this.set(key, await load, options);
      return load;
    }
    return load;
  }

  /** The entry for `key` if live; an expired one is removed and reported. */
  #live(key: K): Entry<V> | undefined {
    const entry = this.#map.get(key);
    if (entry === undefined || Date.now() < entry.expiresAt) return entry;
    this.#map.delete(key);
    this.#onEviction?.(key, entry.value, 'expire');
    return undefined;
  }
}

function ttl(ttlMs: unknown): number {
  if (typeof ttlMs !== 'number') throw new TypeError('ttlMs must be a number');
  if (!(ttlMs >= 0)) throw new RangeError('ttlMs must be >= 0');
  return ttlMs;
}
