// Signed webhooks: implement sign, verify and webhookPlugin (see README.md).
import type { FastifyPluginAsync } from 'fastify';
import { NotImplementedError } from '../not-implemented.ts';

/** The three headers of a delivery. Names match in any case; an array uses its first value. */
export interface WebhookHeaders {
  /** The event's id, the same in every retry of it. */
  'webhook-id'?: string;
  /** When this attempt was signed: whole seconds since the epoch, digits only. */
  'webhook-timestamp'?: string;
  /** One or more space-separated `v1,<base64>` entries. */
  'webhook-signature'?: string;
}

/** Why a delivery failed verification, in the order {@link verify} checks. */
export const WEBHOOK_ERROR_CODES = [
  'MISSING_HEADER',
  'INVALID_TIMESTAMP',
  'TIMESTAMP_TOO_OLD',
  'TIMESTAMP_TOO_NEW',
  'NO_MATCHING_SIGNATURE',
] as const;

export type WebhookErrorCode = (typeof WEBHOOK_ERROR_CODES)[number];

/** Thrown by {@link verify} when a delivery must be refused; `code` says why. (Given finished.) */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  readonly code: WebhookErrorCode;

  /** @param message defaults to the code */
  constructor(code: WebhookErrorCode, message: string = code) {
    super(message);
    this.code = code;
  }
}

/** Options of {@link verify}. */
export interface VerifyOptions {
  /**
   * How far the signed timestamp may be from now, in either direction, in ms; a number >= 0.
   * Exactly `toleranceMs` away is accepted. @default 300_000
   */
  toleranceMs?: number;
  /** The current time, in epoch ms. @default Date.now */
  now?: () => number;
}

/** What {@link verify} returns for a delivery it accepts. */
export interface VerifiedDelivery {
  /** `webhook-id` as received. */
  id: string;
  /** `webhook-timestamp`, in seconds since the epoch. */
  timestamp: number;
}

/** Options of {@link webhookPlugin}. */
export interface WebhookPluginOptions {
  /** `whsec_<base64>` secrets (the prefix is optional); several during a key rotation. */
  secrets: string | string[];
  /**
   * Handles one verified event: `event` is the parsed JSON body. Returning (or a promise that
   * fulfils) answers 200; throwing (or rejecting) answers 500 and forgets the id.
   */
  handler: (event: unknown, meta: VerifiedDelivery) => unknown;
  /** As {@link VerifyOptions.toleranceMs}. @default 300_000 */
  toleranceMs?: number;
  /**
   * How long an id whose handler succeeded is remembered, in ms (at least this, at most twice
   * this); a number >= 0 (whether 0 is refused is up to you). @default 86_400_000 (24 h)
   */
  dedupeTtlMs?: number;
}

/**
 * The `webhook-signature` entry for a delivery: `v1,` followed by the base64 of HMAC-SHA256, keyed
 * with the secret's decoded bytes, over `${id}.${timestamp}.` and the payload's bytes.
 *
 * @param secret `whsec_` followed by the base64 of the key (the prefix is optional)
 * @param timestamp whole seconds since the epoch (not ms)
 * @param payload the exact body: a string is signed as UTF-8, a Buffer byte for byte
 * @throws {TypeError} when `secret` or `id` is not a non-empty string, or `timestamp` not a number
 * @throws {RangeError} when `timestamp` is not an integer >= 0
 */
export function sign(
  secret: string,
  id: string,
  timestamp: number,
  payload: string | Buffer,
): string {
  // TODO: decode the key, then HMAC the signed content.
  throw new NotImplementedError(
    `sign(${typeof secret}, ${typeof id}, ${typeof timestamp}, ${typeof payload})`,
  );
}

/**
 * Verifies one delivery: its headers, its timestamp against now, and its signatures against every
 * secret, compared with `crypto.timingSafeEqual`.
 *
 * @param secrets one secret or several (key rotation): any of them may have signed it
 * @param headers `webhook-id`, `webhook-timestamp`, `webhook-signature`, names in any case
 * @param payload the raw body as received, byte for byte (never a re-serialized JSON)
 * @returns the id and the timestamp (in seconds)
 * @throws {WebhookVerificationError} with the code of the first fault, in the order of
 *   {@link WEBHOOK_ERROR_CODES}
 * @throws {TypeError} when `secrets` is not a non-empty string or a non-empty array of them, or
 *   `toleranceMs` is not a number
 * @throws {RangeError} when `toleranceMs` is negative or NaN
 */
export function verify(
  secrets: string | string[],
  headers: WebhookHeaders | Record<string, string | string[] | undefined>,
  payload: string | Buffer,
  options: VerifyOptions = {},
): VerifiedDelivery {
  // TODO: headers, timestamp format, tolerance both ways, then any v1 entry against any secret.
  throw new NotImplementedError(
    `verify(${typeof secrets}, ${typeof headers}, ${typeof payload}, ${typeof options})`,
  );
}

/**
 * A Fastify plugin that registers `POST /webhooks`: it takes the body as raw bytes whatever its
 * content type, verifies it (400 for `MISSING_HEADER` and `INVALID_TIMESTAMP`, 401 for the other
 * codes, a JSON body with `code`), parses it as JSON (400 if it is not), and calls `handler` at
 * most once per event id (200; 500 if the handler fails, and the id is forgotten). The body limit
 * is the Fastify instance's `bodyLimit` (413).
 *
 * @example await app.register(webhookPlugin({ secrets: 'whsec_...', handler }))
 * @throws {TypeError} when `secrets` is invalid (as in {@link verify}), `handler` is not a
 *   function, or `toleranceMs` or `dedupeTtlMs` is not a number
 * @throws {RangeError} when `toleranceMs` or `dedupeTtlMs` is negative or NaN
 */
export function webhookPlugin(options: WebhookPluginOptions): FastifyPluginAsync {
  // TODO: check the options now; the returned plugin adds a raw-body content-type parser and the route.
  throw new NotImplementedError(`webhookPlugin(${typeof options})`);
}
