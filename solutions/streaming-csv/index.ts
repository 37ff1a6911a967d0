// streaming-csv reference: a parser core that knows nothing about streams, under a thin Transform
// and a thin async generator.
import { Transform, type TransformCallback } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

export interface CsvParserOptions {
  /** One UTF-16 code unit; not the quote, CR or LF. @default ',' */
  delimiter?: string;
  /** One UTF-16 code unit; not CR or LF. @default '"' */
  quote?: string;
  /**
   * `true`: the first record names the columns and records are objects. An array: the names, and
   * the first record is data. Absent or `false`: records are arrays of any length.
   */
  columns?: boolean | readonly string[];
  /** Skip lines with no characters at all; with `false` such a line is the record `['']`. @default true */
  skipEmptyLines?: boolean;
  /** Most UTF-8 bytes one record may take as written (its own line ending not counted). `Infinity`: no limit. @default 1_048_576 */
  maxRecordBytes?: number;
}

export type CsvRecord = string[] | Record<string, string>;

export const CSV_ERROR_CODES = [
  'UNCLOSED_QUOTE',
  'INVALID_QUOTE',
  'COLUMN_MISMATCH',
  'RECORD_TOO_LARGE',
] as const;
export type CsvErrorCode = (typeof CSV_ERROR_CODES)[number];

export class CsvParseError extends Error {
  override readonly name = 'CsvParseError';
  readonly code: CsvErrorCode;
  readonly line: number;
  readonly column: number;
  readonly record: number;

  constructor(code: CsvErrorCode, line: number, column: number, record: number, detail: string) {
    super(`${code} at line ${line}, column ${column} (record ${record}): ${detail}`);
    this.code = code;
    this.line = line;
    this.column = column;
    this.record = record;
  }
}

interface ResolvedOptions {
  delimiter: number;
  quote: number;
  columns: boolean | readonly string[];
  skipEmptyLines: boolean;
  maxRecordBytes: number;
}

const LF = 0x0a;
const CR = 0x0d;
const BOM = 0xfeff;

function codeUnit(value: unknown, name: string, fallback: string): number {
  const text = value ?? fallback;
  if (typeof text !== 'string' || text.length !== 1) {
    throw new TypeError(`${name} must be a string of one UTF-16 code unit, got ${String(value)}`);
  }
  if (text === '\r' || text === '\n') throw new TypeError(`${name} cannot be CR or LF`);
  return text.charCodeAt(0);
}

function resolveOptions(options: CsvParserOptions | undefined): ResolvedOptions {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('options must be an object');
  }
  const delimiter = codeUnit(options.delimiter, 'delimiter', ',');
  const quote = codeUnit(options.quote, 'quote', '"');
  if (delimiter === quote) throw new TypeError('delimiter and quote must differ');

  const columns = options.columns ?? false;
  if (
    typeof columns !== 'boolean' &&
    !(Array.isArray(columns) && columns.every((name) => typeof name === 'string'))
  ) {
    throw new TypeError('columns must be a boolean or an array of strings');
  }
  const skipEmptyLines = options.skipEmptyLines ?? true;
  if (typeof skipEmptyLines !== 'boolean') throw new TypeError('skipEmptyLines must be a boolean');

  const maxRecordBytes = options.maxRecordBytes ?? 1_048_576;
  if (typeof maxRecordBytes !== 'number') throw new TypeError('maxRecordBytes must be a number');
  if (!(Number.isInteger(maxRecordBytes) && maxRecordBytes > 0) && maxRecordBytes !== Infinity) {
    throw new RangeError(`maxRecordBytes must be a positive integer, got ${maxRecordBytes}`);
  }
  return { delimiter, quote, columns, skipEmptyLines, maxRecordBytes };
}

// Where the core is between two characters.
const FIELD_START = 0; // at the start of a field
const UNQUOTED = 1; // inside an unquoted field
const QUOTED = 2; // inside a quoted field
const AFTER_QUOTE = 3; // saw a quote inside a quoted field: `""` or the closing quote
const CR_UNQUOTED = 4; // saw a CR outside quotes: a line ending if LF follows, else data
const CR_AFTER_QUOTE = 5; // saw a CR after a closing quote: only a line ending is allowed

