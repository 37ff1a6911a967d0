/**
 * What the sliding-window grader files share: the three limiters by name, the error checks whose
 * failures name the call, what was expected, what happened and the rule, a readable decision, the
 * tests every limiter must pass alike (options, arguments, refused checks, `cost > limit`, the
 * decision's fields: R1 to R5), and a CPU budget for loops that a wrong algorithm makes quadratic.
 * Not a test file.
 */
import { expect, it, vi } from 'vitest';
import {
  FixedWindowLimiter,
  SlidingCounterLimiter,
  SlidingLogLimiter,
  type WindowDecision,
  type WindowLimiter,
  type WindowLimiterOptions,
} from '@kata/sliding-window';
import { useFakeClock } from '../support/clock.ts';
import { cpuMs } from '../support/limits.ts';

/** Midnight, 1 January 2026 UTC: a multiple of every `windowMs` the grader uses. */
export const T0 = Date.UTC(2026, 0, 1);

export type LimiterClass = new (options: WindowLimiterOptions) => WindowLimiter;

/** The three limiters, by the name a learner knows them by. */
export const LIMITERS: ReadonlyArray<{ name: string; Limiter: LimiterClass }> = [
  { name: 'FixedWindowLimiter', Limiter: FixedWindowLimiter },
  { name: 'SlidingLogLimiter', Limiter: SlidingLogLimiter },
  { name: 'SlidingCounterLimiter', Limiter: SlidingCounterLimiter },
];

/** Puts the fake clock at `T0 + offsetMs`. */
export function clockAt(offsetMs = 0): void {
  useFakeClock(T0 + offsetMs);
}

/** Moves the fake clock to `T0 + offsetMs` (never backwards). */
export function moveTo(offsetMs: number): void {
  vi.setSystemTime(T0 + offsetMs);
}

/** `{ allowed: true, remaining: 2, retryAfterMs: 0 }`, for a failure message. */
export function show(decision: WindowDecision | undefined): string {
  if (decision === undefined || decision === null) return String(decision);
  const { allowed, limit, remaining, retryAfterMs } = decision;
  return `{ allowed: ${allowed}, limit: ${limit}, remaining: ${remaining}, retryAfterMs: ${retryAfterMs} }`;
}

/** Expects `decision` to have the `expected` fields, naming the call and the rule on failure. */
export function expectDecision(
  decision: WindowDecision,
  expected: Partial<WindowDecision>,
  what: string,
  rule: string,
): void {
  const wrong = Object.entries(expected).some(
    ([field, value]) => !Object.is(decision?.[field as keyof WindowDecision], value),
  );
  const shown = `{ ${Object.entries(expected)
    .map(([field, value]) => `${field}: ${String(value)}`)
    .join(', ')} }`;
  expect(wrong, `${what}: expected ${shown}, got ${show(decision)} [${rule}]`).toBe(false);
}

type ErrorClass = new (...args: never[]) => Error;

/** What a call did instead of throwing the right error, for a failure message. */
function describeOutcome(outcome: { threw: boolean; value: unknown }): string {
  if (!outcome.threw) {
    const value = outcome.value as WindowDecision | undefined;
    const shown = typeof value === 'object' && value !== null ? show(value) : String(value);
    return `it threw nothing (returned ${shown})`;
  }
  const error = outcome.value;
  if (error instanceof Error) return `it threw ${error.name}: ${error.message}`;
  return `it threw ${String(error)}, which is not an Error`;
}

/**
 * Expects `action` to throw an error of one of `classes` whose message names `names`. `call` is
 * how the learner would write the call, e.g. `new FixedWindowLimiter({ limit: 0, windowMs: 1000 })`.
 */
export function expectThrows(
  action: () => unknown,
  call: string,
  { classes, names, rule }: { classes: readonly ErrorClass[]; names: string; rule: string },
): void {
  let outcome: { threw: boolean; value: unknown };
  try {
    outcome = { threw: false, value: action() };
  } catch (error) {
    if (error instanceof Error && error.name === 'NotImplementedError') throw error;
    outcome = { threw: true, value: error };
  }
  const error = outcome.value;
  const right =
    outcome.threw &&
    classes.some((type) => error instanceof type) &&
    new RegExp(`\\b${names}\\b`).test((error as Error).message);
  const wanted = classes.map((type) => `a ${type.name}`).join(' or ');
  expect(
    right,
    `${call}: expected ${wanted} whose message names ${names}, but ${describeOutcome(outcome)} [${rule}]`,
  ).toBe(true);
}

/**
 * Runs `step(i)` for i = 0 .. count − 1 and fails with `why` once the loop has used more than
 * `budgetMs` of CPU: a check that is O(keys) or O(limit) turns a loop the reference runs in a few
 * ms into one that would outlast the test's time limit, and the learner deserves the reason.
 */
