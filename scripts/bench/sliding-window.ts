/**
 * sliding-window's three limiters against rate-limiter-flexible's RateLimiterMemory (a fixed
 * window per key, started at the key's first request, with an expiry timer per key): decisions
 * per second over 10,000 keys, on the real clock.
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
const LIMIT = 20;
const WINDOW_MS = 2_000;
const DECISIONS = 1 << 18;

/** One decision: count a request for `key` if it fits; says whether it was allowed. */
type Decide = (key: string) => boolean | Promise<boolean>;

async function measure(decide: Decide, settings: Settings): Promise<SubjectOutcome> {
  const random = seededRandom(7);
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

type LimiterName = 'FixedWindowLimiter' | 'SlidingLogLimiter' | 'SlidingCounterLimiter';

function reference(name: LimiterName) {
  return async (settings: Settings): Promise<SubjectOutcome> => {
    const kata = await import('../../solutions/sliding-window/index.ts');
    const limiter = new kata[name]({ limit: LIMIT, windowMs: WINDOW_MS, maxKeys: KEYS });
    return measure((key) => limiter.check(key).allowed, settings);
  };
}

export const suite: Suite = {
  slug: 'sliding-window',
  title: `decisions/s over ${KEYS.toLocaleString('en')} keys (limit ${LIMIT} per ${WINDOW_MS} ms), uniform random keys`,
  metrics: [{ key: 'decisionsPerSecond', label: 'decisions/s', better: 'higher' }],
  subjects: {
    'reference, fixed window': reference('FixedWindowLimiter'),
    'reference, sliding log': reference('SlidingLogLimiter'),
    'reference, sliding counter': reference('SlidingCounterLimiter'),
    'rate-limiter-flexible': async (settings) => {
      // Its memory limiter is a fixed window from each key's first request; consume() is a
      // promise that rejects when over the limit, and `duration` is in seconds.
      const { RateLimiterMemory } = await import('rate-limiter-flexible');
      const limiter = new RateLimiterMemory({ points: LIMIT, duration: WINDOW_MS / 1000 });
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