/** UTF-8 bytes of one UTF-16 code unit; each half of a surrogate pair is half of 4 bytes. */
function utf8Bytes(unit: number): number {
  if (unit < 0x80) return 1;
  if (unit < 0x800 || (unit >= 0xd800 && unit <= 0xdfff)) return 2;
  return 3;
}

/**
 * The parser itself: text in (any split), records out through `emit`. It knows nothing about
 * streams or bytes, so both entry points share it. It throws a CsvParseError from `write` or
 * `end` after emitting every record that came before the problem.
 */
class CsvCore {
  readonly #options: ResolvedOptions;
  readonly #emit: (record: CsvRecord) => void;
  #names: readonly string[] | undefined;

  #state = FIELD_START;
  #field = ''; // the current field's text so far
  #fields: string[] = [];
  #recordBytes = 0; // UTF-8 bytes of the current record so far; 0 means an empty line so far
  #record = 1; // number of the current record
  #recordLine = 1; // line the current record starts on
  #line = 1; // position of the last character consumed
  #column = 0;
  #quoteLine = 0; // where the open quoted field started
  #quoteColumn = 0;
  #crLine = 0; // where the pending CR is
  #crColumn = 0;
  #atStart = true; // nothing consumed yet: a BOM here is dropped

  constructor(options: ResolvedOptions, emit: (record: CsvRecord) => void) {
    this.#options = options;
    this.#emit = emit;
    if (Array.isArray(options.columns)) this.#names = [...(options.columns as string[])];
  }

