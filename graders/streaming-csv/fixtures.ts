/**
 * What the streaming-csv grader files share. Inputs are shown with JSON escapes ("\r\n"), so a
 * failure names the exact text; chunked inputs also say where they were cut. Every check takes
 * the rule it grades, and its failure message names it.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expect } from 'vitest';
import {
  CsvParseError,
  createCsvParser,
  parseCsv,
  type CsvParserOptions,
  type CsvRecord,
} from '@kata/streaming-csv';

export type Chunk = string | Buffer;
export interface Outcome {
  records: CsvRecord[];
  error?: unknown;
}

export const show = (value: unknown): string => JSON.stringify(value);
export const describeError = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : show(error);
export const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
export const MB = 1_048_576;

/** A stub's NotImplementedError must fail the test as itself, not as "parsing failed". */
export function rethrowIfNotImplemented(error: unknown): void {
  if (error instanceof Error && error.name === 'NotImplementedError') throw error;
}

/**
 * How many times longer the hang guards below wait: 1 when grading. Mutation testing
 * (stryker/vitest.config.js) raises it, because instrumented code runs many times slower.
 */
export const HANG_GUARD_SCALE = Number(process.env.KATA_HANG_GUARD_SCALE ?? 1);

/** Fails instead of hanging when an implementation never finishes (costs 2 s, not 5). */
export async function within<T>(promise: Promise<T>, what: string, ms = 2_000): Promise<T> {
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

export async function viaParseCsv(
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

export async function viaStream(chunks: Chunk[], options?: CsvParserOptions): Promise<Outcome> {
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

export type EntryPoint = 'parseCsv' | 'createCsvParser';
export const ENTRY_POINTS: readonly EntryPoint[] = ['parseCsv', 'createCsvParser'];
export const via = (
  entry: EntryPoint,
  chunks: Chunk[],
  options?: CsvParserOptions,
): Promise<Outcome> =>
  entry === 'parseCsv' ? viaParseCsv(chunks, options) : viaStream(chunks, options);

/** Parses a whole string with parseCsv and expects these records and no error. */
export async function expectRecords(
  input: string,
  expected: CsvRecord[],
  why: string,
  rule: string,
  options?: CsvParserOptions,
): Promise<void> {
  const outcome = await viaParseCsv(input, options);
  const context = `parseCsv(${show(input)}${options ? `, ${show(options)}` : ''})`;
  expect(
    outcome.error,
    `${context} failed with ${describeError(outcome.error)}, expected ${show(expected)} [${rule}]`,
  ).toBeUndefined();
  expect(outcome.records, `${context}: ${why} [${rule}]`).toEqual(expected);
}

/** Where an error may be reported: [line, column] pairs the contract allows. */
export interface ExpectedError {
  code: string;
  record: number;
  at: readonly (readonly [line: number, column: number])[];
}

/**
 * The outcome failed with this CsvParseError. `rules` names what the error itself grades (its
 * code and position); the record number and the position have their own rules (R15, R14).
 */
export function checkError(
  outcome: Outcome,
  expected: ExpectedError,
  context: string,
  rules: string,
): void {
  const { error } = outcome;
  expect(
    error,
    `${context}: expected a CsvParseError ${expected.code}, but ${
      error === undefined
        ? `it succeeded with ${show(outcome.records)}`
        : `it failed with ${describeError(error)}`
    } [${rules}]`,
  ).toBeInstanceOf(CsvParseError);
  const e = error as CsvParseError;
  expect(e.code, `${context}: wrong error code [${rules}]`).toBe(expected.code);
  expect(
    e.record,
    `${context}: ${expected.code} reported for record ${e.record}, expected record ${expected.record} ` +
      `(the header counts as a record, skipped empty lines do not) [R15, ${rules}]`,
  ).toBe(expected.record);
  const where = expected.at.map(([line, column]) => `line ${line} column ${column}`).join(' or ');
  expect(
    expected.at.some(([line, column]) => e.line === line && e.column === column),
    `${context}: ${expected.code} reported at line ${e.line} column ${e.column}, expected ${where} ` +
      `(lines are 1 + the LFs before; columns are 1-based UTF-16 code units, a BOM not counted) [R14, ${rules}]`,
  ).toBe(true);
}

/** Every way to cut `bytes` in two, and one byte per chunk. */
export function* splits(bytes: Buffer): Generator<{ chunks: Buffer[]; how: string }> {
  for (let k = 1; k < bytes.length; k += 1) {
    yield { chunks: [bytes.subarray(0, k), bytes.subarray(k)], how: `cut after byte ${k}` };
  }
  yield { chunks: [...bytes].map((byte) => Buffer.from([byte])), how: 'one byte per chunk' };
}

export const describeCut = (bytes: Buffer, how: string): string => {
  const k = /after byte (\d+)/.exec(how)?.[1];
  if (k === undefined) return how;
  const at = Number(k);
  return `${how} (${show(bytes.subarray(0, at).toString('latin1').slice(-6))} | ${show(
    bytes.subarray(at).toString('latin1').slice(0, 6),
  )} as latin1 bytes)`;
};

export interface Fixture {
  name: string;
  input: string;
  options?: CsvParserOptions;
  records: CsvRecord[];
  /** The rules this input is about, besides R16 (chunking). */
  rules: string;
  error?: ExpectedError;
}

/**
 * Inputs whose every chunk boundary is a trap: BOM, multi-byte characters, CRLF, `""` and
 * quotes next to it, a closing quote before a line ending, lone CRs.
 */
export const TRICKY: readonly Fixture[] = [
  {
    name: 'BOM, CRLF, "" and multi-byte text',
    input: '\uFEFFname,note\r\n"Zoë","say ""hi"", ok"\r\n€,"a\r\nb"\n',
    rules: 'R1, R3, R4',
    records: [
      ['name', 'note'],
      ['Zoë', 'say "hi", ok'],
      ['€', 'a\r\nb'],
    ],
  },
  {
    name: 'lone CRs, an empty CRLF line, an emoji and """"',
    input: 'a\rb,c\r\n\r\n😀,"""",\r',
    rules: 'R2, R3, R6',
    records: [
      ['a\rb', 'c'],
      ['😀', '"', '\r'],
    ],
  },
  {
    name: 'quotes next to doubled quotes, closing quotes before CRLF and LF, and quoted line breaks',
    input: '"a""",""""""\r\n"""b"\n"\n","\r"\r\n"""",x',
    rules: 'R1, R3',
    records: [['a"', '""'], ['"b'], ['\n', '\r'], ['"', 'x']],
  },
  {
    name: "a two-byte delimiter '§' and quote \"'\"",
    input: "x§'y§''z'\n§\"\n",
    options: { delimiter: '§', quote: "'" },
    rules: 'R5',
    records: [
      ['x', "y§'z"],
      ['', '"'],
    ],
  },
  {
    name: 'empty lines kept as records',
    input: '\n""\r\n\r\n a \n',
    options: { skipEmptyLines: false },
    rules: 'R6',
    records: [[''], [''], [''], [' a ']],
  },
  {
    name: 'a header after a BOM, with a quoted CRLF',
    input: '\uFEFFid,v\r\n1,"é\r\n"\r\n2,😀',
    options: { columns: true },
    rules: 'R4, R10',
    records: [
      { id: '1', v: 'é\r\n' },
      { id: '2', v: '😀' },
    ],
  },
];

/** Inputs that fail, with the records that must come before the error. */
export const BROKEN: readonly Fixture[] = [
  {
    name: 'a quote inside an unquoted field',
    input: 'a,b\nc,d"e\nf,g\n',
    rules: 'R7',
    records: [['a', 'b']],
    error: { code: 'INVALID_QUOTE', record: 2, at: [[2, 4]] },
  },
  {
    name: 'a letter after a closing quote',
    input: '"a"b\nc',
    rules: 'R8',
    records: [],
    error: { code: 'INVALID_QUOTE', record: 1, at: [[1, 4]] },
  },
  {
    name: 'a space after a closing quote',
    input: 'x\n"a" ,b\ny',
    rules: 'R8',
    records: [['x']],
    error: { code: 'INVALID_QUOTE', record: 2, at: [[2, 4]] },
  },
  {
    name: 'a space before an opening quote',
    input: ' "a"',
    rules: 'R7',
    records: [],
    error: { code: 'INVALID_QUOTE', record: 1, at: [[1, 2]] },
  },
  {
    name: 'a letter after a quoted field spanning lines',
    input: 'h\n"a\r\nb"c\nd',
    rules: 'R8',
    records: [['h']],
    error: { code: 'INVALID_QUOTE', record: 2, at: [[3, 3]] },
  },
  {
    name: 'an invalid quote after a BOM',
    input: '\uFEFFab"',
    rules: 'R4, R7',
    records: [],
    error: { code: 'INVALID_QUOTE', record: 1, at: [[1, 3]] },
  },
  {
    name: 'a quote after an emoji, which is two UTF-16 code units',
    input: 'a,😀x"',
    rules: 'R7',
    records: [],
    error: { code: 'INVALID_QUOTE', record: 1, at: [[1, 6]] },
  },
  {
    name: 'a letter after a quoted field holding a lone CR, which starts no line',
    input: '"x\ry"z',
    rules: 'R8',
    records: [],
    error: { code: 'INVALID_QUOTE', record: 1, at: [[1, 6]] },
  },
  {
    name: 'an unclosed quote on the line after a lone CR in data',
    input: 'a\rb\n"c\rd',
    rules: 'R2, R9',
    records: [['a\rb']],
    error: { code: 'UNCLOSED_QUOTE', record: 2, at: [[2, 1]] },
  },
  {
    name: 'an unclosed quote after a skipped empty line, ending in ""',
    input: 'a\n\n"b""\nc',
    rules: 'R9',
    records: [['a']],
    error: { code: 'UNCLOSED_QUOTE', record: 2, at: [[3, 1]] },
  },
  {
    name: 'an unclosed quote whose last two quotes are one escaped quote',
    input: 'x\n"a""',
    rules: 'R3, R9',
    records: [['x']],
    error: { code: 'UNCLOSED_QUOTE', record: 2, at: [[2, 1]] },
  },
  {
    name: 'an unclosed quote after a BOM',
    input: '\uFEFFa,"b',
    rules: 'R4, R9',
    records: [],
    error: { code: 'UNCLOSED_QUOTE', record: 1, at: [[1, 3]] },
  },
  {
    name: 'a header and a multi-line record with too many fields',
    input: 'a,b\n1,2\n"3\n4",5,6\n7,8\n',
    options: { columns: true },
    rules: 'R11',
    records: [{ a: '1', b: '2' }],
    error: { code: 'COLUMN_MISMATCH', record: 3, at: [[3, 1]] },
  },
  {
    name: 'named columns and a short record after an empty line',
    input: '1,2\n\n3\n4,5',
    options: { columns: ['a', 'b'] },
    rules: 'R11',
    records: [{ a: '1', b: '2' }],
    error: { code: 'COLUMN_MISMATCH', record: 2, at: [[3, 1]] },
  },
  {
    name: 'a record one byte over maxRecordBytes: 8 after one of exactly 8',
    input: 'abcdefgh\r\n"é\r\n€"\nz',
    options: { maxRecordBytes: 8 },
    rules: 'R12',
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
