/**
 * Grader for webhook-receiver, stage 3: constant time and interoperability. A comparison that
 * stops at the first wrong byte gives the same answers as a constant-time one, and the timing
 * difference is nanoseconds per byte, far below what a test on a shared machine can measure. So
 * node:crypto's timingSafeEqual is replaced by a spy (crypto-spy.ts) that checks its arguments as
 * the real one does and answers what the test forces: verify must follow its answer. Then a
 * randomized check against the `standardwebhooks` library, in both directions.
 */
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { sign, verify } from '@kata/webhook-receiver';
import { useFakeClock } from '../support/clock.ts';
import { assertProperty } from '../support/property.ts';
import { timingSafeEqualCalls, withTimingSafeEqualAnswering } from './crypto-spy.ts';
import {
  delivery,
  digestFor,
  expectCode,
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

const NOW = { now: () => T0 * 1000 };

beforeEach(() => {
  useFakeClock(T0 * 1000);
});

describe('stage 3: constant time and interoperability', () => {
  it('compares a matching signature with crypto.timingSafeEqual [R12]', () => {
    const d = delivery();
    const before = timingSafeEqualCalls();
    const got = thrown(() => verify(SECRET, d.headers, d.payload, NOW));
    expect(got, `verify of a valid delivery threw ${show(got)} [R12]`).toBeUndefined();
    expect(
      timingSafeEqualCalls() - before,
      'verify of a valid delivery never called timingSafeEqual from node:crypto (imported as an ES ' +
        'module, from node:crypto or crypto); a comparison with ===, Buffer.equals or a loop of ' +
        'your own leaks, through its timing, how much of a forged signature was right [R12]',
    ).toBeGreaterThan(0);
  });

  it('refuses a valid signature when timingSafeEqual says the bytes differ [R12]', async () => {
    const d = delivery();
    const cases: Array<[string | string[], string, string]> = [
      [SECRET, d.headers['webhook-signature']!, 'one secret, one entry'],
      [[WRONG_SECRET, SECRET], d.headers['webhook-signature']!, 'two secrets'],
      [
        SECRET,
        `v1,${Buffer.alloc(32).toString('base64')} ${d.headers['webhook-signature']!}`,
        'two entries',
      ],
    ];
    await withTimingSafeEqualAnswering(false, () => {
      for (const [secrets, signature, what] of cases) {
        expectCode(
          () => verify(secrets, { ...d.headers, 'webhook-signature': signature }, d.payload, NOW),
          'NO_MATCHING_SIGNATURE',
          `${what}: a valid signature while timingSafeEqual answers false (something else decided the comparison)`,
          '[R12]',
        );
      }
    });
  });

  it('accepts a forged 32-byte signature when timingSafeEqual says the bytes are equal [R12]', async () => {
    const d = delivery();
    const forged = [
      `v1,${Buffer.alloc(32, 7).toString('base64')}`,
      `v1,${digestFor(WRONG_SECRET, d.id, String(T0), d.payload).toString('base64')}`,
    ];
    await withTimingSafeEqualAnswering(true, () => {
      for (const signature of forged) {
        const error = thrown(() =>
          verify(SECRET, { ...d.headers, 'webhook-signature': signature }, d.payload, NOW),
        );
        expect(
          error,
          `a forged signature ${show(signature)} while timingSafeEqual answers true must verify: ` +
            `its answer decides the comparison, nothing before or after it; got ${show(error)} [R12]`,
        ).toBeUndefined();
      }
    });
  });

  it('agrees with the standardwebhooks library on random deliveries, both ways [R1, R2, R4]', async () => {
    const arbitrary = fc.record({
      key: fc.uint8Array({ minLength: 1, maxLength: 64 }),
      prefixed: fc.boolean(),
      id: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 }),
      skew: fc.integer({ min: -299, max: 299 }),
      payload: fc.string({ unit: 'grapheme', maxLength: 200 }),
    });
    await assertProperty(
      'sign must give what standardwebhooks signs, and each must verify what the other signed ' +
        '(the secret is whsec_ + base64 of the key; the content `${id}.${timestamp}.${payload}`) [R1, R2, R4]',
      fc.property(arbitrary, ({ key, prefixed, id, skew, payload }) => {
        const base64 = Buffer.from(key).toString('base64');
        const secret = prefixed ? `whsec_${base64}` : base64;
        const timestamp = T0 + skew;
        const theirs = new Webhook(secret).sign(id, new Date(timestamp * 1000), payload);
        const ours = sign(secret, id, timestamp, payload);
        expect(ours, 'sign and standardwebhooks differ').toBe(theirs);
        const headers = {
          'webhook-id': id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': theirs,
        };
        expect(verify(secret, headers, payload)).toEqual({ id, timestamp });
        expect(verify([NEW_SECRET, secret], headers, Buffer.from(payload))).toEqual({
          id,
          timestamp,
        });
        new Webhook(secret).verify(
          payload,
          { ...headers, 'webhook-signature': ours },
          { jsonParse: false },
        );
      }),
    );
  });
});
