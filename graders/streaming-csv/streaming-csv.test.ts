/**
 * Grader for streaming-csv. Inputs are shown with JSON escapes ("\r\n"), so a failure names the
 * exact text; chunked inputs also say where they were cut.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CsvParseError,
  createCsvParser,
  parseCsv,
  type CsvParserOptions,
  type CsvRecord,
} from '@kata/streaming-csv';
import { assertProperty } from '../support/property.ts';

type Chunk = string | Buffer;
interface Outcome {
  records: CsvRecord[];
  error?: unknown;
}

const show = (value: unknown): string => JSON.stringify(value);
const describeError = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : show(error);
const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A stub's NotImplementedError must fail the test as itself, not as "parsing failed". */
function rethrowIfNotImplemented(error: unknown): void {
  if (error instanceof Error && error.name === 'NotImplementedError') throw error;
}

/**
 * How many times longer the hang guards below wait: 1 when grading. Mutation testing
 * (stryker/vitest.config.js) raises it, because instrumented code runs many times slower.
 */
const HANG_GUARD_SCALE = Number(process.env.KATA_HANG_GUARD_SCALE ?? 1);

/** Fails instead of hanging when an implementation never finishes (costs 2 s, not 5). */
async function within<T>(promise: Promise<T>, what: string, ms = 2_000): Promise<T> {
  const limitMs = ms * HANG_GUARD_SCALE;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not finish within ${limitMs} ms: it hangs`)),
      limitMs,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function viaParseCsv(
  input: string | Iterable<Chunk> | AsyncIterable<Chunk>,
  options?: CsvParserOptions,
): Promise<Outcome> {
  const records: CsvRecord[] = [];
  const run = async (): Promise<Outcome> => {
    try {
      for await (const record of parseCsv(input, options)) records.push(record);
    } catch (error) {
      rethrowIfNotImplemented(error);
      // A rejection without a reason is still a failure, not a clean end of the records.
      return { records, error: error ?? new Error(`parseCsv rejected with ${String(error)}`) };
    }
    return { records };
  };
  return within(run(), 'parseCsv');
}

async function viaStream(chunks: Chunk[], options?: CsvParserOptions): Promise<Outcome> {
  const records: CsvRecord[] = [];
  const sink = new Writable({
    objectMode: true,
    write(record: CsvRecord, _encoding, done) {
      records.push(record);
      done();
    },
  });
  const run = async (): Promise<Outcome> => {
    try {
      await pipeline(Readable.from(chunks), createCsvParser(options), sink);
    } catch (error) {
      rethrowIfNotImplemented(error);
      return { records, error };
    }
    return { records };
  };
  return within(run(), 'pipeline(source, createCsvParser(), sink)');
}

type EntryPoint = 'parseCsv' | 'createCsvParser';
const ENTRY_POINTS: readonly EntryPoint[] = ['parseCsv', 'createCsvParser'];
const via = (entry: EntryPoint, chunks: Chunk[], options?: CsvParserOptions): Promise<Outcome> =>
  entry === 'parseCsv' ? viaParseCsv(chunks, options) : viaStream(chunks, options);

/** Parses a whole string with parseCsv and expects these records and no error. */
async function expectRecords(
  input: string,
  expected: CsvRecord[],
  why: string,
  options?: CsvParserOptions,
): Promise<void> {
  const outcome = await viaParseCsv(input, options);
  const context = `parseCsv(${show(input)}${options ? `, ${show(options)}` : ''})`;
  expect(
    outcome.error,
    `${context} failed with ${describeError(outcome.error)}, expected ${show(expected)}`,
  ).toBeUndefined();
  expect(outcome.records, `${context}: ${why}`).toEqual(expected);
}

/** Where an error may be reported: [line, column] pairs the contract allows. */
interface ExpectedError {
  code: string;
  record: number;
  at: readonly (readonly [line: number, column: number])[];
}

function checkError(outcome: Outcome, expected: ExpectedError, context: string): void {
  const { error } = outcome;
  expect(
    error,
    `${context}: expected a CsvParseError ${expected.code}, but ${
      error === undefined
        ? `it succeeded with ${show(outcome.records)}`
        : `it failed with ${describeError(error)}`
    }`,
  ).toBeInstanceOf(CsvParseError);
  const e = error as CsvParseError;
  const where = expected.at.map(([line, column]) => `line ${line} column ${column}`).join(' or ');
  expect(
    { code: e.code, record: e.record },
    `${context}: wrong code or record number (the header counts as a record, skipped empty lines do not)`,
  ).toEqual({ code: expected.code, record: expected.record });
  expect(
    expected.at.some(([line, column]) => e.line === line && e.column === column),
    `${context}: ${expected.code} reported at line ${e.line} column ${e.column}, expected ${where} ` +
      `(lines are 1 + the LFs before; columns are 1-based UTF-16 code units, a BOM not counted)`,
  ).toBe(true);
}

/** Every way to cut `bytes` in two, and one byte per chunk. */
function* splits(bytes: Buffer): Generator<{ chunks: Buffer[]; how: string }> {
  for (let k = 1; k < bytes.length; k += 1) {
    yield { chunks: [bytes.subarray(0, k), bytes.subarray(k)], how: `cut after byte ${k}` };
  }
  yield { chunks: [...bytes].map((byte) => Buffer.from([byte])), how: 'one byte per chunk' };
}

const describeCut = (bytes: Buffer, how: string): string => {
  const k = /after byte (\d+)/.exec(how)?.[1];
  if (k === undefined) return how;
  const at = Number(k);
  return `${how} (${show(bytes.subarray(0, at).toString('latin1').slice(-6))} | ${show(
    bytes.subarray(at).toString('latin1').slice(0, 6),
  )} as latin1 bytes)`;
};

interface Fixture {
  name: string;
  input: string;
  options?: CsvParserOptions;
  records: CsvRecord[];
  error?: ExpectedError;
}

/** Inputs whose every chunk boundary is a trap: BOM, multi-byte characters, CRLF, `""`, lone CR. */
const TRICKY: readonly Fixture[] = [
  {
    name: 'BOM, CRLF, "" and multi-byte text',
    input: '\uFEFFname,note\r\n"Zoë","say ""hi"", ok"\r\n€,"a\r\nb"\n',
    records: [
      ['name', 'note'],
      ['Zoë', 'say "hi", ok'],
      ['€', 'a\r\nb'],
    ],
  },
  {
    name: 'lone CRs, an empty CRLF line, an emoji and """"',
    input: 'a\rb,c\r\n\r\n😀,"""",\r',
    records: [
      ['a\rb', 'c'],
      ['😀', '"', '\r'],
    ],
  },
  {
    name: "a two-byte delimiter '§' and quote \"'\"",
    input: "x§'y§''z'\n§\"\n",
    options: { delimiter: '§', quote: "'" },
    records: [
      ['x', "y§'z"],
      ['', '"'],
    ],
  },
  {
    name: 'empty lines kept as records',
    input: '\n""\r\n\r\n a \n',
    options: { skipEmptyLines: false },
    records: [[''], [''], [''], [' a ']],
  },
  {
    name: 'a header after a BOM, with a quoted CRLF',
    input: '\uFEFFid,v\r\n1,"é\r\n"\r\n2,😀',
    options: { columns: true },
    records: [
      { id: '1', v: 'é\r\n' },
      { id: '2', v: '😀' },
    ],
  },
];

/** Inputs that fail, with the records that must come before the error. */
const BROKEN: readonly Fixture[] = [
  {
    name: 'a quote inside an unquoted field',
    input: 'a,b\nc,d"e\nf,g\n',
    records: [['a', 'b']],
    error: { code: 'INVALID_QUOTE', record: 2, at: [[2, 4]] },
  },
  {
    name: 'a letter after a closing quote',
    input: '"a"b\nc',
    records: [],
    error: { code: 'INVALID_QUOTE', record: 1, at: [[1, 4]] },
  },
  {
    name: 'a space after a closing quote',
    input: 'x\n"a" ,b\ny',
    records: [['x']],
    error: { code: 'INVALID_QUOTE', record: 2, at: [[2, 4]] },
  },
  {
    name: 'a space before an opening quote',
    input: ' "a"',
    records: [],
    error: { code: 'INVALID_QUOTE', record: 1, at: [[1, 2]] },
  },
  {
    name: 'a letter after a quoted field spanning lines',
    input: 'h\n"a\r\nb"c\nd',
    records: [['h']],
    error: { code: 'INVALID_QUOTE', record: 2, at: [[3, 3]] },
  },
  {
    name: 'an invalid quote after a BOM',
    input: '\uFEFFab"',
    records: [],
    error: { code: 'INVALID_QUOTE', record: 1, at: [[1, 3]] },
  },
  {
    name: 'a quote after an emoji, which is two UTF-16 code units',
    input: 'a,😀x"',
    records: [],
    error: { code: 'INVALID_QUOTE', record: 1, at: [[1, 6]] },
  },
  {
    name: 'a letter after a quoted field holding a lone CR, which starts no line',
    input: '"x\ry"z',
    records: [],
    error: { code: 'INVALID_QUOTE', record: 1, at: [[1, 6]] },
  },
  {
    name: 'an unclosed quote on the line after a lone CR in data',
    input: 'a\rb\n"c\rd',
    records: [['a\rb']],
    error: { code: 'UNCLOSED_QUOTE', record: 2, at: [[2, 1]] },
  },
  {
    name: 'an unclosed quote after a skipped empty line, ending in ""',
    input: 'a\n\n"b""\nc',
    records: [['a']],
    error: { code: 'UNCLOSED_QUOTE', record: 2, at: [[3, 1]] },
  },
  {
    name: 'an unclosed quote after a BOM',
    input: '\uFEFFa,"b',
    records: [],
    error: { code: 'UNCLOSED_QUOTE', record: 1, at: [[1, 3]] },
  },
  {
    name: 'a header and a multi-line record with too many fields',
    input: 'a,b\n1,2\n"3\n4",5,6\n7,8\n',
    options: { columns: true },
    records: [{ a: '1', b: '2' }],
    error: { code: 'COLUMN_MISMATCH', record: 3, at: [[3, 1]] },
  },
  {
    name: 'named columns and a short record after an empty line',
    input: '1,2\n\n3\n4,5',
    options: { columns: ['a', 'b'] },
    records: [{ a: '1', b: '2' }],
    error: { code: 'COLUMN_MISMATCH', record: 2, at: [[3, 1]] },
  },
  {
    name: 'a record one byte over maxRecordBytes: 8 after one of exactly 8',
    input: 'abcdefgh\r\n"é\r\n€"\nz',
    options: { maxRecordBytes: 8 },
    records: [['abcdefgh']],
    // At the character that passes the limit (the closing quote), or where the record starts.
    error: {
      code: 'RECORD_TOO_LARGE',
      record: 2,
      at: [
        [3, 2],
        [2, 1],
      ],
    },
  },
];

describe('stage 1: fields, quotes and line endings', () => {
  it('splits records at LF and CRLF and fields at commas', async () => {
    await expectRecords(
      'a,b\nc,d\r\ne,f',
      [
        ['a', 'b'],
        ['c', 'd'],
        ['e', 'f'],
      ],
      'records end at LF or CRLF, and the last record needs no line ending',
    );
  });

  it('adds no record for a final line ending', async () => {
    await expectRecords(
      'a,b\n',
      [['a', 'b']],
      'a final LF ends the last record, it does not start one',
    );
    await expectRecords(
      'a\r\n',
      [['a']],
      'a final CRLF ends the last record, it does not start one',
    );
  });

  it('keeps empty fields at the start, middle and end of a record', async () => {
    await expectRecords(
      ',a,,\n,',
      [
        ['', 'a', '', ''],
        ['', ''],
      ],
      'n delimiters make n + 1 fields, empty ones included',
    );
  });

  it('keeps delimiters, CR and LF inside quotes as data', async () => {
    await expectRecords(
      '"a,b","c\nd","e\r\nf",g',
      [['a,b', 'c\nd', 'e\r\nf', 'g']],
      'inside quotes the delimiter, CR and LF are data',
    );
  });

  it('reads "" inside quotes as one quote character', async () => {
    await expectRecords(
      '"say ""hi""",""""\n""',
      [['say "hi"', '"'], ['']],
      '"" inside a quoted field is one ", and "" alone is one empty field',
    );
  });

  it('treats a lone CR as data, never as a line break', async () => {
    await expectRecords(
      'a\rb,\r\nc\r',
      [['a\rb', ''], ['c\r']],
      'only LF and CRLF end a record; a CR not followed by LF stays in the field, even at the end',
    );
  });

  it('keeps spaces and non-ASCII text exactly as written', async () => {
    await expectRecords(
      ' a , é😀 ,x y',
      [[' a ', ' é😀 ', 'x y']],
      'fields are not trimmed, and text is not altered',
    );
  });

  it('drops a byte-order mark at the start of the input only', async () => {
    await expectRecords(
      '\uFEFFa,b',
      [['a', 'b']],
      'a leading BOM (U+FEFF) is not part of the first field',
    );
    await expectRecords(
      'a,\uFEFFb',
      [['a', '\uFEFFb']],
      'a U+FEFF after the start is ordinary data',
    );
  });

  it('skips empty lines by default and yields nothing for empty input', async () => {
    await expectRecords('', [], 'empty input has no records');
    await expectRecords(
      '\na\n\n\r\nb\n\n',
      [['a'], ['b']],
      'skipEmptyLines defaults to true: lines with no characters at all are skipped',
    );
  });
});

describe('stage 2: options: delimiter, quote, empty lines and columns', () => {
  it('splits fields at a custom delimiter: semicolon, tab and a non-ASCII character', async () => {
    await expectRecords(
      'a;"b;c";d,e',
      [['a', 'b;c', 'd,e']],
      "with delimiter ';' commas are data and ';' inside quotes too",
      { delimiter: ';' },
    );
    await expectRecords('a\tb\t\n', [['a', 'b', '']], "with delimiter '\\t' fields split at tabs", {
      delimiter: '\t',
    });
    await expectRecords('a§b§"§"', [['a', 'b', '§']], "with delimiter '§' fields split at §", {
      delimiter: '§',
    });
  });

  it('quotes with a custom quote character and treats " as data then', async () => {
    await expectRecords(
      "'a,b','it''s',say \"hi\"",
      [['a,b', "it's", 'say "hi"']],
      "with quote \"'\" a doubled '' is one ', and \" is an ordinary character",
      { quote: "'" },
    );
  });

  it('yields an empty line as the record [""] when skipEmptyLines is false', async () => {
    await expectRecords(
      'a\n\nb\n\r\n',
      [['a'], [''], ['b'], ['']],
      'with skipEmptyLines: false each empty line (LF or CRLF alone) is [""], and the final line ending still adds none',
      { skipEmptyLines: false },
    );
  });

  it('never skips a line holding "" or spaces', async () => {
    await expectRecords(
      '""\n \n',
      [[''], [' ']],
      'a line with any character is a record, not an empty line',
    );
  });

  it('turns records into objects named by the header with columns: true', async () => {
    await expectRecords(
      'id,name\n1,Ann\n2,"B, C"\n',
      [
        { id: '1', name: 'Ann' },
        { id: '2', name: 'B, C' },
      ],
      'columns: true takes the first record as names and yields the later records as objects',
      { columns: true },
    );
    await expectRecords('id,name\r\n', [], 'a header alone yields no records', { columns: true });
  });

  it('uses the given names and treats the first record as data with columns as an array', async () => {
    await expectRecords(
      '1,Ann\n2,Bo',
      [
        { id: '1', name: 'Ann' },
        { id: '2', name: 'Bo' },
      ],
      'with columns: [...] the first record is data',
      { columns: ['id', 'name'] },
    );
  });

  it('keeps the last value when column names repeat', async () => {
    await expectRecords('a,b,a\n1,2,3', [{ a: '3', b: '2' }], 'repeated names: the last wins', {
      columns: true,
    });
  });

  it('does not put the BOM into the first column name', async () => {
    await expectRecords(
      '\uFEFFid,v\n1,2',
      [{ id: '1', v: '2' }],
      'the BOM is dropped before the header is read',
      {
        columns: true,
      },
    );
  });

  describe('rejects invalid options from parseCsv, at the call or from the first next()', () => {
    const cases: readonly [
      string,
      CsvParserOptions,
      typeof TypeError | typeof RangeError,
      RegExp,
    ][] = [
      ['delimiter of two characters', { delimiter: ';;' }, TypeError, /delimiter/],
      ['empty delimiter', { delimiter: '' }, TypeError, /delimiter/],
      ['delimiter LF', { delimiter: '\n' }, TypeError, /delimiter/],
      ['delimiter CR', { delimiter: '\r' }, TypeError, /delimiter/],
      ['delimiter as a number', { delimiter: 44 as unknown as string }, TypeError, /delimiter/],
      ['quote of two characters', { quote: '""' }, TypeError, /quote/],
      ['quote LF', { quote: '\n' }, TypeError, /quote/],
      ['delimiter equal to quote', { delimiter: "'", quote: "'" }, TypeError, /delimiter|quote/],
      ['negative maxRecordBytes', { maxRecordBytes: -1 }, RangeError, /maxRecordBytes/],
      ['fractional maxRecordBytes', { maxRecordBytes: 1.5 }, RangeError, /maxRecordBytes/],
      ['NaN maxRecordBytes', { maxRecordBytes: NaN }, RangeError, /maxRecordBytes/],
      [
        'maxRecordBytes as a string',
        { maxRecordBytes: '10' as unknown as number },
        TypeError,
        /maxRecordBytes/,
      ],
      ['columns as a string', { columns: 'a,b' as unknown as boolean }, TypeError, /columns/],
      ['columns with a number', { columns: ['a', 2] as unknown as string[] }, TypeError, /columns/],
      [
        'skipEmptyLines as a string',
        { skipEmptyLines: 'yes' as unknown as boolean },
        TypeError,
        /skipEmptyLines/,
      ],
      [
        'options object that is a string',
        'comma' as unknown as CsvParserOptions,
        TypeError,
        /options/,
      ],
      ['options object that is null', null as unknown as CsvParserOptions, TypeError, /options/],
    ];
    for (const [what, options, ErrorClass, message] of cases) {
      it(`rejects a ${what} with a ${ErrorClass.name} naming the option`, async () => {
        let generator: AsyncGenerator<CsvRecord>;
        try {
          generator = parseCsv('a,b\n', options);
        } catch (error) {
          expect(error, `parseCsv('a,b\\n', ${show(options)}) threw`).toBeInstanceOf(ErrorClass);
          expect((error as Error).message, 'the message names the offending option').toMatch(
            message,
          );
          return;
        }
        const failure = await within(
          generator.next().then(
            () => undefined,
            (error: unknown) => error,
          ),
          'parseCsv(...).next()',
        );
        rethrowIfNotImplemented(failure);
        expect(
          failure,
          `parseCsv('a,b\\n', ${show(options)}): the options are invalid, so the call throws or the first next() rejects`,
        ).toBeInstanceOf(ErrorClass);
        expect((failure as Error).message, 'the message names the offending option').toMatch(
          message,
        );
      });
    }
  });
});

describe('stage 3: chunked input and the Transform stream', () => {
  const INPUT = 'id,text\r\n1,"a,""b"""\r\n2,é😀\n';
  const RECORDS = [
    ['id', 'text'],
    ['1', 'a,"b"'],
    ['2', 'é😀'],
  ];

  it('keeps a U+FEFF that starts a later chunk: only the start of the input can hold a byte-order mark', async () => {
    const outcome = await viaParseCsv(['a,', '\uFEFFb\n']);
    expect(outcome.error, `failed with ${describeError(outcome.error)}`).toBeUndefined();
    expect(
      outcome.records,
      "parseCsv(['a,', '\\uFEFFb\\n']): U+FEFF in the middle of the input is data",
    ).toEqual([['a', '\uFEFFb']]);
  });

  it('parseCsv reads an array of string chunks, an array of Buffers and an async iterable', async () => {
    const strings = ['id,te', 'xt\r', '\n1,"a,"', '"b"""\r\n2,é', '😀\n'];
    const bytes = Buffer.from(INPUT);
    const buffers = [bytes.subarray(0, 7), bytes.subarray(7, 30), bytes.subarray(30)];
    async function* source(): AsyncGenerator<Buffer> {
      for (const buffer of buffers) {
        await nextTick();
        yield buffer;
      }
    }
    for (const [what, input] of [
      ['an array of strings', strings],
      ['an array of Buffers', buffers],
      ['an async generator of Buffers', source()],
    ] as const) {
      const outcome = await viaParseCsv(input);
      expect(
        outcome.error,
        `parseCsv over ${what} failed: ${describeError(outcome.error)}`,
      ).toBeUndefined();
      expect(
        outcome.records,
        `parseCsv over ${what}: ${Array.isArray(input) ? show(input.map(String)) : show(INPUT)}`,
      ).toEqual(RECORDS);
    }
  });

  it('createCsvParser parses Buffers and strings in stream.pipeline', async () => {
    for (const [what, chunks] of [
      ['Buffers', [Buffer.from(INPUT.slice(0, 12)), Buffer.from(INPUT.slice(12))]],
      ['strings', [INPUT.slice(0, 12), INPUT.slice(12)]],
    ] as const) {
      const outcome = await viaStream([...chunks]);
      expect(
        outcome.error,
        `the pipeline over ${what} failed: ${describeError(outcome.error)}`,
      ).toBeUndefined();
      expect(outcome.records, `createCsvParser() over ${what} of ${show(INPUT)}`).toEqual(RECORDS);
    }
  });

  it('createCsvParser yields records to a for await loop', async () => {
    const parser = createCsvParser();
    parser.end(Buffer.from(INPUT));
    const read = async (): Promise<unknown[]> => {
      const records: unknown[] = [];
      for await (const record of parser) records.push(record);
      return records;
    };
    expect(
      await within(read(), 'for await over createCsvParser()'),
      'records read with for await',
    ).toEqual(RECORDS);
  });

  for (const fixture of TRICKY) {
    for (const entry of ENTRY_POINTS) {
      it(`gives the same records from ${entry} at every byte split: ${fixture.name}`, async () => {
        const bytes = Buffer.from(fixture.input);
        for (const { chunks, how } of splits(bytes)) {
          const outcome = await via(entry, chunks, fixture.options);
          const context = `${entry} over ${show(fixture.input)}${
            fixture.options ? ` with ${show(fixture.options)}` : ''
          }, ${describeCut(bytes, how)}`;
          expect(
            outcome.error,
            `${context} failed: ${describeError(outcome.error)}`,
          ).toBeUndefined();
          expect(
            outcome.records,
            `${context}: a chunk boundary (inside a UTF-8 character, between CR and LF, between the quotes of "") must not change the records`,
          ).toEqual(fixture.records);
        }
      });
    }
  }

  it('gives the same records from parseCsv at every split of a string', async () => {
    const [fixture] = TRICKY;
    if (fixture === undefined) throw new Error('no fixture');
    for (let k = 1; k < fixture.input.length; k += 1) {
      const code = fixture.input.charCodeAt(k - 1);
      if (code >= 0xd800 && code <= 0xdbff) continue; // never cut a surrogate pair
      const chunks = [fixture.input.slice(0, k), fixture.input.slice(k)];
      const outcome = await viaParseCsv(chunks);
      expect(
        outcome.error,
        `parseCsv(${show(chunks)}) failed: ${describeError(outcome.error)}`,
      ).toBeUndefined();
      expect(outcome.records, `parseCsv(${show(chunks)}): string chunks cut anywhere`).toEqual(
        fixture.records,
      );
    }
  });

  const field = fc.string({
    unit: fc.constantFrom(',', '"', '\r', '\n', ' ', 'a', 'Z', 'é', '€', '😀', '\t'),
    maxLength: 8,
  });
  const csvCase = fc.record({
    records: fc.array(fc.array(field, { minLength: 1, maxLength: 5 }), {
      minLength: 1,
      maxLength: 6,
    }),
    quoteAll: fc.boolean(),
    crlf: fc.boolean(),
    finalLineEnding: fc.boolean(),
    cuts: fc.array(fc.nat(), { maxLength: 6 }),
  });
  type CsvCase = typeof csvCase extends fc.Arbitrary<infer T> ? T : never;

  function serialize({ records, quoteAll, crlf, finalLineEnding }: CsvCase): string {
    const quoted = (text: string): string => `"${text.replaceAll('"', '""')}"`;
    const lines = records.map((record) =>
      record
        .map((text) =>
          quoteAll || /[,"\r\n]/.test(text) || (record.length === 1 && text === '')
            ? quoted(text)
            : text,
        )
        .join(','),
    );
    const ending = crlf ? '\r\n' : '\n';
    return lines.join(ending) + (finalLineEnding ? ending : '');
  }

  function cut(bytes: Buffer, cuts: number[]): Buffer[] {
    const at = [...new Set(cuts.map((n) => n % (bytes.length + 1)))].sort((a, b) => a - b);
    const chunks: Buffer[] = [];
    let start = 0;
    for (const end of [...at, bytes.length]) {
      chunks.push(bytes.subarray(start, end));
      start = end;
    }
    return chunks;
  }

  for (const entry of ENTRY_POINTS) {
    it(`parses random records back through ${entry} however the bytes are chunked`, async () => {
      await assertProperty(
        `${entry}: records serialized as RFC 4180 CSV (fields with quotes, commas, CR, LF, non-ASCII text, empty fields), cut into random chunks, parse back to the same records`,
        fc.asyncProperty(csvCase, async (testCase) => {
          const text = serialize(testCase);
          const chunks = cut(Buffer.from(text), testCase.cuts);
          const outcome = await via(entry, chunks);
          expect(
            outcome.error,
            `${show(text)} failed: ${describeError(outcome.error)}`,
          ).toBeUndefined();
          expect(outcome.records, `records parsed back from ${show(text)}`).toEqual(
            testCase.records,
          );
        }),
        { numRuns: 75 },
      );
    });
  }

  it('rejects input that is not a string or an iterable, or a chunk that is not a string or Buffer, with a TypeError naming the input', async () => {
    const inputs: [string, unknown][] = [
      ['42', 42],
      ['null', null],
      ['[42] (a chunk that is a number)', [42]],
    ];
    for (const [what, input] of inputs) {
      let failure: unknown;
      try {
        const generator = parseCsv(input as string);
        failure = await within(
          generator.next().then(
            () => undefined,
            (error: unknown) => error,
          ),
          'parseCsv(...).next()',
        );
      } catch (error) {
        failure = error;
      }
      rethrowIfNotImplemented(failure);
      expect(
        failure,
        `parseCsv(${what}): input is a string or an iterable of strings or Buffers, so the call throws or the first next() rejects`,
      ).toBeInstanceOf(TypeError);
      expect(
        (failure as Error).message,
        `parseCsv(${what}): the message names the offending input (or chunk)`,
      ).toMatch(/input|chunk/i);
    }
  });

  describe('rejects invalid options from createCsvParser at the call', () => {
    it('rejects a delimiter that is not one code unit with a TypeError naming delimiter', () => {
      expect(
        () => createCsvParser({ delimiter: ';;' }),
        "createCsvParser({ delimiter: ';;' })",
      ).toThrow(TypeError);
      expect(() => createCsvParser({ delimiter: ';;' })).toThrow(/delimiter/);
    });

    it('rejects a quote that is CR with a TypeError naming quote', () => {
      expect(() => createCsvParser({ quote: '\r' }), "createCsvParser({ quote: '\\r' })").toThrow(
        TypeError,
      );
      expect(() => createCsvParser({ quote: '\r' })).toThrow(/quote/);
    });

    it('rejects a maxRecordBytes of -5 with a RangeError naming maxRecordBytes', () => {
      expect(
        () => createCsvParser({ maxRecordBytes: -5 }),
        'createCsvParser({ maxRecordBytes: -5 })',
      ).toThrow(RangeError);
      expect(() => createCsvParser({ maxRecordBytes: -5 })).toThrow(/maxRecordBytes/);
    });
  });
});

