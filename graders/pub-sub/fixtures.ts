/**
 * What the pub-sub grader files share: the contract's matching rules written as plainly as
 * possible (the model), a model of the whole bus that names the first step where an
 * implementation departs from it, the inputs that tell a polynomial matcher from an exponential
 * one, and small helpers for errors, promises and streams.
 */
import { getEventListeners } from 'node:events';
import fc from 'fast-check';
import { PubSub } from '@kata/pub-sub';
import { promiseState } from '../support/promises.ts';
import { assertProperty } from '../support/property.ts';
import { cpuMs } from '../support/limits.ts';

/** The contract's pattern rules (R4, R5) as a plain recursion: correct, and fine for short inputs. */
export function modelMatches(pattern: readonly string[], topic: readonly string[]): boolean {
  if (pattern.length === 0) return topic.length === 0;
  const [head, ...rest] = pattern;
  if (head === '#') {
    return modelMatches(rest, topic) || (topic.length > 0 && modelMatches(pattern, topic.slice(1)));
  }
  if (topic.length === 0) return false;
  return (head === '*' || head === topic[0]) && modelMatches(rest, topic.slice(1));
}

/** How many abort listeners are on `signal` right now (R41). */
export const abortListeners = (signal: AbortSignal): number =>
  getEventListeners(signal, 'abort').length;

/** Calls `fn` and returns what it threw (or `undefined`), so a test can check class and message together. */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** The rejection of `promise` (which must already have settled), or a marker if it did not reject. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  const state = await promiseState(promise);
  return state.state === 'rejected' ? state.reason : `<no rejection: ${state.state}>`;
}

export const INVALID_TOPICS = ['', 'a..b', '.a', 'a.', 'a.*', 'a.#', '*', '#', 'a*b', 'or#ders'];
export const MALFORMED_PATTERNS = [
  '',
  '.',
  'a..b',
  '.a',
  'a.',
  'a.#b',
  'a#',
  '**',
  '*a',
  'a.*b',
  '##',
  '#*',
];

/** Reads `count` messages that must already be available (buffered or handed over at once). */
export async function read<T>(iterator: AsyncIterator<T>, count: number): Promise<T[]> {
  const values: T[] = [];
  for (let i = 0; i < count; i += 1) {
    const state = await promiseState(iterator.next());
    if (state.state !== 'fulfilled' || state.value.done === true) {
      const got =
        state.state === 'rejected' ? `it rejected with ${String(state.reason)}` : state.state;
      throw new Error(
        `read ${i + 1} of ${count} did not yield a message: ${got === 'fulfilled' ? 'the stream was done' : got}`,
      );
    }
    values.push(state.value.value);
  }
  return values;
}

// ---------------------------------------------------------------------------------------------
// The bus as a model: random command sequences run against the implementation and the model side
// by side, and the first step where they disagree is named with what the model expected.

export type Command =
  | { kind: 'subscribe'; pattern: string; once: boolean }
  | { kind: 'unsubscribe'; subscription: number }
  | { kind: 'publish'; topic: string }
  | { kind: 'listenerCount'; topic: string };

const show = (command: Command, subscriptions: number): string => {
  switch (command.kind) {
    case 'subscribe':
      return `subscribe(${JSON.stringify(command.pattern)}${command.once ? ', h, { once: true }' : ''}) → #${subscriptions}`;
    case 'unsubscribe':
      return `unsubscribe #${command.subscription}`;
    case 'publish':
      return `publish(${JSON.stringify(command.topic)})`;
    case 'listenerCount':
      return `listenerCount(${JSON.stringify(command.topic)})`;
  }
};

const list = (ids: readonly number[]): string =>
  ids.length === 0 ? 'none' : ids.map((id) => `#${id}`).join(', ');

/**
 * Runs `commands` against a new bus and against the model. Each subscription's handler logs its
 * number (#0, #1, … in the order they were made). Throws at the first step where the bus departs
 * from the model, naming that step, the steps before it, what the bus did and what the model
 * expected, and `rules`.
 */
