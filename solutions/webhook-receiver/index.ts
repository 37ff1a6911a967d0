// Signed webhooks, the Standard Webhooks scheme: sign, verify, and a Fastify receiver that handles
// each event id at most once.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';

/** The three headers of a delivery (any case; an array uses its first value). */
export interface WebhookHeaders {
  'webhook-id'?: string;
  'webhook-timestamp'?: string;
  'webhook-signature'?: string;
}

/** Why a delivery failed verification, in the order `verify` checks. */
export const WEBHOOK_ERROR_CODES = [
  'MISSING_HEADER',
  'INVALID_TIMESTAMP',
  'TIMESTAMP_TOO_OLD',
  'TIMESTAMP_TOO_NEW',
  'NO_MATCHING_SIGNATURE',
] as const;

export type WebhookErrorCode = (typeof WEBHOOK_ERROR_CODES)[number];

/** Thrown by {@link verify} when a delivery must be refused. */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  readonly code: WebhookErrorCode;

  constructor(code: WebhookErrorCode, message: string = code) {
    super(message);
    this.code = code;
  }
}

export interface VerifyOptions {
  /** How far the timestamp may be from now, either way, in ms; >= 0. @default 300_000 */
  toleranceMs?: number;
  /** The current time in epoch ms. @default Date.now */
  now?: () => number;
}

export interface VerifiedDelivery {
  id: string;
  /** `webhook-timestamp`, in seconds since the epoch. */
  timestamp: number;
}

export interface WebhookPluginOptions {
  secrets: string | string[];
  handler: (event: unknown, meta: VerifiedDelivery) => unknown;
  /** As {@link VerifyOptions.toleranceMs}. @default 300_000 */
  toleranceMs?: number;
  /** How long an id whose handler succeeded is remembered, in ms; >= 0. @default 86_400_000 */
  dedupeTtlMs?: number;
}

const PREFIX = 'whsec_';
const DEFAULT_TOLERANCE_MS = 5 * 60 * 1000;
const DEFAULT_DEDUPE_TTL_MS = 24 * 60 * 60 * 1000;
const SIGNATURE_BYTES = 32;

/** The key bytes of one secret; `name` is what an error message calls it. */
function keyOf(secret: unknown, name: string): Buffer {
  if (typeof secret !== 'string' || secret === '') {
    throw new TypeError(`${name} must be a non-empty string`);
  }
  return Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
}

function keysOf(secrets: unknown): Buffer[] {
  if (!Array.isArray(secrets)) return [keyOf(secrets, 'secrets')];
  if (secrets.length === 0) throw new TypeError('secrets must not be an empty array');
  return secrets.map((secret, i) => keyOf(secret, `secrets[${i}]`));
}

