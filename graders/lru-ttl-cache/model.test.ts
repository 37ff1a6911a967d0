/**
 * Grader for lru-ttl-cache, stage 5: random operation sequences against a deliberately simple
 * model, and the O(1) requirement measured as a ratio of per-operation times in one run.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { LruTtlCache, type EvictionReason } from '@kata/lru-ttl-cache';
import { useFakeClock } from '../support/clock.ts';
import { assertProperty } from '../support/property.ts';

type Event = [key: string, value: string, reason: EvictionReason];

interface ModelEntry {
  key: string;
  value: string;
  expiresAt: number;
}

/**
 * The contract written as plainly as possible: an array ordered from most to least recently used,
 * scanned in order. Expired entries stay stored until something removes them, as the contract
 * allows; the runner below only compares what the contract pins down.
 */
class Model {
  entries: ModelEntry[] = [];
  events: Event[] = [];

  constructor(
    readonly maxEntries: number,
    readonly ttlMs: number,
  ) {}

  isLive(entry: ModelEntry, now: number): boolean {
    return now < entry.expiresAt;
  }

  index(key: string): number {
    return this.entries.findIndex((entry) => entry.key === key);
  }

  live(now: number): ModelEntry[] {
    return this.entries.filter((entry) => this.isLive(entry, now));
  }

  hasExpired(now: number): boolean {
    return this.entries.some((entry) => !this.isLive(entry, now));
  }

  remove(index: number, reason: EvictionReason, now: number): ModelEntry {
    const [entry] = this.entries.splice(index, 1) as [ModelEntry];
    this.events.push([entry.key, entry.value, this.isLive(entry, now) ? reason : 'expire']);
    return entry;
  }

  get(key: string, now: number, touch: boolean): string | undefined {
    const index = this.index(key);
    const entry = this.entries[index];
    if (entry === undefined || !this.isLive(entry, now)) return undefined;
    if (touch) {
      this.entries.splice(index, 1);
      this.entries.unshift(entry);
    }
    return entry.value;
  }

  set(key: string, value: string, ttlMs: number | undefined, now: number): void {
    const ttl = ttlMs ?? this.ttlMs;
    const index = this.index(key);
    const fresh = { key, value, expiresAt: ttl > 0 ? now + ttl : Infinity };
    if (index >= 0) {
      const [old] = this.entries.splice(index, 1) as [ModelEntry];
      this.entries.unshift(fresh);
      this.events.push([key, old.value, this.isLive(old, now) ? 'set' : 'expire']);
      return;
    }
    this.entries.unshift(fresh);
    if (this.entries.length > this.maxEntries) this.remove(this.entries.length - 1, 'evict', now);
  }

  delete(key: string, now: number): boolean {
    const index = this.index(key);
    if (index < 0) return false;
    const entry = this.remove(index, 'delete', now);
    return this.isLive(entry, now);
  }

  prune(now: number): void {
    for (let i = this.entries.length - 1; i >= 0; i -= 1) {
      if (!this.isLive(this.entries[i]!, now)) this.remove(i, 'expire', now);
    }
  }

  clear(now: number): void {
    while (this.entries.length > 0) this.remove(0, 'clear', now);
  }
}

type Command =
  | { op: 'set'; key: string; ttlMs: number | undefined }
  | { op: 'get' | 'peek' | 'has' | 'delete'; key: string }
  | { op: 'keys' | 'entries' | 'prune' | 'clear' }
  | { op: 'advance'; ms: number };

const KEYS = ['a', 'b', 'c', 'd', 'e', 'f'];
const key = fc.constantFrom(...KEYS);
const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('set' as const),
      key,
      ttlMs: fc.constantFrom(undefined, 0, 5, 20, 50),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constantFrom('get' as const, 'peek' as const, 'has' as const, 'delete' as const),
      key,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constantFrom('keys' as const, 'entries' as const, 'prune' as const, 'clear' as const),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      ms: fc.integer({ min: 1, max: 30 }),
    }),
  },
);
const scenario = fc.record({
  maxEntries: fc.integer({ min: 1, max: 5 }),
  ttlMs: fc.constantFrom(0, 10, 40),
  commands: fc.array(command, { maxLength: 80, size: 'max' }),
});

const byValue = (a: Event, b: Event): number => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);

/** The O(1) check: per-operation time as the cache grows, compared with the time at 1,000 entries. */
const BASE_SIZE = 1_000;
/** Sizes measured in turn; the last is the cache's maxEntries, so sets evict there. */
const SIZES = [3_000, 10_000, 30_000, 100_000];
/** O(1) operations stay within a few times the small-size cost; an O(n) scan is ~100x at 100,000. */
const MAX_RATIO = 10;
/** Loop iterations per timed batch (each does get, peek, has and set, and sometimes delete + set). */
const ITERATIONS = 300;
const BATCHES = 9;
/** A wall-time cap for the whole check, so a quadratic implementation fails in seconds, not minutes. */
const BUDGET_MS = 4_000;

