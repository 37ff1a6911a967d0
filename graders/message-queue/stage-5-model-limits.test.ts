/**
 * Grader for message-queue, stage 5 (second part): random sequences of sends, receives, acks,
 * nacks, heartbeats and clock advances compared step by step with a simple model
 * (graders/message-queue/model.ts), and the Limits: cost per operation as a ratio of two queue
 * sizes, timers counted, and heap growth after a large batch is acknowledged.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { MessageQueue, QueueFullError } from '@kata/message-queue';
import { advance, useFakeClock } from '../support/clock.ts';
import {
  countTimers,
  cpuMs,
  describeRatio,
  heapUsedBytes,
  sizeRatioAsync,
} from '../support/limits.ts';
import { promiseState } from '../support/promises.ts';
import { assertProperty } from '../support/property.ts';
import { callReceive, receiveNow } from './fixtures.ts';
import { QueueModel, type ModelOptions } from './model.ts';

const STAGE = 'stage 5: consume, a model of the whole queue, and the limits';

type Command =
  | { op: 'send'; delayMs: number }
  | { op: 'receive'; max: number }
  | { op: 'ack'; pick: number }
  | { op: 'nack'; pick: number; delayMs: number }
  | { op: 'extendVisibility'; pick: number; ms: number }
  | { op: 'advance'; ms: number };

const pick = fc.nat({ max: 15 });
const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('send' as const),
      delayMs: fc.constantFrom(0, 0, 0, 5, 20),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('receive' as const),
      max: fc.integer({ min: 1, max: 3 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('ack' as const), pick }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('nack' as const),
      pick,
      delayMs: fc.constantFrom(0, 10),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('extendVisibility' as const),
      pick,
      ms: fc.constantFrom(0, 5, 30),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      ms: fc.integer({ min: 1, max: 30 }),
    }),
  },
);
const scenario = fc.record({
  options: fc.record({
    visibilityTimeoutMs: fc.constantFrom(10, 25),
    maxReceives: fc.constantFrom(1, 2, 3, Infinity),
    maxLength: fc.constantFrom(2, 4, Infinity),
  }),
  commands: fc.array(command, { minLength: 1, maxLength: 40 }),
});

const show = (value: unknown): string =>
  JSON.stringify(value, (_key, item: unknown) => (item === Infinity ? 'Infinity' : item));

function describeCommand(command: Command, handles: string[]): string {
  const handle = (index: number): string =>
    index < handles.length ? `handle #${index + 1}` : "'unknown'";
  switch (command.op) {
    case 'send':
      return `send(body, { delayMs: ${command.delayMs} })`;
    case 'receive':
      return `receive({ max: ${command.max} })`;
    case 'ack':
      return `ack(${handle(command.pick)})`;
    case 'nack':
      return `nack(${handle(command.pick)}, { delayMs: ${command.delayMs} })`;
    case 'extendVisibility':
      return `extendVisibility(${handle(command.pick)}, ${command.ms})`;
    case 'advance':
      return `advance the clock ${command.ms} ms`;
  }
}

/** Runs `commands` on the queue and the model side by side; throws at the first step that differs. */
async function runScenario(options: ModelOptions, commands: Command[]): Promise<void> {
  vi.useRealTimers();
  useFakeClock();
  const queue = new MessageQueue<number>(options);
  const model = new QueueModel(options);
  const handles: string[] = [];
  const ids = new Set<string>();
  const steps: string[] = [];
  for (const [index, command] of commands.entries()) {
    const step = `${describeCommand(command, handles)} at ${model.now} ms`;
    steps.push(step);
    const diverged = (what: string, expected: unknown, actual: unknown): never => {
      throw new Error(
        `step ${index + 1} of ${commands.length}, ${step}: ${what}: the model expected ${show(expected)}, got ${show(actual)}\n` +
          `options ${show(options)}; steps:\n${steps.map((line, i) => `  ${i + 1}. ${line}`).join('\n')}`,
      );
    };
    const handleAt = (i: number): string => handles[i] ?? 'unknown';
    switch (command.op) {
      case 'send': {
        const full = model.full();
        let id: string | undefined;
        try {
          id = queue.send(index, { delayMs: command.delayMs });
        } catch (error) {
          if (!(error instanceof QueueFullError)) throw error;
          if (!full) diverged('send() threw QueueFullError [R18]', 'an id', 'QueueFullError');
          break;
        }
        if (full) diverged('send() on a full queue [R18]', 'QueueFullError', id);
        if (typeof id !== 'string' || ids.has(id))
          diverged('send() must return a new string id [R3]', 'a new id', id);
        ids.add(id);
        model.send(id, index, command.delayMs);
        break;
      }
      case 'receive': {
        const expected = model.peekReady(command.max);
        const settled = await promiseState(callReceive(queue, { max: command.max }));
        if (settled.state !== 'fulfilled')
          diverged('receive() must fulfil at once [R4]', 'fulfilled', settled.state);
        const got = (
          settled as {
            value: Array<{ id: string; body: number; receiveCount: number; receiptHandle: string }>;
          }
        ).value;
        const expectedView = expected.map((m) => ({
          id: m.id,
          body: m.body,
          receiveCount: m.receiveCount + 1,
        }));
        const gotView = got.map(({ id, body, receiveCount }) => ({ id, body, receiveCount }));
        if (show(gotView) !== show(expectedView)) {
          diverged(
            'received messages (oldest-ready first) [R4, R5, R9, R13, R14, R17]',
            expectedView,
            gotView,
          );
        }
        for (const [i, message] of got.entries()) {
          if (
            typeof message.receiptHandle !== 'string' ||
            handles.includes(message.receiptHandle) ||
            ids.has(message.receiptHandle)
          ) {
            diverged(
              'each delivery needs a new receipt handle [R5]',
              'a new handle',
              message.receiptHandle,
            );
          }
          handles.push(message.receiptHandle);
          model.deliver(expected[i]!, message.receiptHandle);
        }
        break;
      }
      case 'ack': {
        const expected = model.ack(handleAt(command.pick));
        const got = queue.ack(handleAt(command.pick));
        if (got !== expected) diverged('ack() [R7, R8, R10]', expected, got);
        break;
      }
      case 'nack': {
        const expected = model.nack(handleAt(command.pick), command.delayMs);
        const got = queue.nack(handleAt(command.pick), { delayMs: command.delayMs });
        if (got !== expected) diverged('nack() [R10, R11]', expected, got);
        break;
      }
      case 'extendVisibility': {
        const expected = model.extendVisibility(handleAt(command.pick), command.ms);
        const got = queue.extendVisibility(handleAt(command.pick), command.ms);
        if (got !== expected) diverged('extendVisibility() [R10, R12]', expected, got);
        break;
      }
      case 'advance':
        await advance(command.ms);
        model.now += command.ms;
        break;
    }
    const expectedStats = model.stats();
    const { ready, delayed, inFlight, deadLettered } = queue.stats;
    if (show({ ready, delayed, inFlight, deadLettered }) !== show(expectedStats)) {
      diverged('stats after the step [R6, R9, R11, R14, R15, R17]', expectedStats, {
        ready,
        delayed,
        inFlight,
        deadLettered,
      });
    }
    const letters = queue
      .deadLetters()
      .map(({ id, body, receiveCount }) => ({ id, body, receiveCount }));
    // Letters dead-lettered at the same moment may be listed in any order among themselves.
    const key = (letter: { id: string }): string => letter.id;
    const expectedLetters = model.dead.map(({ id, body, receiveCount }) => ({
      id,
      body,
      receiveCount,
    }));
    let sameOrder = letters.length === expectedLetters.length;
    for (let start = 0; sameOrder && start < model.dead.length;) {
      let end = start;
      while (end < model.dead.length && model.dead[end]!.at === model.dead[start]!.at) end += 1;
      const want = expectedLetters.slice(start, end).sort((a, b) => (key(a) < key(b) ? -1 : 1));
      const have = letters.slice(start, end).sort((a, b) => (key(a) < key(b) ? -1 : 1));
      sameOrder = show(want) === show(have);
      start = end;
    }
    if (!sameOrder)
      diverged(
        'deadLetters(), oldest dead-lettered first [R14, R15, R16]',
        expectedLetters,
        letters,
      );
  }
}