  write(text: string): void {
    const { delimiter, quote, maxRecordBytes } = this.#options;
    const end = text.length;
    let i = 0;
    if (this.#atStart && end > 0) {
      this.#atStart = false;
      if (text.charCodeAt(0) === BOM) i = 1;
    }
    while (i < end) {
      const state = this.#state;
      if (state === UNQUOTED || state === QUOTED) {
        // Hot path: run over plain characters and copy them with one slice, not one by one.
        const start = i;
        let bytes = this.#recordBytes;
        let column = this.#column;
        let line = this.#line;
        for (; i < end; i += 1) {
          const c = text.charCodeAt(i);
          if (c === quote) break;
          if (state === UNQUOTED && (c === delimiter || c === CR || c === LF)) break;
          column += 1;
          bytes += utf8Bytes(c);
          if (bytes > maxRecordBytes) throw this.#tooLarge(line, column);
          if (c === LF) {
            line += 1;
            column = 0;
          }
        }
        this.#field += text.slice(start, i);
        this.#recordBytes = bytes;
        this.#column = column;
        this.#line = line;
        if (i === end) break;
      }
      // One character with a meaning: a quote, delimiter, CR or LF, or any character after a
      // field start, a quote or a CR.
      const c = text.charCodeAt(i);
      this.#column += 1;
      switch (this.#state) {
        case FIELD_START:
          if (c === quote) {
            this.#count(c);
            this.#quoteLine = this.#line;
            this.#quoteColumn = this.#column;
            this.#state = QUOTED;
          } else if (c === delimiter) {
            this.#count(c);
            this.#fields.push('');
          } else if (c === LF) {
            this.#endLine();
          } else if (c === CR) {
            this.#pendCr(CR_UNQUOTED);
          } else {
            this.#state = UNQUOTED;
            this.#column -= 1;
            continue; // the hot path reads it
          }
          break;
        case UNQUOTED:
          if (c === delimiter) {
            this.#count(c);
            this.#endField();
          } else if (c === LF) {
            this.#endLine();
          } else if (c === CR) {
            this.#pendCr(CR_UNQUOTED);
          } else {
            throw this.#error(
              'INVALID_QUOTE',
              this.#line,
              this.#column,
              'quote inside an unquoted field',
            );
          }
          break;
        case QUOTED: // only the quote stops the hot path in a quoted field
          this.#count(c);
          this.#state = AFTER_QUOTE;
          break;
        case AFTER_QUOTE:
          if (c === quote) {
            this.#count(c);
            this.#field += text[i];
            this.#state = QUOTED;
          } else if (c === delimiter) {
            this.#count(c);
            this.#endField();
          } else if (c === LF) {
            this.#endLine();
          } else if (c === CR) {
            this.#pendCr(CR_AFTER_QUOTE);
          } else {
            throw this.#error(
              'INVALID_QUOTE',
              this.#line,
              this.#column,
              'character after a closing quote',
            );
          }
          break;
        case CR_UNQUOTED:
          if (c === LF) {
            this.#endLine();
          } else {
            // The CR was data after all; this character is read again as part of the field.
            this.#crIsData();
            this.#column -= 1;
            continue;
          }
          break;
        case CR_AFTER_QUOTE:
          if (c !== LF) throw this.#crAfterQuoteError();
          this.#endLine();
          break;
      }
      i += 1;
    }
  }

  /** The input is over: finish the last record, which needs no line ending. */
  end(): void {
    switch (this.#state) {
      case QUOTED:
        throw this.#error(
          'UNCLOSED_QUOTE',
          this.#quoteLine,
          this.#quoteColumn,
          'input ends inside quotes',
        );
      case CR_AFTER_QUOTE:
        throw this.#crAfterQuoteError();
      case CR_UNQUOTED:
        this.#crIsData();
        break;
    }
    // Nothing since the last line ending: the final line ending adds no record.
    if (this.#recordBytes > 0) this.#endRecord();
  }

  /** Counts one character of the current record and enforces maxRecordBytes at it. */
  #count(c: number, line = this.#line, column = this.#column): void {
    this.#recordBytes += utf8Bytes(c);
    if (this.#recordBytes > this.#options.maxRecordBytes) throw this.#tooLarge(line, column);
  }

  #tooLarge(line: number, column: number): CsvParseError {
    const detail = `record exceeds maxRecordBytes (${this.#options.maxRecordBytes})`;
    return this.#error('RECORD_TOO_LARGE', line, column, detail);
  }

  #pendCr(state: number): void {
    this.#crLine = this.#line;
    this.#crColumn = this.#column;
    this.#state = state;
  }

  #crIsData(): void {
    this.#count(CR, this.#crLine, this.#crColumn);
    this.#field += '\r';
    this.#state = UNQUOTED;
  }

  #crAfterQuoteError(): CsvParseError {
    return this.#error(
      'INVALID_QUOTE',
      this.#crLine,
      this.#crColumn,
      'CR without LF after a closing quote',
    );
  }

  #endField(): void {
    this.#fields.push(this.#field);
    this.#field = '';
    this.#state = FIELD_START;
  }

  /** An LF outside quotes: ends the record. With nothing read since the last one, the line is empty. */
  #endLine(): void {
    if (this.#recordBytes > 0 || !this.#options.skipEmptyLines) this.#endRecord();
    this.#state = FIELD_START;
    this.#line += 1;
    this.#column = 0;
    this.#recordLine = this.#line;
  }

  #endRecord(): void {
    this.#fields.push(this.#field);
    const fields = this.#fields;
    this.#field = '';
    this.#fields = [];
    this.#recordBytes = 0;
    this.#state = FIELD_START;
    const record = this.#record;
    this.#record += 1;

    if (this.#options.columns === true && this.#names === undefined) {
      this.#names = fields;
      return;
    }
    if (this.#names === undefined) {
      this.#emit(fields);
      return;
    }
    if (fields.length !== this.#names.length) {
      throw this.#error(
        'COLUMN_MISMATCH',
        this.#recordLine,
        1,
        `${fields.length} fields where ${this.#names.length} columns are named`,
        record,
      );
    }
    // fromEntries defines own properties, so a column named "__proto__" is just a key.
    this.#emit(Object.fromEntries(this.#names.map((name, k) => [name, fields[k] ?? ''])));
  }

  #error(
    code: CsvErrorCode,
    line: number,
    column: number,
    detail: string,
    record = this.#record,
  ): CsvParseError {
    return new CsvParseError(code, line, column, record, detail);
  }
}