class OverBudget extends Error {}

/**
 * One cache grown in steps and timed at each size under a mixed workload on random keys (about 1
 * in 11 is missing, so sets add entries, and evict once the cache is full).
 */
class Workload {
  readonly cache = new LruTtlCache<number, number>({ maxEntries: SIZES.at(-1)! });
  #filled = 0;
  #seed = 12_345;

  constructor(readonly deadline: number) {}

  /** Adds entries until keys 0..size-1 are stored, watching the time budget. */
  grow(size: number): void {
    for (; this.#filled < size; this.#filled += 1) {
      this.cache.set(this.#filled, this.#filled);
      if ((this.#filled & 1023) === 0) this.checkBudget(`filling the cache to ${size} entries`);
    }
  }

  checkBudget(doing: string): void {
    if (performance.now() > this.deadline) throw new OverBudget(doing);
  }

  /** Times one batch on keys below 1.1 x `size`, in microseconds per iteration. */
  batch(size: number): number {
    const space = Math.floor(size * 1.1);
    const { cache } = this;
    const started = performance.now();
    for (let j = 0; j < ITERATIONS; j += 1) {
      this.#seed = (this.#seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      const key = this.#seed % space;
      cache.get(key);
      cache.peek(key);
      cache.has(key);
      cache.set(key, j);
      if (j % 8 === 0) {
        cache.delete(key);
        cache.set(key, j);
      }
    }
    return ((performance.now() - started) * 1_000) / ITERATIONS;
  }

  /** The median batch time at `size`, after one batch of warm-up. */
  median(size: number): number {
    this.batch(size);
    const times = Array.from({ length: BATCHES }, () => this.batch(size));
    return times.sort((a, b) => a - b)[BATCHES >> 1]!;
  }

  /**
   * Whether the median batch time at `size` is within `limit`. Stops as soon as the answer is
   * known: a majority of batches on one side of the limit decides the median.
   */
  medianWithin(size: number, limit: number): { within: boolean; median: number } {
    this.batch(size);
    const times: number[] = [];
    const majority = (BATCHES >> 1) + 1;
    let over = 0;
    while (over < majority && times.length - over < majority) {
      const time = this.batch(size);
      times.push(time);
      if (time > limit) over += 1;
      this.checkBudget(`timing ${size} entries`);
    }
    times.sort((a, b) => a - b);
    return { within: over < majority, median: times[times.length >> 1]! };
  }
}

describe('stage 5: matches a simple model and runs in O(1) per operation', () => {
  it('agrees with a simple model on random sequences of set, get, peek, has, delete, keys, prune, clear and clock advances', async () => {
    useFakeClock();
    let valueCounter = 0;
    await assertProperty(
      'The cache must behave like the contract on every sequence of operations: the same values from get/peek/has/delete/keys/entries, the same onEviction events (expired entries may be reported at any point up to the operation that must remove them), and a size between the live and stored counts.',
      fc.property(scenario, ({ maxEntries, ttlMs, commands }) => {
        const actualEvents: Event[] = [];
        const cache = new LruTtlCache<string, string>({
          maxEntries,
          ttlMs,
          onEviction: (k, v, reason) => {
            actualEvents.push([k, v, reason]);
          },
        });
        const model = new Model(maxEntries, ttlMs);
        const setup = `new LruTtlCache({ maxEntries: ${maxEntries}, ttlMs: ${ttlMs} })`;
        let elapsed = 0;
        const now = (): number => elapsed;
        const steps: string[] = [];
        const fail = (what: string, expected: unknown, actual: unknown): never => {
          throw new Error(
            `${setup}, after:\n  ${steps.join('\n  ')}\n${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
          );
        };
        const check = (what: string, expected: unknown, actual: unknown): void => {
          if (JSON.stringify(expected) !== JSON.stringify(actual)) fail(what, expected, actual);
        };
        /** Non-'expire' events must match command by command; 'expire' ones only in total. */
        let checkedModel = 0;
        let checkedActual = 0;
        const expireModel: Event[] = [];
        const expireActual: Event[] = [];
        const checkEvents = (): void => {
          const fresh = (events: Event[], from: number, expired: Event[]): Event[] => {
            const added = events.slice(from);
            expired.push(...added.filter((event) => event[2] === 'expire'));
            return added.filter((event) => event[2] !== 'expire').sort(byValue);
          };
          const expected = fresh(model.events, checkedModel, expireModel);
          const actual = fresh(actualEvents, checkedActual, expireActual);
          checkedModel = model.events.length;
          checkedActual = actualEvents.length;
          check("onEviction calls other than 'expire' during the last step", expected, actual);
        };

        for (const cmd of commands) {
          const t = now();
          switch (cmd.op) {
            case 'set': {
              const value = `v${(valueCounter += 1)}`;
              // Expired entries may or may not still be stored (the contract lets reads remove
              // them), so whether a new key evicts a live one would depend on that: prune first.
              if (
                model.index(cmd.key) < 0 &&
                model.entries.length >= maxEntries &&
                model.hasExpired(t)
              ) {
                steps.push('prune()');
                model.prune(t);
                cache.prune();
                checkEvents();
              }
              const opts = cmd.ttlMs === undefined ? undefined : { ttlMs: cmd.ttlMs };
              steps.push(`set('${cmd.key}', '${value}'${opts ? `, { ttlMs: ${cmd.ttlMs} }` : ''})`);
              model.set(cmd.key, value, cmd.ttlMs, t);
              const returned = opts ? cache.set(cmd.key, value, opts) : cache.set(cmd.key, value);
              if (returned !== cache)
                fail('set() return value', 'the cache itself', typeof returned);
              break;
            }
            case 'get':
            case 'peek':
              steps.push(`${cmd.op}('${cmd.key}')`);
              check(
                `${cmd.op}('${cmd.key}')`,
                model.get(cmd.key, t, cmd.op === 'get'),
                cache[cmd.op](cmd.key),
              );
              break;
            case 'has':
              steps.push(`has('${cmd.key}')`);
              check(
                `has('${cmd.key}')`,
                model.get(cmd.key, t, false) !== undefined,
                cache.has(cmd.key),
              );
              break;
            case 'delete':
              steps.push(`delete('${cmd.key}')`);
              check(`delete('${cmd.key}')`, model.delete(cmd.key, t), cache.delete(cmd.key));
              break;
            case 'keys':
              steps.push('keys()');
              check(
                'keys()',
                model.live(t).map((e) => e.key),
                [...cache.keys()],
              );
              break;
            case 'entries':
              steps.push('entries()');
              check(
                'entries()',
                model.live(t).map((e) => [e.key, e.value]),
                [...cache.entries()],
              );
              break;
            case 'prune':
              steps.push('prune()');
              model.prune(t);
              cache.prune();
              break;
            case 'clear':
              steps.push('clear()');
              model.clear(t);
              cache.clear();
              break;
            case 'advance':
              steps.push(`advance ${cmd.ms} ms`);
              elapsed += cmd.ms;
              vi.advanceTimersByTime(cmd.ms);
              break;
          }
          checkEvents();
          const live = model.live(now()).length;
          const size = cache.size;
          if (size < live || size > model.entries.length) {
            fail(
              'size (live entries <= size <= entries stored)',
              `${live}..${model.entries.length}`,
              size,
            );
          }
        }

        steps.push('keys(), entries(), then prune()');
        check(
          'keys() at the end',
          model.live(now()).map((e) => e.key),
          [...cache.keys()],
        );
        check(
          'entries() at the end',
          model.live(now()).map((e) => [e.key, e.value]),
          [...cache.entries()],
        );
        model.prune(now());
        cache.prune();
        checkEvents();
        check('size after a final prune()', model.entries.length, cache.size);
        check(
          "all 'expire' events of the sequence (each expired entry reported exactly once)",
          [...expireModel].sort(byValue),
          [...expireActual].sort(byValue),
        );
      }),
      // Sequences are long (up to 80 operations), so fewer runs still explore plenty of states.
      { numRuns: 100 },
    );
  });
  it('keeps get, peek, has, set and delete O(1): the time per operation at 100,000 entries is within 10x of the time at 1,000', () => {
    // Real timers and real time, measured as a ratio inside one run so machine speed cancels.
    vi.useRealTimers();
    const work = new Workload(performance.now() + BUDGET_MS);
    const report: string[] = [];
    try {
      work.grow(BASE_SIZE);
      // The first measurement also warms up the JIT; the lower of two is the baseline.
      const base = Math.min(work.median(BASE_SIZE), work.median(BASE_SIZE));
      report.push(`${BASE_SIZE} entries: ${base.toFixed(2)} us per iteration`);
      for (const size of SIZES) {
        work.grow(size);
        let { within, median } = work.medianWithin(size, base * MAX_RATIO);
        report.push(`${size} entries: ${median.toFixed(2)} us (${(median / base).toFixed(1)}x)`);
        if (!within) {
          // Once more, so that a burst of load on a busy machine cannot fail a correct cache.
          ({ within, median } = work.medianWithin(size, base * MAX_RATIO));
          report.push(
            `${size} entries again: ${median.toFixed(2)} us (${(median / base).toFixed(1)}x)`,
          );
        }
        expect(
          within,
          `each operation must cost about the same however full the cache is (O(1)), but at ${size} entries an iteration of get + peek + has + set (+ delete) took more than ${MAX_RATIO}x its time at ${BASE_SIZE} entries: that is what a scan of an array or list does. Measured:\n  ${report.join('\n  ')}`,
        ).toBe(true);
      }
    } catch (error) {
      if (!(error instanceof OverBudget)) throw error;
      expect.fail(
        `the O(1) check ran out of its ${BUDGET_MS} ms budget while ${error.message}: an O(1) cache needs well under a second for all of it, so some operation scans the entries. Measured so far:\n  ${report.join('\n  ')}`,
      );
    }
  }, 15_000);
});