describe('stage 4: errors with exact positions', () => {
  it('reports RECORD_TOO_LARGE at 4 bytes for "ab€" (€ is 3 bytes) with maxRecordBytes: 4', async () => {
    await expectRecords('ab€', [['ab€']], 'exactly 5 bytes is within a limit of 5', {
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
    );
  });

  it('counts each character as its UTF-8 bytes at every encoding length boundary', async () => {
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
        { maxRecordBytes: bytes },
      );
      if (bytes === 1) continue;
      const outcome = await viaParseCsv(character, { maxRecordBytes: bytes - 1 });
      expect(
        (outcome.error as { code?: unknown } | undefined)?.code,
        `parseCsv(${name}, { maxRecordBytes: ${bytes - 1} }): ${name} is ${bytes} UTF-8 bytes, over the limit, so RECORD_TOO_LARGE (got ${describeError(outcome.error)})`,
      ).toBe('RECORD_TOO_LARGE');
    }
  });

  it('accepts a record whose quotes and delimiters bring it to exactly maxRecordBytes', async () => {
    await expectRecords(
      '"ab"',
      [['ab']],
      '"ab" is 4 bytes as written, quotes included: within a limit of 4',
      {
        maxRecordBytes: 4,
      },
    );
    await expectRecords('a,b', [['a', 'b']], 'a,b is 3 bytes as written: within a limit of 3', {
      maxRecordBytes: 3,
    });
  });

  it('does not count the line ending toward maxRecordBytes', async () => {
    await expectRecords(
      'abcd\r\nefgh\n',
      [['abcd'], ['efgh']],
      'records of exactly maxRecordBytes (4) followed by CRLF or LF are within the limit',
      { maxRecordBytes: 4 },
    );
  });

  for (const fixture of BROKEN) {
    const { error } = fixture;
    if (error === undefined) continue;
    it(`reports ${error.code} for ${fixture.name}, after the records before it`, async () => {
      const outcome = await viaParseCsv(fixture.input, fixture.options);
      const context = `parseCsv(${show(fixture.input)}${fixture.options ? `, ${show(fixture.options)}` : ''})`;
      checkError(outcome, error, context);
      expect(
        outcome.records,
        `${context}: every record before the error is delivered, and none after it`,
      ).toEqual(fixture.records);
    });
  }

  it('reports a CR that ends the input right after a closing quote as INVALID_QUOTE', async () => {
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
    );
  });

  it('counts a lone CR in an unquoted field as one column when reporting a later error', async () => {
    checkError(
      await viaParseCsv('a\rb"c'),
      { code: 'INVALID_QUOTE', record: 1, at: [[1, 4]] },
      'parseCsv("a\\rb\\"c"): the quote is at column 4, the lone CR being data at column 2',
    );
  });

  it('reports a CR without LF after a closing quote as INVALID_QUOTE', async () => {
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
    );
  });

  for (const fixture of BROKEN) {
    const { error } = fixture;
    if (error === undefined) continue;
    for (const entry of ENTRY_POINTS) {
      it(`reports the same ${error.code} from ${entry} at every byte split: ${fixture.name}`, async () => {
        const bytes = Buffer.from(fixture.input);
        for (const { chunks, how } of splits(bytes)) {
          const outcome = await via(entry, chunks, fixture.options);
          const context = `${entry} over ${show(fixture.input)}${
            fixture.options ? ` with ${show(fixture.options)}` : ''
          }, ${describeCut(bytes, how)}`;
          checkError(outcome, error, context);
          expect(
            outcome.records,
            `${context}: the records before the error are delivered however the input is chunked, and none after`,
          ).toEqual(fixture.records);
        }
      });
    }
  }

  const MANY_THEN_BAD = Array.from({ length: 40 }, (_, i) => `${i},x\n`).join('') + 'bad"\n41,y\n';

  it('delivers all 40 records before the error to a slow for await over createCsvParser', async () => {
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
    );
    expect(
      records.length,
      'records parsed before the error sat in the stream buffer: failing the stream at once (destroy) discards them, so the error must wait until they are read',
    ).toBe(40);
  });

  it('rejects stream.pipeline with the CsvParseError after a slow sink got every record before it', async () => {
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
    );
    expect(
      records.length,
      'the slow sink receives every record before the error, then the pipeline rejects',
    ).toBe(40);
  });

  it('delivers all 40 records before the error to a slow consumer of parseCsv', async () => {
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
    );
    expect(records.length, 'parseCsv yields every record before the error').toBe(40);
  });
});

