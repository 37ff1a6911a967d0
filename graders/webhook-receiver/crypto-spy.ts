/**
 * A spy in place of `crypto.timingSafeEqual`, for grading R12. Every grader file of this kata
 * replaces `node:crypto` with it (a hoisted `vi.mock`, which also covers `crypto`): the code under
 * test then sees the spy through any ES import form (named, default or namespace), whichever of
 * the kata's files loads it first, since grader files share a worker and its module cache.
 *
 * The spy checks its arguments with the real function (so unequal lengths still throw a
 * RangeError), counts the calls, and answers what the test forces, or the real answer. The state
 * lives on `globalThis`, shared by every copy of this module. Not a test file.
 */
import type * as NodeCrypto from 'node:crypto';

interface SpyState {
  calls: number;
  /** What the spy answers instead of the real comparison; `undefined`: the real answer. */
  answer: boolean | undefined;
}

const holder = globalThis as typeof globalThis & { __webhookTimingSafeEqualSpy?: SpyState };
const state = (holder.__webhookTimingSafeEqualSpy ??= { calls: 0, answer: undefined });

/** `node:crypto` with `timingSafeEqual` replaced by the spy, in its named and default exports. */
export function spiedCrypto(actual: typeof NodeCrypto): typeof NodeCrypto {
  const timingSafeEqual = (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView): boolean => {
    const real = actual.timingSafeEqual(a, b);
    state.calls += 1;
    return state.answer ?? real;
  };
  const base = (actual as { default?: typeof NodeCrypto }).default ?? actual;
  return { ...actual, timingSafeEqual, default: { ...base, timingSafeEqual } } as typeof NodeCrypto;
}

/** Calls of `timingSafeEqual` made so far (by anyone: compare before and after a call). */
export function timingSafeEqualCalls(): number {
  return state.calls;
}

/** Runs `work` while `timingSafeEqual` answers `answer` (after checking its arguments). */
export async function withTimingSafeEqualAnswering<T>(
  answer: boolean,
  work: () => T | Promise<T>,
): Promise<T> {
  state.answer = answer;
  try {
    return await work();
  } finally {
    state.answer = undefined;
  }
}
