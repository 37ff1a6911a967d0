/** Stage 1: parseCsv over a whole string: records, fields, quotes, line endings, the BOM. */
import { describe, it } from 'vitest';
import { expectRecords } from './fixtures.ts';

describe('stage 1: fields, quotes and line endings', () => {
  it('splits records at LF and CRLF and fields at commas [R1, R3]', async () => {
    await expectRecords(
      'a,b\nc,d\r\ne,f',
      [
        ['a', 'b'],
        ['c', 'd'],
        ['e', 'f'],
      ],
      'records end at LF or CRLF, and the last record needs no line ending',
      'R1, R3',
    );
  });

  it('adds no record for a final line ending [R1]', async () => {
    await expectRecords(
      'a,b\n',
      [['a', 'b']],
      'a final LF ends the last record, it does not start one',
      'R1',
    );
    await expectRecords(
      'a\r\n',
      [['a']],
      'a final CRLF ends the last record, it does not start one',
      'R1',
    );
  });

  it('keeps empty fields at the start, middle and end of a record [R3]', async () => {
    await expectRecords(
      ',a,,\n,',
      [
        ['', 'a', '', ''],
        ['', ''],
      ],
      'n delimiters make n + 1 fields, empty ones included',
      'R3',
    );
  });

  it('keeps delimiters, CR and LF inside quotes as data [R3]', async () => {
    await expectRecords(
      '"a,b","c\nd","e\r\nf",g',
      [['a,b', 'c\nd', 'e\r\nf', 'g']],
      'inside quotes the delimiter, CR and LF are data',
      'R3',
    );
  });

  it('reads "" inside quotes as one quote character [R3]', async () => {
    await expectRecords(
      '"say ""hi""",""""\n""',
      [['say "hi"', '"'], ['']],
      '"" inside a quoted field is one ", and "" alone is one empty field',
      'R3',
    );
    await expectRecords(
      '"a"""',
      [['a"']],
      '"a""" is the field a": the "" is an escaped quote, then the closing quote',
      'R3',
    );
  });

  it('treats a lone CR as data, never as a line break [R2]', async () => {
    await expectRecords(
      'a\rb,\r\nc\r',
      [['a\rb', ''], ['c\r']],
      'only LF and CRLF end a record; a CR not followed by LF stays in the field, even at the end',
      'R2',
    );
    await expectRecords('a\r', [['a\r']], 'a CR as the very last character is data', 'R2');
  });

  it('keeps spaces and non-ASCII text exactly as written [R3]', async () => {
    await expectRecords(
      ' a , é😀 ,x y',
      [[' a ', ' é😀 ', 'x y']],
      'fields are not trimmed, and text is not altered',
      'R3',
    );
  });

  it('drops a byte-order mark at the start of the input only [R4]', async () => {
    await expectRecords(
      '\uFEFFa,b',
      [['a', 'b']],
      'a leading BOM (U+FEFF) is not part of the first field',
      'R4',
    );
    await expectRecords(
      'a,\uFEFFb',
      [['a', '\uFEFFb']],
      'a U+FEFF after the start is ordinary data',
      'R4',
    );
    await expectRecords('\uFEFF', [], 'a BOM alone is empty input: no records', 'R4');
  });

  it('skips empty lines by default and yields nothing for empty input [R1, R6]', async () => {
    await expectRecords('', [], 'empty input has no records', 'R1');
    await expectRecords(
      '\na\n\n\r\nb\n\n',
      [['a'], ['b']],
      'skipEmptyLines defaults to true: lines with no characters at all are skipped',
      'R6',
    );
  });
});
