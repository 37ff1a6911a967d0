/**
 * `node:timers/promises` on the clock the grader controls. Vitest's fake timers replace the global
 * `setTimeout` and `setImmediate`, but `timers/promises` schedules through Node's internals and
 * would never fire under a fake clock, failing a correct learner who writes the idiomatic
 * `await setTimeout(ms, undefined, { signal })`. These stand-ins keep Node's behaviour (the value,
 * AbortError with the signal's reason as `cause`, listener removed once settled) but schedule with
 * whatever global timers are current: fake in timer tests, real otherwise.
 */
import type * as TimersPromises from 'node:timers/promises';

class AbortError extends Error {
  override readonly name = 'AbortError';
  readonly code = 'ABORT_ERR';
  constructor(reason: unknown) {
    super('The operation was aborted', { cause: reason });
  }
}

function delay<T>(
  schedule: (fire: () => void) => () => void,
  value: T,
  options: { signal?: AbortSignal } = {},
): Promise<T> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(new AbortError(signal.reason));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      cancel();
      reject(new AbortError(signal?.reason));
    };
    const cancel = schedule(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(value);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function setTimeout<T = void>(
  ms?: number,
  value?: T,
  options?: { signal?: AbortSignal },
): Promise<T> {
  return delay(
    (fire) => {
      const timer = globalThis.setTimeout(fire, ms);
      return () => globalThis.clearTimeout(timer);
    },
    value as T,
    options,
  );
}

export function setImmediate<T = void>(value?: T, options?: { signal?: AbortSignal }): Promise<T> {
  return delay(
    (fire) => {
      const immediate = globalThis.setImmediate(fire);
      return () => globalThis.clearImmediate(immediate);
    },
    value as T,
    options,
  );
}

/** `node:timers/promises` as graders see it: Node's own, with the two delays above in place. */
export function withGraderClock(actual: typeof TimersPromises): typeof TimersPromises {
  return {
    ...actual,
    setTimeout,
    setImmediate,
    scheduler: { ...actual.scheduler, wait: (ms, options) => setTimeout(ms, undefined, options) },
  };
}

/**
 * `node:timers` as graders see it: each function forwards to the global of the same name at call
 * time, so `import { setTimeout } from 'node:timers'` runs on the fake clock when the globals do.
 */
export function timersWithGraderClock(
  actual: typeof import('node:timers'),
): typeof import('node:timers') {
  type Callback = (...args: unknown[]) => void;
  const forwarded = {
    setTimeout: (callback: Callback, ms?: number, ...args: unknown[]) =>
      globalThis.setTimeout(callback, ms, ...args),
    clearTimeout: (timer?: NodeJS.Timeout | string | number) => globalThis.clearTimeout(timer),
    setInterval: (callback: Callback, ms?: number, ...args: unknown[]) =>
      globalThis.setInterval(callback, ms, ...args),
    clearInterval: (timer?: NodeJS.Timeout | string | number) => globalThis.clearInterval(timer),
    setImmediate: (callback: Callback, ...args: unknown[]) =>
      globalThis.setImmediate(callback, ...args),
    clearImmediate: (immediate?: NodeJS.Immediate) => globalThis.clearImmediate(immediate),
  };
  return {
    ...actual,
    ...forwarded,
    default: { ...actual, ...forwarded },
  } as unknown as typeof import('node:timers');
}

/** `node:perf_hooks` as graders see it: its `performance` reads whichever global `performance` is current. */
export function perfHooksWithGraderClock(
  actual: typeof import('node:perf_hooks'),
): typeof import('node:perf_hooks') {
  const performance = new Proxy(actual.performance, {
    get(_target, property) {
      const current = globalThis.performance as unknown as Record<PropertyKey, unknown>;
      const value = current[property];
      return typeof value === 'function'
        ? (value as (...args: unknown[]) => unknown).bind(current)
        : value;
    },
  });
  return {
    ...actual,
    performance,
    default: { ...actual, performance },
  } as typeof import('node:perf_hooks');
}