function checkDuration(value: unknown, name: string): void {
  if (value === undefined) return;
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number`);
  if (Number.isNaN(value) || value < 0) throw new RangeError(`${name} must be >= 0, got ${value}`);
}

/** HMAC-SHA256 of `${id}.${timestamp}.` followed by the payload's bytes, as they are. */
function digest(key: Buffer, id: string, timestamp: string, payload: string | Buffer): Buffer {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(payload).digest();
}

/**
 * The `webhook-signature` entry for a delivery: `v1,` and the base64 HMAC-SHA256 of
 * `${id}.${timestamp}.${payload}`. `timestamp` is in seconds since the epoch.
 */
export function sign(
  secret: string,
  id: string,
  timestamp: number,
  payload: string | Buffer,
): string {
  const key = keyOf(secret, 'secret');
  if (typeof id !== 'string' || id === '') throw new TypeError('id must be a non-empty string');
  if (typeof timestamp !== 'number') throw new TypeError('timestamp must be a number of seconds');
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new RangeError(`timestamp must be a non-negative integer of seconds, got ${timestamp}`);
  }
  return `v1,${digest(key, id, String(timestamp), payload).toString('base64')}`;
}

/** A header's value, whatever the case of its name; an array gives its first value; '' is none. */
function headerOf(headers: Record<string, unknown>, name: string): string | undefined {
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() === name) {
      const value = headers[key] as string | string[] | undefined;
      const first = Array.isArray(value) ? value[0] : value;
      return first || undefined;
    }
  }
  return undefined;
}

/**
 * Verifies one delivery: the headers, the timestamp against now, and the signature over the raw
 * payload with any of the secrets. Returns the id and the timestamp (seconds).
 */
export function verify(
  secrets: string | string[],
  headers: WebhookHeaders | Record<string, string | string[] | undefined>,
  payload: string | Buffer,
  options: VerifyOptions = {},
): VerifiedDelivery {
  const keys = keysOf(secrets);
  checkDuration(options.toleranceMs, 'toleranceMs');
  const toleranceMs = options.toleranceMs ?? DEFAULT_TOLERANCE_MS;
  const now = options.now ?? Date.now;

  const table = headers as Record<string, unknown>;
  const id = headerOf(table, 'webhook-id');
  const timestampText = headerOf(table, 'webhook-timestamp');
  const signatures = headerOf(table, 'webhook-signature');
  if (id === undefined || timestampText === undefined || signatures === undefined) {
    throw new WebhookVerificationError('MISSING_HEADER');
  }
  if (!/^[0-9]+$/.test(timestampText)) {
    throw new WebhookVerificationError('INVALID_TIMESTAMP');
  }
  const timestamp = Number(timestampText);
  const skewMs = now() - timestamp * 1000;
  if (skewMs > toleranceMs) throw new WebhookVerificationError('TIMESTAMP_TOO_OLD');
  if (-skewMs > toleranceMs) throw new WebhookVerificationError('TIMESTAMP_TOO_NEW');

  // The id and timestamp are signed as the texts received, so a '0'-padded timestamp is signed
  // with its zeros.
  const expected = keys.map((key) => digest(key, id, timestampText, payload));
  for (const entry of signatures.split(' ')) {
    if (!entry.startsWith('v1,')) continue;
    const given = Buffer.from(entry.slice(3), 'base64');
    // timingSafeEqual throws on unequal lengths, and a length leaks nothing secret.
    if (given.length !== SIGNATURE_BYTES) continue;
    for (const bytes of expected) {
      if (timingSafeEqual(given, bytes)) return { id, timestamp };
    }
  }
  throw new WebhookVerificationError('NO_MATCHING_SIGNATURE');
}

/** Statuses for a verification failure: the request is malformed (400) or not authentic (401). */
const BAD_REQUEST: ReadonlySet<WebhookErrorCode> = new Set(['MISSING_HEADER', 'INVALID_TIMESTAMP']);

function refuse(reply: FastifyReply, statusCode: 400 | 401, code: string) {
  return reply.code(statusCode).send({ statusCode, code });
}

/**
 * A Fastify plugin registering `POST /webhooks`: verifies each delivery's raw body, parses it as
 * JSON, and calls `handler` at most once per event id.
 */
export function webhookPlugin(options: WebhookPluginOptions): FastifyPluginAsync {
  const { secrets, handler, toleranceMs } = options;
  keysOf(secrets);
  if (typeof handler !== 'function') throw new TypeError('handler must be a function');
  checkDuration(toleranceMs, 'toleranceMs');
  checkDuration(options.dedupeTtlMs, 'dedupeTtlMs');
  const dedupeTtlMs = options.dedupeTtlMs ?? DEFAULT_DEDUPE_TTL_MS;

  return async (app) => {
    // Ids whose handler succeeded, with when they may be forgotten. A Map iterates in insertion
    // order, which is expiry order (one TTL for all): expired ids are dropped from the front on
    // each request, with no timer at all.
    const handled = new Map<string, number>();
    // Ids being handled now: a duplicate waits for the same outcome.
    const running = new Map<string, Promise<200 | 500>>();

    const forgetExpired = (now: number): void => {
      for (const [id, expiresAt] of handled) {
        if (expiresAt > now) break;
        handled.delete(id);
      }
    };

    // The handler runs in a later microtask, so the outcome is in `running` before the handler
    // can settle it (or throw synchronously), and a duplicate always finds it there.
    const handle = (event: unknown, meta: VerifiedDelivery): Promise<200 | 500> =>
      Promise.resolve()
        .then(() => handler(event, meta))
        .then(
          () => {
            running.delete(meta.id);
            handled.set(meta.id, Date.now() + dedupeTtlMs);
            return 200 as const;
          },
          (error: unknown) => {
            // Forgotten: the sender's retry is handled afresh.
            running.delete(meta.id);
            app.log.error(error);
            return 500 as const;
          },
        );

    // Every content type reaches the route as the bytes received: JSON is parsed only once the
    // signature over those bytes is verified. `parseAs` reads the body within `bodyLimit` (413).
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => {
      done(null, body);
    });

    app.post('/webhooks', async (request, reply) => {
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      let meta: VerifiedDelivery;
      try {
        meta = verify(secrets, request.headers, raw, { toleranceMs });
      } catch (error) {
        // Only a WebhookVerificationError: the secrets and tolerance were checked at the call.
        const { code } = error as WebhookVerificationError;
        return refuse(reply, BAD_REQUEST.has(code) ? 400 : 401, code);
      }
      let event: unknown;
      try {
        event = JSON.parse(raw.toString('utf8'));
      } catch {
        return refuse(reply, 400, 'INVALID_JSON');
      }

      forgetExpired(Date.now());
      // The sender looks at the status only: 200 for a duplicate as for a first delivery.
      if (handled.has(meta.id)) return reply.code(200).send();
      let outcome = running.get(meta.id);
      if (outcome === undefined) {
        outcome = handle(event, meta);
        running.set(meta.id, outcome);
      }
      // 200, or 500 for a failed handler: the sender retries it.
      return reply.code(await outcome).send();
    });
  };
}
