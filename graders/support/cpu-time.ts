/**
 * Complexity checks timed in CPU time rather than wall time. On a machine shared by many busy
 * processes, a sample of a millisecond or two is often descheduled for longer than it runs, and a
 * wall-clock ratio then measures the scheduler. The CPU time this process spent (user + system,
 * `process.cpuUsage()`) does not count the time it was waiting for a core, so the ratio of two
 * sizes stays about what it is on an idle machine. Same shape as `sizeRatioAsync` in limits.ts.
 */
import type { SizeRatio } from './limits.ts';

/** CPU time this process has used so far, in ms (user + system; every thread of the process). */
export function cpuNowMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

/**
 * Like `sizeRatioAsync` (limits.ts): builds a small and a large instance with `prepare(size)`,
 * keeps both alive, warms both up, then alternates samples (small, large, small, ...) and compares
 * the medians, timing each sample in CPU ms. Each sample is awaited before the next starts.
 */
export async function cpuSizeRatioAsync(
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
  const time = async (sample: () => Promise<unknown>): Promise<number> => {
    const start = cpuNowMs();
    await sample();
    return cpuNowMs() - start;
  };
  for (let i = 0; i < samples; i += 1) {
    smallTimes.push(await time(small));
    largeTimes.push(await time(large));
  }
  const smallMs = median(smallTimes);
  const largeMs = median(largeTimes);
  return { smallMs, largeMs, ratio: largeMs / Math.max(smallMs, 1e-3) };
}
