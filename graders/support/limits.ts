/**
 * Grading the Limits a README states (KATA_STANDARD.md, "Every rule is graded"): complexity as a
 * ratio of two sizes measured in one run, in CPU time, timers and callbacks counted, heap growth over a large
 * input, and sources that record how far they were read. Every measure here is either a count
 * (exact, whatever the machine) or a ratio of two timings taken side by side, interleaved, with
 * both sizes' data alive, so that a busy machine or a garbage collection slows both alike.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { onTestFinished, vi } from 'vitest';

/** Real elapsed time in ms. `process.hrtime` is never faked, so this is right under a fake clock too. */
export function realNowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * CPU time this process has used so far, in ms (user + system, every thread of the process).
 * Complexity is timed in CPU rather than elapsed time: on a loaded machine a process waits for a
 * core for milliseconds at a time, and a sample timed by the real clock measures those waits along
 * with the work. CPU time does not grow while the process waits. It does include the engine's own
 * threads (garbage collection, compilation), which a median of interleaved samples absorbs. Make
 * each sample last well over a millisecond of CPU, so the microsecond resolution does not matter.
 */
export function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Runs `work` and returns the CPU time it took, in ms (see {@link cpuMs}). */
export function cpuTimeMs(work: () => void): number {
  const start = cpuMs();
  work();
  return cpuMs() - start;
}

