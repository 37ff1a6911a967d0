import { describe, expect, it, vi } from 'vitest';
import { PubSub } from '@kata/pub-sub';
import { describeRatio, sizeRatio } from '../support/limits.ts';
import {
  MALFORMED_PATTERNS,
  assertModel,
  commands,
  dotted,
  leastCpuWithin,
  pathologicalInputs,
  thrownBy,
  wildcardPatterns,
} from './fixtures.ts';

/** CPU ms one subscribe and one publish may take on a pathological input (R39). */
const MATCH_BUDGET_MS = 50;

describe('stage 2: wildcard patterns', () => {
  it('rejects a pattern that is not a string in subscribe and stream with a TypeError naming the pattern [R3]', () => {
    const bus = new PubSub();
    for (const pattern of [undefined, null]) {
      for (const [name, call] of [
        ['subscribe', () => bus.subscribe(pattern as unknown as string, () => {})],
        ['stream', () => bus.stream(pattern as unknown as string)],
      ] as const) {
        const error = thrownBy(call);
        expect(
          error,
          `${name}(${String(pattern)}) throws a TypeError: a pattern is a string [R3]`,
        ).toBeInstanceOf(TypeError);
        expect(
          (error as Error).message,
          `${name}(${String(pattern)}): the message names the pattern [R3]`,
        ).toMatch(/pattern/i);
      }
    }
  });

  const table: Array<[pattern: string, topic: string, matches: boolean]> = [
    ['*', 'a', true],
    ['*', 'a.b', false],
    ['a.*', 'a.b', true],
    ['a.*', 'a', false],
    ['a.*', 'a.b.c', false],
    ['*.b', 'a.b', true],
    ['*.b', 'b', false],
    ['a.*.c', 'a.b.c', true],
    ['a.*.c', 'a.c', false],
    ['a.*.c', 'a.b.b.c', false],
    ['*.*', 'a.b', true],
    ['*.*', 'a', false],
    ['#', 'a', true],
    ['#', 'a.b.c', true],
    ['a.#', 'a', true],
    ['a.#', 'a.b', true],
    ['a.#', 'a.b.c', true],
    ['a.#', 'b.a', false],
    ['#.c', 'c', true],
    ['#.c', 'a.b.c', true],
    ['#.c', 'c.a', false],
    ['a.#.b', 'a.b', true],
    ['a.#.b', 'a.x.b', true],
    ['a.#.b', 'a.x.y.b', true],
    ['a.#.b', 'a.x.y', false],
    ['a.#.b', 'a.b.c', false],
    ['a.#.b', 'a.b.b', true],
    ['#.a.#', 'a', true],
    ['#.a.#', 'x.a.y.z', true],
    ['#.a.#', 'x.y', false],
    ['*.#', 'a', true],
    ['#.*', 'a.b.c', true],
    ['#.#', 'a', true],
    ['*.#.*', 'a', false],
    ['*.#.*', 'a.b', true],
    ['orders.*.created', 'orders.eu.created', true],
    ['orders.*.created', 'orders.eu.updated', false],
    ['orders.created', 'ordersXcreated', false],
    ['price+', 'priceee', false],
    ['a(1)|b', 'a(1)|b', true],
    ['$a^', '$a^', true],
  ];

  it.each(table)('pattern %j against topic %j matches: %s [R4, R5]', (pattern, topic, matches) => {
    const bus = new PubSub();
    const handler = vi.fn();
    bus.subscribe(pattern, handler);
    const rule = `"*" is exactly one segment, "#" zero or more, a literal only itself (AMQP topic rules) [R4, R5]`;
    expect(
      bus.publish(topic, 'm'),
      `publish(${JSON.stringify(topic)}) with one subscription to ${JSON.stringify(pattern)}: ${rule}`,
    ).toBe(matches ? 1 : 0);
    expect(
      handler.mock.calls.length,
      `the handler of ${JSON.stringify(pattern)} is ${matches ? '' : 'not '}called for ${JSON.stringify(topic)} [R4, R5]`,
    ).toBe(matches ? 1 : 0);
    expect(
      bus.listenerCount(topic),
      `listenerCount(${JSON.stringify(topic)}) agrees with publish [R4, R5]`,
    ).toBe(matches ? 1 : 0);
  });

  it.each(MALFORMED_PATTERNS)(
    'rejects the malformed pattern %j with a TypeError naming the pattern [R3]',
    (pattern) => {
      const bus = new PubSub();
      const error = thrownBy(() => bus.subscribe(pattern, () => {}));
      expect(
        error,
        `subscribe(${JSON.stringify(pattern)}) throws a TypeError: segments are "*", "#" or a non-empty literal without them [R3]`,
      ).toBeInstanceOf(TypeError);
      expect((error as Error).message, 'the message names the pattern [R3]').toMatch(/pattern/i);
      expect(bus.listenerCount('a.b'), 'a rejected pattern subscribes nothing [R3]').toBe(0);
    },
  );

  it.each(MALFORMED_PATTERNS)(
    'rejects the malformed pattern %j in stream with a TypeError [R3]',
    (pattern) => {
      const bus = new PubSub();
      const error = thrownBy(() => bus.stream(pattern));
      expect(
        error,
        `stream(${JSON.stringify(pattern)}) throws a TypeError when called [R3]`,
      ).toBeInstanceOf(TypeError);
      expect((error as Error).message, 'the message names the pattern [R3]').toMatch(/pattern/i);
    },
  );

  it('accepts patterns made only of wildcards, such as "#.#", "*.*" and "#.*.#" [R3]', () => {
    const bus = new PubSub();
    for (const pattern of ['#.#', '*.*', '#.*.#', '*.#.*']) {
      expect(
        thrownBy(() => bus.subscribe(pattern, () => {})),
        `${JSON.stringify(pattern)} is a valid pattern [R3]`,
      ).toBeUndefined();
    }
    expect(bus.listenerCount('a.b'), 'all four patterns match "a.b" [R3]').toBe(4);
  });

  it('calls the handlers of different patterns in subscription order, not grouped by pattern [R8]', () => {
    const bus = new PubSub();
    const log: string[] = [];
    bus.subscribe('orders.eu', () => void log.push('orders.eu (1st)'));
    bus.subscribe('orders.*', () => void log.push('orders.* (2nd)'));
    bus.subscribe('#', () => void log.push('# (3rd)'));
    bus.subscribe('orders.eu', () => void log.push('orders.eu (4th)'));
    bus.subscribe('orders.*', () => void log.push('orders.* (5th)'));
    bus.publish('orders.eu', 1);
    expect(
      log,
      'five subscriptions with three patterns, all matching "orders.eu": called in the order they subscribed [R8]',
    ).toEqual([
      'orders.eu (1st)',
      'orders.* (2nd)',
      '# (3rd)',
      'orders.eu (4th)',
      'orders.* (5th)',
    ]);
  });

  it('agrees with a model of the bus over random sequences with wildcard patterns [R4, R5, R8, R10]', async () => {
    await assertModel(
      'publish calls, in subscription order, exactly the live subscriptions whose pattern matches ' +
        'the topic ("*" = one segment, "#" = zero or more), returns their number, and listenerCount agrees',
      commands({ patterns: wildcardPatterns(5), topics: dotted(['a', 'b', 'c'], 4) }),
      '[R4, R5, R8, R10]',
      0.5,
    );
  });

  it.each([0, 1])(
    'matches in polynomial time: pathological input %i takes one subscribe and one publish well under 50 ms of CPU [R39]',
    (which) => {
      const { name } = pathologicalInputs(0)[which]!;
      let called = -1;
      const cpu = leastCpuWithin((attempt) => {
        const { pattern, topic } = pathologicalInputs(attempt)[which]!;
        const bus = new PubSub();
        bus.subscribe(pattern, () => {});
        called = bus.publish(topic, 1);
      }, MATCH_BUDGET_MS);
      expect(called, `${name}: the pattern does not match, so nothing is called [R5]`).toBe(0);
      expect(
        cpu,
        `${name}: one subscribe and one publish took ${cpu.toFixed(1)} ms of CPU (the least of up to 3 tries); ` +
          `a polynomial matcher needs well under 1 ms, a budget of ${MATCH_BUDGET_MS} ms is generous. ` +
          'Backtracking that tries every way to split the topic among the "#" segments is exponential: ' +
          'memoize on (pattern index, topic index), or only ever backtrack to the last "#" [R39]',
      ).toBeLessThanOrEqual(MATCH_BUDGET_MS);
    },
  );

  it('publishes at a cost linear in the number of matching subscriptions, even right after a subscription change [R38]', () => {
    // Each publish follows a subscribe and an unsubscribe, so nothing remembered from the last
    // publish can answer it: every subscription is matched again.
    const sizes = { small: 20, large: 6_000 };
    const measured = sizeRatio(
      (size) => {
        const bus = new PubSub();
        const patterns = ['orders.*', 'orders.#', '#', '*.eu', 'orders.eu'];
        for (let i = 0; i < size; i += 1) bus.subscribe(patterns[i % patterns.length]!, () => {});
        return () => {
          for (let i = 0; i < 2; i += 1) {
            bus.subscribe('other', () => {})();
            bus.publish('orders.eu', i);
          }
        };
      },
      sizes,
      7,
    );
    expect(
      measured.ratio,
      `2 × publish("orders.eu") after a subscription change, with 6,000 matching subscriptions vs 20, ` +
        `CPU time: ${describeRatio(measured, sizes)}. Linear work measures at most 300 (300 times the ` +
        'subscriptions; fixed costs make it less); copying a growing array per match measures thousands [R38]',
    ).toBeLessThan(600);
  });
});
