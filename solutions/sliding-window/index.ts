// Sliding-window rate limiters: the fixed window, the exact sliding log and the sliding-window
// counter, each keyed with a least-recently-used bound on the keys it holds.

export interface WindowOptions {
  /** Most cost allowed per window. An integer >= 1. */
  limit: number;
  /** The window's length in ms. An integer >= 1. */
  windowMs: number;
}

export type WindowLimiterOptions = WindowOptions & {
  /** Most keys held at once. An integer >= 1. @default 10_000 */
  maxKeys?: number;
};

export interface WindowDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  retryAfterMs: number;
}

export interface WindowLimiter {
  check(key: string, cost?: number): WindowDecision;
  readonly size: number;
}

function requireCount(value: unknown, name: string): number {
  if (typeof value !== 'number') {
    throw new TypeError(`${name} must be a number, got ${typeof value}`);
  }
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be an integer >= 1, got ${value}`);
  }
  return value;
}

/**
 * What the three limiters share: validation, the decision's shape, and the keys held in a `Map`
 * used in insertion order as the recency list (delete and set moves a key to the newest end, the
 * first key is the least recently used). Each subclass keeps one state object per key and decides.
 */
abstract class KeyedWindowLimiter<State> implements WindowLimiter {
  protected readonly limit: number;
  protected readonly windowMs: number;
  readonly #maxKeys: number;
  readonly #states = new Map<string, State>();

  constructor(options: WindowLimiterOptions) {
    const { limit, windowMs, maxKeys = 10_000 } = options;
    this.limit = requireCount(limit, 'limit');
    this.windowMs = requireCount(windowMs, 'windowMs');
    this.#maxKeys = requireCount(maxKeys, 'maxKeys');
  }

  get size(): number {
    return this.#states.size;
  }

  check(key: string, cost = 1): WindowDecision {
    if (typeof key !== 'string') throw new TypeError(`key must be a string, got ${typeof key}`);
    requireCount(cost, 'cost');
    const now = Date.now();
    let state = this.#states.get(key);
    if (state === undefined) {
      // A request that can never be allowed leaves no trace for a key we do not hold.
      if (cost > this.limit) return this.refuseForever(this.limit);
      if (this.#states.size >= this.#maxKeys) {
        this.#states.delete(this.#states.keys().next().value!);
      }
      state = this.create();
    } else {
      this.#states.delete(key);
    }
    this.#states.set(key, state);
    return this.decide(state, now, cost);
  }

  /** `cost > limit`: a finite wait would promise a retry that can never succeed. */
  protected refuseForever(remaining: number): WindowDecision {
    return { allowed: false, limit: this.limit, remaining, retryAfterMs: Infinity };
  }

  protected decision(remaining: number, retryAfterMs: number): WindowDecision {
    return { allowed: retryAfterMs === 0, limit: this.limit, remaining, retryAfterMs };
  }

  /** A new key's state, with nothing counted. */
  protected abstract create(): State;

  /** Counts `cost` if it fits and says so: the algorithm itself. */
  protected abstract decide(state: State, now: number, cost: number): WindowDecision;
}

interface FixedState {
  /** The window number (`floor(now / windowMs)`) that `count` belongs to. */
  window: number;
  count: number;
}

/**
 * Counts per window, windows aligned to the epoch. Cheap, but a client may send `limit` at the end
 * of one window and `limit` again at the start of the next: twice the limit within 2 ms.
 */
export class FixedWindowLimiter extends KeyedWindowLimiter<FixedState> {
  /** Before every window: the first check starts one. */
  protected create(): FixedState {
    return { window: -Infinity, count: 0 };
  }

  protected decide(state: FixedState, now: number, cost: number): WindowDecision {
    const window = Math.floor(now / this.windowMs);
    // `<`, not `!==`: a clock that jumps back does not reopen a window already used.
    if (state.window < window) {
      state.window = window;
      state.count = 0;
    }
    if (cost > this.limit) return this.refuseForever(this.limit - state.count);
    if (state.count + cost <= this.limit) {
      state.count += cost;
      return this.decision(this.limit - state.count, 0);
    }
    return this.decision(this.limit - state.count, (window + 1) * this.windowMs - now);
  }
}

/**
 * The allowed requests still in the window, oldest first, in two parallel arrays from `head` on:
 * when each was allowed, and the running total of every cost allowed up to and including it.
 * Entries before `head` have left the window and are only waiting to be compacted away.
 */
interface LogState {
  times: number[];
  totals: number[];
  head: number;
  /** The running total of the cost that has left the window (all entries before `head`). */
  dropped: number;
  /** The running total of every cost ever allowed. */
  total: number;
}

/**
 * Exact: remembers when each allowed request was made, and allows when the costs made in
 * `(now - windowMs, now]` plus this one fit the limit. One entry per allowed request, each of cost
 * >= 1, so memory per key is O(limit).
 */
export class SlidingLogLimiter extends KeyedWindowLimiter<LogState> {
  protected create(): LogState {
    return { times: [], totals: [], head: 0, dropped: 0, total: 0 };
  }

  protected decide(state: LogState, now: number, cost: number): WindowDecision {
    const { times, totals } = state;
    // An entry made at `t` counts while `t > now - windowMs`: it leaves at `t + windowMs` exactly.
    // Past the last entry `times[head]` is `undefined`, and `undefined <= n` is false: the loop
    // stops there without a bound of its own.
    while (times[state.head]! <= now - this.windowMs) {
      state.dropped = totals[state.head]!;
      state.head += 1;
    }
    // Compact once most of the arrays is dead: each compaction moves fewer live entries than
    // were dropped since the last, so it is O(1) amortized, and memory stays O(limit).
    if (state.head * 2 > times.length) {
      times.splice(0, state.head);
      totals.splice(0, state.head);
      state.head = 0;
    }
    const used = state.total - state.dropped;
    if (cost > this.limit) return this.refuseForever(this.limit - used);
    if (used + cost <= this.limit) {
      state.total += cost;
      times.push(now);
      totals.push(state.total);
      return this.decision(this.limit - used - cost, 0);
    }
    // The first entry whose leaving frees enough: its running total reaches dropped + excess.
    // Running totals increase, so a binary search finds it in O(log limit).
    const target = state.dropped + used + cost - this.limit;
    let low = state.head;
    let high = times.length - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (totals[middle]! >= target) high = middle;
      else low = middle + 1;
    }
    return this.decision(this.limit - used, times[low]! + this.windowMs - now);
  }
}

interface CounterState {
  /** The window number the counts are for: `current` is its count, `previous` the one before's. */
  window: number;
  previous: number;
  current: number;
}

/**
 * The sliding-window counter (as Cloudflare describes it): the previous window's count, weighted by
 * the share of it still inside a window ending now, plus the current window's count. Two counters
 * per key; every comparison in integers, so no rounding ever decides.
 */
export class SlidingCounterLimiter extends KeyedWindowLimiter<CounterState> {
  /** Before every window: the first check starts one, with nothing before it. */
  protected create(): CounterState {
    return { window: -Infinity, previous: 0, current: 0 };
  }

  protected decide(state: CounterState, now: number, cost: number): WindowDecision {
    const windowMs = this.windowMs;
    const window = Math.floor(now / windowMs);
    if (state.window < window) {
      // The window just before the current one, or nothing if the key sat out a whole window.
      state.previous = state.window === window - 1 ? state.current : 0;
      state.current = 0;
      state.window = window;
    }
    // The estimate × windowMs, to compare in integers: previous × (windowMs − elapsed) + current ×
    // windowMs, against limit × windowMs.
    const weighted = state.previous * (windowMs - (now - window * windowMs));
    const room = this.limit * windowMs - weighted - state.current * windowMs;
    if (cost > this.limit) return this.refuseForever(Math.floor(room / windowMs));
    if (cost * windowMs <= room) {
      state.current += cost;
      return this.decision(Math.floor(room / windowMs) - cost, 0);
    }
    return this.decision(Math.floor(room / windowMs), this.#retryAt(state, cost) - now);
  }

  /**
   * The earliest whole ms at which `cost` fits, if nothing else is counted meanwhile. Within the
   * current window the weighted previous count shrinks by `previous` per ms: it fits from
   * `elapsed >= windowMs - floor(room × windowMs / previous)`, where `room` is what the limit leaves
   * beside the current count and the cost. If that is not in this window, the same in the next
   * one, whose previous count is our current one and whose room is `limit - cost` (from its very
   * start if the current count fits in that room).
   */
  #retryAt(state: CounterState, cost: number): number {
    const windowMs = this.windowMs;
    const start = state.window * windowMs;
    // With no room (`room < 0`), `elapsed` comes out past the window's end, and so it does when
    // the room is too small to matter before the end.
    const room = this.limit - state.current - cost;
    const elapsed = windowMs - Math.floor((room * windowMs) / state.previous);
    if (elapsed < windowMs) return start + elapsed;
    // In the next window: at its start already if what is counted now fits beside the cost.
    const next = start + windowMs;
    if (state.current <= this.limit - cost) return next;
    return next + windowMs - Math.floor(((this.limit - cost) * windowMs) / state.current);
  }
}
