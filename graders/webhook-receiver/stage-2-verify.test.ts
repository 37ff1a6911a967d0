/**
 * Grader for webhook-receiver, stage 2: verify. Deliveries are signed by the grader; time comes
 * from `now` (and, for the defaults, from the fake clock's Date.now).
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { verify, WebhookVerificationError } from '@kata/webhook-receiver';
import { useFakeClock } from '../support/clock.ts';
import {
  delivery,
  digestFor,
  entryFor,
  expectCode,
  expectInvalid,
  NEW_SECRET,
  SECRET,
  show,
  T0,
  thrown,
  WRONG_SECRET,
} from './fixtures.ts';

vi.mock('node:crypto', async (importOriginal) =>
  (await import('./crypto-spy.ts')).spiedCrypto(await importOriginal()),
);

const at = (ms: number) => ({ now: () => ms });
const NOW = at(T0 * 1000);

beforeEach(() => {
  useFakeClock(T0 * 1000);
});

describe('stage 2: verify', () => {
  it('returns the id and the timestamp in seconds for a delivery signed with the secret [R4]', () => {
    const d = delivery();
    const got = verify(SECRET, d.headers, d.payload, NOW);
    expect(got, `verify(SECRET, ${show(d.headers)}, payload) [R4]`).toEqual({
      id: d.id,
      timestamp: T0,
    });
  });

  it('verifies a Buffer payload and a string payload of the same bytes alike [R4]', () => {
    const text = '{"customer":"Zoë","amount":4200}';
    const d = delivery({ payload: text });
    expect(verify(SECRET, d.headers, Buffer.from(text), NOW), 'as a Buffer [R4]').toEqual({
      id: d.id,
      timestamp: T0,
    });
    const bytes = Buffer.from([0x7b, 0x22, 0x78, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
    const raw = delivery({ payload: bytes });
    expect(
      verify(SECRET, raw.headers, bytes, NOW),
      `a Buffer with bytes that are not UTF-8 (${show(bytes)}) is verified byte for byte [R4]`,
    ).toEqual({ id: raw.id, timestamp: T0 });
  });

  it('rejects a payload changed by one byte, or re-serialized, with NO_MATCHING_SIGNATURE [R4]', () => {
    const sent = '{"amount": 4200, "currency": "eur"}';
    const d = delivery({ payload: sent });
    const changed = [
      '{"amount": 4201, "currency": "eur"}',
      JSON.stringify(JSON.parse(sent)),
      `${sent}\n`,
      Buffer.from(sent.replace('eur', 'eus')),
    ];
    for (const payload of changed) {
      expectCode(
        () => verify(SECRET, d.headers, payload, NOW),
        'NO_MATCHING_SIGNATURE',
        `verify with the payload ${show(payload)} instead of the signed ${show(sent)}`,
        '[R4]',
      );
    }
  });

  it('rejects a changed id or timestamp with NO_MATCHING_SIGNATURE [R4]', () => {
    const d = delivery();
    expectCode(
      () => verify(SECRET, { ...d.headers, 'webhook-id': 'msg_other' }, d.payload, NOW),
      'NO_MATCHING_SIGNATURE',
      'verify with webhook-id changed after signing',
      '[R4]',
    );
    expectCode(
      () => verify(SECRET, { ...d.headers, 'webhook-timestamp': String(T0 + 1) }, d.payload, NOW),
      'NO_MATCHING_SIGNATURE',
      'verify with webhook-timestamp changed by 1 s after signing',
      '[R4]',
    );
  });

  it('signs the timestamp as the header text received, leading zero included [R4]', () => {
    const text = `0${T0}`;
    const payload = '{"a":1}';
    const headers = {
      'webhook-id': 'msg_zero',
      'webhook-timestamp': text,
      'webhook-signature': entryFor(SECRET, 'msg_zero', text, payload),
    };
    expect(
      verify(SECRET, headers, payload, NOW),
      `webhook-timestamp ${show(text)}, signed over "msg_zero.${text}.{...}": the text as received [R4]`,
    ).toEqual({ id: 'msg_zero', timestamp: T0 });
  });

  it('matches header names whatever their case [R5]', () => {
    const d = delivery();
    const headers = {
      'Webhook-Id': d.headers['webhook-id']!,
      'WEBHOOK-TIMESTAMP': d.headers['webhook-timestamp']!,
      'webhook-Signature': d.headers['webhook-signature']!,
    };
    expect(verify(SECRET, headers, d.payload, NOW), `headers ${show(headers)} [R5]`).toEqual({
      id: d.id,
      timestamp: T0,
    });
  });

  it('uses the first value of a header given as an array [R5]', () => {
    const d = delivery();
    const headers = {
      'webhook-id': [d.id, 'msg_second'],
      'webhook-timestamp': [String(T0), '1'],
      'webhook-signature': [d.headers['webhook-signature']!, 'v1,AAAA'],
    };
    expect(verify(SECRET, headers, d.payload, NOW), `headers ${show(headers)} [R5]`).toEqual({
      id: d.id,
      timestamp: T0,
    });
  });

  it('accepts a delivery when any v1 entry matches, wherever it stands [R6]', () => {
    const d = delivery();
    const right = d.headers['webhook-signature']!;
    const wrong = entryFor(WRONG_SECRET, d.id, String(T0), d.payload);
    for (const signature of [
      `${wrong} ${right}`,
      `${right} ${wrong}`,
      `${wrong} ${right} ${wrong}`,
      `v1,AAAA ${right}`,
    ]) {
      expect(
        verify(SECRET, { ...d.headers, 'webhook-signature': signature }, d.payload, NOW),
        `webhook-signature ${show(signature)} [R6]`,
      ).toEqual({ id: d.id, timestamp: T0 });
    }
  });

  it('ignores entries of other versions, even with the right bytes, and text that is no entry [R6]', () => {
    const d = delivery();
    const bytes = digestFor(SECRET, d.id, String(T0), d.payload).toString('base64');
    for (const signature of [`v2,${bytes}`, `v1a,${bytes}`, `V1,${bytes}`, `v0,${bytes}`, bytes]) {
      expectCode(
        () => verify(SECRET, { ...d.headers, 'webhook-signature': signature }, d.payload, NOW),
        'NO_MATCHING_SIGNATURE',
        `webhook-signature ${show(signature)} (not a v1 entry)`,
        '[R6]',
      );
    }
    expect(
      verify(
        SECRET,
        { ...d.headers, 'webhook-signature': `v2,${bytes} garbage ,, v1,${bytes}` },
        d.payload,
        NOW,
      ),
      'entries of other versions and garbage beside a right v1 entry [R6]',
    ).toEqual({ id: d.id, timestamp: T0 });
  });

  it('verifies a delivery signed with any of several secrets [R7]', () => {
    for (const signer of [SECRET, NEW_SECRET]) {
      const d = delivery({ secret: signer });
      for (const secrets of [
        [SECRET, NEW_SECRET],
        [NEW_SECRET, SECRET],
        [WRONG_SECRET, signer],
      ]) {
        expect(
          verify(secrets, d.headers, d.payload, NOW),
          `signed with ${show(signer)}, verified with [${secrets.map(show).join(', ')}] [R7]`,
        ).toEqual({ id: d.id, timestamp: T0 });
      }
    }
    const d = delivery({ secret: NEW_SECRET });
    expectCode(
      () => verify([SECRET, WRONG_SECRET], d.headers, d.payload, NOW),
      'NO_MATCHING_SIGNATURE',
      'signed with a secret not in the list',
      '[R7]',
    );
    expect(verify([NEW_SECRET], d.headers, d.payload, NOW), 'one secret in an array [R7]').toEqual({
      id: d.id,
      timestamp: T0,
    });
  });

  it('treats a signature of the wrong length as no match, never as another error [R8]', () => {
    const d = delivery();
    const bytes = digestFor(SECRET, d.id, String(T0), d.payload);
    for (const signature of [
      `v1,${bytes.subarray(0, 31).toString('base64')}`,
      `v1,${bytes.subarray(0, 16).toString('base64')}`,
      `v1,${Buffer.concat([bytes, Buffer.from([0])]).toString('base64')}`,
      `v1,${Buffer.concat([bytes, bytes]).toString('base64')}`,
      'v1,',
      'v1,!!!!',
      `v1,${bytes.toString('base64').slice(0, 8)}`,
    ]) {
      expectCode(
        () => verify(SECRET, { ...d.headers, 'webhook-signature': signature }, d.payload, NOW),
        'NO_MATCHING_SIGNATURE',
        `webhook-signature ${show(signature)} (not 32 bytes; timingSafeEqual throws a RangeError on unequal lengths)`,
        '[R8]',
      );
    }
  });

  it('throws MISSING_HEADER for each header missing or empty [R9]', () => {
    const d = delivery();
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const without = { ...d.headers };
      delete without[name];
      expectCode(
        () => verify(SECRET, without, d.payload, NOW),
        'MISSING_HEADER',
        `verify without ${name}`,
        '[R9]',
      );
      expectCode(
        () => verify(SECRET, { ...d.headers, [name]: '' }, d.payload, NOW),
        'MISSING_HEADER',
        `verify with ${name} empty`,
        '[R9]',
      );
    }
    expectCode(() => verify(SECRET, {}, d.payload, NOW), 'MISSING_HEADER', 'no headers', '[R9]');
  });

  it('throws errors that are WebhookVerificationError instances of Error, with a code [R9]', () => {
    const error = thrown(() => verify(SECRET, {}, '{}', NOW));
    expect(error instanceof WebhookVerificationError, `got ${show(error)} [R9]`).toBe(true);
    expect(error instanceof Error, 'a WebhookVerificationError is an Error [R9]').toBe(true);
    expect((error as Error).name, 'its name, as the stub gives it [R9]').toBe(
      'WebhookVerificationError',
    );
  });

  it.each(['abc', '-1', '1.5', '1e9', '0x10', ' 5', '5 ', '+5', '１２３', `${T0}s`])(
    'throws INVALID_TIMESTAMP for webhook-timestamp %j [R9]',
    (timestamp) => {
      const d = delivery();
      expectCode(
        () => verify(SECRET, { ...d.headers, 'webhook-timestamp': timestamp }, d.payload, NOW),
        'INVALID_TIMESTAMP',
        `webhook-timestamp ${show(timestamp)} (not /^[0-9]+$/)`,
        '[R9]',
      );
    },
  );

  it('checks the faults in order: missing, invalid, too old, too new, no match [R9]', () => {
    const d = delivery();
    const badSignature = 'v1,AAAA';
    const cases: Array<[Record<string, string>, string, string]> = [
      [
        { 'webhook-timestamp': 'abc', 'webhook-signature': badSignature },
        'MISSING_HEADER',
        'no webhook-id, an invalid timestamp and a bad signature',
      ],
      [
        { 'webhook-id': d.id, 'webhook-timestamp': 'abc' },
        'MISSING_HEADER',
        'no webhook-signature and an invalid timestamp',
      ],
      [
        { 'webhook-id': d.id, 'webhook-timestamp': '-5', 'webhook-signature': badSignature },
        'INVALID_TIMESTAMP',
        'an invalid timestamp and a bad signature',
      ],
      [
        {
          'webhook-id': d.id,
          'webhook-timestamp': String(T0 - 3600),
          'webhook-signature': badSignature,
        },
        'TIMESTAMP_TOO_OLD',
        'a timestamp an hour old and a bad signature',
      ],
      [
        {
          'webhook-id': d.id,
          'webhook-timestamp': String(T0 + 3600),
          'webhook-signature': badSignature,
        },
        'TIMESTAMP_TOO_NEW',
        'a timestamp an hour ahead and a bad signature',
      ],
      [
        { 'webhook-id': d.id, 'webhook-timestamp': String(T0), 'webhook-signature': badSignature },
        'NO_MATCHING_SIGNATURE',
        'only a bad signature',
      ],
    ];
    for (const [headers, code, what] of cases) {
      expectCode(
        () => verify(SECRET, headers, d.payload, NOW),
        code as 'MISSING_HEADER',
        `verify with ${what}`,
        '[R9]',
      );
    }
  });

  it('accepts a timestamp exactly toleranceMs old or ahead, and refuses 1 ms more [R10]', () => {
    const d = delivery();
    const signed = T0 * 1000;
    for (const toleranceMs of [300_000, 1_000, 0]) {
      const options = (nowMs: number) => ({ toleranceMs, now: () => nowMs });
      expect(
        verify(SECRET, d.headers, d.payload, options(signed + toleranceMs)),
        `toleranceMs ${toleranceMs}, now exactly toleranceMs after the timestamp [R10]`,
      ).toEqual({ id: d.id, timestamp: T0 });
      expect(
        verify(SECRET, d.headers, d.payload, options(signed - toleranceMs)),
        `toleranceMs ${toleranceMs}, now exactly toleranceMs before the timestamp [R10]`,
      ).toEqual({ id: d.id, timestamp: T0 });
      expectCode(
        () => verify(SECRET, d.headers, d.payload, options(signed + toleranceMs + 1)),
        'TIMESTAMP_TOO_OLD',
        `toleranceMs ${toleranceMs}, now toleranceMs + 1 ms after the timestamp`,
        '[R10]',
      );
      expectCode(
        () => verify(SECRET, d.headers, d.payload, options(signed - toleranceMs - 1)),
        'TIMESTAMP_TOO_NEW',
        `toleranceMs ${toleranceMs}, now toleranceMs + 1 ms before the timestamp`,
        '[R10]',
      );
    }
  });

  it('defaults to a tolerance of 300 000 ms and to Date.now [R10]', () => {
    const d = delivery();
    vi.setSystemTime(T0 * 1000 + 300_000);
    expect(verify(SECRET, d.headers, d.payload), 'Date.now() 300 000 ms after [R10]').toEqual({
      id: d.id,
      timestamp: T0,
    });
    vi.setSystemTime(T0 * 1000 + 300_001);
    expectCode(
      () => verify(SECRET, d.headers, d.payload),
      'TIMESTAMP_TOO_OLD',
      'verify with no options, Date.now() 300 001 ms after the timestamp',
      '[R10]',
    );
    vi.setSystemTime(T0 * 1000 - 300_000);
    expect(verify(SECRET, d.headers, d.payload, {}), 'Date.now() 300 000 ms before [R10]').toEqual({
      id: d.id,
      timestamp: T0,
    });
    vi.setSystemTime(T0 * 1000 - 300_001);
    expectCode(
      () => verify(SECRET, d.headers, d.payload, {}),
      'TIMESTAMP_TOO_NEW',
      'verify with {}, Date.now() 300 001 ms before the timestamp',
      '[R10]',
    );
  });

  it('uses options.now rather than Date.now when given [R10]', () => {
    const d = delivery({ timestamp: 1614265330 });
    expect(
      verify(SECRET, d.headers, d.payload, at(1614265330 * 1000 + 5_000)),
      'a timestamp of 2021 is fine when now() says 2021, whatever Date.now() says [R10]',
    ).toEqual({ id: d.id, timestamp: 1614265330 });
  });

  it('throws a TypeError for secrets that are not a non-empty string or array of them [R11]', () => {
    const d = delivery();
    for (const secrets of ['', [], [''], [SECRET, 42], 42, undefined, null]) {
      for (const headers of [d.headers, {}]) {
        expectInvalid(
          () => verify(secrets as unknown as string, headers, d.payload, NOW),
          TypeError,
          'secret',
          `verify(${show(secrets)}, ${Object.keys(headers).length === 0 ? '{}' : 'headers'}, ...)`,
          '[R11]',
        );
      }
    }
  });

  it('checks toleranceMs: a TypeError for a non-number, a RangeError for a negative or NaN [R11]', () => {
    const d = delivery();
    expectInvalid(
      () => verify(SECRET, d.headers, d.payload, { toleranceMs: '1000' as unknown as number }),
      TypeError,
      'toleranceMs',
      "verify(..., { toleranceMs: '1000' })",
      '[R11]',
    );
    for (const toleranceMs of [-1, Number.NaN]) {
      for (const headers of [d.headers, {}]) {
        expectInvalid(
          () => verify(SECRET, headers, d.payload, { toleranceMs, now: () => T0 * 1000 }),
          RangeError,
          'toleranceMs',
          `verify(..., { toleranceMs: ${toleranceMs} })`,
          '[R11]',
        );
      }
    }
  });
});
