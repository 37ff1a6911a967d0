/**
 * Brute-force models of the three limiters, written from the README's rules as plainly as
 * possible: every allowed request of every key is kept, what counts is summed from scratch at each
 * question, and `retryAfterMs` is found by trying every millisecond after now. Slow, and obviously
 * right. Keys are never evicted here: the properties stay within `maxKeys`. Not a test file.
 */
import fc from 'fast-check';
import type { WindowDecision } from '@kata/sliding-window';

export type Algorithm = 'fixed' | 'log' | 'counter';

interface Request {
  at: number;
  cost: number;
}

export class WindowModel {
  readonly #requests = new Map<string, Request[]>();

  constructor(
    readonly algorithm: Algorithm,
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  /** The sum of the costs allowed for `key` at times `t` for which `within(t)` holds. */
  #sum(key: string, within: (at: number) => boolean): number {
    let sum = 0;
    for (const { at, cost } of this.#requests.get(key) ?? []) if (within(at)) sum += cost;
    return sum;
  }

  /** For the counter: the previous and current windows' counts at `now`, and `elapsed`. */
  #counts(key: string, now: number): { previous: number; current: number; elapsed: number } {
    const w = Math.floor(now / this.windowMs);
    const windowOf = (at: number): number => Math.floor(at / this.windowMs);
    return {
      previous: this.#sum(key, (at) => windowOf(at) === w - 1),
      current: this.#sum(key, (at) => windowOf(at) === w),
      elapsed: now - w * this.windowMs,
    };
  }

