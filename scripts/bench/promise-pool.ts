/**
 * promise-pool against p-map, p-limit and a plain Promise.all (no limit at all): what running a
 * task through the pool costs, per task. The task is an async function that resolves at once, so
 * the pool's own work is nearly all that is timed; each process also times the bare tasks awaited
 * together with Promise.all, and the overhead is the difference measured side by side.
 */
import {
  median,
  runIfMain,
  throughput,
  type Settings,
  type SubjectOutcome,
  type Suite,
} from './lib.ts';

/** Tasks running at once, for every subject that limits them. */
const CONCURRENCY = 8;

/** The task: an async function that resolves at once. */
const task = async (n: number): Promise<number> => n + 1;

/** Maps `items` with `task` and resolves with the results, in input order. */
type Run = (items: number[]) => Promise<number[]>;

/** One array per batch size, made once: the batch is one run over n items. */
const arrays = new Map<number, number[]>();
const itemsOf = (n: number): number[] => {
  let items = arrays.get(n);
  if (!items) {
    items = Array.from({ length: n }, (_, i) => i);
    arrays.set(n, items);
  }
  return items;
};

async function tasksPerSecond(run: Run, settings: Settings): Promise<number[]> {
  let checksum = 0;
  const rates = await throughput(async (n) => {
    const results = await run(itemsOf(n));
    checksum += results[n - 1]!;
  }, settings);
  if (checksum === 0) throw new Error('no task ran');
  return rates;
}

const plainPromiseAll: Run = (items) => Promise.all(items.map((item) => task(item)));

async function measure(run: Run, settings: Settings, facts: SubjectOutcome['facts'] = {}) {
  const bare = await tasksPerSecond(plainPromiseAll, settings);
  const pooled = await tasksPerSecond(run, settings);
  const bareNs = 1e9 / median(bare);
  return {
    metrics: {
      tasksPerSecond: pooled,
      // Per sample: this sample's ns per task less the bare Promise.all's median ns per task.
      overheadNs: pooled.map((rate) => 1e9 / rate - bareNs),
    },
    facts: { 'Promise.all ns/task': Math.round(bareNs), ...facts },
  };
}

export const suite: Suite = {
  slug: 'promise-pool',
  title: `overhead per task of an async task that resolves at once, ${CONCURRENCY} at a time`,
  metrics: [
    { key: 'tasksPerSecond', label: 'tasks/s', better: 'higher' },
    { key: 'overheadNs', label: 'overhead ns/task', better: 'lower' },
  ],
  subjects: {
    reference: async (settings) => {
      const { mapConcurrent } = await import('../../solutions/promise-pool/index.ts');
      return measure(
        (items) => mapConcurrent(items, task, { concurrency: CONCURRENCY }),
        settings,
        { api: 'mapConcurrent' },
      );
    },
    'reference, stream': async (settings) => {
      const { mapConcurrentStream } = await import('../../solutions/promise-pool/index.ts');
      return measure(
        async (items) => {
          const results: number[] = [];
          for await (const result of mapConcurrentStream(items, task, {
            concurrency: CONCURRENCY,
          })) {
            results.push(result);
          }
          return results;
        },
        settings,
        { api: 'mapConcurrentStream, ordered' },
      );
    },
    'reference, limiter': async (settings) => {
      const { createLimiter } = await import('../../solutions/promise-pool/index.ts');
      const limit = createLimiter(CONCURRENCY);
      return measure((items) => Promise.all(items.map((item) => limit(task, item))), settings, {
        api: 'createLimiter + Promise.all',
      });
    },
    'p-map': async (settings) => {
      const { default: pMap } = await import('p-map');
      return measure((items) => pMap(items, task, { concurrency: CONCURRENCY }), settings, {
        api: 'pMap',
      });
    },
    'p-limit': async (settings) => {
      const { default: pLimit } = await import('p-limit');
      const limit = pLimit(CONCURRENCY);
      return measure((items) => Promise.all(items.map((item) => limit(task, item))), settings, {
        api: 'pLimit + Promise.all',
      });
    },
    'Promise.all, no limit': async (settings) =>
      measure(plainPromiseAll, settings, { api: 'every task at once' }),
  },
};

runIfMain(import.meta.url, suite);
