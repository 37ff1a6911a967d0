// streaming-csv, a second design: the way many candidates write it. One character at a time
// (`field += ch`), positions recomputed from counters, bytes decoded by TextDecoder, and the
// generator pulling chunks with its own next() loop (so it closes the source itself). It exists
// to check that the grader accepts a correct parser unlike the reference.
import { Transform, type TransformCallback } from 'node:stream';

export interface CsvParserOptions {
  delimiter?: string;
  quote?: string;
  columns?: boolean | readonly string[];
  skipEmptyLines?: boolean;
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

interface Settings {
  delimiter: string;
  quote: string;
  names: readonly string[] | 'header' | undefined;
  skipEmptyLines: boolean;
  maxRecordBytes: number;
}

function settings(options: unknown): Settings {
  if (options === undefined) return settings({});
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`options must be an object, got ${typeof options}`);
  }
  const o = options as Record<string, unknown>;
  const single = (name: string, fallback: string): string => {
    const value = o[name] ?? fallback;
    if (typeof value !== 'string' || value.length !== 1 || value === '\r' || value === '\n') {
      throw new TypeError(`${name} must be one character other than CR and LF`);
    }
    return value;
  };
  const delimiter = single('delimiter', ',');
  const quote = single('quote', '"');
  if (delimiter === quote) throw new TypeError(`delimiter and quote are both ${quote}`);
  const columns = o.columns ?? false;
  let names: Settings['names'];
  if (columns === true) names = 'header';
  else if (Array.isArray(columns) && columns.every((name) => typeof name === 'string')) {
    names = columns;
  } else if (columns !== false) throw new TypeError('columns must be a boolean or string[]');
  const skipEmptyLines = o.skipEmptyLines ?? true;
  if (typeof skipEmptyLines !== 'boolean') throw new TypeError('skipEmptyLines must be boolean');
  const maxRecordBytes = o.maxRecordBytes ?? 1_048_576;
  if (typeof maxRecordBytes !== 'number') throw new TypeError('maxRecordBytes must be a number');
  if (
    maxRecordBytes !== Infinity &&
    !(Number.isSafeInteger(maxRecordBytes) && maxRecordBytes >= 1)
  ) {
    throw new RangeError(`maxRecordBytes must be a positive integer or Infinity`);
  }
  return { delimiter, quote, names, skipEmptyLines, maxRecordBytes };
}

type Mode = 'start' | 'plain' | 'quoted' | 'quote?' | 'cr' | 'quote-cr';

/** One character at a time; `push` receives each finished record. */
class Parser {
  private mode: Mode = 'start';
  private field = '';
  private fields: string[] = [];
  private bytes = 0;
  private touched = false; // any character of this record read (an empty line has none)
  private line = 1;
  private column = 0;
  private records = 0; // records finished so far (the header included)
  private startLine = 1;
  private openLine = 0;
  private openColumn = 0;
  private crLine = 0;
  private crColumn = 0;
  private first = true;
  private names: readonly string[] | undefined;

  constructor(
    private readonly s: Settings,
    private readonly push: (record: CsvRecord) => void,
  ) {
    if (Array.isArray(s.names)) this.names = s.names;
  }

  feed(text: string): void {
    for (let i = 0; i < text.length; i += 1) {
      const ch = text[i]!;
      if (this.first) {
        this.first = false;
        if (ch === '\uFEFF') continue;
      }
      this.step(ch);
    }
  }

  finish(): void {
    if (this.mode === 'quoted') {
      throw this.fail('UNCLOSED_QUOTE', this.openLine, this.openColumn);
    }
    if (this.mode === 'quote-cr') throw this.fail('INVALID_QUOTE', this.crLine, this.crColumn);
    if (this.mode === 'cr') this.data('\r', this.crLine, this.crColumn);
    if (this.touched) this.endRecord();
  }

  private step(ch: string): void {
    this.column += 1;
    const { delimiter, quote } = this.s;
    switch (this.mode) {
      case 'cr':
        if (ch === '\n') return this.newline();
        this.data('\r', this.crLine, this.crColumn);
        this.column -= 1;
        return this.step(ch);
      case 'quote-cr':
        if (ch === '\n') return this.newline();
        throw this.fail('INVALID_QUOTE', this.crLine, this.crColumn);
      case 'quoted':
        this.count(ch);
        if (ch === quote) this.mode = 'quote?';
        else {
          this.field += ch;
          if (ch === '\n') {
            this.line += 1;
            this.column = 0;
          }
        }
        return;
      case 'quote?':
        if (ch === quote) {
          this.count(ch);
          this.field += ch;
          this.mode = 'quoted';
        } else if (ch === delimiter) this.delimit();
        else if (ch === '\n') this.newline();
        else if (ch === '\r') this.pendCr('quote-cr');
        else throw this.fail('INVALID_QUOTE', this.line, this.column);
        return;
      case 'start':
      case 'plain':
        if (ch === delimiter) this.delimit();
        else if (ch === '\n') this.newline();
        else if (ch === '\r') this.pendCr('cr');
        else if (ch === quote) {
          if (this.mode === 'plain') throw this.fail('INVALID_QUOTE', this.line, this.column);
          this.count(ch);
          this.openLine = this.line;
          this.openColumn = this.column;
          this.mode = 'quoted';
        } else this.data(ch, this.line, this.column);
        return;
    }
  }

  private data(ch: string, line: number, column: number): void {
    this.count(ch, line, column);
    this.field += ch;
    this.mode = 'plain';
  }