export function runAgainstModel(commands: readonly Command[], rules: string): void {
  const bus = new PubSub();
  const model: Array<{ pattern: string[]; once: boolean; active: boolean }> = [];
  const unsubscribes: Array<() => void> = [];
  let log: number[] = [];
  const done: string[] = [];
  const diverged = (step: string, happened: string, expected: string): Error =>
    new Error(
      [
        `step ${done.length + 1} of ${commands.length}, ${step}: ${happened}; the model expected ${expected} ${rules}`,
        done.length === 0
          ? 'It was the first step.'
          : `The steps before it: ${done.map((text, i) => `${i + 1}. ${text}`).join('; ')}.`,
      ].join('\n'),
    );

  for (const command of commands) {
    const step = show(command, model.length);
    switch (command.kind) {
      case 'subscribe': {
        const id = model.length;
        model.push({ pattern: command.pattern.split('.'), once: command.once, active: true });
        unsubscribes.push(
          bus.subscribe(command.pattern, () => void log.push(id), { once: command.once }),
        );
        break;
      }
      case 'unsubscribe': {
        if (unsubscribes.length === 0) continue;
        const id = command.subscription % unsubscribes.length;
        model[id]!.active = false;
        unsubscribes[id]!();
        done.push(`unsubscribe #${id}`);
        continue;
      }
      case 'publish': {
        const topic = command.topic.split('.');
        const expected = model.flatMap((s, id) =>
          s.active && modelMatches(s.pattern, topic) ? [id] : [],
        );
        for (const id of expected) if (model[id]!.once) model[id]!.active = false;
        log = [];
        const called = bus.publish(command.topic, null);
        const same = log.length === expected.length && log.every((id, i) => id === expected[i]);
        if (!same || called !== expected.length) {
          throw diverged(
            step,
            `the bus called ${list(log)} and returned ${called}`,
            `${list(expected)} in that order, and ${expected.length}`,
          );
        }
        break;
      }
      case 'listenerCount': {
        const topic = command.topic.split('.');
        const expected = model.filter((s) => s.active && modelMatches(s.pattern, topic)).length;
        const counted = bus.listenerCount(command.topic);
        if (counted !== expected) throw diverged(step, `it returned ${counted}`, `${expected}`);
        break;
      }
    }
    done.push(step);
  }
}

/** Command sequences over the given patterns and topics (`once` only when asked). */
export function commands(options: {
  patterns: fc.Arbitrary<string>;
  topics: fc.Arbitrary<string>;
  once?: boolean;
}): fc.Arbitrary<Command[]> {
  const command: fc.Arbitrary<Command> = fc.oneof(
    {
      arbitrary: fc.record({
        kind: fc.constant('subscribe' as const),
        pattern: options.patterns,
        once: options.once ? fc.boolean() : fc.constant(false),
      }),
      weight: 3,
    },
    {
      arbitrary: fc.record({
        kind: fc.constant('unsubscribe' as const),
        subscription: fc.nat({ max: 20 }),
      }),
      weight: 1,
    },
    {
      arbitrary: fc.record({ kind: fc.constant('publish' as const), topic: options.topics }),
      weight: 3,
    },
    {
      arbitrary: fc.record({ kind: fc.constant('listenerCount' as const), topic: options.topics }),
      weight: 1,
    },
  );
  return fc.array(command, { minLength: 1, maxLength: 10 });
}

/** Dot-joined segments drawn from `segments`, 1 to `maxLength` of them. */
export const dotted = (segments: readonly string[], maxLength: number): fc.Arbitrary<string> =>
  fc
    .array(fc.constantFrom(...segments), { minLength: 1, maxLength })
    .map((parts) => parts.join('.'));