describe('stage 5: streaming with bounded memory', () => {
  const MB = 1_048_576;
  const CHUNK_BYTES = 16_384;
  // 8 fields of 127 characters: each line is exactly 1024 bytes, 16 lines per chunk.
  const LINE = `${Array.from({ length: 8 }, (_, i) => String(i).repeat(127)).join(',')}\n`;
  const LINE_BYTES = Buffer.byteLength(LINE);
  const CHUNK = Buffer.from(LINE.repeat(CHUNK_BYTES / LINE_BYTES));

  /** Heap in use after a full garbage collection: what is really kept, not garbage not yet collected. */
  const collectGarbage = ((): (() => void) => {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  })();
  function retainedHeap(): number {
    collectGarbage();
    return process.memoryUsage().heapUsed;
  }

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
    chunks: AsyncIterable<Buffer>,
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

  for (const entry of ENTRY_POINTS) {
    it(`yields the first record from ${entry} before the source has produced 4 MB of 32 MB`, async () => {
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
      expect(error, `${entry} failed: ${describeError(error)}`).toBeUndefined();
      expect(
        producedAtFirst,
        `the source had produced ${producedAtFirst} bytes when the first record arrived: records must stream out as the input comes in, not after reading it all`,
      ).toBeGreaterThan(0);
      expect(
        producedAtFirst,
        `the source had produced ${producedAtFirst} bytes of 32 MB when the first record arrived: records must stream out as the input comes in, not after reading it all`,
      ).toBeLessThanOrEqual(4 * MB);
    });

    it(`stays within 2 MB of a slow consumer and keeps under 2.5 MB more heap through ${entry} over 6 MB`, async () => {
      const total = 6 * MB;
      const { chunks, produced } = source(total);
      const heapBefore = retainedHeap();
      let heapMidway = heapBefore;
      let consumed = 0;
      let worstLead = 0;
      const error = await within(
        CONSUMERS[entry](chunks, async (record) => {
          if (consumed === 0) {
            expect(
              record,
              'records are arrays of the 8 fields of each 1024-byte line',
            ).toHaveLength(8);
          }
          consumed += 1;
          worstLead = Math.max(worstLead, produced() - consumed * LINE_BYTES);
          if (consumed * LINE_BYTES === 5 * MB) heapMidway = retainedHeap();
          if (consumed % 16 === 0) {
            // The slow part: give the producer every chance to run ahead if nothing holds it back.
            await nextTick();
          }
        }),
        `${entry} over a 6 MB source with a slow consumer`,
        4_500,
      );
      expect(error, `${entry} failed: ${describeError(error)}`).toBeUndefined();
      expect(consumed, `6 MB of 1024-byte lines is ${total / LINE_BYTES} records`).toBe(
        total / LINE_BYTES,
      );
      expect(
        worstLead,
        `the source ran ${(worstLead / MB).toFixed(1)} MB ahead of the consumer: without backpressure memory grows with the input, not the chunk size`,
      ).toBeLessThanOrEqual(2 * MB);
      expect(
        heapMidway - heapBefore,
        `after 5 MB of 6 MB had been consumed, ${((heapMidway - heapBefore) / MB).toFixed(1)} MB more heap was still in use (measured after a full garbage collection): the parser keeps input or records it has finished with`,
      ).toBeLessThan(2.5 * MB);
    });

    it(`raises RECORD_TOO_LARGE from ${entry} before pulling much more than maxRecordBytes of an unclosed quote`, async () => {
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
      );
      expect(
        produced,
        `${produced} bytes were pulled before RECORD_TOO_LARGE: the limit must stop the read as soon as it is passed, not at the end of the record`,
      ).toBeLessThanOrEqual(maxRecordBytes + 256 * 1_024);
    });
  }
});