/** Sizes for the cost check: 100 times apart, each held three times over (ready, delayed, in flight). */
const SIZES = { small: 300, large: 30_000 };
/** Operations of each kind per timed sample. */
const BATCH = 200;
/** O(log n) work measures a ratio of 1 to 4 at sizes 100 times apart; a scan of the messages held, about 100. */
const MAX_RATIO = 12;
/** CPU ms allowed to fill the large queue: a send that scans or sorts everything held cannot make it. */
const FILL_BUDGET_MS = 4_000;

class OverBudget extends Error {}

/**
 * A queue holding `size` messages in flight, `size` delayed and `size` ready (time is frozen, so
 * nothing falls due), and a sample that sends BATCH messages, receives 2 x BATCH, acks BATCH,
 * nacks BATCH and heartbeats BATCH in-flight ones: the queue ends each sample as it began.
 */
async function prepareQueue(size: number, deadline: number): Promise<() => Promise<unknown>> {
  const queue = new MessageQueue<number>({ visibilityTimeoutMs: 1e9, maxReceives: Infinity });
  const check = (i: number, doing: string): void => {
    if (i % 256 === 0 && cpuMs() > deadline) throw new OverBudget(doing);
  };
  for (let i = 0; i < size; i += 1) {
    queue.send(i);
    check(i, `sending ${size} messages`);
  }
  const inFlight: string[] = [];
  while (inFlight.length < size) {
    for (const message of await queue.receive({ max: 100 })) inFlight.push(message.receiptHandle);
    check(inFlight.length, `receiving ${size} messages`);
  }
  for (let i = 0; i < size; i += 1) {
    queue.send(i, { delayMs: 1e9 + i });
    check(i, `sending ${size} delayed messages`);
  }
  for (let i = 0; i < size; i += 1) {
    queue.send(i);
    check(i, `sending ${size} more messages`);
  }
  let beat = 0;
  return async () => {
    for (let i = 0; i < BATCH; i += 1) queue.send(i);
    for (const message of await queue.receive({ max: BATCH })) queue.ack(message.receiptHandle);
    for (const message of await queue.receive({ max: BATCH })) queue.nack(message.receiptHandle);
    for (let i = 0; i < BATCH; i += 1) {
      beat = (beat + 7919) % size;
      queue.extendVisibility(inFlight[beat]!, 1e9 + i);
    }
    return queue;
  };
}

