/**
 * Failure-message helpers shared by the graders: any value as text, what a call threw, and the
 * conventions' invalid-argument check (a RangeError or TypeError whose message names the option).
 * The stub's NotImplementedError always goes through, so a kata not started reads "not started".
 */
import { expect } from 'vitest';

/** Any value as text for a failure message, without `[object Object]`. */
export function show(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (typeof value === 'symbol' || typeof value === 'function') return value.toString();
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/** The stub's error: rethrown by every helper here, never taken for the code's answer. */
export const isNotImplemented = (error: unknown): boolean =>
  error instanceof Error && error.name === 'NotImplementedError';

/** Runs `call` and returns what it threw synchronously (undefined if it did not throw). */
export function thrown(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    if (isNotImplemented(error)) throw error;
    return error;
  }
  return undefined;
}

/**
 * Expects `call` to throw a `type` (RangeError or TypeError) whose message names `option`, in any
 * letter case. `what` describes the call and `rule` is its label, both for the failure message.
 */
export function expectInvalid(
  call: () => unknown,
  type: typeof RangeError | typeof TypeError,
  option: string,
  what: string,
  rule: string,
): void {
  const error = thrown(call);
  expect(
    error instanceof type,
    `${what} must throw a ${type.name}, got ${error === undefined ? 'no error' : show(error)} ${rule}`,
  ).toBe(true);
  expect(
    (error as Error).message.toLowerCase(),
    `${what}: the ${type.name}'s message must name ${option} ${rule}`,
  ).toContain(option.toLowerCase());
}