  private pendCr(mode: 'cr' | 'quote-cr'): void {
    // Not yet a character of the record: a CR followed by LF is only a line ending.
    this.crLine = this.line;
    this.crColumn = this.column;
    this.mode = mode;
  }

  private count(ch: string, line = this.line, column = this.column): void {
    this.touched = true;
    const code = ch.charCodeAt(0);
    this.bytes += code < 0x80 ? 1 : code < 0x800 || (code >= 0xd800 && code < 0xe000) ? 2 : 3;
    if (this.bytes > this.s.maxRecordBytes) {
      throw this.fail('RECORD_TOO_LARGE', line, column);
    }
  }

  private delimit(): void {
    this.count(this.s.delimiter);
    this.fields.push(this.field);
    this.field = '';
    this.mode = 'start';
  }

  private newline(): void {
    if (this.touched || !this.s.skipEmptyLines) this.endRecord();
    this.mode = 'start';
    this.line += 1;
    this.column = 0;
    this.startLine = this.line;
  }

  private endRecord(): void {
    const fields = [...this.fields, this.field];
    this.fields = [];
    this.field = '';
    this.bytes = 0;
    this.touched = false;
    this.mode = 'start';
    this.records += 1;
    if (this.s.names === 'header' && this.names === undefined) {
      this.names = fields;
      return;
    }
    if (this.names === undefined) return this.push(fields);
    if (fields.length !== this.names.length) {
      throw new CsvParseError(
        'COLUMN_MISMATCH',
        this.startLine,
        1,
        this.records,
        `expected ${this.names.length} fields, got ${fields.length}`,
      );
    }
    const object: Record<string, string> = {};
    this.names.forEach((name, k) => {
      Object.defineProperty(object, name, {
        value: fields[k],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    });
    this.push(object);
  }

  private fail(code: CsvErrorCode, line: number, column: number): CsvParseError {
    return new CsvParseError(code, line, column, this.records + 1, code.toLowerCase());
  }
}

/** UTF-8 across chunk boundaries; TextDecoder drops a leading BOM itself, and the parser too. */
function decoder(): { text(chunk: unknown): string; end(): string } {
  const utf8 = new TextDecoder('utf-8');
  return {
    text(chunk) {
      if (typeof chunk === 'string') return chunk;
      if (Buffer.isBuffer(chunk)) return utf8.decode(chunk, { stream: true });
      throw new TypeError(`each input chunk must be a string or a Buffer, got ${typeof chunk}`);
    },
    end: () => utf8.decode(),
  };
}

export function createCsvParser(options?: CsvParserOptions): Transform {
  const s = settings(options);
  const bytes = decoder();
  let failed: (() => void) | undefined;
  const stream = new Transform({
    readableObjectMode: true,
    transform(chunk: unknown, _encoding, done: TransformCallback) {
      run(() => parser.feed(bytes.text(chunk)), done);
    },
    flush(done: TransformCallback) {
      run(() => {
        parser.feed(bytes.end());
        parser.finish();
      }, done);
    },
  });
  const parser = new Parser(s, (record) => stream.push(record));
  const run = (work: () => void, done: TransformCallback): void => {
    try {
      work();
      done();
    } catch (error) {
      // Records already pushed must be read before the stream fails (destroying drops them).
      failed = () => done(error as Error);
      check();
    }
  };
  const check = (): void => {
    if (failed && stream.readableLength === 0) {
      const fail = failed;
      failed = undefined;
      fail();
    }
  };
  const read = stream.read.bind(stream);
  stream.read = (size?: number): unknown => {
    const record: unknown = read(size);
    check();
    return record;
  };
  return stream;
}

export function parseCsv(
  input: string | Iterable<string | Buffer> | AsyncIterable<string | Buffer>,
  options?: CsvParserOptions,
): AsyncGenerator<CsvRecord> {
  const s = settings(options);
  if (typeof input === 'string') input = [input];
  else if (
    input === null ||
    typeof input !== 'object' ||
    (typeof (input as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] !== 'function' &&
      typeof (input as Partial<Iterable<unknown>>)[Symbol.iterator] !== 'function')
  ) {
    throw new TypeError('input must be a string or an iterable of chunks');
  }
  return generate(input, s);
}

async function* generate(
  input: Iterable<string | Buffer> | AsyncIterable<string | Buffer>,
  s: Settings,
): AsyncGenerator<CsvRecord> {
  const iterator =
    Symbol.asyncIterator in input ? input[Symbol.asyncIterator]() : input[Symbol.iterator]();
  let finished = false;
  const ready: CsvRecord[] = [];
  const parser = new Parser(s, (record) => ready.push(record));
  const bytes = decoder();
  try {
    for (;;) {
      const step = await iterator.next();
      if (step.done === true) break;
      let error: unknown;
      try {
        parser.feed(bytes.text(step.value));
      } catch (caught) {
        error = caught;
      }
      while (ready.length > 0) yield ready.shift()!;
      if (error !== undefined) throw error;
    }
    finished = true;
    let error: unknown;
    try {
      parser.feed(bytes.end());
      parser.finish();
    } catch (caught) {
      error = caught;
    }
    while (ready.length > 0) yield ready.shift()!;
    if (error !== undefined) throw error;
  } finally {
    // Stopped early (the consumer left, or a parse error): close the source.
    if (!finished) await iterator.return?.();
  }
}