describe(STAGE, () => {
  it('behaves like a simple model over random sends, receives, acks, nacks, heartbeats and clock advances [R4, R5, R6, R7, R8, R9, R10, R11, R12, R13, R14, R15, R16, R17, R18]', async () => {
    await assertProperty(
      'The queue must behave like a simple model of the contract at every step; the step that diverged is named below.',
      fc.asyncProperty(scenario, async ({ options, commands }) => {
        await runScenario(options, commands);
      }),
      { numRuns: Math.min(100, fc.readConfigureGlobal().numRuns ?? 100) },
    );
  }, 60_000);

  it('costs O(log n) per send, receive, ack, nack and heartbeat in the messages held [R32]', async () => {
    useFakeClock();
    const deadline = cpuMs() + FILL_BUDGET_MS;
    let measured;
    try {
      measured = await sizeRatioAsync((size) => prepareQueue(size, deadline), SIZES, 11);
    } catch (error) {
      if (!(error instanceof OverBudget)) throw error;
      expect.fail(
        `${error.message}: still not done after ${FILL_BUDGET_MS} ms of CPU time. Filling a queue with ` +
          `${SIZES.large.toLocaleString('en-US')} messages of each kind must take milliseconds: ` +
          'something scans or sorts every message held on each call [R32]',
      );
    }
    expect(
      measured.ratio,
      `send, receive, ack, nack and extendVisibility at ${SIZES.large.toLocaleString('en-US')} messages held ` +
        `(of each kind) against ${SIZES.small.toLocaleString('en-US')}: ${describeRatio(measured, SIZES)}. ` +
        `O(log n) work stays under ${MAX_RATIO}; a scan of the messages held is near 100 (CPU time) [R32]`,
    ).toBeLessThan(MAX_RATIO);
  }, 60_000);

  it('keeps at most one timer for the messages, however many are delayed or in flight [R33]', async () => {
    useFakeClock();
    const queue = new MessageQueue<number>({ visibilityTimeoutMs: 5_000 });
    for (let i = 0; i < 500; i += 1) queue.send(i, { delayMs: 1_000 + i });
    expect(
      vi.getTimerCount(),
      'timers pending with 500 delayed messages, each due at its own moment [R33]',
    ).toBeLessThanOrEqual(1);
    for (let i = 0; i < 500; i += 1) queue.send(i);
    for (let i = 0; i < 50; i += 1) {
      await receiveNow(queue, { max: 10 });
      await advance(1);
    }
    expect(
      vi.getTimerCount(),
      'timers pending with 500 in flight (50 different deadlines) and 450 delayed [R33]',
    ).toBeLessThanOrEqual(1);
    const waiters = [1, 2, 3].map(() =>
      callReceive(new MessageQueue<number>(), { waitMs: 10_000 }),
    );
    const busy = new MessageQueue<number>();
    for (let i = 0; i < 100; i += 1) busy.send(i, { delayMs: 500 + i });
    const waiting = [callReceive(busy, { waitMs: 100 }), callReceive(busy, { waitMs: 200 })];
    expect(
      vi.getTimerCount(),
      'timers pending: the first queue (<= 1), 3 receivers waiting on 3 empty queues (<= 1 each), and a queue with 100 delayed messages and 2 waiting receivers (<= 3) [R33]',
    ).toBeLessThanOrEqual(1 + 3 + 3);
    await advance(10_000);
    await Promise.all([...waiters, ...waiting]);
  });

  it('sets its timer for the moment something is due instead of polling [R34]', async () => {
    useFakeClock();
    const counts = countTimers();
    const queue = new MessageQueue<string>({ visibilityTimeoutMs: 10_000 });
    queue.send('a', { delayMs: 10_000 });
    const waiting = callReceive(queue, { waitMs: Infinity });
    await advance(10_000);
    const [message] = await waiting;
    expect(message?.body, 'a waiter gets the message delayed by 10 s [R34]').toBe('a');
    await advance(10_000);
    const [again] = await receiveNow(queue);
    expect(again?.receiveCount, 'the message is back after its 10 s visibility timeout [R34]').toBe(
      2,
    );
    const finalWait = callReceive(queue, { waitMs: 10_000 });
    await advance(10_000);
    await finalWait;
    // A receiver waiting without a limit on an empty queue: nothing is due, so nothing fires.
    const empty = new MessageQueue<string>();
    const forever = callReceive(empty, { waitMs: Infinity });
    await advance(10_000);
    empty.close();
    await forever;
    expect(
      counts().fired,
      'timer callbacks over 40 s with one delay, one visibility timeout and one wait of 10 s each, then 10 s of waiting on an empty queue: ' +
        'a timer set for the moment something is due fires a few times, a poll every few ms thousands [R34]',
    ).toBeLessThanOrEqual(10);
  });

  it('keeps nothing for acknowledged messages: no timer, and the heap of an empty queue [R35]', async () => {
    useFakeClock();
    const count = 20_000;
    const queue = new MessageQueue<{ n: number; payload: string }>({
      visibilityTimeoutMs: 1_000,
      maxReceives: Infinity,
    });
    // Warm up: whatever the queue allocates once, on its first messages, is not a leak.
    queue.send({ n: -1, payload: 'warm-up' }, { delayMs: 5 });
    await advance(5);
    for (const message of await queue.receive({ max: 10 })) queue.ack(message.receiptHandle);
    const empty = heapUsedBytes();

    const cycle = async (): Promise<number> => {
      for (let i = 0; i < count; i += 1)
        queue.send({ n: i, payload: `order ${i}` }, { delayMs: i % 3 });
      await advance(3);
      let received = 0;
      while (received < count) received += (await queue.receive({ max: 500 })).length;
      await advance(1_000); // every delivery times out: its handle goes stale
      const handles: string[] = [];
      while (handles.length < count) {
        for (const message of await queue.receive({ max: 500 }))
          handles.push(message.receiptHandle);
      }
      const held = heapUsedBytes() - empty;
      for (const handle of handles) queue.ack(handle);
      return held;
    };
    const held = await cycle();
    const after = heapUsedBytes() - empty;
    expect(vi.getTimerCount(), 'timers pending once every message is acknowledged [R35]').toBe(0);
    // A receiver that waited (and timed out) while a message was in flight leaves nothing either.
    const small = new MessageQueue<string>({ visibilityTimeoutMs: 1_000 });
    small.send('a');
    const [a] = await small.receive();
    const waiting = callReceive(small, { waitMs: 100 });
    await advance(100);
    await waiting;
    small.ack(a!.receiptHandle);
    expect(
      vi.getTimerCount(),
      'timers pending after a wait timed out and the message in flight was acked [R35]',
    ).toBe(0);
    expect(queue.stats, 'stats once every message is acknowledged [R35]').toMatchObject({
      ready: 0,
      delayed: 0,
      inFlight: 0,
    });
    expect(
      after,
      `heap growth after ${count.toLocaleString('en-US')} messages were sent, delivered twice and acknowledged: ` +
        `${Math.round(after / 1024)} KiB, while holding them took ${Math.round(held / 1024)} KiB. ` +
        'Something is kept per acknowledged message or per stale receipt handle [R35]',
    ).toBeLessThan(Math.max(held / 8, 256 * 1024));
  }, 60_000);
});
