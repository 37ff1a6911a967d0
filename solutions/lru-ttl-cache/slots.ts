// lru-ttl-cache, the production layout: the same contract as index.ts, with lru-cache's memory
// layout (index-linked arrays of slots instead of one object per entry). Read index.ts first.

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

/**
 * Slot 0 holds no entry: it is the sentinel that closes the recency list into a ring, so linking
 * and unlinking never test for an end. `older[SENTINEL]` is the newest slot and
 * `newer[SENTINEL]` the oldest; an empty list is the sentinel linked to itself.
 */
const SENTINEL = 0;
/** Slots allocated by a new cache (sentinel included), unless maxEntries needs fewer. */
const INITIAL_SLOTS = 64;

export class LruTtlCache<K, V> {
  // The slot bookkeeping.
  //
  // Every stored entry lives in a slot: a small integer that indexes five parallel arrays, which
  // together hold what index.ts keeps in one entry object:
  //
  //   #keys[slot], #values[slot]  the entry's key and value (plain arrays: any K and V);
  //   #expiresAt[slot]            its deadline, `performance.now()` from which it is expired, or
  //                               Infinity for never (a Float64Array: numbers stored unboxed);
  //   #newer[slot], #older[slot]  its neighbours in recency order, as slot numbers (Uint32Arrays).
  //
  // `#slots` maps each key to its slot. Slot 0 is the sentinel (see SENTINEL), so entries use
  // slots 1 and up. A slot comes from one of two places, in this order:
  //
  //   1. `#free`, a stack of slots emptied by `delete`, expiry or `prune()`: reusing them keeps
  //      the arrays as small as the most entries ever held at once;
  //   2. otherwise `#nextSlot`, the lowest slot never used yet (every slot below it is either
  //      holding an entry or on the free stack).
  //
  // An eviction needs neither: the new key takes the evicted entry's slot directly, as index.ts
  // reuses the evicted object. Emptying a slot sets its key and value to undefined, so the cache
  // holds no reference to a removed key or value; `clear()` empties every slot at once.
  //
  // Sizing: lru-cache allocates all its arrays for `max` entries up front. That is simplest, but
  // a cache created with a generous maxEntries (say 10,000,000) that holds a few hundred entries
  // would pay for all of them: 16 bytes per slot in the typed arrays and as much again in the key
  // and value arrays, over 300 MB. Here the typed arrays start small and double when `#nextSlot`
  // reaches their length (never beyond maxEntries + 1 slots): a copy is O(n), but happens once
  // per doubling, so O(1) amortized per new entry, and memory follows the entries actually held.
  // The key and value arrays grow by appending at `#nextSlot`, which keeps them packed (no holes,
  // the fastest kind of array in V8).
  //
  // Slot numbers fit a Uint32Array: a V8 Map holds at most 2^24 keys, far below 2^32.
  readonly #slots = new Map<K, number>();
  readonly #keys: (K | undefined)[] = [undefined];
  readonly #values: (V | undefined)[] = [undefined];
  #expiresAt: Float64Array;
  #newer: Uint32Array;
  #older: Uint32Array;
  readonly #free: number[] = [];
  #nextSlot = SENTINEL + 1;
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
    const slots = Math.min(INITIAL_SLOTS, maxEntries + 1);
    this.#expiresAt = new Float64Array(slots);
    // Zero-filled: the sentinel starts linked to itself, the empty list.
    this.#newer = new Uint32Array(slots);
    this.#older = new Uint32Array(slots);
  }

  /** The value of a live entry, marking it most recently used; `undefined` if absent or expired. */
  get(key: K): V | undefined {
    const slot = this.#live(key);
    if (slot === undefined) return undefined;
    this.#moveToNewest(slot);
    return this.#values[slot];
  }

  /** The value of a live entry without changing its recency. */
  peek(key: K): V | undefined {
    const slot = this.#live(key);
    return slot === undefined ? undefined : this.#values[slot];
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

    const existing = this.#slots.get(key);
    if (existing !== undefined) {
      // Replace in place. The reason is decided before the new deadline hides an old expiry.
      const replaced = this.#values[existing] as V;
      const reason = this.#removalReason(existing, 'set', now);
      this.#values[existing] = value;
      this.#expiresAt[existing] = expiresAt;
      this.#moveToNewest(existing);
      this.#onEviction?.(key, replaced, reason);
      return this;
    }

    if (this.#slots.size < this.#maxEntries) {
      const slot = this.#takeSlot();
      this.#fill(slot, key, value, expiresAt);
      this.#linkAsNewest(slot);
      return this;
    }

    // The cache is full: the new key takes the slot of the least recently used entry.
    const evicted = this.#newer[SENTINEL]!;
    const evictedKey = this.#keys[evicted] as K;
    const evictedValue = this.#values[evicted] as V;
    const reason = this.#removalReason(evicted, 'evict', now);
    this.#slots.delete(evictedKey);
    this.#fill(evicted, key, value, expiresAt);
    this.#moveToNewest(evicted);
    // Callbacks run last, so they see the cache as it now is (and may safely use it).
    this.#onEviction?.(evictedKey, evictedValue, reason);
    return this;
  }

  /** Removes an entry; true only if a live entry was removed. */
  delete(key: K): boolean {
    const slot = this.#slots.get(key);
    if (slot === undefined) return false;
    const value = this.#values[slot] as V;
    const reason = this.#removalReason(slot, 'delete');
    this.#remove(slot);
    this.#onEviction?.(key, value, reason);
    return reason !== 'expire';
  }

  /** Removes every entry. */
  clear(): void {
    const now = performance.now();
    const removed: [K, V, EvictionReason][] = [];
    for (let slot = this.#older[SENTINEL]!; slot !== SENTINEL; slot = this.#older[slot]!) {
      removed.push([
        this.#keys[slot] as K,
        this.#values[slot] as V,
        this.#removalReason(slot, 'clear', now),
      ]);
    }
    this.#slots.clear();
    // Dropping the key and value arrays back to the sentinel releases every reference at once.
    // The typed arrays keep their length: a cache that filled up once will usually fill again.
    this.#keys.length = SENTINEL + 1;
    this.#values.length = SENTINEL + 1;
    this.#free.length = 0;
    this.#nextSlot = SENTINEL + 1;
    this.#newer[SENTINEL] = SENTINEL;
    this.#older[SENTINEL] = SENTINEL;
    for (const [key, value, reason] of removed) this.#onEviction?.(key, value, reason);
  }

  /** Entries stored; expired entries not yet removed are still counted. */
  get size(): number {
    return this.#slots.size;
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
    const expired: number[] = [];
    for (let slot = this.#older[SENTINEL]!; slot !== SENTINEL; slot = this.#older[slot]!) {
      if (this.#isExpired(slot, now)) expired.push(slot);
      else live.push([this.#keys[slot] as K, this.#values[slot] as V]);
    }
    this.#removeExpired(expired);
    return live.values();
  }

  /** Removes every expired entry now; returns how many were removed. */
  prune(): number {
    const now = performance.now();
    const expired: number[] = [];
    for (let slot = this.#older[SENTINEL]!; slot !== SENTINEL; slot = this.#older[slot]!) {
      if (this.#isExpired(slot, now)) expired.push(slot);
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

    const slot = this.#live(key);
    if (slot !== undefined) {
      this.#moveToNewest(slot);
      return this.#values[slot] as V;
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

  /** The slot of `key` if its entry is live; an expired one is removed (reported as `'expire'`). */
  #live(key: K): number | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined || !this.#isExpired(slot)) return slot;
    const value = this.#values[slot] as V;
    this.#remove(slot);
    this.#onEviction?.(key, value, 'expire');
    return undefined;
  }

  /**
   * Whether the entry in `slot` has expired: it is live while now < set time + ttlMs. Without
   * `now`, the clock is read only for an entry that can expire: a clock read is a good part of the
   * cost of a `get`, which a cache without time-to-live need not pay.
   */
  #isExpired(slot: number, now?: number): boolean {
    const expiresAt = this.#expiresAt[slot]!;
    return expiresAt !== Infinity && (now ?? performance.now()) >= expiresAt;
  }

  /** Why an entry leaves: whatever removes it, an entry already expired reports `'expire'`. */
  #removalReason(slot: number, reason: EvictionReason, now?: number): EvictionReason {
    return this.#isExpired(slot, now) ? 'expire' : reason;
  }

  /** Removes the entries in the given slots, all expired, then reports them. */
  #removeExpired(expired: number[]): void {
    // Keys and values are read first: removing a slot empties it.
    const removed = expired.map((slot): [K, V] => [this.#keys[slot] as K, this.#values[slot] as V]);
    for (const slot of expired) this.#remove(slot);
    for (const [key, value] of removed) this.#onEviction?.(key, value, 'expire');
  }

  /** A slot for a new entry: a freed one if any, else the next never used (growing the arrays). */
  #takeSlot(): number {
    const freed = this.#free.pop();
    if (freed !== undefined) return freed;
    const slot = this.#nextSlot;
    if (slot === this.#older.length) this.#grow();
    this.#nextSlot = slot + 1;
    return slot;
  }

  /** Doubles the typed arrays (up to maxEntries + 1 slots, the sentinel's included). */
  #grow(): void {
    const length = Math.min(this.#older.length * 2, this.#maxEntries + 1);
    const expiresAt = new Float64Array(length);
    expiresAt.set(this.#expiresAt);
    this.#expiresAt = expiresAt;
    const newer = new Uint32Array(length);
    newer.set(this.#newer);
    this.#newer = newer;
    const older = new Uint32Array(length);
    older.set(this.#older);
    this.#older = older;
  }

  /** Stores an entry in a slot that is not linked: its key, value and deadline, and the key's slot. */
  #fill(slot: number, key: K, value: V, expiresAt: number): void {
    this.#keys[slot] = key;
    this.#values[slot] = value;
    this.#expiresAt[slot] = expiresAt;
    this.#slots.set(key, slot);
  }

  /** Takes an entry out of the Map and the recency list, empties its slot and frees it. */
  #remove(slot: number): void {
    this.#slots.delete(this.#keys[slot] as K);
    this.#unlink(slot);
    this.#keys[slot] = undefined;
    this.#values[slot] = undefined;
    this.#free.push(slot);
  }

  /** Marks a stored entry most recently used. */
  #moveToNewest(slot: number): void {
    if (this.#older[SENTINEL] === slot) return;
    this.#unlink(slot);
    this.#linkAsNewest(slot);
  }

  /**
   * Takes a slot out of the recency list, joining its neighbours. The sentinel makes the ends
   * ordinary: unlinking the newest entry sets `older[SENTINEL]` (the newest) to the next one.
   */
  #unlink(slot: number): void {
    const newer = this.#newer[slot]!;
    const older = this.#older[slot]!;
    this.#older[newer] = older;
    this.#newer[older] = newer;
  }

  /** Puts a slot that is not in the recency list at its newest end. */
  #linkAsNewest(slot: number): void {
    const newest = this.#older[SENTINEL]!;
    this.#older[slot] = newest;
    this.#newer[slot] = SENTINEL;
    this.#newer[newest] = slot;
    this.#older[SENTINEL] = slot;
  }
}

function checkTtl(ttlMs: unknown): number {
  if (typeof ttlMs !== 'number') throw new TypeError(`ttlMs must be a number, got ${typeof ttlMs}`);
  if (!(ttlMs >= 0))
    throw new RangeError(`ttlMs must be >= 0 (0 means never expires), got ${ttlMs}`);
  return ttlMs;
}