/** {@link cpuTimeMs} for asynchronous work (CPU spent by anything else meanwhile counts too). */
export async function cpuTimeMsAsync(work: () => Promise<unknown>): Promise<number> {
  const start = cpuMs();
  await work();
  return cpuMs() - start;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

export interface SizeRatio {
  /** Median CPU ms of one sample at the small size. */
  smallMs: number;
  /** Median CPU ms of one sample at the large size. */
  largeMs: number;
  /** `largeMs / smallMs`: about 1 for O(1) work per operation at both sizes, about `large / small` for O(n). */
  ratio: number;
}

/**
 * Compares the cost of the same number of operations on a small and a large instance, to tell
 * O(1) (or O(log n)) work per operation from O(n). `prepare(size)` builds an instance of that size
 * and returns a sample: a function doing a fixed number of operations on it (the same number at
 * both sizes). Both instances are built first and stay alive throughout; samples alternate
 * between the sizes (small, large, small, ...) after a warm-up, each timed in CPU ms
 * ({@link cpuMs}), and the medians are compared.
 *
 * Both instances share the test's clock: an object whose cost depends on time passed (a refill
 * computed from the idle time) should be built afresh inside each sample.
 *
 * Choose sizes far apart (say 500 and 50,000) and an assertion with a wide margin: a correct
 * O(1) implementation measures a ratio around 1 to 3 (caches and a busy machine), an O(n) scan
 * around the size ratio (100). Assert, for instance, `ratio < 15` and put the numbers in the
 * message.
 */
export function sizeRatio(
  prepare: (size: number) => () => void,
  sizes: { small: number; large: number },
  samples = 9,
): SizeRatio {
  const small = prepare(sizes.small);
  const large = prepare(sizes.large);
  small();
  large(); // warm-up: both paths compiled before anything is timed
  const smallTimes: number[] = [];
  const largeTimes: number[] = [];
  for (let i = 0; i < samples; i += 1) {
    smallTimes.push(cpuTimeMs(small));
    largeTimes.push(cpuTimeMs(large));
  }
  const smallMs = median(smallTimes);
  const largeMs = median(largeTimes);
  return { smallMs, largeMs, ratio: largeMs / Math.max(smallMs, 1e-3) };
}

/** {@link sizeRatio} for asynchronous samples (each sample awaited before the next starts). */
export async function sizeRatioAsync(
  prepare: (size: number) => Promise<() => Promise<unknown>> | (() => Promise<unknown>),
  sizes: { small: number; large: number },
  samples = 9,
): Promise<SizeRatio> {
  const small = await prepare(sizes.small);
  const large = await prepare(sizes.large);
  await small();
  await large();
  const smallTimes: number[] = [];
  const largeTimes: number[] = [];
  for (let i = 0; i < samples; i += 1) {
    smallTimes.push(await cpuTimeMsAsync(small));
    largeTimes.push(await cpuTimeMsAsync(large));
  }
  const smallMs = median(smallTimes);
  const largeMs = median(largeTimes);
  return { smallMs, largeMs, ratio: largeMs / Math.max(smallMs, 1e-3) };
}

/** "ratio 1.8 (0.12 ms at 500, 0.21 ms at 50,000)": the measurement, for a failure message. */
export function describeRatio(
  { smallMs, largeMs, ratio }: SizeRatio,
  sizes: { small: number; large: number },
): string {
  const ms = (value: number): string => `${value.toPrecision(2)} ms`;
  return (
    `ratio ${ratio.toFixed(1)} (${ms(smallMs)} at ${sizes.small.toLocaleString('en-US')}, ` +
    `${ms(largeMs)} at ${sizes.large.toLocaleString('en-US')})`
  );
}

/** The garbage collector, callable without `--expose-gc`. */
let collect: (() => void) | undefined;
export function collectGarbage(): void {
  if (!collect) {
    v8.setFlagsFromString('--expose-gc');
    collect = vm.runInNewContext('gc') as () => void;
  }
  collect();
  collect();
}

/** Heap in use after a full garbage collection, in bytes. */
export function heapUsedBytes(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

/**
 * How much the heap grew while `work` ran, sampled by `work` itself: call `sample()` at the
 * moments that matter (say, after every 1,000 records). Returns the largest growth seen over the
 * heap before `work` started, in bytes, after a full collection at each sample (so only what is
 * still referenced counts). Compare a small and a large input as a ratio: memory bounded by the
 * chunk size grows about alike; memory that grows with the input grows with it. Keep what is
 * measured referenced after the last sample (use it once more), or V8 may collect it before the
 * sample and a leak reads as no growth at all.
 */
export async function peakHeapGrowth(
  work: (sample: () => void) => Promise<void> | void,
): Promise<number> {
  const before = heapUsedBytes();
  let peak = 0;
  await work(() => {
    peak = Math.max(peak, heapUsedBytes() - before);
  });
  return peak;
}

/** What a {@link countTimers} counter has seen since it started. */
export interface TimerCounts {
  /** Timers and immediates scheduled (`setTimeout`, `setInterval`, `setImmediate`). */
  scheduled: number;
  /** Timer and immediate callbacks that ran (each run of an interval counts). */
  fired: number;
  /** Pending now, as the fake clock sees it (`vi.getTimerCount()`). */
  pending: number;
}

/**
 * Counts the timers the code under test schedules and the callbacks that run, from now until the
 * end of the test. Call after `useFakeClock()`. Polling shows as many callbacks over a long wait
 * (a 1 ms poll fires about 10,000 times in 10 s of fake time; a timer set for the moment the work
 * is due fires once or twice).
 */
export function countTimers(): () => TimerCounts {
  let scheduled = 0;
  let fired = 0;
  type Scheduler = (callback: (...args: unknown[]) => void, ...rest: unknown[]) => unknown;
  const globals = globalThis as unknown as Record<string, Scheduler>;
  const restores: Array<() => void> = [];
  for (const name of ['setTimeout', 'setInterval', 'setImmediate'] as const) {
    const original = globals[name]!;
    const counting: Scheduler = (callback, ...rest) => {
      scheduled += 1;
      const counted =
        typeof callback === 'function'
          ? (...args: unknown[]) => {
              fired += 1;
              callback(...args);
            }
          : callback;
      return original(counted, ...rest);
    };
    // The fake clock marks its functions (`hadOwnProperty`) and reads the mark back when it is
    // uninstalled, deleting a global it does not recognise: the wrapper carries the marks over.
    Object.assign(counting, original);
    globals[name] = counting;
    // Put the fake back only if ours is still in place: once the test's clock is restored to real
    // timers, putting the fake back would leave every later test (and file) with a dead timer.
    // (A `vi.spyOn` here would do exactly that when mocks are restored before the next test.)
    restores.push(() => {
      if (globals[name] === counting) globals[name] = original;
    });
  }
  onTestFinished(() => {
    for (const restore of restores) restore();
  });
  return () => ({ scheduled, fired, pending: vi.getTimerCount() });
}

/** What a {@link trackedIterable} records about how it was read. */
export interface ReadRecord {
  /** Items handed out so far (`next()` calls that returned an item). */
  pulled: number;
  /** `next()` calls so far, including the one that found the end. */
  nextCalls: number;
  /** Whether `return()` was called (the consumer stopped early and closed the source). */
  returned: boolean;
  /** Whether the end was reached. */
  done: boolean;
}

/**
 * An async iterable over `items` (or an endless sequence made by `items(i)`), recording how far
 * it was read: laziness is graded by `pulled`, closing by `returned`. Each `next()` resolves in
 * a microtask unless `delay` says otherwise (e.g. `() => new Promise(r => setImmediate(r))`).
 */
export function trackedAsyncIterable<T>(
  items: readonly T[] | ((index: number) => T),
  options: { delay?: () => Promise<void> } = {},
): { iterable: AsyncIterable<T>; record: ReadRecord } {
  const record: ReadRecord = { pulled: 0, nextCalls: 0, returned: false, done: false };
  const at = (index: number): IteratorResult<T> =>
    typeof items === 'function'
      ? { value: items(index), done: false }
      : index < items.length
        ? { value: items[index]!, done: false }
        : { value: undefined, done: true };
  const iterable: AsyncIterable<T> = {
    [Symbol.asyncIterator]() {
      let index = 0;
      return {
        async next() {
          record.nextCalls += 1;
          if (options.delay) await options.delay();
          if (record.returned) return { value: undefined, done: true };
          const result = at(index);
          if (result.done) record.done = true;
          else {
            index += 1;
            record.pulled += 1;
          }
          return result;
        },
        async return() {
          record.returned = true;
          return { value: undefined, done: true };
        },
      };
    },
  };
  return { iterable, record };
}

/** {@link trackedAsyncIterable}'s synchronous twin. */
export function trackedIterable<T>(items: readonly T[] | ((index: number) => T)): {
  iterable: Iterable<T>;
  record: ReadRecord;
} {
  const record: ReadRecord = { pulled: 0, nextCalls: 0, returned: false, done: false };
  const iterable: Iterable<T> = {
    [Symbol.iterator]() {
      let index = 0;
      return {
        next(): IteratorResult<T> {
          record.nextCalls += 1;
          if (record.returned) return { value: undefined, done: true };
          if (typeof items !== 'function' && index >= items.length) {
            record.done = true;
            return { value: undefined, done: true };
          }
          const value = typeof items === 'function' ? items(index) : items[index]!;
          index += 1;
          record.pulled += 1;
          return { value, done: false };
        },
        return(): IteratorResult<T> {
          record.returned = true;
          return { value: undefined, done: true };
        },
      };
    },
  };
  return { iterable, record };
}
