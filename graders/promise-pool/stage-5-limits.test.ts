/**
 * Grader for promise-pool, stage 5 (second part): the limits. Work per item whatever the
 * concurrency (a ratio of CPU time at two concurrencies, measured side by side), and memory of a
 * long stream (heap growth over a short and a long one). Real time, no fake clock: the mappers
 * settle on later turns of the event loop, so that the calls really are pending together.
 */
import { describe, expect, it } from 'vitest';
import { mapConcurrent, mapConcurrentStream } from '@kata/promise-pool';
import { describeRatio, peakHeapGrowth, sizeRatioAsync } from '../support/limits.ts';

const realSetImmediate = globalThis.setImmediate;

/**
 * A mapper whose calls each settle in their own callback on the next turn of the event loop (not
 * in a microtask): Node runs the promise callbacks after each such callback, so the pool sees the
 * calls settle one at a time while the others are still pending, as it would with real I/O.
 */
function nextTurnMapper(): (item: number) => Promise<number> {
  return (item) => new Promise<number>((resolve) => realSetImmediate(() => resolve(item)));
}

const ITEMS = 1_200;
const SIZES = { small: 4, large: 400 };
/** The limits measure real work, many times over: more than the usual few seconds on a busy machine. */
const LIMIT_TIMEOUT_MS = 60_000;

describe('stage 5: the stream, and the limits', () => {
  it(
    'mapConcurrent does O(1) work per item whatever the concurrency: no scan of running calls [R26]',
    async () => {
      const input = Array.from({ length: ITEMS }, (_, i) => i);
      const measured = await sizeRatioAsync(
        (concurrency) => {
          const mapper = nextTurnMapper();
          return async () => {
            const results = await mapConcurrent(input, mapper, { concurrency });
            if (results.length !== ITEMS) throw new Error(`expected ${ITEMS} results [R2]`);
          };
        },
        SIZES,
        7,
      );
      expect(
        measured.ratio,
        `CPU time to map ${ITEMS} items with ${SIZES.large} calls running at once, over the time with ${SIZES.small}: ` +
          `${describeRatio(measured, SIZES)}. Work that grows with the running calls on each settle ` +
          `(a Promise.race over them, a search of a list of them) makes it grow with the concurrency [R26]`,
      ).toBeLessThan(8);
    },
    LIMIT_TIMEOUT_MS,
  );

  it(
    'mapConcurrentStream does O(1) work per item whatever the concurrency [R26]',
    async () => {
      const input = Array.from({ length: ITEMS }, (_, i) => i);
      for (const ordered of [true, false]) {
        const measured = await sizeRatioAsync(
          (concurrency) => {
            const mapper = nextTurnMapper();
            return async () => {
              let count = 0;
              for await (const _ of mapConcurrentStream(input, mapper, { concurrency, ordered })) {
                count += 1;
              }
              if (count !== ITEMS) throw new Error(`expected ${ITEMS} results [R21]`);
            };
          },
          SIZES,
          5,
        );
        expect(
          measured.ratio,
          `ordered ${ordered}: CPU time to stream ${ITEMS} items with ${SIZES.large} calls at once, over the time with ${SIZES.small}: ` +
            `${describeRatio(measured, SIZES)} [R26]`,
        ).toBeLessThan(8);
      }
    },
    LIMIT_TIMEOUT_MS,
  );

  it(
    'a long stream keeps nothing for the results it has yielded [R27]',
    async () => {
      const growth = async (count: number, ordered: boolean): Promise<number> =>
        peakHeapGrowth(async (sample) => {
          let seen = 0;
          const stream = mapConcurrentStream(
            (function* () {
              for (let i = 0; i < count; i += 1) yield i;
            })(),
            // A result of about 1 KiB: kept for every item, it shows.
            async (item) => new Array<number>(120).fill(item),
            { concurrency: 8, ordered },
          );
          for await (const result of stream) {
            seen += result.length > 0 ? 1 : 0;
            if (seen % (count / 2) === 0) sample();
          }
        });
      for (const ordered of [true, false]) {
        const small = await growth(1_000, ordered);
        const large = await growth(10_000, ordered);
        const allowed = 3 * Math.max(small, 0) + 1024 * 1024;
        expect(
          large,
          `ordered ${ordered}: heap growth while streaming 10,000 results of ~1 KiB was ${(large / 1024).toFixed(0)} KiB, ` +
            `and ${(small / 1024).toFixed(0)} KiB for 1,000; the stream must not keep results once yielded ` +
            `(allowed: ${(allowed / 1024).toFixed(0)} KiB) [R27]`,
        ).toBeLessThanOrEqual(allowed);
      }
    },
    LIMIT_TIMEOUT_MS,
  );
});
