/**
 * Stage 5: streaming. Laziness and closing are graded by sources that record how far they were
 * read; memory by the heap's growth over a small and a large input, as a ratio; time by CPU time
 * for the same bytes in two shapes, as a ratio. No wall-clock bound.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { createCsvParser, parseCsv, type CsvParserOptions } from '@kata/streaming-csv';
import {
  describeRatio,
  peakHeapGrowth,
  sizeRatioAsync,
  trackedAsyncIterable,
  trackedIterable,
} from '../support/limits.ts';
import {
  checkError,
  describeError,
  ENTRY_POINTS,
  HANG_GUARD_SCALE,
  MB,
  nextTick,
  rethrowIfNotImplemented,
  within,
  type EntryPoint,
} from './fixtures.ts';

const CHUNK_BYTES = 16_384;
/**
 * Mutation testing (HANG_GUARD_SCALE > 1) runs instrumented code many times slower, and runs
 * every covering test for each of hundreds of mutants: there the time ratios are measured on an
 * eighth of the input, and the memory ratio, which a mutated operator or condition does not turn
 * into a leak without breaking the output first, is left to the graded runs and the mutants.
 */
const MUTATION_TESTING = HANG_GUARD_SCALE > 1;
const SCALE_DOWN = MUTATION_TESTING ? 8 : 1;
const RATIO_SAMPLES = MUTATION_TESTING ? 3 : 5;
/** Room for the heaviest tests on a loaded machine; scaled like the hang guards. */
const HEAVY_TEST_MS = 30_000 * HANG_GUARD_SCALE;
// 8 fields of 127 characters: each line is exactly 1024 bytes, 16 lines per chunk.
const LINE = `${Array.from({ length: 8 }, (_, i) => String(i).repeat(127)).join(',')}\n`;
const LINE_BYTES = Buffer.byteLength(LINE);
const CHUNK = Buffer.from(LINE.repeat(CHUNK_BYTES / LINE_BYTES));

/** A generated CSV source that counts how many bytes it has handed out. */
function source(totalBytes: number): { chunks: AsyncGenerator<Buffer>; produced: () => number } {
  let produced = 0;
  async function* chunks(): AsyncGenerator<Buffer> {
    while (produced < totalBytes) {
      produced += CHUNK.length;
      yield CHUNK;
    }
  }
  return { chunks: chunks(), produced: () => produced };
}

type Consume = (
  chunks: AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
  onRecord: (record: unknown) => Promise<void> | 'stop',
  options?: CsvParserOptions,
) => Promise<unknown>;

/** Runs each record through `onRecord` (awaited: a slow consumer); resolves with the error, if any. */
const CONSUMERS: Record<EntryPoint, Consume> = {
  async parseCsv(chunks, onRecord, options) {
    try {
      for await (const record of parseCsv(chunks, options)) {
        const next = onRecord(record);
        if (next === 'stop') break;
        await next;
      }
    } catch (error) {
      rethrowIfNotImplemented(error);
      return error;
    }
    return undefined;
  },
  async createCsvParser(chunks, onRecord, options) {
    let stopped = false;
    try {
      await pipeline(
        Readable.from(chunks),
        createCsvParser(options),
        async (records: AsyncIterable<unknown>) => {
          for await (const record of records) {
            const next = onRecord(record);
            if (next === 'stop') {
              stopped = true;
              return;
            }
            await next;
          }
        },
      );
    } catch (error) {
      rethrowIfNotImplemented(error);
      // Stopping early makes the pipeline abort the source: that is not the parser failing.
      return stopped ? undefined : error;
    }
    return undefined;
  },
};

