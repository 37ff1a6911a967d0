// streaming-csv: a streaming RFC 4180 CSV parser with exact error positions. Read README.md, then fill in the TODOs.
/* eslint-disable @typescript-eslint/no-unused-vars -- the stub's parameters are yours to use */
import type { Transform } from 'node:stream';
import { NotImplementedError } from '../not-implemented.ts';

/** Options shared by both entry points. Every option may be absent. */
export interface CsvParserOptions {
  /**
   * Separates fields: one UTF-16 code unit (`'\t'`, `';'`, `'§'`...), not the quote, CR or LF.
   * @default ','
   * @throws {TypeError} when not a string of length 1, when CR or LF, or when equal to `quote`
   */
  delimiter?: string;
  /**
   * Opens and closes a quoted field; doubled inside one, it stands for itself. One UTF-16 code
   * unit, not CR or LF (quoting cannot be turned off).
   * @default '"'
   * @throws {TypeError} when not a string of length 1, or when CR or LF
   */
  quote?: string;
  /**
   * `true`: the first record is the header (it counts as record 1) and every later record is an
   * object keyed by its names. An array of strings: those are the names and the first record is
   * data. Absent or `false`: records are `string[]` of any length (ragged rows are fine).
   * With names, a record with a different number of fields is `COLUMN_MISMATCH`.
   * @default false
   * @throws {TypeError} when neither a boolean nor an array of strings
   */
  columns?: boolean | readonly string[];
  /**
   * `true`: a line with no characters at all (`\n` or `\r\n` alone) is skipped and is not counted as
   * a record. `false`: it is the record `['']`. A line holding `""` or spaces is never empty.
   * @default true
   * @throws {TypeError} when not a boolean
   */
  skipEmptyLines?: boolean;
  /**
   * Most UTF-8 bytes one record may take, counted as written: quotes, delimiters and line breaks
   * inside quotes included, the record's own line ending not. `Infinity` means no limit.
   * A record one byte over is `RECORD_TOO_LARGE`, raised as soon as that byte is read.
   * @default 1_048_576
   * @throws {RangeError} when not a positive integer (or Infinity)
   * @throws {TypeError} when not a number
   */
  maxRecordBytes?: number;
}

/** One record: an array of fields, or an object keyed by column name when `columns` is set. */
export type CsvRecord = string[] | Record<string, string>;

/** Every problem the parser reports. */
export const CSV_ERROR_CODES = [
  /** End of input inside a quoted field; reported at the opening quote. */
  'UNCLOSED_QUOTE',
  /** A quote inside an unquoted field, or anything but a delimiter or line ending after a closing quote; reported at that character. */
  'INVALID_QUOTE',
  /** A record whose field count differs from the number of column names; reported at column 1 of the line the record starts on. */
  'COLUMN_MISMATCH',
  /** A record over `maxRecordBytes`; raised as soon as the limit is passed. */
  'RECORD_TOO_LARGE',
] as const;
export type CsvErrorCode = (typeof CSV_ERROR_CODES)[number];

/** The one error a parse fails with. The position is where the problem is, all 1-based. */
export class CsvParseError extends Error {
  override readonly name = 'CsvParseError';
  readonly code: CsvErrorCode;
  /** Physical line: 1 + the number of LFs before the problem (a lone CR starts no line). */
  readonly line: number;
  /** UTF-16 code unit within that line; a leading BOM is not counted. */
  readonly column: number;
  /** Record number: the header counts; skipped empty lines do not. */
  readonly record: number;

  constructor(code: CsvErrorCode, line: number, column: number, record: number, detail: string) {
    super(`${code} at line ${line}, column ${column} (record ${record}): ${detail}`);
    this.code = code;
    this.line = line;
    this.column = column;
    this.record = record;
  }
}

/**
 * A Transform stream for `stream.pipeline`: UTF-8 bytes (Buffers) or strings in, records out
 * (object mode). Records arrive as the input does, and a slow reader slows the writer down. On a
 * parse error, every record before it is still delivered, then the stream fails with a
 * {@link CsvParseError} and delivers nothing more.
 * @throws {TypeError} for an invalid delimiter, quote, columns or skipEmptyLines (at the call)
 * @throws {RangeError} for an invalid maxRecordBytes (at the call)
 */
export function createCsvParser(options?: CsvParserOptions): Transform {
  // TODO: validate the options, then return a Transform that parses whatever chunks it is given.
  throw new NotImplementedError('createCsvParser');
}

/**
 * Parses a whole string, or the chunks of a sync or async iterable of strings or Buffers, and
 * yields the records one by one. Reads the next chunk only when the records so far have been
 * consumed. Fails with a {@link CsvParseError} after yielding every record before the problem.
 * @throws {TypeError} / {RangeError} for invalid options, either at the call or from the first `next()`
 */
export function parseCsv(
  input: string | Iterable<string | Buffer> | AsyncIterable<string | Buffer>,
  options?: CsvParserOptions,
): AsyncGenerator<CsvRecord> {
  // TODO: share one parser core with createCsvParser; only the way chunks come in differs.
  throw new NotImplementedError('parseCsv');
}
