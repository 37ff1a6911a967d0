/**
 * lru-ttl-cache (the reference, and slots.ts in lru-cache's layout) against lru-cache (with and
 * without `ttl`) and quick-lru: a mixed stream of gets and sets on a cache holding 100,000
 * entries, and heap bytes per entry.
 */
import {
  heapPerEntry,
  runIfMain,
  seededRandom,
  throughput,
  type Settings,
  type SubjectOutcome,
  type Suite,
} from './lib.ts';

const ENTRIES = 100_000;
/** Keys are drawn from a range 25% larger than the cache: some gets miss, some sets evict. */
const KEY_SPACE = 125_000;
const GET_SHARE = 0.8;
const OPS = 1 << 20;
/** Long enough that nothing expires during the run: what is measured is the bookkeeping. */
const TTL_MS = 600_000;

interface CacheLike {
  get(key: string): unknown;
  set(key: string, value: number): unknown;
}

type Make = (maxEntries: number) => CacheLike;

async function measure(make: Make, settings: Settings): Promise<SubjectOutcome> {
  const random = seededRandom(7);
  const keys = Array.from({ length: KEY_SPACE }, (_, i) => `key:${i}`);
  const opKeys: string[] = [];
  const opIsGet: boolean[] = [];
  for (let i = 0; i < OPS; i += 1) {
    opKeys.push(keys[Math.floor(random() * KEY_SPACE)]!);
    opIsGet.push(random() < GET_SHARE);
  }

  const cache = make(ENTRIES);
  for (let i = 0; i < ENTRIES; i += 1) cache.set(keys[i]!, i);
  let at = 0;
  let gets = 0;
  let hits = 0;
  const opsPerSecond = await throughput((n) => {
    for (let done = 0; done < n; done += 1) {
      const key = opKeys[at]!;
      if (opIsGet[at]) {
        gets += 1;
        if (cache.get(key) !== undefined) hits += 1;
      } else {
        cache.set(key, at);
      }
      at = (at + 1) & (OPS - 1);
    }
  }, settings);

  const bytesPerEntry = heapPerEntry(
    (n) => {
      const filled = make(n);
      for (let i = 0; i < n; i += 1) filled.set(keys[i]!, i);
      return filled;
    },
    ENTRIES,
    settings.samples,
  );
  return {
    metrics: { opsPerSecond, bytesPerEntry },
    facts: { 'get hit rate': `${Math.round((100 * hits) / gets)}%` },
  };
}

export const suite: Suite = {
  slug: 'lru-ttl-cache',
  title: `mixed get/set (${GET_SHARE * 100}% get) on ${ENTRIES.toLocaleString('en')} entries, keys from ${KEY_SPACE.toLocaleString('en')}`,
  metrics: [
    { key: 'opsPerSecond', label: 'ops/s', better: 'higher' },
    { key: 'bytesPerEntry', label: 'heap bytes/entry', better: 'lower' },
  ],
  subjects: {
    reference: async (settings) => {
      const { LruTtlCache } = await import('../../solutions/lru-ttl-cache/index.ts');
      return measure((maxEntries) => new LruTtlCache<string, number>({ maxEntries }), settings);
    },
    'reference, ttl': async (settings) => {
      const { LruTtlCache } = await import('../../solutions/lru-ttl-cache/index.ts');
      return measure(
        (maxEntries) => new LruTtlCache<string, number>({ maxEntries, ttlMs: TTL_MS }),
        settings,
      );
    },
    // The same contract in lru-cache's layout (solutions/lru-ttl-cache/slots.ts): slot numbers
    // and index-linked arrays instead of an object per entry.
    'reference, slots': async (settings) => {
      const { LruTtlCache } = await import('../../solutions/lru-ttl-cache/slots.ts');
      return measure((maxEntries) => new LruTtlCache<string, number>({ maxEntries }), settings);
    },
    'reference, slots, ttl': async (settings) => {
      const { LruTtlCache } = await import('../../solutions/lru-ttl-cache/slots.ts');
      return measure(
        (maxEntries) => new LruTtlCache<string, number>({ maxEntries, ttlMs: TTL_MS }),
        settings,
      );
    },
    'lru-cache': async (settings) => {
      const { LRUCache } = await import('lru-cache');
      return measure((max) => new LRUCache<string, number>({ max }), settings);
    },
    'lru-cache, ttl': async (settings) => {
      const { LRUCache } = await import('lru-cache');
      return measure((max) => new LRUCache<string, number>({ max, ttl: TTL_MS }), settings);
    },
    // lru-cache's default ttlResolution (1 ms) reuses one clock reading until a timer clears it,
    // which never fires in a synchronous loop; 0 makes it read the clock on every get, exactly as
    // our contract's expiry requires. Shown so the two time-to-live rows compare like with like.
    'lru-cache, exact ttl': async (settings) => {
      const { LRUCache } = await import('lru-cache');
      return measure(
        (max) => new LRUCache<string, number>({ max, ttl: TTL_MS, ttlResolution: 0 }),
        settings,
      );
    },
    'quick-lru': async (settings) => {
      const { default: QuickLRU } = await import('quick-lru');
      return measure((maxSize) => new QuickLRU<string, number>({ maxSize }), settings);
    },
  },
};

runIfMain(import.meta.url, suite);
