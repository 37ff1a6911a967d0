/**
 * Shared by the webhook-receiver grader's stages: deliveries signed by the grader itself (with
 * node:crypto, never with the code under test), the reference test vector, checks of thrown errors
 * with messages that teach, and the plugin under Fastify's inject(). Not a test file.
 */
import { createHmac } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { expect, vi } from 'vitest';
import { WebhookVerificationError, type WebhookErrorCode } from '@kata/webhook-receiver';
import { expectInvalid, thrown } from '../support/errors.ts';
export { expectInvalid, thrown };

/**
 * The Standard Webhooks reference test vector: libraries/javascript/src/webhook.test.ts, test
 * "sign function works", in https://github.com/standard-webhooks/standard-webhooks (the npm
 * package `standardwebhooks` ships without its tests).
 */
export const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  payload: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
} as const;

export const SECRET = VECTOR.secret;
/** A second secret, as during a rotation. */
export const NEW_SECRET = `whsec_${Buffer.from('the rotated key, thirty-two bytes').toString('base64')}`;
/** A secret nobody signed with. */
export const WRONG_SECRET = `whsec_${Buffer.from('not the key of this delivery!').toString('base64')}`;

/** 2026-01-01T00:00:00Z in seconds: the grader's "now" unless a test says otherwise. */
export const T0 = Date.UTC(2026, 0, 1) / 1000;

/** The key bytes of a `whsec_` secret, decoded by the grader. */
export const keyOf = (secret: string): Buffer =>
  Buffer.from(secret.replace(/^whsec_/, ''), 'base64');

/** HMAC-SHA256 over `${id}.${timestamp}.` and the payload's bytes, with the decoded key. */
export function digestFor(
  secret: string,
  id: string,
  timestamp: string | number,
  payload: string | Buffer,
): Buffer {
  return createHmac('sha256', keyOf(secret)).update(`${id}.${timestamp}.`).update(payload).digest();
}

/** The `v1,<base64>` entry the grader expects. */
export const entryFor = (...args: Parameters<typeof digestFor>): string =>
  `v1,${digestFor(...args).toString('base64')}`;

export interface Delivery {
  id: string;
  /** Seconds. */
  timestamp: number;
  payload: string | Buffer;
  headers: Record<string, string>;
}

export const EVENT = { type: 'payment.succeeded', data: { amount: 4200, currency: 'eur' } };

/** A delivery signed with `secret` (default SECRET) by the grader. */
export function delivery(
  options: {
    secret?: string;
    id?: string;
    timestamp?: number;
    payload?: string | Buffer;
    /** Replaces the computed `webhook-signature`. */
    signature?: string;
  } = {},
): Delivery {
  const id = options.id ?? 'msg_2zWkWfJxeqU8r7cW4rVv8xkd';
  const timestamp = options.timestamp ?? T0;
  const payload = options.payload ?? JSON.stringify(EVENT);
  const signature =
    options.signature ?? entryFor(options.secret ?? SECRET, id, String(timestamp), payload);
  return {
    id,
    timestamp,
    payload,
    headers: {
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signature,
    },
  };
}

/** Any value as text for a failure message. */
export function show(value: unknown): string {
  if (value instanceof WebhookVerificationError) return `WebhookVerificationError(${value.code})`;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (Buffer.isBuffer(value)) return `<Buffer ${value.toString('hex')}>`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/** Expects `call` to throw a WebhookVerificationError with `code`. */
export function expectCode(
  call: () => unknown,
  code: WebhookErrorCode,
  what: string,
  rule: string,
): void {
  const error = thrown(call);
  expect(
    error instanceof WebhookVerificationError,
    `${what} must throw a WebhookVerificationError with code ${code}, got ${
      error === undefined ? 'no error (it verified)' : show(error)
    } ${rule}`,
  ).toBe(true);
  expect((error as WebhookVerificationError).code, `${what}: wrong code ${rule}`).toBe(code);
}

/** The time every grader of the plugin fakes: not setImmediate, which inject() needs. */
export function usePluginClock(nowMs = T0 * 1000): void {
  vi.useFakeTimers({
    toFake: ['Date', 'performance', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'],
    now: nowMs,
  });
}

/** Now, in whole seconds, on the (fake) clock. */
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** POSTs `d` to /webhooks through inject(); `contentType: null` sends none. */
export function post(
  app: FastifyInstance,
  d: Delivery,
  options: { contentType?: string | null; headers?: Record<string, string> } = {},
): Promise<LightMyRequestResponse> {
  const contentType = options.contentType === undefined ? 'application/json' : options.contentType;
  return app.inject({
    method: 'POST',
    url: '/webhooks',
    headers: {
      ...d.headers,
      ...(contentType === null ? {} : { 'content-type': contentType }),
      ...options.headers,
    },
    payload: d.payload,
  });
}

/** The JSON body of a response, or undefined when it is not JSON. */
export function jsonOf(response: LightMyRequestResponse): unknown {
  try {
    return JSON.parse(response.body) as unknown;
  } catch {
    return undefined;
  }
}

/** "401 {…}": a response for a failure message. */
export const describeResponse = (response: LightMyRequestResponse): string =>
  `${response.statusCode} ${response.body.slice(0, 300)}`;

/** A handler that records its calls and does what `behave` says (default: succeed). */
export function recordingHandler(
  behave: (event: unknown, meta: { id: string; timestamp: number }) => unknown = () => undefined,
): {
  handler: (event: unknown, meta: { id: string; timestamp: number }) => unknown;
  calls: Array<{ event: unknown; meta: { id: string; timestamp: number } }>;
} {
  const calls: Array<{ event: unknown; meta: { id: string; timestamp: number } }> = [];
  return {
    calls,
    handler: (event, meta) => {
      calls.push({ event, meta });
      return behave(event, meta);
    },
  };
}
