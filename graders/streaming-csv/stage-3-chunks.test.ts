/** Stage 3: chunked input from both entry points, and the Transform stream. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCsvParser, parseCsv, type CsvParserOptions } from '@kata/streaming-csv';
import { assertProperty } from '../support/property.ts';
import {
  describeCut,
  describeError,
  ENTRY_POINTS,
  nextTick,
  rethrowIfNotImplemented,
  show,
  splits,
  TRICKY,
  via,
  viaParseCsv,
  viaStream,
  within,
} from './fixtures.ts';

describe('stage 3: chunked input and the Transform stream', () => {
  const INPUT = 'id,text\r\n1,"a,""b"""\r\n2,é😀\n';
  const RECORDS = [
    ['id', 'text'],
    ['1', 'a,"b"'],
    ['2', 'é😀'],
  ];

  it('keeps a U+FEFF that starts a later chunk: only the start of the input can hold a byte-order mark [R4, R16]', async () => {
    const outcome = await viaParseCsv(['a,', '\uFEFFb\n']);
    expect(outcome.error, `failed with ${describeError(outcome.error)} [R16]`).toBeUndefined();
    expect(
      outcome.records,
      "parseCsv(['a,', '\\uFEFFb\\n']): U+FEFF in the middle of the input is data [R4, R16]",
    ).toEqual([['a', '\uFEFFb']]);
  });

  it('parseCsv reads an array of string chunks, an array of Buffers, a sync generator and an async iterable [R16]', async () => {
    const strings = ['id,te', 'xt\r', '\n1,"a,"', '"b"""\r\n2,é', '😀\n'];
    const bytes = Buffer.from(INPUT);
    const buffers = [bytes.subarray(0, 7), bytes.subarray(7, 30), bytes.subarray(30)];
    async function* source(): AsyncGenerator<Buffer> {
      for (const buffer of buffers) {
        await nextTick();
        yield buffer;
      }
    }
    function* syncSource(): Generator<string> {
      yield* strings;
    }
    for (const [what, input] of [
      ['an array of strings', strings],
      ['an array of Buffers', buffers],
      ['a sync generator of strings', syncSource()],
      ['an async generator of Buffers', source()],
    ] as const) {
      const outcome = await viaParseCsv(input);
      expect(
        outcome.error,
        `parseCsv over ${what} failed: ${describeError(outcome.error)} [R16]`,
      ).toBeUndefined();
      expect(
        outcome.records,
        `parseCsv over ${what}: ${Array.isArray(input) ? show(input.map(String)) : show(INPUT)} [R16]`,
      ).toEqual(RECORDS);
    }
  });

  it('createCsvParser parses Buffers and strings in stream.pipeline [R16]', async () => {
    for (const [what, chunks] of [
      ['Buffers', [Buffer.from(INPUT.slice(0, 12)), Buffer.from(INPUT.slice(12))]],
      ['strings', [INPUT.slice(0, 12), INPUT.slice(12)]],
    ] as const) {
      const outcome = await viaStream([...chunks]);
      expect(
        outcome.error,
        `the pipeline over ${what} failed: ${describeError(outcome.error)} [R16]`,
      ).toBeUndefined();
      expect(outcome.records, `createCsvParser() over ${what} of ${show(INPUT)} [R16]`).toEqual(
        RECORDS,
      );
    }
  });

  it('createCsvParser yields records to a for await loop [R16]', async () => {
    const parser = createCsvParser();
    parser.end(Buffer.from(INPUT));
    const read = async (): Promise<unknown[]> => {
      const records: unknown[] = [];
      for await (const record of parser) records.push(record);
      return records;
    };
    expect(
      await within(read(), 'for await over createCsvParser()'),
      'records read with for await from createCsvParser() fed the whole input [R16]',
    ).toEqual(RECORDS);
  });

  for (const fixture of TRICKY) {
    for (const entry of ENTRY_POINTS) {
      it(`gives the same records from ${entry} at every byte split: ${fixture.name} [R16, ${fixture.rules}]`, async () => {
        const bytes = Buffer.from(fixture.input);
        const rules = `R16, ${fixture.rules}`;
        const whole = await via(entry, [bytes], fixture.options);
        expect(
          whole.error,
          `${entry} over ${show(fixture.input)} in one chunk failed: ${describeError(whole.error)} [${fixture.rules}]`,
        ).toBeUndefined();
        expect(
          whole.records,
          `${entry} over ${show(fixture.input)}${fixture.options ? ` with ${show(fixture.options)}` : ''} in one chunk [${fixture.rules}]`,
        ).toEqual(fixture.records);
        for (const { chunks, how } of splits(bytes)) {
          const outcome = await via(entry, chunks, fixture.options);
          const context = `${entry} over ${show(fixture.input)}${
            fixture.options ? ` with ${show(fixture.options)}` : ''
          }, ${describeCut(bytes, how)}`;
          expect(
            outcome.error,
            `${context} failed: ${describeError(outcome.error)} [${rules}]`,
          ).toBeUndefined();
          expect(
            outcome.records,
            `${context}: a chunk boundary (inside a UTF-8 character, between CR and LF, between the quotes of "") must not change the records [${rules}]`,
          ).toEqual(fixture.records);
        }
      });
    }
  }

  it('gives the same records from parseCsv at every split of a string [R16]', async () => {
    for (const fixture of TRICKY.slice(0, 3)) {
      for (let k = 1; k < fixture.input.length; k += 1) {
        const code = fixture.input.charCodeAt(k - 1);
        if (code >= 0xd800 && code <= 0xdbff) continue; // never cut a surrogate pair
        const chunks = [fixture.input.slice(0, k), fixture.input.slice(k)];
        const outcome = await viaParseCsv(chunks, fixture.options);
        expect(
          outcome.error,
          `parseCsv(${show(chunks)}) failed: ${describeError(outcome.error)} [R16]`,
        ).toBeUndefined();
        expect(
          outcome.records,
          `parseCsv(${show(chunks)}): string chunks cut anywhere [R16]`,
        ).toEqual(fixture.records);
      }
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
    it(`parses random records back through ${entry} however the bytes are chunked [R1, R2, R3, R16]`, async () => {
      await assertProperty(
        `${entry}: records serialized as RFC 4180 CSV (fields with quotes, commas, CR, LF, non-ASCII text, empty fields), cut into random chunks, parse back to the same records [R1, R2, R3, R16]`,
        fc.asyncProperty(csvCase, async (testCase) => {
          const text = serialize(testCase);
          const chunks = cut(Buffer.from(text), testCase.cuts);
          const outcome = await via(entry, chunks);
          expect(
            outcome.error,
            `${show(text)} failed: ${describeError(outcome.error)} [R16]`,
          ).toBeUndefined();
          expect(
            outcome.records,
            `records parsed back from ${show(text)} cut into ${show(chunks.map(String))} [R1, R2, R3, R16]`,
          ).toEqual(testCase.records);
        }),
        { numRuns: 75 },
      );
    });
  }

  it('rejects input that is not a string or an iterable, or a chunk that is not a string or Buffer, with a TypeError naming the input [R22]', async () => {
    const inputs: [string, unknown][] = [
      ['42', 42],
      ['null', null],
      ['undefined', undefined],
      ['{} (a plain object)', {}],
      ['[42] (a chunk that is a number)', [42]],
      ["['a\\n', {}] (a chunk that is an object)", ['a\n', {}]],
      [
        'an async generator yielding 42',
        (async function* () {
          await nextTick();
          yield 42;
        })(),
      ],
    ];
    for (const [what, input] of inputs) {
      let failure: unknown;
      try {
        const generator = parseCsv(input as string);
        const drain = async (): Promise<unknown> => {
          for (;;) {
            const result = await generator.next();
            if (result.done) return { done: true };
          }
        };
        failure = await within(
          drain().catch((error: unknown) => error),
          `parseCsv(${what}) read to the end`,
        );
      } catch (error) {
        failure = error;
      }
      rethrowIfNotImplemented(failure);
      expect(
        failure,
        `parseCsv(${what}): input is a string or an iterable of strings or Buffers, so the call throws or the generator rejects with a TypeError; got ${
          failure instanceof Error ? describeError(failure) : show(failure)
        } [R22]`,
      ).toBeInstanceOf(TypeError);
      expect(
        (failure as Error).message,
        `parseCsv(${what}): the message names the offending input (or chunk) [R22]`,
      ).toMatch(/input|chunk/i);
    }
  });

  describe('rejects invalid options from createCsvParser at the call', () => {
    const cases: readonly [
      string,
      CsvParserOptions,
      typeof TypeError | typeof RangeError,
      RegExp,
      string,
    ][] = [
      ['a delimiter that is not one code unit', { delimiter: ';;' }, TypeError, /delimiter/, 'R20'],
      ['a quote that is CR', { quote: '\r' }, TypeError, /quote/, 'R20'],
      [
        'a delimiter equal to the quote',
        { delimiter: '|', quote: '|' },
        TypeError,
        /delimiter|quote/,
        'R20',
      ],
      ['a maxRecordBytes of -5', { maxRecordBytes: -5 }, RangeError, /maxRecordBytes/, 'R21'],
      [
        'a maxRecordBytes that is a string',
        { maxRecordBytes: '5' as unknown as number },
        TypeError,
        /maxRecordBytes/,
        'R21',
      ],
      ['columns as a number', { columns: 1 as unknown as boolean }, TypeError, /columns/, 'R21'],
      [
        'skipEmptyLines as 1',
        { skipEmptyLines: 1 as unknown as boolean },
        TypeError,
        /skipEmptyLines/,
        'R21',
      ],
      ['options that are null', null as unknown as CsvParserOptions, TypeError, /options/, 'R21'],
    ];
    for (const [what, options, ErrorClass, message, rule] of cases) {
      it(`rejects ${what} with a ${ErrorClass.name} naming it [${rule}]`, () => {
        const call = `createCsvParser(${show(options)})`;
        let thrown: unknown;
        try {
          createCsvParser(options);
        } catch (error) {
          thrown = error;
        }
        rethrowIfNotImplemented(thrown);
        expect(
          thrown,
          `${call}: invalid options throw at the call, a ${ErrorClass.name}; got ${
            thrown === undefined ? 'no error' : describeError(thrown)
          } [${rule}]`,
        ).toBeInstanceOf(ErrorClass);
        expect(
          (thrown as Error).message,
          `${call}: the message names the option [${rule}]`,
        ).toMatch(message);
      });
    }
  });
});
