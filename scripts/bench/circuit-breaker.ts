/**
 * circuit-breaker against opossum, Node's usual breaker, on the same work: calls per second of an
 * async operation that succeeds at once, through a closed breaker (the cost every call pays), and
 * refusals per second while the breaker is open (how fast it fails fast). Each is measured without
 * a call timeout and with one (a timer per call, and for ours an AbortController).
 */
import { runIfMain, throughput, type Settings, type SubjectOutcome, type Suite } from './lib.ts';

/** The operation: an async function that succeeds at once, as most calls do. */
const operation = async (): Promise<number> => 42;

/** A call timeout far longer than the operation: the timer is set and cleared, never fired. */
const TIMEOUT_MS = 10_000;

interface Subject {
  /** One call through the closed breaker. */
  call: () => Promise<number>;
  /** One call refused by the open breaker (resolves once refused). */
  refuse: () => Promise<unknown>;
}

async function measure(subject: Subject, settings: Settings): Promise<SubjectOutcome> {
  let sum = 0;
  const callsPerSecond = await throughput(async (n) => {
    for (let done = 0; done < n; done += 1) sum += await subject.call();
  }, settings);
  if (sum === 0) throw new Error('the operation never ran');
  let refused = 0;
  const refusalsPerSecond = await throughput(async (n) => {
    for (let done = 0; done < n; done += 1) {
      await subject.refuse();
      refused += 1;
    }
  }, settings);
  return { metrics: { callsPerSecond, refusalsPerSecond }, facts: { refused } };
}

async function reference(settings: Settings, callTimeoutMs?: number): Promise<SubjectOutcome> {
  const { CircuitBreaker, CircuitOpenError } =
    await import('../../solutions/circuit-breaker/index.ts');
  const closed = new CircuitBreaker({ callTimeoutMs });
  const open = new CircuitBreaker({ callTimeoutMs, minimumCalls: 1, openMs: 3_600_000 });
  await open.call(() => Promise.reject(new Error('down'))).catch(() => undefined);
  if (open.state !== 'open') throw new Error('the reference breaker did not open');
  return measure(
    {
      call: () => closed.call(operation),
      refuse: () =>
        open.call(operation).then(
          () => {
            throw new Error('an open breaker ran the operation');
          },
          (error: unknown) => {
            if (!(error instanceof CircuitOpenError)) throw error;
          },
        ),
    },
    settings,
  );
}

async function opossum(settings: Settings, timeout: number | false): Promise<SubjectOutcome> {
  const { default: CircuitBreaker } = await import('opossum');
  // The same thresholds as the reference's defaults, in opossum's names.
  const options = {
    timeout,
    errorThresholdPercentage: 50,
    volumeThreshold: 10,
    rollingCountTimeout: 10_000,
    resetTimeout: 3_600_000,
  };
  const closed = new CircuitBreaker(operation, options);
  const open = new CircuitBreaker(operation, options);
  open.open();
  return measure(
    {
      call: () => closed.fire(),
      refuse: () =>
        open.fire().then(
          () => {
            throw new Error('an open breaker ran the operation');
          },
          (error: { code?: string }) => {
            if (error.code !== 'EOPENBREAKER') throw error as Error;
          },
        ),
    },
    settings,
  );
}

export const suite: Suite = {
  slug: 'circuit-breaker',
  title: `calls/s of an async operation through a closed breaker; refusals/s while open (timeout ${TIMEOUT_MS} ms where said)`,
  metrics: [
    { key: 'callsPerSecond', label: 'closed, calls/s', better: 'higher' },
    { key: 'refusalsPerSecond', label: 'open, refusals/s', better: 'higher' },
  ],
  subjects: {
    reference: (settings) => reference(settings),
    'reference, timeout': (settings) => reference(settings, TIMEOUT_MS),
    opossum: (settings) => opossum(settings, false),
    'opossum, timeout': (settings) => opossum(settings, TIMEOUT_MS),
  },
};

runIfMain(import.meta.url, suite);
