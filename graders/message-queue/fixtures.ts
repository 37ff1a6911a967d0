/**
 * Shared by the message-queue grader's stages: calling receive() so that a synchronous throw is
 * reported as the mistake it is, reading stats with a message that says what was expected, and
 * small helpers for signals. Not a test file.
 */
import { getEventListeners } from 'node:events';
import { expect } from 'vitest';
import type {
  MessageQueue,
  QueueStats,
  ReceiveOptions,
  ReceivedMessage,
} from '@kata/message-queue';
import { promiseState } from '../support/promises.ts';
import { expectInvalid, show, thrown } from '../support/errors.ts';
export { expectInvalid, show, thrown };

/** Calls `queue.receive(options)`; a synchronous throw fails the test (receive reports by rejecting). */
export function callReceive<T>(
  queue: MessageQueue<T>,
  options?: ReceiveOptions,
): Promise<ReceivedMessage<T>[]> {
  try {
    return queue.receive(options);
  } catch (error) {
    if (error instanceof Error && error.name === 'NotImplementedError') throw error;
    expect.fail(
      `receive(${describeOptions(options)}) threw synchronously (${String(error)}); it returns a ` +
        'promise, so it must reject instead [R2]',
    );
  }
}

/** `receive(options)` that must settle at once (nothing to wait for): its messages. */
export async function receiveNow<T>(
  queue: MessageQueue<T>,
  options?: ReceiveOptions,
  why = '',
): Promise<ReceivedMessage<T>[]> {
  const promise = callReceive(queue, options);
  const settled = await promiseState(promise);
  const call = `receive(${describeOptions(options)})${why ? ` (${why})` : ''}`;
  if (settled.state === 'rejected') throw settled.reason;
  expect(settled.state, `${call} must settle at once, but it is still pending [R4]`).toBe(
    'fulfilled',
  );
  const messages = (settled as { value: ReceivedMessage<T>[] }).value;
  expect(Array.isArray(messages), `${call} must resolve with an array [R4]`).toBe(true);
  return messages;
}

/** The bodies of `messages`, for comparing deliveries. */
export const bodies = <T>(messages: readonly ReceivedMessage<T>[]): T[] =>
  messages.map((message) => message.body);

/** Checks `queue.stats` against the counts given (the ones not given must be 0). */
export function expectStats<T>(
  queue: MessageQueue<T>,
  expected: Partial<QueueStats>,
  why: string,
  rules = '[R6]',
): void {
  const full: QueueStats = { ready: 0, delayed: 0, inFlight: 0, deadLettered: 0, ...expected };
  const actual = queue.stats;
  const seen = {
    ready: actual.ready,
    delayed: actual.delayed,
    inFlight: actual.inFlight,
    deadLettered: actual.deadLettered,
  };
  expect(seen, `stats ${why} ${rules}`).toEqual(full);
}

export function describeOptions(options: unknown): string {
  if (options === undefined) return '';
  if (typeof options !== 'object' || options === null) return show(options);
  return `{ ${Object.entries(options)
    .map(([key, value]) => `${key}: ${value instanceof AbortSignal ? 'signal' : show(value)}`)
    .join(', ')} }`;
}

export const abortListeners = (signal: AbortSignal): number =>
  getEventListeners(signal, 'abort').length;

/** A queue's `receive` promise observed without waiting: settled state after pending callbacks. */
export async function stateOf<T>(
  promise: Promise<T>,
): Promise<'pending' | 'fulfilled' | 'rejected'> {
  return (await promiseState(promise)).state;
}

/** As {@link expectInvalid}, for a call that returns a promise and must reject. */
export async function expectRejectsInvalid(
  call: () => Promise<unknown>,
  type: typeof RangeError | typeof TypeError,
  option: string,
  what: string,
  rule: string,
): Promise<void> {
  let promise: Promise<unknown>;
  try {
    promise = call();
  } catch (error) {
    if (error instanceof Error && error.name === 'NotImplementedError') throw error;
    expect.fail(`${what} threw synchronously (${String(error)}); it must reject instead ${rule}`);
  }
  const settled = await promiseState(promise);
  expect(settled.state, `${what} must reject with a ${type.name} ${rule}`).toBe('rejected');
  const reason = (settled as { reason: unknown }).reason;
  expect(
    reason instanceof type,
    `${what} must reject with a ${type.name}, got ${String(reason)} ${rule}`,
  ).toBe(true);
  expect((reason as Error).message, `${what}: the message must name ${option} ${rule}`).toContain(
    option,
  );
}
