/**
 * message-queue against the in-process queues a team would reach for, fastq and p-queue: messages
 * per second through send, receive and ack (for the peers: push a task, run it, see it complete).
 * The peers have no acknowledgements, visibility timeouts or redelivery, so they do less work per
 * message; BullMQ, the production peer with those semantics, needs a Redis server and is
 * discussed in NOTES.md instead.
 */
import { runIfMain, throughput, type Settings, type SubjectOutcome, type Suite } from './lib.ts';

/** Messages handled at once: the receive batch, and the peers' concurrency. */
const CONCURRENCY = 10;

interface Body {
  orderId: number;
}

/** Moves `n` messages through, resolving once every one has been handled. */
type Pass = (n: number) => Promise<void>;

async function measure(
  pass: Pass,
  settings: Settings,
  facts: SubjectOutcome['facts'] = {},
): Promise<SubjectOutcome> {
  let handled = 0;
  const messagesPerSecond = await throughput(async (n) => {
    await pass(n);
    handled += n;
  }, settings);
  if (handled === 0) throw new Error('nothing was handled');
  return { metrics: { messagesPerSecond }, facts };
}

/** The work done per message: the same for every subject, and too small to hide the queue's cost. */
let checksum = 0;
const work = (body: Body): void => {
  checksum = (checksum + body.orderId) | 0;
};

export const suite: Suite = {
  slug: 'message-queue',
  title: `messages/s through send, receive and ack (peers: push, run, complete), ${CONCURRENCY} at a time`,
  metrics: [{ key: 'messagesPerSecond', label: 'messages/s', better: 'higher' }],
  subjects: {
    reference: async (settings) => {
      const { MessageQueue } = await import('../../solutions/message-queue/index.ts');
      const queue = new MessageQueue<Body>();
      return measure(
        async (n) => {
          for (let i = 0; i < n; i += 1) queue.send({ orderId: i });
          for (let left = n; left > 0;) {
            const messages = await queue.receive({ max: CONCURRENCY });
            for (const message of messages) {
              work(message.body);
              queue.ack(message.receiptHandle);
            }
            left -= messages.length;
          }
        },
        settings,
        { receive: `batches of ${CONCURRENCY}` },
      );
    },
    'reference, consume': async (settings) => {
      const { MessageQueue, consume } = await import('../../solutions/message-queue/index.ts');
      const queue = new MessageQueue<Body>();
      let remaining = 0;
      let done: () => void = () => undefined;
      const stop = new AbortController();
      const consuming = consume(
        queue,
        (message) => {
          work(message.body);
          remaining -= 1;
          if (remaining === 0) done();
        },
        { concurrency: CONCURRENCY, signal: stop.signal },
      );
      const outcome = await measure(
        (n) =>
          new Promise<void>((resolve) => {
            remaining = n;
            done = resolve;
            for (let i = 0; i < n; i += 1) queue.send({ orderId: i });
          }),
        settings,
        { handler: 'synchronous' },
      );
      stop.abort();
      await consuming;
      return outcome;
    },
    fastq: async (settings) => {
      const { default: fastq } = await import('fastq');
      const queue = fastq.promise(async (body: Body) => work(body), CONCURRENCY);
      return measure(
        async (n) => {
          for (let i = 0; i < n; i += 1) void queue.push({ orderId: i });
          await queue.drained();
        },
        settings,
        { worker: 'async function' },
      );
    },
    'p-queue': async (settings) => {
      const { default: PQueue } = await import('p-queue');
      const queue = new PQueue({ concurrency: CONCURRENCY });
      return measure(
        async (n) => {
          for (let i = 0; i < n; i += 1) void queue.add(() => work({ orderId: i }));
          await queue.onIdle();
        },
        settings,
        { task: 'synchronous function' },
      );
    },
  },
};

runIfMain(import.meta.url, suite);
