/**
 * Complexity by CPU time rather than elapsed time. On a loaded machine a process waits for a core
 * for milliseconds at a time, and `sizeRatio` (limits.ts), which times samples with the real
 * clock, then measures those waits along with the work: a sample of a few milliseconds is hit by
 * one more often than not. CPU time (`process.cpuUsage()`, in microseconds) does not grow while
 * the process waits, so a ratio of two sizes stays about what the work costs. It does include the
 * engine's own threads (garbage collection, compilation), which a median of several samples,
 * interleaved between the sizes, absorbs. Make each sample last well over a millisecond of CPU,
 * so the microsecond resolution does not matter.
 */
import type { SizeRatio } from './limits.ts';

/** CPU time this process has used so far, in ms. */
export function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Runs `work` and returns the CPU time it took, in ms. */
export function cpuTimeMs(work: () => void): number {
  const start = cpuMs();
  work();
  return cpuMs() - start;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

/**
 * `sizeRatio` by CPU time: `prepare(size)` builds an instance of that size and returns a sample,
 * a function doing the same fixed amount of work at both sizes. Both instances are built first
 * and stay alive; after one warm-up sample each, samples alternate between the sizes and the
 * medians are compared.
 */
export function cpuSizeRatio(
  prepare: (size: number) => () => void,
  sizes: { small: number; large: number },
  samples = 9,
): SizeRatio {
  const small = prepare(sizes.small);
  const large = prepare(sizes.large);
  small();
  large();
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
