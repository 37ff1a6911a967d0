/** Stage 2: the options: delimiter, quote, skipEmptyLines, columns, and their validation. */
import { describe, expect, it } from 'vitest';
import { parseCsv, type CsvParserOptions, type CsvRecord } from '@kata/streaming-csv';
import { describeError, expectRecords, rethrowIfNotImplemented, show, within } from './fixtures.ts';

describe('stage 2: options: delimiter, quote, empty lines and columns', () => {
  it('splits fields at a custom delimiter: semicolon, tab and a non-ASCII character [R5]', async () => {
    await expectRecords(
      'a;"b;c";d,e',
      [['a', 'b;c', 'd,e']],
      "with delimiter ';' commas are data and ';' inside quotes too",
      'R5',
      { delimiter: ';' },
    );
    await expectRecords(
      'a\tb\t\n',
      [['a', 'b', '']],
      "with delimiter '\\t' fields split at tabs",
      'R5',
      { delimiter: '\t' },
    );
    await expectRecords(
      'a§b§"§"',
      [['a', 'b', '§']],
      "with delimiter '§' fields split at §",
      'R5',
      { delimiter: '§' },
    );
  });

  it('quotes with a custom quote character and treats " as data then [R5]', async () => {
    await expectRecords(
      "'a,b','it''s',say \"hi\"",
      [['a,b', "it's", 'say "hi"']],
      "with quote \"'\" a doubled '' is one ', and \" is an ordinary character",
      'R5',
      { quote: "'" },
    );
  });

  it('yields an empty line as the record [""] when skipEmptyLines is false [R6]', async () => {
    await expectRecords(
      'a\n\nb\n\r\n',
      [['a'], [''], ['b'], ['']],
      'with skipEmptyLines: false each empty line (LF or CRLF alone) is [""], and the final line ending still adds none',
      'R6',
      { skipEmptyLines: false },
    );
    await expectRecords(
      '\n',
      [['']],
      'with skipEmptyLines: false, \'\\n\' is one empty line: the record [""]',
      'R6',
      { skipEmptyLines: false },
    );
  });

  it('never skips a line holding "" or spaces [R6]', async () => {
    await expectRecords(
      '""\n \n',
      [[''], [' ']],
      'a line with any character is a record, not an empty line',
      'R6',
    );
  });

  it('turns records into objects named by the header with columns: true [R10]', async () => {
    await expectRecords(
      'id,name\n1,Ann\n2,"B, C"\n',
      [
        { id: '1', name: 'Ann' },
        { id: '2', name: 'B, C' },
      ],
      'columns: true takes the first record as names and yields the later records as objects',
      'R10',
      { columns: true },
    );
    await expectRecords('id,name\r\n', [], 'a header alone yields no records', 'R10', {
      columns: true,
    });
  });

  it('uses the given names and treats the first record as data with columns as an array [R10]', async () => {
    await expectRecords(
      '1,Ann\n2,Bo',
      [
        { id: '1', name: 'Ann' },
        { id: '2', name: 'Bo' },
      ],
      'with columns: [...] the first record is data',
      'R10',
      { columns: ['id', 'name'] },
    );
  });

  it('yields plain objects, and ragged arrays without columns [R10]', async () => {
    const records: CsvRecord[] = [];
    for await (const record of parseCsv('a,b\n1,2', { columns: true })) records.push(record);
    expect(
      records.map((record) => Object.getPrototypeOf(record) === Object.prototype),
      "parseCsv('a,b\\n1,2', { columns: true }): each record is a plain object [R10]",
    ).toEqual([true]);
    await expectRecords(
      'a\nb,c,d\n\ne,f',
      [['a'], ['b', 'c', 'd'], ['e', 'f']],
      'without columns, records are arrays of any length',
      'R10',
    );
  });

  it('keeps the last value when column names repeat [R10]', async () => {
    await expectRecords(
      'a,b,a\n1,2,3',
      [{ a: '3', b: '2' }],
      'repeated names: the last wins',
      'R10',
      { columns: true },
    );
  });

  it('does not put the BOM into the first column name [R4, R10]', async () => {
    await expectRecords(
      '\uFEFFid,v\n1,2',
      [{ id: '1', v: '2' }],
      'the BOM is dropped before the header is read',
      'R4, R10',
      { columns: true },
    );
  });

  it('treats an empty first line as the header with skipEmptyLines: false [R6, R10]', async () => {
    await expectRecords(
      '\n\n',
      [{ '': '' }],
      'with skipEmptyLines: false the first empty line is the header [""] and the second the record [""]',
      'R6, R10',
      { columns: true, skipEmptyLines: false },
    );
  });

  describe('rejects invalid options from parseCsv, at the call or from the first next()', () => {
    const cases: readonly [
      string,
      CsvParserOptions,
      typeof TypeError | typeof RangeError,
      RegExp,
      string,
    ][] = [
      ['delimiter of two characters', { delimiter: ';;' }, TypeError, /delimiter/, 'R20'],
      ['empty delimiter', { delimiter: '' }, TypeError, /delimiter/, 'R20'],
      ['delimiter LF', { delimiter: '\n' }, TypeError, /delimiter/, 'R20'],
      ['delimiter CR', { delimiter: '\r' }, TypeError, /delimiter/, 'R20'],
      [
        'delimiter as a number',
        { delimiter: 44 as unknown as string },
        TypeError,
        /delimiter/,
        'R20',
      ],
      ['quote of two characters', { quote: '""' }, TypeError, /quote/, 'R20'],
      ['quote LF', { quote: '\n' }, TypeError, /quote/, 'R20'],
      ['quote CR', { quote: '\r' }, TypeError, /quote/, 'R20'],
      [
        'delimiter equal to quote',
        { delimiter: "'", quote: "'" },
        TypeError,
        /delimiter|quote/,
        'R20',
      ],
      [
        'delimiter equal to the default quote',
        { delimiter: '"' },
        TypeError,
        /delimiter|quote/,
        'R20',
      ],
      ['negative maxRecordBytes', { maxRecordBytes: -1 }, RangeError, /maxRecordBytes/, 'R21'],
      ['zero maxRecordBytes', { maxRecordBytes: 0 }, RangeError, /maxRecordBytes/, 'R21'],
      ['fractional maxRecordBytes', { maxRecordBytes: 1.5 }, RangeError, /maxRecordBytes/, 'R21'],
      ['NaN maxRecordBytes', { maxRecordBytes: NaN }, RangeError, /maxRecordBytes/, 'R21'],
      [
        'maxRecordBytes of -Infinity',
        { maxRecordBytes: -Infinity },
        RangeError,
        /maxRecordBytes/,
        'R21',
      ],
      [
        'maxRecordBytes as a string',
        { maxRecordBytes: '10' as unknown as number },
        TypeError,
        /maxRecordBytes/,
        'R21',
      ],
      [
        'columns as a string',
        { columns: 'a,b' as unknown as boolean },
        TypeError,
        /columns/,
        'R21',
      ],
      [
        'columns with a number',
        { columns: ['a', 2] as unknown as string[] },
        TypeError,
        /columns/,
        'R21',
      ],
      [
        'skipEmptyLines as a string',
        { skipEmptyLines: 'yes' as unknown as boolean },
        TypeError,
        /skipEmptyLines/,
        'R21',
      ],
      [
        'options object that is a string',
        'comma' as unknown as CsvParserOptions,
        TypeError,
        /options/,
        'R21',
      ],
      [
        'options object that is null',
        null as unknown as CsvParserOptions,
        TypeError,
        /options/,
        'R21',
      ],
    ];
    for (const [what, options, ErrorClass, message, rule] of cases) {
      it(`rejects a ${what} with a ${ErrorClass.name} naming the option [${rule}]`, async () => {
        const call = `parseCsv('a,b\\n', ${show(options)})`;
        let generator: AsyncGenerator<CsvRecord>;
        try {
          generator = parseCsv('a,b\n', options);
        } catch (error) {
          rethrowIfNotImplemented(error);
          expect(
            error,
            `${call} threw ${String(error)}, expected a ${ErrorClass.name} [${rule}]`,
          ).toBeInstanceOf(ErrorClass);
          expect(
            (error as Error).message,
            `${call}: the message names the offending option [${rule}]`,
          ).toMatch(message);
          return;
        }
        const failure = await within(
          generator.next().then(
            (result) => ({ resolved: result }),
            (error: unknown) => error,
          ),
          'parseCsv(...).next()',
        );
        rethrowIfNotImplemented(failure);
        expect(
          failure,
          `${call}: the options are invalid, so the call throws or the first next() rejects with a ${ErrorClass.name}; got ${
            failure instanceof Error ? describeError(failure) : `next() resolving ${show(failure)}`
          } [${rule}]`,
        ).toBeInstanceOf(ErrorClass);
        expect(
          (failure as Error).message,
          `${call}: the message names the offending option [${rule}]`,
        ).toMatch(message);
      });
    }
  });
});