/**
 * Wildcard patterns: a few short ones that often overlap, drawn often (so the same pattern is
 * subscribed more than once, between others that match the same topics), and random ones.
 */
export const wildcardPatterns = (maxLength: number): fc.Arbitrary<string> =>
  fc.oneof(
    { arbitrary: fc.constantFrom('a', 'a.b', '*', '#', 'a.#', '#.b', '*.*', '#.a.#'), weight: 3 },
    { arbitrary: dotted(['a', 'b', '*', '#'], maxLength), weight: 2 },
  );

/**
 * Checks that every generated command sequence behaves as the model says. A failure leads with
 * `description`, then the divergence (which step, what happened, what the model expected), then
 * fast-check's shrunk counterexample and how to replay it.
 */
export async function assertModel(
  description: string,
  sequences: fc.Arbitrary<Command[]>,
  rules: string,
  /** The share of the configured number of runs (FC_RUNS, 200 by default) to make. */
  share = 1,
): Promise<void> {
  // Outside the property first, so a method not written yet fails plainly rather than as a counterexample.
  runAgainstModel(
    [
      { kind: 'subscribe', pattern: 'a', once: false },
      { kind: 'publish', topic: 'a' },
      { kind: 'listenerCount', topic: 'a' },
    ],
    rules,
  );
  await assertProperty(
    description,
    fc.property(sequences, (sequence) => runAgainstModel(sequence, rules)),
    { numRuns: Math.max(1, Math.round((fc.readConfigureGlobal().numRuns ?? 100) * share)) },
  );
}

// ---------------------------------------------------------------------------------------------
// Matching cost (R39): inputs on which a backtracking matcher explores an exponential number of
// ways to split the topic among the `#` segments, while a polynomial one (dynamic programming,
// an NFA, memoized recursion, glob matching that only backtracks to the last `#`) needs a few
// hundred steps.

export interface Pathological {
  /** What the input is, for a failure message. */
  name: string;
  pattern: string;
  /** A topic the pattern does not match. */
  topic: string;
}

/**
 * `#` eight times then `x`, against 28 segments that do not end in `x`: a naive matcher tries about
 * C(36, 8) = 30 million ways to split the topic (around a second); a polynomial one about 9 × 29
 * steps. And `#.a` nine times then `#.b.#`, against `b` and 29 more segments: merging repeated `#`
 * does not help there, and a naive matcher tries every way to place nine `a`s among 28.
 * `variant` changes one topic segment, so no answer remembered from an earlier attempt applies.
 */
export function pathologicalInputs(variant: number): Pathological[] {
  const v = `v${variant}`;
  const as = (count: number): string[] => Array.from({ length: count }, () => 'a');
  return [
    {
      name: '"#" 8 times then "x" (9 segments), against 28 segments that do not end in "x"',
      pattern: [...Array.from({ length: 8 }, () => '#'), 'x'].join('.'),
      topic: [v, ...as(27)].join('.'),
    },
    {
      name: '"#.a" 9 times then "#.b.#" (21 segments), against "b" then 29 segments, 28 of them "a"',
      pattern: [...Array.from({ length: 9 }, () => ['#', 'a']).flat(), '#', 'b', '#'].join('.'),
      topic: ['b', v, ...as(28)].join('.'),
    },
  ];
}

/**
 * Runs `work` up to `attempts` times and returns the least CPU time one attempt took, in ms,
 * stopping at the first attempt within `budgetMs` (a correct matcher, even one that met a garbage
 * collection) or after one far beyond it (an exponential matcher: no point waiting for it again).
 */
export function leastCpuWithin(
  work: (attempt: number) => void,
  budgetMs: number,
  attempts = 3,
): number {
  let least = Number.POSITIVE_INFINITY;
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    const start = cpuMs();
    work(attempt);
    const used = cpuMs() - start;
    least = Math.min(least, used);
    if (used <= budgetMs || used > 5 * budgetMs) break;
  }
  return least;
}
