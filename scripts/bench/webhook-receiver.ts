/**
 * webhook-receiver against `standardwebhooks`, the Standard Webhooks reference library:
 * verifications per second of the same delivery (a ~1 KiB JSON payload, three headers, one valid
 * v1 signature), within the tolerance. `verify` is also measured with a Buffer payload (what a
 * Fastify raw-body parser hands over) and with two secrets during a rotation; the library is
 * measured without and with its default JSON parsing (ours never parses: the plugin does, after).
 */
import { runIfMain, throughput, type Settings, type SubjectOutcome, type Suite } from './lib.ts';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const OLD_SECRET = `whsec_${Buffer.from('the secret before the rotation').toString('base64')}`;
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';

/** A payment event padded to about 1 KiB, the size of a typical webhook. */
const PAYLOAD = JSON.stringify({
  type: 'payment.succeeded',
  data: {
    id: 'pay_3Nkq8L2eZvKYlo2C1xwWmFb5',
    amount: 4200,
    currency: 'eur',
    customer: { id: 'cus_9s6XKzkNRiz8i3', email: 'zoe@example.com', name: 'Zoë Martin' },
    lines: Array.from({ length: 8 }, (_, i) => ({ sku: `SKU-${1000 + i}`, quantity: i + 1 })),
    metadata: { order: 'ORD-2026-000123', note: 'x'.repeat(400) },
  },
});

async function measure(
  verifyOnce: () => unknown,
  settings: Settings,
  facts: SubjectOutcome['facts'] = {},
): Promise<SubjectOutcome> {
  const verificationsPerSecond = await throughput((n) => {
    for (let i = 0; i < n; i += 1) verifyOnce();
  }, settings);
  return {
    metrics: { verificationsPerSecond },
    facts: { 'payload bytes': Buffer.byteLength(PAYLOAD), ...facts },
  };
}

/** The delivery's headers, signed by the reference and checked against the library's signature. */
async function headers(): Promise<Record<string, string>> {
  const { sign } = await import('../../solutions/webhook-receiver/index.ts');
  const { Webhook } = await import('standardwebhooks');
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = sign(SECRET, ID, timestamp, PAYLOAD);
  const theirs = new Webhook(SECRET).sign(ID, new Date(timestamp * 1000), PAYLOAD);
  if (signature !== theirs) throw new Error(`signatures differ: ${signature} vs ${theirs}`);
  return {
    'webhook-id': ID,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signature,
  };
}

export const suite: Suite = {
  slug: 'webhook-receiver',
  title: `verifications/s of one delivery (${Buffer.byteLength(PAYLOAD)}-byte JSON payload, one v1 signature)`,
  metrics: [{ key: 'verificationsPerSecond', label: 'verifications/s', better: 'higher' }],
  subjects: {
    reference: async (settings) => {
      const { verify } = await import('../../solutions/webhook-receiver/index.ts');
      const h = await headers();
      return measure(() => verify(SECRET, h, PAYLOAD), settings, { payload: 'string' });
    },
    'reference, Buffer payload': async (settings) => {
      const { verify } = await import('../../solutions/webhook-receiver/index.ts');
      const h = await headers();
      const body = Buffer.from(PAYLOAD);
      return measure(() => verify(SECRET, h, body), settings, { payload: 'Buffer' });
    },
    'reference, 2 secrets': async (settings) => {
      const { verify } = await import('../../solutions/webhook-receiver/index.ts');
      const h = await headers();
      return measure(() => verify([OLD_SECRET, SECRET], h, PAYLOAD), settings, {
        payload: 'string, signed with the second secret',
      });
    },
    standardwebhooks: async (settings) => {
      const { Webhook } = await import('standardwebhooks');
      const h = await headers();
      const webhook = new Webhook(SECRET);
      return measure(() => webhook.verify(PAYLOAD, h, { jsonParse: false }), settings, {
        payload: 'string, jsonParse false',
      });
    },
    'standardwebhooks, parses JSON': async (settings) => {
      const { Webhook } = await import('standardwebhooks');
      const h = await headers();
      const webhook = new Webhook(SECRET);
      return measure(() => webhook.verify(PAYLOAD, h), settings, { payload: 'string, parsed' });
    },
  },
};

runIfMain(import.meta.url, suite);
