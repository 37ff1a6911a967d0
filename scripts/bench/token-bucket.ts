/**
 * token-bucket's KeyedRateLimiter against limiter (a TokenBucket per key in a Map) and
 * rate-limiter-flexible's RateLimiterMemory: decisions per second over 10,000 keys.
 */
import {
  runIfMain,
  seededRandom,
  throughput,
  type Settings,
  type SubjectOutcome,
  type Suite,
} from './lib.ts';

const KEYS = 10_000;
const CAPACITY = 20;
const REFILL_PER_SECOND = 10;
const DECISIONS = 1 << 18;

/** One decision: consume a token for `key` if there is one; says whether it was allowed. */
type Decide = (key: string) => boolean | Promise<boolean>;

async function measure(decide: Decide, settings: Settings): Promise<SubjectOutcome> {
  const random = seededRandom(5);
  const keys = Array.from({ length: KEYS }, (_, i) => `client-${i}`);
  const sequence = Array.from({ length: DECISIONS }, () => keys[Math.floor(random() * KEYS)]!);
  let at = 0;
  let allowed = 0;
  let decided = 0;
  const decisionsPerSecond = await throughput(async (n) => {
    for (let done = 0; done < n; done += 1) {
      const result = decide(sequence[at]!);
      // Only the asynchronous limiter pays for an await; the others are called as they are used.
      if (typeof result === 'boolean' ? result : await result) allowed += 1;
      at = (at + 1) & (DECISIONS - 1);
    }
    decided += n;
  }, settings);
  return {
    metrics: { decisionsPerSecond },
    facts: { allowed: `${Math.round((100 * allowed) / decided)}%` },
  };
}

export const suite: Suite = {
  slug: 'token-bucket',
  title: `decisions/s over ${KEYS.toLocaleString('en')} keys (capacity ${CAPACITY}, ${REFILL_PER_SECOND}/s), uniform random keys`,
  metrics: [{ key: 'decisionsPerSecond', label: 'decisions/s', better: 'higher' }],
  subjects: {
    reference: async (settings) => {
      const { KeyedRateLimiter } = await import('../../solutions/token-bucket/index.ts');
      const limiter = new KeyedRateLimiter({
        capacity: CAPACITY,
        refillPerSecond: REFILL_PER_SECOND,
        maxKeys: KEYS,
      });
      return measure((key) => limiter.check(key).allowed, settings);
    },
    limiter: async (settings) => {
      // limiter has no keyed limiter: a Map of its TokenBucket, one per key, as a team writes it.
      const { TokenBucket } = await import('limiter');
      const buckets = new Map<string, InstanceType<typeof TokenBucket>>();
      return measure((key) => {
        let bucket = buckets.get(key);
        if (bucket === undefined) {
          bucket = new TokenBucket({
            bucketSize: CAPACITY,
            tokensPerInterval: REFILL_PER_SECOND,
            interval: 'second',
          });
          bucket.content = CAPACITY; // limiter's buckets start empty; the contract's start full
          buckets.set(key, bucket);
        }
        return bucket.tryRemoveTokens(1);
      }, settings);
    },
    'rate-limiter-flexible': async (settings) => {
      // A fixed window, not a token bucket: CAPACITY points per window of CAPACITY/REFILL seconds
      // allows the same long-run rate. consume() is a promise that rejects when over the limit.
      const { RateLimiterMemory } = await import('rate-limiter-flexible');
      const limiter = new RateLimiterMemory({
        points: CAPACITY,
        duration: CAPACITY / REFILL_PER_SECOND,
      });
      return measure(
        (key) =>
          limiter.consume(key, 1).then(
            () => true,
            () => false,
          ),
        settings,
      );
    },
  },
};

runIfMain(import.meta.url, suite);
