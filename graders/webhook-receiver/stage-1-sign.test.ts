/**
 * Grader for webhook-receiver, stage 1: sign. Secrets with and without their prefix, the signed
 * content over the exact bytes, the Standard Webhooks reference test vector, argument checks.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { sign } from '@kata/webhook-receiver';
import { useFakeClock } from '../support/clock.ts';
import { entryFor, expectInvalid, keyOf, NEW_SECRET, SECRET, show, VECTOR } from './fixtures.ts';

// Every file of this grader replaces node:crypto's timingSafeEqual with a spy (see crypto-spy.ts).
vi.mock('node:crypto', async (importOriginal) =>
  (await import('./crypto-spy.ts')).spiedCrypto(await importOriginal()),
);

beforeEach(() => {
  useFakeClock();
});

describe('stage 1: sign', () => {
  it('signs the Standard Webhooks reference test vector to its published signature [R1, R2]', () => {
    const got = sign(VECTOR.secret, VECTOR.id, VECTOR.timestamp, VECTOR.payload);
    expect(
      got,
      `sign(${show(VECTOR.secret)}, ${show(VECTOR.id)}, ${VECTOR.timestamp}, ${show(VECTOR.payload)}) ` +
        'must give the reference vector (HMAC-SHA256 keyed with the base64-decoded secret, over ' +
        '`${id}.${timestamp}.${payload}`, as `v1,` + base64) [R1, R2]',
    ).toBe(VECTOR.signature);
  });

  it('signs alike with and without the whsec_ prefix [R1]', () => {
    for (const secret of [SECRET, NEW_SECRET]) {
      const bare = secret.slice('whsec_'.length);
      expect(
        sign(bare, 'msg_1', 1_700_000_000, '{}'),
        `sign(${show(bare)}, ...) without the prefix must equal sign(${show(secret)}, ...) [R1]`,
      ).toBe(sign(secret, 'msg_1', 1_700_000_000, '{}'));
    }
  });

  it('keys the HMAC with the decoded key bytes, not with the secret text [R1]', () => {
    const got = sign(NEW_SECRET, 'msg_1', 1_700_000_000, '{"a":1}');
    expect(
      got,
      `sign(${show(NEW_SECRET)}, ...): the key is the base64 decoding of what follows whsec_ ` +
        `(${keyOf(NEW_SECRET).length} bytes) [R1]`,
    ).toBe(entryFor(NEW_SECRET, 'msg_1', '1700000000', '{"a":1}'));
  });

  it('returns v1, and the padded standard base64 of the 32-byte HMAC-SHA256 [R2]', () => {
    for (let i = 0; i < 20; i += 1) {
      const got = sign(SECRET, `msg_${i}`, 1_700_000_000 + i, `{"n":${i}}`);
      expect(got, `sign(..., msg_${i}, ...) gives ${show(got)} [R2]`).toMatch(
        /^v1,[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/,
      );
      expect(got, `sign(..., msg_${i}, ...) [R2]`).toBe(
        entryFor(SECRET, `msg_${i}`, String(1_700_000_000 + i), `{"n":${i}}`),
      );
    }
  });

  it('signs a string payload as its UTF-8 bytes [R2]', () => {
    for (const payload of ['', ' ', '{"name":"Zoë"}', '{"emoji":"💸"}', '{\n  "a" : 1\n}\n']) {
      expect(
        sign(SECRET, 'msg_utf8', 1_700_000_000, payload),
        `payload ${show(payload)} [R2]`,
      ).toBe(entryFor(SECRET, 'msg_utf8', '1700000000', payload));
    }
  });

  it('signs a Buffer payload byte for byte, bytes that are not UTF-8 included [R2]', () => {
    const payloads = [
      Buffer.from('{"name":"Zoë"}'),
      Buffer.from([0x7b, 0x22, 0x78, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x80, 0x22, 0x7d]),
      Buffer.from([0xc3, 0x28, 0x00, 0xa0]),
    ];
    for (const payload of payloads) {
      expect(
        sign(SECRET, 'msg_bytes', 1_700_000_000, payload),
        `sign(..., ${show(payload)}): the bytes are signed as they are, never decoded to a string and back [R2]`,
      ).toBe(entryFor(SECRET, 'msg_bytes', '1700000000', payload));
    }
    expect(
      sign(SECRET, 'msg_same', 1, Buffer.from('{"name":"Zoë"}')),
      'a Buffer of a string’s UTF-8 signs like the string [R2]',
    ).toBe(sign(SECRET, 'msg_same', 1, '{"name":"Zoë"}'));
  });

  it('signs the id and the timestamp it is given, each change giving another signature [R2]', () => {
    const base = sign(SECRET, 'msg_1', 1_700_000_000, '{}');
    expect(sign(SECRET, 'msg_2', 1_700_000_000, '{}'), 'another id [R2]').not.toBe(base);
    expect(sign(SECRET, 'msg_1', 1_700_000_001, '{}'), 'another timestamp [R2]').not.toBe(base);
    expect(sign(SECRET, 'msg_1', 0, '{}'), 'timestamp 0 is valid [R2]').toBe(
      entryFor(SECRET, 'msg_1', '0', '{}'),
    );
  });

  it.each([
    ['an empty secret', '', 'secret'],
    ['a number as secret', 42, 'secret'],
    ['an undefined secret', undefined, 'secret'],
  ])('throws a TypeError naming the secret for %s [R3]', (_what, secret, name) => {
    expectInvalid(
      () => sign(secret as unknown as string, 'msg_1', 1_700_000_000, '{}'),
      TypeError,
      name,
      `sign(${show(secret)}, 'msg_1', 1700000000, '{}')`,
      '[R3]',
    );
  });

  it('throws a TypeError naming the id for an id that is not a non-empty string [R3]', () => {
    for (const id of ['', 7, undefined]) {
      expectInvalid(
        () => sign(SECRET, id as unknown as string, 1_700_000_000, '{}'),
        TypeError,
        'id',
        `sign(secret, ${show(id)}, 1700000000, '{}')`,
        '[R3]',
      );
    }
  });

  it('throws a TypeError naming the timestamp for a timestamp that is not a number [R3]', () => {
    for (const timestamp of ['1700000000', undefined]) {
      expectInvalid(
        () => sign(SECRET, 'msg_1', timestamp as unknown as number, '{}'),
        TypeError,
        'timestamp',
        `sign(secret, 'msg_1', ${show(timestamp)}, '{}')`,
        '[R3]',
      );
    }
  });

  it('throws a RangeError naming the timestamp for one that is not an integer >= 0 [R3]', () => {
    for (const timestamp of [1.5, -1, Number.NaN, Infinity, Date.now() / 1000 + 0.25]) {
      expectInvalid(
        () => sign(SECRET, 'msg_1', timestamp, '{}'),
        RangeError,
        'timestamp',
        `sign(secret, 'msg_1', ${timestamp}, '{}')`,
        '[R3]',
      );
    }
  });
});