export function loopWithinBudget(
  count: number,
  step: (i: number) => void,
  budgetMs: number,
  why: (done: number, spentMs: number) => string,
): void {
  const start = cpuMs();
  for (let i = 0; i < count; i += 1) {
    step(i);
    if ((i & 255) === 255) {
      const spent = cpuMs() - start;
      if (spent > budgetMs) expect.fail(why(i + 1, spent));
    }
  }
}

/** How long a test that runs such a loop may take in all: far beyond its budget. */
export const BUDGET_TEST_TIMEOUT_MS = 60_000;

/**
 * The tests every limiter passes alike, registered inside a stage's `describe`: options and
 * arguments (R1, R2), refused checks that count nothing (R3), `cost > limit` (R4) and the
 * decision's fields (R5). `againAtMs` is when a key of `limit: 3, windowMs: 1000` emptied by
 * `check(key, 3)` at the start of a window is allowed one more request: the algorithm's own answer.
 */
export function commonRules(name: string, Limiter: LimiterClass, againAtMs: number): void {
  it(`rejects limit, windowMs or maxKeys out of range or not an integer with a RangeError naming it [R1]`, () => {
    const cases: [string, string, WindowLimiterOptions][] = [
      ['limit', '{ limit: 0, windowMs: 1000 }', { limit: 0, windowMs: 1000 }],
      ['limit', '{ limit: 2.5, windowMs: 1000 }', { limit: 2.5, windowMs: 1000 }],
      ['limit', '{ limit: NaN, windowMs: 1000 }', { limit: NaN, windowMs: 1000 }],
      ['limit', '{ limit: Infinity, windowMs: 1000 }', { limit: Infinity, windowMs: 1000 }],
      ['windowMs', '{ limit: 5, windowMs: 0 }', { limit: 5, windowMs: 0 }],
      ['windowMs', '{ limit: 5, windowMs: -1000 }', { limit: 5, windowMs: -1000 }],
      ['windowMs', '{ limit: 5, windowMs: 0.5 }', { limit: 5, windowMs: 0.5 }],
      [
        'maxKeys',
        '{ limit: 5, windowMs: 1000, maxKeys: 0 }',
        { limit: 5, windowMs: 1000, maxKeys: 0 },
      ],
      [
        'maxKeys',
        '{ limit: 5, windowMs: 1000, maxKeys: 1.5 }',
        { limit: 5, windowMs: 1000, maxKeys: 1.5 },
      ],
    ];
    for (const [option, shown, options] of cases) {
      expectThrows(() => new Limiter(options), `new ${name}(${shown})`, {
        classes: [RangeError],
        names: option,
        rule: 'R1',
      });
    }
  });

  it('rejects limit, windowMs or maxKeys that is not a number with a TypeError naming it [R1]', () => {
    const cases: [string, string, Record<string, unknown>][] = [
      ['limit', "{ limit: '5', windowMs: 1000 }", { limit: '5', windowMs: 1000 }],
      ['windowMs', "{ limit: 5, windowMs: '1000' }", { limit: 5, windowMs: '1000' }],
      [
        'maxKeys',
        "{ limit: 5, windowMs: 1000, maxKeys: '10' }",
        { limit: 5, windowMs: 1000, maxKeys: '10' },
      ],
    ];
    for (const [option, shown, options] of cases) {
      expectThrows(
        () => new Limiter(options as unknown as WindowLimiterOptions),
        `new ${name}(${shown})`,
        { classes: [TypeError], names: option, rule: 'R1' },
      );
    }
  });

  it('rejects a key that is not a string with a TypeError naming key [R2]', () => {
    clockAt();
    const limiter = new Limiter({ limit: 3, windowMs: 1000 });
    for (const [key, shown] of [
      [42, '42'],
      [undefined, 'undefined'],
      [null, 'null'],
      [{ id: 'a' }, "{ id: 'a' }"],
    ] as const) {
      expectThrows(() => limiter.check(key as unknown as string), `check(${shown})`, {
        classes: [TypeError],
        names: 'key',
        rule: 'R2',
      });
    }
  });

  it('rejects a cost that is not an integer >= 1 with a RangeError naming cost, counting nothing [R2]', () => {
    clockAt();
    const limiter = new Limiter({ limit: 3, windowMs: 1000 });
    for (const cost of [0, -1, 1.5, NaN, -Infinity]) {
      expectThrows(() => limiter.check('k', cost), `check('k', ${cost})`, {
        classes: [RangeError],
        names: 'cost',
        rule: 'R2',
      });
    }
    expectThrows(() => limiter.check('k', '2' as unknown as number), "check('k', '2')", {
      classes: [RangeError, TypeError],
      names: 'cost',
      rule: 'R2',
    });
    expectDecision(
      limiter.check('k', 3),
      { allowed: true, remaining: 0 },
      "check('k', 3) with limit 3 after the invalid calls: they must have counted nothing",
      'R2',
    );
  });

  it('takes cost 1 when cost is absent [R2, R5]', () => {
    clockAt();
    const limiter = new Limiter({ limit: 3, windowMs: 1000 });
    expectDecision(
      limiter.check('k'),
      { allowed: true, limit: 3, remaining: 2, retryAfterMs: 0 },
      "check('k') on a new key with limit 3: cost absent means 1",
      'R2, R5',
    );
  });

  it('reports limit, remaining after the decision, and retryAfterMs 0 when allowed [R5]', () => {
    clockAt();
    const limiter = new Limiter({ limit: 5, windowMs: 1000 });
    expectDecision(
      limiter.check('k', 2),
      { allowed: true, limit: 5, remaining: 3, retryAfterMs: 0 },
      "check('k', 2) on a new key with limit 5: its own cost is already counted in remaining",
      'R5',
    );
    expectDecision(
      limiter.check('k', 3),
      { allowed: true, limit: 5, remaining: 0, retryAfterMs: 0 },
      "check('k', 3) after check('k', 2), limit 5",
      'R5',
    );
    const refused = limiter.check('k');
    expectDecision(
      refused,
      { allowed: false, limit: 5, remaining: 0 },
      "check('k') with 5 of 5 counted",
      'R5',
    );
    expect(
      refused.retryAfterMs > 0 && Number.isFinite(refused.retryAfterMs),
      `check('k') with 5 of 5 counted: retryAfterMs must be a finite wait above 0, got ${refused.retryAfterMs} [R5]`,
    ).toBe(true);
  });

  it('counts nothing for a refused check: a smaller request that fits is still allowed [R3]', () => {
    clockAt();
    const limiter = new Limiter({ limit: 3, windowMs: 1000 });
    limiter.check('k', 2);
    expectDecision(
      limiter.check('k', 2),
      { allowed: false, remaining: 1 },
      "check('k', 2) after check('k', 2) with limit 3",
      'R3',
    );
    expectDecision(
      limiter.check('k', 1),
      { allowed: true, remaining: 0 },
      "check('k', 1) right after the refused check('k', 2): the refusal counted nothing, so 2 + 1 fits",
      'R3',
    );
  });

  it('allows a client hammering while refused exactly when it would have been allowed had it waited [R3]', () => {
    clockAt();
    const limiter = new Limiter({ limit: 3, windowMs: 1000 });
    limiter.check('k', 3);
    const done: number[] = [];
    for (let at = 20; at < againAtMs; at += 20) {
      moveTo(at);
      const decision = limiter.check('k');
      if (decision.allowed) {
        expect.fail(
          `check('k') at +${at} ms after check('k', 3) at +0 with limit 3, windowMs 1000: ` +
            `allowed (${show(decision)}), but no request fits before +${againAtMs} ms [R3]`,
        );
      }
      done.push(at);
    }
    moveTo(againAtMs);
    expectDecision(
      limiter.check('k'),
      { allowed: true },
      `check('k') at +${againAtMs} ms after check('k', 3) at +0 with limit 3, windowMs 1000, and ` +
        `${done.length} refused checks every 20 ms between: refused checks count nothing, so the ` +
        `client is allowed at +${againAtMs} ms as if it had waited quietly`,
      'R3',
    );
  });

  it('never allows cost > limit: retryAfterMs is Infinity and nothing is counted [R4]', () => {
    clockAt();
    const limiter = new Limiter({ limit: 3, windowMs: 1000 });
    limiter.check('k');
    expectDecision(
      limiter.check('k', 4),
      { allowed: false, limit: 3, remaining: 2, retryAfterMs: Infinity },
      "check('k', 4) with limit 3 and 1 counted: a finite retryAfterMs would promise a retry " +
        'that can never succeed',
      'R4',
    );
    expectDecision(
      limiter.check('k', 2),
      { allowed: true, remaining: 0 },
      "check('k', 2) after the refused check('k', 4): it must have counted nothing",
      'R4',
    );
  });

  it('creates no state for a new key checked with cost > limit [R4]', () => {
    clockAt();
    const limiter = new Limiter({ limit: 3, windowMs: 1000, maxKeys: 2 });
    limiter.check('a');
    expectDecision(
      limiter.check('new', 4),
      { allowed: false, limit: 3, remaining: 3, retryAfterMs: Infinity },
      "check('new', 4) on a new key with limit 3",
      'R4',
    );
    expect(limiter.size, "size after check('a') and check('new', 4), limit 3 [R4]").toBe(1);
    limiter.check('b');
    expectDecision(
      limiter.check('a', 3),
      { allowed: false, remaining: 2 },
      "check('a', 3) after check('a'), check('new', 4), check('b') with maxKeys 2: 'new' holds " +
        "no place, so 'a' was not evicted and still has 1 counted",
      'R4',
    );
  });
}
