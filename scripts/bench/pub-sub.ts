/**
 * pub-sub against node:events EventEmitter and mitt: handler deliveries per second, publishing
 * to exact topics, then with wildcard subscriptions among the exact ones.
 */
import type { Emitter } from 'mitt';
import {
  runIfMain,
  seededRandom,
  throughput,
  type Settings,
  type SubjectOutcome,
  type Suite,
} from './lib.ts';

const TOPICS = 1_000;
const HANDLERS_PER_TOPIC = 3;
/** Patterns added for the wildcard run; each matches a share of the topics. */
const WILDCARDS = ['orders.*.created', 'orders.eu.#', '#.created', 'orders.#.cancelled', 'audit.#'];
const PUBLISHES = 1 << 16;

const REGIONS = ['eu', 'us', 'apac', 'latam'];
const EVENTS = ['created', 'paid', 'shipped', 'cancelled', 'refunded'];

/** `orders.<region>.<event>` and `orders.<region>.<event>.v<n>`: 1,000 distinct topics. */
function topicNames(): string[] {
  const names: string[] = [];
  for (let n = 0; names.length < TOPICS; n += 1) {
    const region = REGIONS[n % REGIONS.length]!;
    const event = EVENTS[Math.floor(n / REGIONS.length) % EVENTS.length]!;
    const version = Math.floor(n / (REGIONS.length * EVENTS.length));
    names.push(
      version === 0 ? `orders.${region}.${event}` : `orders.${region}.${event}.v${version}`,
    );
  }
  return names;
}

/**
 * What a team does for wildcards on an emitter without them: one catch-all handler per pattern,
 * filtering with a regular expression (`*` one segment, `#` zero or more).
 */
function patternRegExp(pattern: string): RegExp {
  // Matched against '.' + topic, so every segment, the first included, follows a dot.
  const pieces = pattern.split('.').map((segment) => {
    if (segment === '*') return '\\.[^.]+';
    if (segment === '#') return '(?:\\.[^.]+)*';
    return `\\.${segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`;
  });
  return new RegExp(`^${pieces.join('')}$`);
}

interface Bus {
  on(pattern: string, handler: () => void): void;
  emit(topic: string): void;
}

async function measure(make: () => Bus, wildcards: boolean, settings: Settings) {
  const topics = topicNames();
  const random = seededRandom(11);
  const sequence = Array.from({ length: PUBLISHES }, () => topics[Math.floor(random() * TOPICS)]!);
  const bus = make();
  let deliveries = 0;
  const handler = (): void => {
    deliveries += 1;
  };
  for (const topic of topics) {
    for (let k = 0; k < HANDLERS_PER_TOPIC; k += 1) bus.on(topic, handler);
  }
  if (wildcards) for (const pattern of WILDCARDS) bus.on(pattern, handler);

  let at = 0;
  let published = 0;
  const rates = await throughput((n) => {
    for (let done = 0; done < n; done += 1) {
      bus.emit(sequence[at]!);
      at = (at + 1) & (PUBLISHES - 1);
    }
    published += n;
  }, settings);
  // throughput() counts publishes; a publish delivers `deliveries / published` messages on average.
  const fanOut = deliveries / published;
  return { rates: rates.map((rate) => rate * fanOut), fanOut };
}

type Run = (settings: Settings) => Promise<SubjectOutcome>;

function subject(makeExact: () => Bus, makeWildcard: (() => Bus) | undefined): Run {
  return async (settings) => {
    const exact = await measure(makeExact, false, settings);
    const metrics: Record<string, number[]> = { exact: exact.rates };
    const facts: Record<string, string> = { 'handlers per publish': exact.fanOut.toFixed(2) };
    if (makeWildcard !== undefined) {
      const wild = await measure(makeWildcard, true, settings);
      metrics.wildcard = wild.rates;
      facts['with wildcards'] = wild.fanOut.toFixed(2);
    }
    return { metrics, facts };
  };
}

async function referenceBus(): Promise<() => Bus> {
  const { PubSub } = await import('../../solutions/pub-sub/index.ts');
  return () => {
    const bus = new PubSub();
    return {
      on: (pattern, handler) => void bus.subscribe(pattern, handler),
      emit: (topic) => void bus.publish(topic, topic),
    };
  };
}

async function mittBus(): Promise<() => Bus> {
  // mitt's typings describe a CommonJS default export; at run time the default is the function.
  const mitt = (await import('mitt')).default as unknown as <
    E extends Record<string, unknown>,
  >() => Emitter<E>;
  return () => {
    const emitter = mitt<Record<string, string>>();
    return {
      on: (pattern, handler) => {
        if (!pattern.includes('*') && !pattern.includes('#')) {
          emitter.on(pattern, handler);
          return;
        }
        // mitt's only wildcard is '*', every event: filter it.
        const regExp = patternRegExp(pattern);
        emitter.on('*', (type: string) => {
          if (regExp.test(`.${String(type)}`)) handler();
        });
      },
      emit: (topic) => emitter.emit(topic, topic),
    };
  };
}

export const suite: Suite = {
  slug: 'pub-sub',
  title: `deliveries/s: ${TOPICS.toLocaleString('en')} topics × ${HANDLERS_PER_TOPIC} handlers; then + ${WILDCARDS.length} wildcard patterns`,
  metrics: [
    { key: 'exact', label: 'exact topics, deliveries/s', better: 'higher' },
    { key: 'wildcard', label: 'with wildcards, deliveries/s', better: 'higher' },
  ],
  subjects: {
    reference: async (settings) => {
      const make = await referenceBus();
      return subject(make, make)(settings);
    },
    'node:events': async (settings) => {
      const { EventEmitter } = await import('node:events');
      const make = (): Bus => {
        const emitter = new EventEmitter();
        emitter.setMaxListeners(0);
        return {
          on: (pattern, handler) => void emitter.on(pattern, handler),
          emit: (topic) => void emitter.emit(topic, topic),
        };
      };
      // EventEmitter has no wildcards at all: only the exact run.
      return subject(make, undefined)(settings);
    },
    mitt: async (settings) => {
      const make = await mittBus();
      return subject(make, make)(settings);
    },
  },
};

runIfMain(import.meta.url, suite);
