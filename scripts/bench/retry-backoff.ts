/**
 * retry-backoff against p-retry: what wrapping a call that succeeds at once costs, per call. Each
 * process also times the bare call, so the overhead is the difference measured side by side.
 */
import {
  median,
  runIfMain,
  throughput,
  type Settings,
  type SubjectOutcome,
  type Suite,
} from './lib.ts';

/** The operation: an async function that succeeds at once, as most calls do. */
const operation = async (): Promise<number> => 42;

type Call = () => Promise<number>;

async function callsPerSecond(call: Call, settings: Settings): Promise<number[]> {
  let sum = 0;
  const rates = await throughput(async (n) => {
    for (let done = 0; done < n; done += 1) sum += await call();
  }, settings);
  if (sum === 0) throw new Error('the operation never ran');
  return rates;
}

async function measure(call: Call, settings: Settings): Promise<SubjectOutcome> {
  const bare = await callsPerSecond(operation, settings);
  const wrapped = await callsPerSecond(call, settings);
  const bareNs = 1e9 / median(bare);
  return {
    metrics: {
      callsPerSecond: wrapped,
      // Per sample: this sample's ns per call less the bare call's median ns per call.
      overheadNs: wrapped.map((rate) => 1e9 / rate - bareNs),
    },
    facts: { 'bare call ns': Math.round(bareNs) },
  };
}

export const suite: Suite = {
  slug: 'retry-backoff',
  title: 'overhead per call of an async operation that succeeds at first attempt',
  metrics: [
    { key: 'callsPerSecond', label: 'calls/s', better: 'higher' },
    { key: 'overheadNs', label: 'overhead ns/call', better: 'lower' },
  ],
  subjects: {
    reference: async (settings) => {
      const { retry } = await import('../../solutions/retry-backoff/index.ts');
      return measure(() => retry(operation), settings);
    },
    'p-retry': async (settings) => {
      const { default: pRetry } = await import('p-retry');
      return measure(() => pRetry(operation), settings);
    },
  },
};

runIfMain(import.meta.url, suite);