  /** What counts for `key` at `now` (for the counter, limit × windowMs minus this is the room × windowMs). */
  #fits(key: string, now: number, cost: number): boolean {
    const { limit, windowMs } = this;
    switch (this.algorithm) {
      case 'fixed': {
        const w = Math.floor(now / windowMs);
        return this.#sum(key, (at) => Math.floor(at / windowMs) === w) + cost <= limit;
      }
      case 'log':
        return this.#sum(key, (at) => at > now - windowMs && at <= now) + cost <= limit;
      case 'counter': {
        const { previous, current, elapsed } = this.#counts(key, now);
        return previous * (windowMs - elapsed) + (current + cost) * windowMs <= limit * windowMs;
      }
    }
  }

  #remaining(key: string, now: number): number {
    const { limit, windowMs } = this;
    let remaining: number;
    switch (this.algorithm) {
      case 'fixed': {
        const w = Math.floor(now / windowMs);
        remaining = limit - this.#sum(key, (at) => Math.floor(at / windowMs) === w);
        break;
      }
      case 'log':
        remaining = limit - this.#sum(key, (at) => at > now - windowMs && at <= now);
        break;
      case 'counter': {
        const { previous, current, elapsed } = this.#counts(key, now);
        remaining = Math.floor(
          (limit * windowMs - previous * (windowMs - elapsed) - current * windowMs) / windowMs,
        );
        break;
      }
    }
    return Math.max(0, remaining);
  }

  /** Whether anything of `key` counts at `now` (a key with nothing counting may be dropped). */
  counts(key: string, now: number): boolean {
    switch (this.algorithm) {
      case 'fixed':
        return this.#remaining(key, now) < this.limit;
      case 'log':
        return this.#sum(key, (at) => at > now - this.windowMs) > 0;
      case 'counter': {
        const { previous, current } = this.#counts(key, now);
        return previous + current > 0;
      }
    }
  }

  /** Keys that ever had a request allowed. */
  get keys(): string[] {
    return [...this.#requests.keys()];
  }

  /** The decision for `check(key, cost)` at `now`, counting the request if allowed. */
  check(key: string, cost: number, now: number): WindowDecision {
    const { limit } = this;
    if (cost > limit) {
      return {
        allowed: false,
        limit,
        remaining: this.#remaining(key, now),
        retryAfterMs: Infinity,
      };
    }
    if (this.#fits(key, now, cost)) {
      const requests = this.#requests.get(key) ?? [];
      requests.push({ at: now, cost });
      this.#requests.set(key, requests);
      return { allowed: true, limit, remaining: this.#remaining(key, now), retryAfterMs: 0 };
    }
    // Every algorithm fits `cost <= limit` again within two windows, once everything has left.
    let retryAfterMs = 1;
    while (!this.#fits(key, now + retryAfterMs, cost)) retryAfterMs += 1;
    return { allowed: false, limit, remaining: this.#remaining(key, now), retryAfterMs };
  }
}

/** `{ allowed: true, limit: 3, remaining: 2, retryAfterMs: 0 }` (JSON would print Infinity as null). */
function format(decision: WindowDecision | undefined): string {
  if (typeof decision !== 'object' || decision === null) return String(decision);
  const { allowed, limit, remaining, retryAfterMs } = decision;
  return `{ allowed: ${allowed}, limit: ${limit}, remaining: ${remaining}, retryAfterMs: ${retryAfterMs} }`;
}

/** One step of a random scenario: move the clock on by `waitMs`, then `check(key, cost)`. */
export interface Step {
  waitMs: number;
  key: string;
  cost: number;
}

/** A readable step list, for a failure message: "+3 ms check('a', 2)". */
export function describeSteps(steps: readonly Step[]): string {
  return steps.map(({ waitMs, key, cost }) => `+${waitMs} ms check('${key}', ${cost})`).join(', ');
}

/**
 * Runs `steps` on `limiter` and on a model of `algorithm`, from the fake clock's present time, and
 * throws at the first step whose decision differs, saying what the model expected and why. Also
 * checks `size`: at least the keys that still count (they may not be dropped, with no eviction in
 * play), at most the keys ever allowed (R4: a refused new key holds no place).
 */
export function runAgainstModel(
  limiter: {
    check(key: string, cost?: number): WindowDecision;
    readonly size: number;
  },
  algorithm: Algorithm,
  options: { limit: number; windowMs: number },
  steps: readonly Step[],
  advance: (ms: number) => void,
  rules: string,
): void {
  const model = new WindowModel(algorithm, options.limit, options.windowMs);
  const start = Date.now();
  for (const [index, step] of steps.entries()) {
    advance(step.waitMs);
    const now = Date.now();
    const expected = model.check(step.key, step.cost, now);
    const actual = limiter.check(step.key, step.cost);
    const fields = ['allowed', 'limit', 'remaining', 'retryAfterMs'] as const;
    const wrong = fields.filter((field) => !Object.is(actual?.[field], expected[field]));
    const at =
      `with { limit: ${options.limit}, windowMs: ${options.windowMs} }, the clock starting at ` +
      `${start % options.windowMs} ms into a window, step #${index} (check('${step.key}', ` +
      `${step.cost}) at +${now - start} ms) after ${describeSteps(steps.slice(0, index)) || 'nothing'}`;
    if (wrong.length > 0) {
      throw new Error(
        `${at}: the model expected ${format(expected)}, got ${format(actual)}; ` +
          `wrong: ${wrong.join(', ')} [${rules}]`,
      );
    }
    const counting = model.keys.filter((key) => model.counts(key, now)).length;
    const size = limiter.size;
    if (size < counting || size > model.keys.length) {
      throw new Error(
        `${at}: size is ${size}, but ${counting} keys still count (they are held) and only ` +
          `${model.keys.length} ever had a request allowed (a refused new key holds no place) [R4, R13]`,
      );
    }
  }
}

/**
 * A random scenario: options small enough that the model's brute force stays quick and that every
 * boundary gets crossed (`windowMs` 1 to 40), the clock starting anywhere in a window, and steps
 * on three keys with costs from 1 to `limit + 1`.
 */
export const scenario = fc
  .record({
    limit: fc.integer({ min: 1, max: 6 }),
    windowMs: fc.integer({ min: 1, max: 40 }),
  })
  .chain(({ limit, windowMs }) =>
    fc.record({
      limit: fc.constant(limit),
      windowMs: fc.constant(windowMs),
      offset: fc.nat({ max: windowMs - 1 }),
      steps: fc.array(
        fc.record({
          waitMs: fc.oneof(
            fc.constant(0),
            fc.integer({ min: 1, max: windowMs }),
            fc.integer({ min: 0, max: 3 * windowMs }),
          ),
          key: fc.constantFrom('a', 'b', 'c'),
          cost: fc.oneof(
            { weight: 4, arbitrary: fc.integer({ min: 1, max: limit }) },
            { weight: 1, arbitrary: fc.constant(limit + 1) },
          ),
        }),
        { minLength: 1, maxLength: 40 },
      ),
    }),
  );