describe('stage 5: streaming with bounded memory', () => {
  describe('reads the source only as records are consumed', () => {
    // 4 records per chunk: after k records have been consumed, ceil(k / 4) chunks are needed.
    const RECORDS_PER_CHUNK = 4;
    const chunkAt = (i: number): string =>
      Array.from({ length: RECORDS_PER_CHUNK }, (_, j) => `${i},${j}\n`).join('');
    const TOTAL_CHUNKS = 5_000;
    const ITEMS = Array.from({ length: TOTAL_CHUNKS }, (_, i) => chunkAt(i));

    for (const kind of ['sync', 'async'] as const) {
      it(`parseCsv pulls a chunk of a ${kind} iterable only when the records before it are consumed [R17]`, async () => {
        const { iterable, record: read } =
          kind === 'sync' ? trackedIterable(ITEMS) : trackedAsyncIterable(ITEMS);
        let consumed = 0;
        const lead: string[] = [];
        const error = await within(
          CONSUMERS.parseCsv(iterable, () => {
            consumed += 1;
            const needed = Math.ceil(consumed / RECORDS_PER_CHUNK);
            // One chunk of lead is tolerated; reading the input ahead is not.
            if (read.pulled > needed + 1 && lead.length === 0) {
              lead.push(
                `after ${consumed} records (${needed} chunks' worth) the ${kind} iterable had been read ${read.pulled} chunks of ${TOTAL_CHUNKS}`,
              );
            }
            return consumed === 40 ? 'stop' : nextTick();
          }),
          `parseCsv over a ${kind} iterable`,
        );
        expect(
          error,
          `parseCsv over a ${kind} iterable failed: ${describeError(error)} [R17]`,
        ).toBeUndefined();
        expect(consumed, `parseCsv over a ${kind} iterable: 40 records consumed [R17]`).toBe(40);
        expect(
          lead,
          `parseCsv must pull the next chunk only when the records so far have been consumed: never read the input ahead ([...input], Array.from, collecting chunks) [R17]`,
        ).toEqual([]);
      });
    }

    for (const entry of ENTRY_POINTS) {
      it(`yields the first record from ${entry} before the source has produced 4 MB of 32 MB [R17]`, async () => {
        const { chunks, produced } = source(32 * MB);
        let producedAtFirst = -1;
        const error = await within(
          CONSUMERS[entry](chunks, () => {
            producedAtFirst = produced();
            return 'stop';
          }),
          `${entry} over a 32 MB source`,
          4_000,
        );
        expect(error, `${entry} failed: ${describeError(error)} [R17]`).toBeUndefined();
        expect(
          producedAtFirst,
          `the source had produced ${producedAtFirst} bytes when the first record arrived: records must stream out as the input comes in, not after reading it all [R17]`,
        ).toBeGreaterThan(0);
        expect(
          producedAtFirst,
          `the source had produced ${producedAtFirst} bytes of 32 MB when the first record arrived: records must stream out as the input comes in, not after reading it all [R17]`,
        ).toBeLessThanOrEqual(4 * MB);
      });

      it(`keeps the source within 2 MB of a slow consumer of ${entry} over 6 MB [R17]`, async () => {
        const total = 6 * MB;
        const { chunks, produced } = source(total);
        let consumed = 0;
        let worstLead = 0;
        const error = await within(
          CONSUMERS[entry](chunks, async (record) => {
            if (consumed === 0) {
              expect(
                record,
                'records are arrays of the 8 fields of each 1024-byte line [R3]',
              ).toHaveLength(8);
            }
            consumed += 1;
            worstLead = Math.max(worstLead, produced() - consumed * LINE_BYTES);
            if (consumed % 16 === 0) {
              // The slow part: give the producer every chance to run ahead if nothing holds it back.
              await nextTick();
            }
          }),
          `${entry} over a 6 MB source with a slow consumer`,
          4_500,
        );
        expect(error, `${entry} failed: ${describeError(error)} [R17]`).toBeUndefined();
        expect(consumed, `6 MB of 1024-byte lines is ${total / LINE_BYTES} records [R17]`).toBe(
          total / LINE_BYTES,
        );
        expect(
          worstLead,
          `the source ran ${(worstLead / MB).toFixed(1)} MB ahead of the consumer: without backpressure memory grows with the input, not the chunk size [R17]`,
        ).toBeLessThanOrEqual(2 * MB);
      });
    }
  });

  describe('closes the source when parseCsv stops early', () => {
    /** A source may be closed a few ticks later (a stream inside parseCsv tears down asynchronously). */
    const settle = async (): Promise<void> => {
      for (let i = 0; i < 5; i += 1) await nextTick();
    };
    const ITEMS = Array.from({ length: 1_000 }, (_, i) => `${i},x\n${i},y\n`);

    for (const kind of ['sync', 'async'] as const) {
      it(`calls return() on a ${kind} iterable when the consumer breaks out of for await [R18]`, async () => {
        const { iterable, record: read } =
          kind === 'sync' ? trackedIterable(ITEMS) : trackedAsyncIterable(ITEMS);
        let consumed = 0;
        const error = await within(
          CONSUMERS.parseCsv(iterable, () => {
            consumed += 1;
            return consumed === 3 ? 'stop' : Promise.resolve();
          }),
          `parseCsv over a ${kind} iterable, stopped after 3 records`,
        );
        expect(error, `parseCsv failed: ${describeError(error)} [R18]`).toBeUndefined();
        await settle();
        expect(
          read.returned,
          `a for await loop over parseCsv(${kind} iterable) broke after 3 records of 2,000; the source's return() was ${read.returned ? '' : 'not '}called (read ${read.pulled} chunks): stopping early must close the source [R18]`,
        ).toBe(true);
      });

      it(`calls return() on a ${kind} iterable when the parse fails before its end [R18, R19]`, async () => {
        const items = ['a,b\n', 'c,d"e\n', ...ITEMS];
        const { iterable, record: read } =
          kind === 'sync' ? trackedIterable(items) : trackedAsyncIterable(items);
        const records: unknown[] = [];
        const error = await within(
          CONSUMERS.parseCsv(iterable, async (record) => {
            records.push(record);
          }),
          `parseCsv over a ${kind} iterable that fails`,
        );
        checkError(
          { records: records as string[][], error },
          { code: 'INVALID_QUOTE', record: 2, at: [[2, 4]] },
          `parseCsv over a ${kind} iterable of ['a,b\\n', 'c,d"e\\n', ...1,000 more chunks]`,
          'R7, R19',
        );
        await settle();
        expect(
          read.returned,
          `parseCsv failed with INVALID_QUOTE in the 2nd chunk of 1,002; the source's return() was ${read.returned ? '' : 'not '}called (read ${read.pulled} chunks): a parse error must close the source [R18]`,
        ).toBe(true);
      });
    }
  });

  describe('memory grows with the chunk and record sizes, not the input', () => {
    const SMALL = MB;
    const LARGE = 8 * SMALL;
    const mb = (bytes: number): string => `${(bytes / MB).toFixed(2)} MB`;

    /** `bytes` of 1024-byte lines in fresh 16 KiB string chunks (each its own copy on the heap). */
    function* freshChunks(bytes: number): Generator<string> {
      const template = Buffer.from(CHUNK);
      for (let i = 0; i < bytes / CHUNK_BYTES; i += 1) {
        template.write(String(i % 10), 0, 'latin1');
        yield template.toString('latin1');
      }
    }

    async function growth(entry: EntryPoint, bytes: number): Promise<number> {
      let consumed = 0;
      let failure: unknown;
      const externalBefore = process.memoryUsage().arrayBuffers;
      let externalPeak = 0;
      const every = SMALL / LINE_BYTES;
      const heapPeak = await peakHeapGrowth(async (sample) => {
        failure = await within(
          CONSUMERS[entry](Readable.from(freshChunks(bytes)), async () => {
            consumed += 1;
            if (consumed % every === 0) {
              // Once per small input's worth: the heap after a full collection, and Buffers off the heap.
              sample();
              externalPeak = Math.max(
                externalPeak,
                process.memoryUsage().arrayBuffers - externalBefore,
              );
              await nextTick();
            }
          }),
          `${entry} over ${mb(bytes)}`,
          HEAVY_TEST_MS / HANG_GUARD_SCALE,
        );
      });
      expect(
        failure,
        `${entry} over ${mb(bytes)} failed: ${describeError(failure)} [R24]`,
      ).toBeUndefined();
      expect(consumed, `${entry} over ${mb(bytes)} of 1024-byte lines [R24]`).toBe(
        bytes / LINE_BYTES,
      );
      return heapPeak + externalPeak;
    }

    for (const entry of ENTRY_POINTS) {
      it.skipIf(MUTATION_TESTING)(
        `keeps about the same memory through ${entry} over 8 MB as over 1 MB [R24]`,
        async () => {
          const small = await growth(entry, SMALL);
          const large = await growth(entry, LARGE);
          // Bounded memory grows alike at both sizes (stream buffers, one chunk, one record): well
          // under the small input. Memory that keeps the input grows with it: 8 times as much.
          const ratio = large / Math.max(small, SMALL);
          expect(
            ratio,
            `${entry}: memory still in use after a full garbage collection grew by ${mb(small)} over a ${mb(SMALL)} input ` +
              `and by ${mb(large)} over a ${mb(LARGE)} input (ratio ${ratio.toFixed(1)}, with ${mb(SMALL)} as the floor): ` +
              'the parser keeps input, records or text it has finished with [R24]',
          ).toBeLessThan(4);
        },
        HEAVY_TEST_MS,
      );
    }
  });

  describe('time grows with the input, not with the length of a field', () => {
    const TOTAL = (512 * 1_024) / SCALE_DOWN;
    const PIECE = 4_096;
    /** TOTAL bytes as quoted fields of `length` characters, one per record, in 4 KiB pieces. */
    function quotedFields(length: number): string[] {
      const record = `"${'x'.repeat(length - 3)}"\n`;
      const text = record.repeat(Math.max(1, Math.floor(TOTAL / record.length)));
      const pieces: string[] = [];
      for (let at = 0; at < text.length; at += PIECE) pieces.push(text.slice(at, at + PIECE));
      return pieces;
    }
    /** TOTAL bytes as records of `fields` fields of 7 characters, in 4 KiB pieces. */
    function manyFields(fields: number): string[] {
      const record = `${Array.from({ length: fields }, (_, i) => String(i % 10).repeat(7)).join(',')}\n`;
      const text = record.repeat(Math.max(1, Math.floor(TOTAL / record.length)));
      const pieces: string[] = [];
      for (let at = 0; at < text.length; at += PIECE) pieces.push(text.slice(at, at + PIECE));
      return pieces;
    }
    const parse = (entry: EntryPoint, pieces: string[]) => async (): Promise<void> => {
      let records = 0;
      const failure = await CONSUMERS[entry](
        pieces,
        () => {
          records += 1;
          return Promise.resolve();
        },
        { maxRecordBytes: Infinity },
      );
      if (failure !== undefined || records === 0) {
        throw new Error(`${entry} over ${pieces.length} pieces failed: ${describeError(failure)}`);
      }
    };

    const kib = (bytes: number): string => `${bytes / 1_024} KiB`;

    for (const entry of ENTRY_POINTS) {
      it(
        `parses one 512 KiB quoted field through ${entry} in about the CPU time of 512 KiB of short records [R23]`,
        async () => {
          const sizes = { small: 512, large: TOTAL };
          const inputs = new Map(
            Object.values(sizes).map((length) => [length, quotedFields(length)] as const),
          );
          const measured = await within(
            sizeRatioAsync((length) => parse(entry, inputs.get(length)!), sizes, RATIO_SAMPLES),
            `${entry} over ${kib(TOTAL)}, 12 times`,
            HEAVY_TEST_MS / HANG_GUARD_SCALE,
          );
          expect(
            measured.ratio,
            `${entry} over ${kib(TOTAL)} in 4 KiB chunks, as quoted fields of 512 bytes vs one quoted field of ${kib(TOTAL)} (sizes are field lengths), CPU time: ` +
              `${describeRatio(measured, sizes)}. A linear parser measures about 1; one that re-scans the pending record or a growing buffer at each chunk measures tens [R23]`,
          ).toBeLessThan(8);
        },
        HEAVY_TEST_MS,
      );

      it(
        `parses one record of 65,536 fields through ${entry} in about the CPU time of 512 KiB of short records [R23]`,
        async () => {
          const sizes = { small: 4, large: TOTAL / 8 };
          const inputs = new Map(
            Object.values(sizes).map((fields) => [fields, manyFields(fields)] as const),
          );
          const measured = await within(
            sizeRatioAsync((fields) => parse(entry, inputs.get(fields)!), sizes, RATIO_SAMPLES),
            `${entry} over ${kib(TOTAL)}, 12 times`,
            HEAVY_TEST_MS / HANG_GUARD_SCALE,
          );
          expect(
            measured.ratio,
            `${entry} over ${kib(TOTAL)} in 4 KiB chunks, as records of 4 fields vs one record of ${(TOTAL / 8).toLocaleString('en-US')} fields (sizes are fields per record), CPU time: ` +
              `${describeRatio(measured, sizes)}. A linear parser measures about 1; one that copies the record's fields for each new field measures tens [R23]`,
          ).toBeLessThan(8);
        },
        HEAVY_TEST_MS,
      );
    }
  });

  for (const entry of ENTRY_POINTS) {
    it(`raises RECORD_TOO_LARGE from ${entry} before pulling much more than maxRecordBytes of an unclosed quote [R13]`, async () => {
      const maxRecordBytes = 65_536;
      let produced = 0;
      async function* unclosed(): AsyncGenerator<Buffer> {
        produced += 1;
        yield Buffer.from('"');
        const block = Buffer.alloc(1_024, 'x');
        // 8 MB in all: a parser that waits for the end of the record reads every byte of it.
        while (produced < 8 * MB) {
          produced += block.length;
          yield block;
        }
      }
      const error = await within(
        CONSUMERS[entry](unclosed(), async () => undefined, { maxRecordBytes }),
        `${entry} over an unclosed quote`,
        4_000,
      );
      checkError(
        { records: [], error },
        {
          code: 'RECORD_TOO_LARGE',
          record: 1,
          at: [
            [1, maxRecordBytes + 1],
            [1, 1],
          ],
        },
        `${entry} over '"' then 8 MB of 'x' with { maxRecordBytes: ${maxRecordBytes} }`,
        'R12, R13',
      );
      expect(
        produced,
        `${produced} bytes were pulled before RECORD_TOO_LARGE: the limit must stop the read as soon as it is passed, not at the end of the record [R13]`,
      ).toBeLessThanOrEqual(maxRecordBytes + 256 * 1_024);
    });
  }
});
