/**
 * Thrown by every export of a kata's stub until the learner implements it.
 * The grader reports a kata whose tests all fail with this error as "not started".
 */
export class NotImplementedError extends Error {
  override readonly name = 'NotImplementedError';

  /** @param what the export still to implement, e.g. `'TokenBucket.tryTake'` */
  constructor(what: string) {
    super(`${what} is not implemented yet: this is your part of the kata`);
  }
}
