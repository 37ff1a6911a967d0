/** Stage 4: every error code with its exact position, after every record before it, at every split. */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { createCsvParser, parseCsv, type CsvRecord } from '@kata/streaming-csv';
import {
  BROKEN,
  checkError,
  describeCut,
  describeError,
  ENTRY_POINTS,
  expectRecords,
  MB,
  nextTick,
  rethrowIfNotImplemented,
  show,
  splits,
  via,
  viaParseCsv,
  within,
} from './fixtures.ts';

describe('stage 4: errors with exact positions', () => {
  it('reports RECORD_TOO_LARGE at 4 bytes for "ab€" (€ is 3 bytes) with maxRecordBytes: 4 [R12]', async () => {
    await expectRecords('ab€', [['ab€']], 'exactly 5 bytes is within a limit of 5', 'R12', {
      maxRecordBytes: 5,
    });
    checkError(
      await viaParseCsv('ab€', { maxRecordBytes: 4 }),
      {
        code: 'RECORD_TOO_LARGE',
        record: 1,
        at: [
          [1, 3],
          [1, 1],
        ],
      },
      'parseCsv("ab€", { maxRecordBytes: 4 }): bytes are UTF-8 bytes, not characters',
      'R12',
    );
  });

  it('counts each character as its UTF-8 bytes at every encoding length boundary [R12]', async () => {
    const characters: [string, string, number][] = [
      ['U+007F', '\u007f', 1],
      ['U+0080', '\u0080', 2],
      ['U+07FF', '\u07ff', 2],
      ['U+0800', '\u0800', 3],
      ['U+FFFF', '\uffff', 3],
      ['U+10000', '\u{10000}', 4],
      ['U+10FFFF', '\u{10ffff}', 4],
    ];
    for (const [name, character, bytes] of characters) {
      await expectRecords(
        character,
        [[character]],
        `${name} is ${bytes} UTF-8 bytes: within a maxRecordBytes of ${bytes}`,
        'R12',
        { maxRecordBytes: bytes },
      );
      if (bytes === 1) continue;
      const outcome = await viaParseCsv(character, { maxRecordBytes: bytes - 1 });
      expect(
        (outcome.error as { code?: unknown } | undefined)?.code,
        `parseCsv(${name}, { maxRecordBytes: ${bytes - 1} }): ${name} is ${bytes} UTF-8 bytes, over the limit, so RECORD_TOO_LARGE (got ${describeError(outcome.error)}) [R12]`,
      ).toBe('RECORD_TOO_LARGE');
    }
  });

  it('accepts a record whose quotes and delimiters bring it to exactly maxRecordBytes [R12]', async () => {
    await expectRecords(
      '"ab"',
      [['ab']],
      '"ab" is 4 bytes as written, quotes included: within a limit of 4',
      'R12',
      { maxRecordBytes: 4 },
    );
    await expectRecords(
      'a,b',
      [['a', 'b']],
      'a,b is 3 bytes as written: within a limit of 3',
      'R12',
      { maxRecordBytes: 3 },
    );
    checkError(
      await viaParseCsv('"a""b"', { maxRecordBytes: 5 }),
      {
        code: 'RECORD_TOO_LARGE',
        record: 1,
        at: [
          [1, 6],
          [1, 1],
        ],
      },
      'parseCsv(\'"a""b"\', { maxRecordBytes: 5 }): 6 bytes as written, both quotes of "" counted',
      'R12',
    );
  });

  it('does not count the line ending toward maxRecordBytes [R12]', async () => {
    await expectRecords(
      'abcd\r\nefgh\n',
      [['abcd'], ['efgh']],
      'records of exactly maxRecordBytes (4) followed by CRLF or LF are within the limit',
      'R12',
      { maxRecordBytes: 4 },
    );
  });

  it('turns the limit off with maxRecordBytes: Infinity [R12]', async () => {
    const long = 'x'.repeat(MB + 10);
    const outcome = await viaParseCsv([`"${long}"\n`, 'a'], { maxRecordBytes: Infinity });
    expect(
      outcome.error,
      `parseCsv over a record of ${MB + 12} bytes with { maxRecordBytes: Infinity } failed: ${describeError(outcome.error)} [R12]`,
    ).toBeUndefined();
    expect(
      outcome.records.map((record) => (record as string[])[0]?.length),
      'with maxRecordBytes: Infinity a record over the default 1 MiB is fine [R12]',
    ).toEqual([long.length, 1]);
    const byDefault = await viaParseCsv([`"${long}"\n`]);
    expect(
      (byDefault.error as { code?: unknown } | undefined)?.code,
      `parseCsv over a record of ${MB + 12} bytes with the default maxRecordBytes (1,048,576): RECORD_TOO_LARGE; got ${describeError(byDefault.error)} [R12]`,
    ).toBe('RECORD_TOO_LARGE');
  });

  for (const fixture of BROKEN) {
    const { error } = fixture;
    if (error === undefined) continue;
    it(`reports ${error.code} for ${fixture.name}, after the records before it [${fixture.rules}, R14, R15, R19]`, async () => {
      const outcome = await viaParseCsv(fixture.input, fixture.options);
      const context = `parseCsv(${show(fixture.input)}${fixture.options ? `, ${show(fixture.options)}` : ''})`;
      checkError(outcome, error, context, fixture.rules);
      expect(
        outcome.records,
        `${context}: every record before the error is delivered, and none after it [R19]`,
      ).toEqual(fixture.records);
    });
  }

  it('reports a CR that ends the input right after a closing quote as INVALID_QUOTE [R8]', async () => {
    // The CR breaks the rule (it is not a line ending); an implementation may also point just past it.
    checkError(
      await viaParseCsv('x\n"a"\r'),
      {
        code: 'INVALID_QUOTE',
        record: 2,
        at: [
          [2, 4],
          [2, 5],
        ],
      },
      'parseCsv("x\\n\\"a\\"\\r"): a lone CR at the end of the input is not a line ending',
      'R8',
    );
  });

  it('counts a lone CR in an unquoted field as one column when reporting a later error [R2, R14]', async () => {
    checkError(
      await viaParseCsv('a\rb"c'),
      { code: 'INVALID_QUOTE', record: 1, at: [[1, 4]] },
      'parseCsv("a\\rb\\"c"): the quote is at column 4, the lone CR being data at column 2',
      'R2, R7',
    );
  });

  it('reports a CR without LF after a closing quote as INVALID_QUOTE [R8]', async () => {
    const outcome = await viaParseCsv('x\n"a"\rb\n');
    // The CR breaks the rule; an implementation may also point at the character after it.
    checkError(
      outcome,
      {
        code: 'INVALID_QUOTE',
        record: 2,
        at: [
          [2, 4],
          [2, 5],
        ],
      },
      'parseCsv("x\\n\\"a\\"\\rb\\n"): a lone CR is not a line ending',
      'R8',
    );
  });

  it('counts the [""] records of empty lines, but not skipped ones, in the record number [R15]', async () => {
    checkError(
      await viaParseCsv('a\n\n\nb"', { skipEmptyLines: false }),
      { code: 'INVALID_QUOTE', record: 4, at: [[4, 2]] },
      'parseCsv("a\\n\\n\\nb\\"", { skipEmptyLines: false }): the two empty lines are records 2 and 3',
      'R7',
    );
    checkError(
      await viaParseCsv('a\n\n\r\nb"'),
      { code: 'INVALID_QUOTE', record: 2, at: [[4, 2]] },
      'parseCsv("a\\n\\n\\r\\nb\\""): skipped empty lines are not records, but they are lines',
      'R7',
    );
  });

  for (const fixture of BROKEN) {
    const { error } = fixture;
    if (error === undefined) continue;
    for (const entry of ENTRY_POINTS) {
      it(`reports the same ${error.code} from ${entry} at every byte split: ${fixture.name} [R16, R19, ${fixture.rules}]`, async () => {
        const bytes = Buffer.from(fixture.input);
        for (const { chunks, how } of splits(bytes)) {
          const outcome = await via(entry, chunks, fixture.options);
          const context = `${entry} over ${show(fixture.input)}${
            fixture.options ? ` with ${show(fixture.options)}` : ''
          }, ${describeCut(bytes, how)}`;
          checkError(outcome, error, context, `R16, ${fixture.rules}`);
          expect(
            outcome.records,
            `${context}: the records before the error are delivered however the input is chunked, and none after [R16, R19]`,
          ).toEqual(fixture.records);
        }
      });
    }
  }

  const MANY_THEN_BAD = Array.from({ length: 40 }, (_, i) => `${i},x\n`).join('') + 'bad"\n41,y\n';

  it('delivers all 40 records before the error to a slow for await over createCsvParser [R19]', async () => {
    const parser = createCsvParser();
    parser.end(Buffer.from(MANY_THEN_BAD));
    const records: unknown[] = [];
    const read = async (): Promise<unknown> => {
      try {
        for await (const record of parser) {
          records.push(record);
          await nextTick();
        }
      } catch (error) {
        rethrowIfNotImplemented(error);
        return error;
      }
      return undefined;
    };
    const error = await within(read(), 'for await over createCsvParser()');
    checkError(
      { records: records as CsvRecord[], error },
      { code: 'INVALID_QUOTE', record: 41, at: [[41, 4]] },
      "for await over createCsvParser() fed 40 records then 'bad\"' in one chunk",
      'R19',
    );
    expect(
      records.length,
      'records parsed before the error sat in the stream buffer: failing the stream at once (destroy) discards them, so the error must wait until they are read [R19]',
    ).toBe(40);
  });

  it('rejects stream.pipeline with the CsvParseError after a slow sink got every record before it [R19]', async () => {
    const records: unknown[] = [];
    const run = pipeline(
      Readable.from([Buffer.from(MANY_THEN_BAD)]),
      createCsvParser(),
      async (source: AsyncIterable<unknown>) => {
        for await (const record of source) {
          records.push(record);
          await nextTick();
        }
      },
    ).then(
      () => undefined,
      (error: unknown) => error,
    );
    const error = await within(run, 'pipeline(source, createCsvParser(), slow sink)');
    rethrowIfNotImplemented(error);
    checkError(
      { records: records as CsvRecord[], error },
      { code: 'INVALID_QUOTE', record: 41, at: [[41, 4]] },
      "stream.pipeline over 40 records then 'bad\"'",
      'R19',
    );
    expect(
      records.length,
      'the slow sink receives every record before the error, then the pipeline rejects [R19]',
    ).toBe(40);
  });

  it('delivers all 40 records before the error to a slow consumer of parseCsv [R19]', async () => {
    const records: unknown[] = [];
    const read = async (): Promise<unknown> => {
      try {
        for await (const record of parseCsv([MANY_THEN_BAD])) {
          records.push(record);
          await nextTick();
        }
      } catch (error) {
        rethrowIfNotImplemented(error);
        return error;
      }
      return undefined;
    };
    const error = await within(read(), 'for await over parseCsv()');
    checkError(
      { records: records as CsvRecord[], error },
      { code: 'INVALID_QUOTE', record: 41, at: [[41, 4]] },
      "parseCsv over 40 records then 'bad\"'",
      'R19',
    );
    expect(records.length, 'parseCsv yields every record before the error [R19]').toBe(40);
  });
});