/** Bytes to text across chunk boundaries: a character split between chunks is held until complete. */
class ChunkDecoder {
  // StringDecoder keeps a BOM in the text (the core drops it, for string input as well), and is
  // several times faster than TextDecoder on Buffers.
  readonly #decoder = new StringDecoder('utf8');

  decode(chunk: unknown): string {
    if (typeof chunk === 'string') return chunk;
    if (chunk instanceof Uint8Array) return this.#decoder.write(chunk);
    throw new TypeError(`input chunks must be strings or Buffers, got ${typeof chunk}`);
  }

  end(): string {
    return this.#decoder.end();
  }
}

class CsvParserStream extends Transform {
  readonly #core: CsvCore;
  readonly #decoder = new ChunkDecoder();
  /** Ends the stream with the parse error, once the records before it have been read. */
  #fail: (() => void) | undefined;

  constructor(options: ResolvedOptions) {
    super({ readableObjectMode: true });
    this.#core = new CsvCore(options, (record) => {
      // The Transform holds back our callback while its readable side is full: backpressure.
      this.push(record);
    });
  }

  override _transform(
    chunk: unknown,
    _encoding: BufferEncoding,
    callback: TransformCallback,
  ): void {
    this.#step(() => this.#core.write(this.#decoder.decode(chunk)), callback);
  }

  override _flush(callback: TransformCallback): void {
    this.#step(() => {
      this.#core.write(this.#decoder.end());
      this.#core.end();
    }, callback);
  }

  #step(work: () => void, callback: TransformCallback): void {
    try {
      work();
    } catch (error) {
      // Failing now would destroy the stream and drop the records pushed but not yet read;
      // the contract delivers them first, so the error waits until the buffer is empty.
      this.#fail = () => callback(error as Error);
      this.#failWhenDrained();
      return;
    }
    callback();
  }

  // Every consumer (for await, pipe, 'data', 'readable') takes records through read().
  override read(size?: number): unknown {
    const record: unknown = super.read(size);
    this.#failWhenDrained();
    return record;
  }

  #failWhenDrained(): void {
    if (this.#fail !== undefined && this.readableLength === 0) {
      const fail = this.#fail;
      this.#fail = undefined;
      fail();
    }
  }
}

/**
 * A Transform stream: bytes (UTF-8) or strings in, records out in object mode.
 * @throws {TypeError} when delimiter or quote is not one UTF-16 code unit, is CR or LF, or they are equal; when columns is not a boolean or an array of strings
 * @throws {RangeError} when maxRecordBytes is not a positive integer or Infinity
 */
export function createCsvParser(options?: CsvParserOptions): Transform {
  return new CsvParserStream(resolveOptions(options));
}

/**
 * Parses a whole string, or chunks from a sync or async iterable, pulling the next chunk only
 * once the records of the previous one have been consumed.
 */
export function parseCsv(
  input: string | Iterable<string | Buffer> | AsyncIterable<string | Buffer>,
  options?: CsvParserOptions,
): AsyncGenerator<CsvRecord> {
  const resolved = resolveOptions(options);
  if (typeof input === 'string') return records([input], resolved);
  if (
    typeof input !== 'object' ||
    input === null ||
    !(Symbol.iterator in input || Symbol.asyncIterator in input)
  ) {
    throw new TypeError('input must be a string or an iterable of strings or Buffers');
  }
  return records(input, resolved);
}

async function* records(
  input: Iterable<string | Buffer> | AsyncIterable<string | Buffer>,
  options: ResolvedOptions,
): AsyncGenerator<CsvRecord> {
  const batch: CsvRecord[] = [];
  const core = new CsvCore(options, (record) => batch.push(record));
  const decoder = new ChunkDecoder();
  let failure: unknown;
  const feed = (work: () => void): void => {
    try {
      work();
    } catch (error) {
      failure = error;
    }
  };
  for await (const chunk of input) {
    feed(() => core.write(decoder.decode(chunk)));
    // Records of one chunk are yielded before the next chunk is pulled, and before its error.
    yield* batch.splice(0);
    if (failure !== undefined) throw failure;
  }
  feed(() => {
    core.write(decoder.end());
    core.end();
  });
  yield* batch.splice(0);
  if (failure !== undefined) throw failure;
}
