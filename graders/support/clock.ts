/**
 * A fake clock for graders, as the kata conventions require: `Date.now()`, `performance.now()`,
 * `setTimeout`, `setInterval` and `setImmediate` (and their clear functions) are all replaced, so
 * an implementation may use any of them and the grader still controls time exactly.
 */
import { vi } from 'vitest';

const FAKED = [
  'Date',
  'performance',
  'setTimeout',
  'clearTimeout',
  'setInterval',
  'clearInterval',
  'setImmediate',
  'clearImmediate',
] as const;

/** Installs the fake clock at `startMs` (epoch ms). `graders/support/setup.ts` restores real timers after each test. */
export function useFakeClock(startMs = Date.UTC(2026, 0, 1)): void {
  vi.useFakeTimers({ toFake: [...FAKED], now: startMs });
}

/** Moves fake time forward by `ms`, running due timers and the promise callbacks they settle. */
export async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}
